package slack

import (
	"bytes"
	"image"
	"image/png"
	"time"

	"testing"

	. "github.com/onsi/gomega"

	"github.com/conch-dev/conch/internal/charts"
	"github.com/conch-dev/conch/test/fakeslack"
)

// TestStatsPostsChartsInTheChannel: `/dibs stats staging` after a hold and a wait posts, in the channel where it
// was asked, one message with the three charts (PNGs of the charts' size) and a summary of the figures, and says
// nothing else.
func TestStatsPostsChartsInTheChannel(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())

	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.dibs(bob, "on staging 30m")
	g.Expect(h.nthReply(bob, 1).Text).To(ContainSubstring("You wait for *staging*"))
	h.clk.Step(20 * time.Minute) // Bob waits 20 minutes while Alice holds it
	h.dibs(alice, "off staging")
	h.eventually(h.dmTexts(bob)).Should(containing("You now hold *staging* until"))

	h.dibs(bob, "stats staging")
	h.eventually(h.slack.Uploads).Should(HaveLen(3))
	uploads := h.slack.Uploads()
	var names []string
	for _, u := range uploads {
		names = append(names, u.Filename)
		g.Expect(u.Channels).To(Equal([]string{teamChannel}))
		g.Expect(u.Length).To(Equal(len(u.Bytes)))
		img, err := png.Decode(bytes.NewReader(u.Bytes))
		g.Expect(err).NotTo(HaveOccurred(), "%s is a PNG", u.Filename)
		g.Expect(img.Bounds()).To(Equal(image.Rect(0, 0, charts.Width, charts.Height)))
		g.Expect(u.Title).To(HavePrefix("staging: "))
		g.Expect(u.TS).To(Equal(uploads[0].TS), "one message shares the three charts")
	}
	g.Expect(names).To(Equal([]string{"staging-contention-7d.png", "staging-waits-7d.png", "staging-queue-7d.png"}))
	empty, err := charts.Contention(uploads[0].Title, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(uploads[0].Bytes).NotTo(Equal(empty), "the contention chart draws the hold and the wait")

	// The summary, in Bob's time zone: two holds granted, Bob's 20-minute wait the longest.
	comment := uploads[0].InitialComment
	g.Expect(comment).To(HavePrefix("*staging*, the last 7 days ("))
	g.Expect(comment).To(And(ContainSubstring("America/New_York"), ContainSubstring("in 2 holds granted"),
		ContainSubstring("longest wait *20m*")))
	posted := h.sharedIn(teamChannel)()
	g.Expect(posted).To(ConsistOf(HaveField("Text", comment)))
	// The charts are the answer: no reply besides the one to Bob's earlier command.
	h.consistently(h.replies(bob)).Should(HaveLen(1))
}

// TestStatsErrors: what cannot be charted is answered to the asker alone, saying why, and nothing is uploaded.
func TestStatsErrors(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj(), h.resource("qa-1").Label("pool", "qa").Obj(), h.resource("qa-2").Label("pool", "qa").Obj())
	h.slack.Refuse("files.completeUploadExternal", "channel_id", "CPRIVATE", "not_in_channel")

	cases := []struct{ channel, text, want string }{
		{teamChannel, "stats", `"stats" needs a resource, such as stats staging`},
		{teamChannel, "stats stagign", "There is no *stagign* here. Did you mean *staging*?"},
		{teamChannel, "stats staging 60d", `"60d" is too long: stats looks back at most 35 days (5 weeks), such as stats staging 35d.`},
		{teamChannel, "stats staging since <!channel>", `&lt;!channel&gt;`},
		{teamChannel, "stats qa", "*qa* is a pool, not a Resource, and stats are kept per Resource. Ask for one of its members: `/dibs stats qa-1` (members: qa-1, qa-2)."},
		{"CPRIVATE", "stats staging", "I could not post the charts of *staging* here: I am not in this channel. Invite me (`/invite @Conch`)"},
	}
	for i, tc := range cases {
		h.slack.SendSlashCommand(fakeslackCommand("/dibs", tc.text, alice, tc.channel))
		reply := h.nthReply(alice, i+1)
		g.Expect(reply.Ephemeral).To(BeTrue(), "%q is answered to the asker alone", tc.text)
		g.Expect(reply.Text).To(ContainSubstring(tc.want), "the answer to %q", tc.text)
		g.Expect(reply.Text).NotTo(ContainSubstring("<!channel>"), "the answer to %q is escaped", tc.text)
	}
	g.Expect(h.slack.Uploads()).To(BeEmpty())
	g.Expect(h.slack.Calls("files.completeUploadExternal")).To(ConsistOf(HaveField("Error", "not_in_channel")))
}

// sharedIn returns the messages that shared files in a channel.
func (h *harness) sharedIn(channel string) func() []fakeslack.Message {
	return func() []fakeslack.Message {
		var out []fakeslack.Message
		for _, m := range h.slack.Messages() {
			if m.Method == "files.completeUploadExternal" && m.Channel == channel {
				out = append(out, m)
			}
		}
		return out
	}
}
