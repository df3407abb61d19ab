package slack

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/slackbot"
	"github.com/conch-dev/conch/internal/testutil"
	"github.com/conch-dev/conch/test/fakeslack"
)

// TestSlashCommandsFindMyReservationsByHolder: "my Reservation" is the one whose spec.holder (immutable) names me,
// not the one whose label says so: anyone who may label a Reservation can write the label.
func TestSlashCommandsFindMyReservationsByHolder(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	bobs := testutil.Reservation("bobs").Namespace(h.ns).On("staging").Holder("slack:" + bob).For(time.Hour).Obj()
	bobs.Labels = map[string]string{conchv1.LabelSlackUser: alice}
	h.create(bobs)
	h.eventually(func() conchv1.ReservationState { return h.get("bobs").Status.State }).Should(Equal(conchv1.StateGranted))

	h.dibs(alice, "extend staging 1h")
	g.Expect(h.nthReply(alice, 1).Text).To(ContainSubstring("You do not hold *staging*"))
	h.dibs(alice, "off staging")
	g.Expect(h.nthReply(alice, 2).Text).To(ContainSubstring("You do not hold or wait for *staging*"))
	g.Expect(h.get("bobs").Spec.Released).To(BeFalse())
	g.Expect(h.get("bobs").Spec.Duration.Duration).To(Equal(time.Hour))

	// Bob's own commands find it, whatever its label says.
	h.dibs(bob, "extend staging 30m")
	g.Expect(h.nthReply(bob, 1).Text).To(ContainSubstring("You now hold *staging* until"))
	g.Expect(h.get("bobs").Spec.Duration.Duration).To(Equal(90 * time.Minute))
	h.dibs(bob, "off staging")
	g.Expect(h.nthReply(bob, 2).Text).To(Equal("<@UBOB> released *staging*."))
}

// TestEveryRedeliveredExtensionIsANoOp: Slack may redeliver an extension after a later one (a restart forgets the
// envelopes it saw); each request extends once, whatever came between.
func TestEveryRedeliveredExtensionIsANoOp(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	r := h.reservationOf(alice)()

	first := h.dibs(alice, "extend staging 1h")
	h.nthReply(alice, 2)
	h.dibs(alice, "extend staging 30m")
	h.nthReply(alice, 3)
	g.Expect(h.get(r.Name).Spec.Duration.Duration).To(Equal(150 * time.Minute))

	h.stop()
	h.start()
	h.slack.Redeliver(first)
	g.Expect(h.nthReply(alice, 4).Text).To(ContainSubstring("You now hold *staging* until"))
	g.Expect(h.get(r.Name).Spec.Duration.Duration).To(Equal(150*time.Minute), "the redelivered extension extended again")
}

// TestHoldersByEmailUseTheirButtonsAndCommands: a Reservation made with kubectl for "alice@example.com" is
// Alice's in Slack: her buttons and commands work on it, and only on it.
func TestHoldersByEmailUseTheirButtonsAndCommands(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.create(testutil.Reservation("by-mail").Namespace(h.ns).On("staging").Holder("alice@example.com").For(time.Hour).Obj())
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	dm := h.dms(alice)()[0]

	click, ok := dm.Click(bob, slackbot.ActionExtend)
	g.Expect(ok).To(BeTrue())
	h.slack.ClickButton(click)
	g.Expect(h.nthReply(bob, 1).Text).To(Equal("Only the holder (<@UALICE>) or an admin can extend it."))

	click, _ = dm.Click(alice, slackbot.ActionExtend)
	h.slack.ClickButton(click)
	g.Expect(h.nthReply(alice, 1).Text).To(ContainSubstring("Extended: you hold *staging* until"))
	g.Expect(h.get("by-mail").Spec.Duration.Duration).To(Equal(2 * time.Hour))

	h.dibs(alice, "extend staging 30m")
	g.Expect(h.nthReply(alice, 2).Text).To(ContainSubstring("You now hold *staging* until"))
	g.Expect(h.get("by-mail").Spec.Duration.Duration).To(Equal(150 * time.Minute))
	h.dibs(alice, "staging")
	g.Expect(h.nthReply(alice, 3).Text).To(ContainSubstring("You already hold *staging*"))
	h.dibs(alice, "off staging")
	g.Expect(h.nthReply(alice, 4).Text).To(Equal("<@UALICE> released *staging*."))
	h.eventually(func() conchv1.ReservationState { return h.get("by-mail").Status.State }).Should(Equal(conchv1.StateReleased))
	g.Expect(h.get("by-mail").Annotations).NotTo(HaveKey(conchv1.AnnotationReleasedBy), "she released it herself")
}

