package slack

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/slackbot"
	"github.com/conch-dev/conch/internal/testutil"
)

// nudgeDMs returns the nudges user got.
func (h *harness) nudgeDMs(user string) func() []string {
	return func() []string {
		var out []string
		for _, t := range h.dmTexts(user)() {
			if strings.Contains(t, "would like *") {
				out = append(out, t)
			}
		}
		return out
	}
}

// TestNudgeOnceThenReleaseByItsButton: Bob's nudge reaches Alice, who holds staging, as a DM saying who asks and
// how many wait, with Release and Extend buttons; asking again within 15 minutes (also after a restart of the
// manager, and by a redelivered command) sends nothing and says when she was nudged; after 15 minutes a nudge goes
// out again; her Release button on the nudge releases staging.
func TestNudgeOnceThenReleaseByItsButton(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.dibs(alice, "staging for 2h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.dibs(admin, "staging")
	g.Expect(h.nthReply(admin, 1).Text).To(ContainSubstring("number 1 in the queue"))
	r := h.reservationOf(alice)()

	first := h.dibs(bob, "nudge staging")
	g.Expect(h.nthReply(bob, 1).Text).To(HavePrefix("I nudged <@UALICE>, who holds *staging* until <!date^"))
	h.eventually(h.nudgeDMs(alice)).Should(HaveLen(1))
	nudge := h.dms(alice)()[1]
	g.Expect(nudge.Text).To(ContainSubstring(":wave: <@UBOB> would like *staging*, which you hold until <!date^"))
	g.Expect(nudge.Text).To(ContainSubstring("(1 waits in its queue)"))
	g.Expect(nudge.Buttons()).To(HaveLen(2))
	g.Expect(nudge.AllText()).To(ContainSubstring(h.ns + "/" + r.Name + "/1h"))
	g.Expect(h.get(r.Name).Annotations).To(HaveKeyWithValue(conchv1.AnnotationNudgedAt, h.clk.Now().UTC().Format(time.RFC3339)))
	h.eventually(func() []string {
		var events eventsv1.EventList
		_ = k8s.List(ctx, &events, client.InNamespace(h.ns))
		var notes []string
		for _, e := range events.Items {
			if e.Reason == "Nudged" && e.Regarding.Name == r.Name {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}).Should(Equal([]string{"Slack user UBOB asked the holder slack:UALICE to hand staging over"}))

	// Again at once: refused, nothing sent.
	h.dibs(bob, "nudge staging")
	g.Expect(h.nthReply(bob, 2).Text).To(HavePrefix("<@UALICE> was nudged less than a minute ago; I nudge a holder at most once every 15m about one hold."))

	// A restart, five minutes later, and Slack redelivering the first command: still refused.
	h.stop()
	h.clk.Step(5 * time.Minute)
	h.start()
	h.slack.Redeliver(first)
	g.Expect(h.nthReply(bob, 3).Text).To(HavePrefix("<@UALICE> was nudged 5 minutes ago;"))
	h.dibs(admin, "nudge staging")
	g.Expect(h.nthReply(admin, 2).Text).To(HavePrefix("<@UALICE> was nudged 5 minutes ago;"))
	h.consistently(h.nudgeDMs(alice)).Should(HaveLen(1))

	// Fifteen minutes after the first: a second nudge.
	h.clk.Step(10 * time.Minute)
	h.dibs(admin, "nudge staging")
	g.Expect(h.nthReply(admin, 3).Text).To(HavePrefix("I nudged <@UALICE>"))
	h.eventually(h.nudgeDMs(alice)).Should(HaveLen(2))

	// Alice hands it over with the nudge's Release button.
	click, ok := nudge.Click(alice, slackbot.ActionRelease)
	g.Expect(ok).To(BeTrue())
	h.slack.ClickButton(click)
	h.eventually(func() bool { return h.get(r.Name).Spec.Released }).Should(BeTrue())
	g.Expect(h.nthReply(alice, 2).Text).To(ContainSubstring("Released *staging*."))
	h.eventually(h.dmTexts(admin)).Should(containing("You now hold *staging*"))
}

// TestNudgeRefusals: nobody to nudge on a free Resource; a holder cannot nudge themselves; a pipeline cannot be
// DMed; nothing is recorded or sent for any of them.
func TestNudgeRefusals(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj(), h.resource("deploy-env").Obj())

	h.dibs(bob, "nudge staging")
	g.Expect(h.nthReply(bob, 1).Text).To(Equal("Nobody holds *staging*, so there is nobody to nudge. Take it: `/dibs staging`."))

	h.dibs(alice, "staging")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.dibs(alice, "nudge staging")
	g.Expect(h.nthReply(alice, 2).Text).To(HavePrefix("You hold *staging* yourself, so there is nobody to nudge."))

	ci := testutil.Reservation("ci").Namespace(h.ns).On("deploy-env").Holder("ci:<!channel>").For(time.Hour).Obj()
	h.create(ci)
	h.eventually(func() conchv1.ReservationState { return h.get("ci").Status.State }).Should(Equal(conchv1.StateGranted))
	h.dibs(bob, "nudge deploy-env")
	g.Expect(h.nthReply(bob, 2).Text).To(HavePrefix("`ci:&lt;!channel&gt;` is not someone Slack can DM (a pipeline or a service), so I cannot nudge it; its hold ends <!date^"))
	g.Expect(h.get("ci").Annotations).NotTo(HaveKey(conchv1.AnnotationNudgedAt))
	g.Expect(h.reservationOf(alice)().Annotations).NotTo(HaveKey(conchv1.AnnotationNudgedAt))
	h.consistently(h.dms(alice)).Should(HaveLen(1))
}