// TestACommandInTheResourcesChannelIsAnnouncedOnce: the handover post already tells the Resource's channel who
// holds it now, so a take typed there is not announced a second time by the reply.
func TestACommandInTheResourcesChannelIsAnnouncedOnce(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	res := h.resource("staging").Obj()
	res.Spec.SlackChannel = stagingChannel
	h.create(res)

	h.slack.SendSlashCommand(fakeslackCommand("/dibs", "staging for 1h", alice, stagingChannel))
	reply := h.nthReply(alice, 1)
	g.Expect(reply.Text).To(ContainSubstring("*staging* until"))
	public := func() []string {
		var out []string
		for _, m := range h.slack.Messages() {
			if m.Channel == stagingChannel && !m.Ephemeral {
				out = append(out, m.Text)
			}
		}
		return out
	}
	h.eventually(public).Should(containing("*staging* is now held by <@UALICE>"))
	h.consistently(public).Should(HaveLen(1))
	g.Expect(reply.ResponseType).To(Equal("ephemeral"))

	// Typed elsewhere, the reply still tells that channel.
	h.dibs(bob, "staging")
	h.dibs(alice, "off staging")
	g.Expect(h.nthReply(alice, 2).ResponseType).To(Equal("in_channel"))
}

// TestACommandSentAtStartIsAnsweredCorrectly: a command that waits for the manager (sent while it was down, as
// one typed during a restart) is taken once the caches it reads have synced, and answered from them at once,
// rather than taken on connecting and held up while the controllers' informers sync (client-go checks every
// 100 ms).
func TestACommandSentAtStartIsAnsweredCorrectly(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))

	h.stop()
	// Sent once Slack knows the socket is gone, so that it waits for the next connection.
	h.eventually(h.slack.OpenConnections).Should(BeZero())
	env := h.slack.SendSlashCommand(fakeslack.SlashCommand{Command: "/dibs", Text: "who staging", UserID: bob, ChannelID: teamChannel})
	h.start()
	reply := h.nthReply(bob, 1)
	g.Expect(reply.Text).To(ContainSubstring("*staging* — held by <@UALICE>"))
	ack, _ := h.slack.AckFor(env)
	g.Expect(reply.Time.Sub(ack.ReceivedAt)).To(BeNumerically("<", 50*time.Millisecond), "the reply waited for the caches")
}

// TestFreeTextIsShownAsWritten: text that did not come through Slack's own escaping (a reason, a holder or a
// description written with kubectl or by CI) reaches every message escaped: it notifies nobody, makes no link
// that reads as something else, and its *, _, ~ and backticks cannot end or start the formatting around it.
func TestFreeTextIsShownAsWritten(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	const reason = "<!channel> deploy <https://example.com|release notes> with _care_ and *speed*"
	res := h.resource("staging").Obj()
	res.Spec.SlackChannel = stagingChannel
	res.Spec.Description = "Shared *staging* <!here> for `web`"
	h.create(res, h.resource("qa").Obj())
	h.create(testutil.Reservation("by-mail").Namespace(h.ns).On("staging").Holder("alice@example.com").Because(reason).For(time.Hour).Obj())

	safe := func(text string) {
		t.Helper()
		for _, raw := range []string{"<!channel>", "<!here>", "<https://example.com", "_care_", "*speed*", "*staging* <", "`web`"} {
			g.Expect(text).NotTo(ContainSubstring(raw), "free text reached Slack as markup")
		}
	}
	italicReason := func(text string) {
		t.Helper()
		_, after, ok := strings.Cut(text, ". _")
		g.Expect(ok).To(BeTrue(), text)
		g.Expect(after).To(HaveSuffix("_"))
		g.Expect(strings.Count(after, "_")).To(Equal(1), "the reason ends the italics early: %s", text)
		g.Expect(after).To(ContainSubstring("&lt;!channel&gt; deploy &lt;https://example.com|release notes&gt;"))
	}
	h.eventually(h.posts(stagingChannel)).Should(HaveLen(1))
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	for _, m := range []string{h.posts(stagingChannel)()[0].Text, h.dms(alice)()[0].Text} {
		safe(m)
		italicReason(m)
	}

	h.dibs(bob, "who staging")
	who := h.nthReply(bob, 1).Text
	safe(who)
	g.Expect(who).To(ContainSubstring("&lt;!here&gt;"))

	// A reason typed in Slack is shown the same way in the reply that announces the grant.
	h.dibs(bob, "qa because "+reason)
	took := h.nthReply(bob, 2).Text
	g.Expect(took).To(ContainSubstring("<@UBOB> took *qa*"))
	safe(took)
	italicReason(took)
}

// TestAnswersAreSentencesThatCountCharacters: the limits count characters, as people (and the API server) do, not
// bytes; answers are sentences; a refusal says who may act.
func TestAnswersAreSentencesThatCountCharacters(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())

	h.dibs(alice, strings.Repeat("é", 4001))
	g.Expect(h.nthReply(alice, 1).Text).To(HavePrefix("That text is too long: 4001 characters, and the limit is 4000.\n"))
	// 1,000 characters are 2,000 bytes: a reason within the limit.
	h.dibs(alice, "staging for 1h because "+strings.Repeat("é", 1000))
	g.Expect(h.nthReply(alice, 2).Text).To(ContainSubstring("<@UALICE> took *staging*"))
	h.dibs(bob, "staging because "+strings.Repeat("é", 1025))
	g.Expect(h.nthReply(bob, 1).Text).To(HavePrefix("The reason is 1025 characters long; the limit is 1024, so please shorten it.\n"))

	h.dibs(bob, "off staging")
	g.Expect(h.nthReply(bob, 2).Text).To(Equal("You do not hold or wait for *staging*. Only the holder (<@UALICE>) or an admin can release it."))
}
