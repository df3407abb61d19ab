package standup

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/slackbot"
	"github.com/conch-dev/conch/test/fakeslack"
)

// TestRunHistoryPrunedAtTheLimit: each run is a StandupRun named from its scheduled time; with
// successfulRunsHistoryLimit 2, the third summary deletes the first run, and the Standup points to the last.
func TestRunHistoryPrunedAtTheLimit(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	st := h.standup("team").Participants(alice).Obj()
	two := int32(2)
	st.Spec.SuccessfulRunsHistoryLimit = &two
	h.create(st)
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextRunTime }).ShouldNot(BeNil())

	name := func(day int) string {
		return conchv1.StandupRunName("team", conchv1.StandupRunID(h.runAt.AddDate(0, 0, day), conchv1.TriggerSchedule))
	}
	for day := range 3 {
		h.stepTo(h.runAt.AddDate(0, 0, day))
		h.eventually(h.dms(alice)).Should(HaveLen(day + 1))
		h.stepTo(h.runAt.AddDate(0, 0, day).Add(30 * time.Minute))
		h.eventually(h.posts(teamChannel)).Should(HaveLen(day + 1))
		h.eventually(func() *conchv1.StandupRunReference { return h.get("team").Status.LastRun }).Should(HaveField("Name", name(day)))
	}
	h.eventually(h.runs("team")).Should(ConsistOf(name(1), name(2)))
	h.consistently(h.runs("team")).Should(ConsistOf(name(1), name(2)))
	g.Expect(h.get("team").Status.History).To(HaveLen(3), "the history keeps counts of runs whose objects are gone")
}

// TestUpgradeFromStatusCurrentRun: a Standup whose status an earlier version wrote (the run collecting answers
// inside status.currentRun, answers and all) keeps working: the run moves into a StandupRun with its answers, the
// Answer buttons already sent still work, nobody is prompted again, and the summary has every answer.
func TestUpgradeFromStatusCurrentRun(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.stop() // the "earlier version" is not running while its status is written

	h.create(h.standup("team").Participants(alice, bob).Obj())
	st := h.get("team")
	id := conchv1.StandupRunID(h.runAt, conchv1.TriggerSchedule)
	answered := metav1.NewTime(h.runAt.Add(2 * time.Minute))
	st.Status = conchv1.StandupStatus{
		NextRunTime: &metav1.Time{Time: h.runAt.AddDate(0, 0, 1)},
		LastRunTime: &metav1.Time{Time: h.runAt},
		CurrentRun: &conchv1.StandupLegacyRun{
			ID: id, Trigger: conchv1.TriggerSchedule, ScheduledTime: metav1.NewTime(h.runAt), StartTime: metav1.NewTime(h.runAt),
			Deadline: metav1.NewTime(h.runAt.Add(30 * time.Minute)), RemindAt: &metav1.Time{Time: h.runAt.Add(20 * time.Minute)},
			Questions: questions,
			Participants: []conchv1.StandupParticipant{
				{User: alice, Prompted: true, AnsweredAt: &answered, Answers: []string{"Before the upgrade", "More", "None"}},
				{User: bob, Prompted: true},
			},
		},
		History: []conchv1.StandupRunRecord{{
			ScheduledTime: metav1.NewTime(h.runAt.AddDate(0, 0, -1)), Trigger: conchv1.TriggerSchedule,
			Outcome: conchv1.OutcomeCompleted, Reason: conchv1.StandupReasonCompleted, Count: 1, Participants: 2, Answered: 2,
		}},
	}
	g.Expect(k8s.Status().Update(ctx, st)).To(Succeed())
	g.Expect(h.get("team").Status.CurrentRun.Participants[0].Answers).To(HaveLen(3), "the old shape is kept by the API server")

	h.stepTo(h.runAt.Add(5 * time.Minute))
	h.start()
	runName := conchv1.StandupRunName("team", id)
	h.eventually(func() *conchv1.StandupRunReference { return h.get("team").Status.ActiveRun }).Should(HaveField("Name", runName))
	g.Expect(h.get("team").Status.CurrentRun).To(BeNil())
	run := h.run(runName)
	g.Expect(run.Spec.Deadline.Time).To(BeTemporally("==", h.runAt.Add(30*time.Minute)))
	g.Expect(run.Status.Participants).To(ContainElement(And(HaveField("User", alice), HaveField("Answers", []string{"Before the upgrade", "More", "None"}))))
	h.consistently(func() int { return len(h.dms(alice)()) + len(h.dms(bob)()) }).Should(BeZero(), "nobody is prompted again")

	// Bob clicks the Answer button of the prompt the earlier version sent: its value names the run as before.
	h.slack.ClickButton(fakeslack.Click{UserID: bob, ChannelID: "D" + bob, MessageTS: "1.000001",
		ActionID: slackbot.ActionStandupAnswer, BlockID: "standup", Value: h.ns + "/team/" + id, Text: "Answer"})
	g.Expect(h.submit(bob, h.openedView(1), "After the upgrade").Payload).To(BeEmpty())

	// The reminder still comes due (to nobody: both answered), and the summary has both answers.
	h.stepTo(h.runAt.Add(30 * time.Minute))
	h.eventually(h.posts(teamChannel)).Should(HaveLen(1))
	all := h.posts(teamChannel)()[0].AllText()
	g.Expect(all).To(And(ContainSubstring("Before the upgrade"), ContainSubstring("After the upgrade"), ContainSubstring("2 of 2 answered")))
	h.eventually(func() []conchv1.StandupRunRecord { return h.get("team").Status.History }).Should(HaveLen(2))
	st = h.get("team")
	g.Expect(st.Status.History[0]).To(And(HaveField("Outcome", conchv1.OutcomeCompleted), HaveField("Answered", int32(2))))
	g.Expect(st.Status.LastRun).To(HaveField("Name", runName))
	g.Expect(len(h.dms(alice)()) + len(h.dms(bob)())).To(BeZero())
}

// TestEditAfterTheSummary: an answer edited after the summary was posted updates the summary in place
// (chat.update of the message recorded in the StandupRun) and the run's answers.
func TestEditAfterTheSummary(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.standup("team").Participants(alice, bob).Obj())
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextRunTime }).ShouldNot(BeNil())
	h.stepTo(h.runAt)
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.clickAnswer(alice)
	g.Expect(h.submit(alice, h.openedView(1), "Shipped it", "Reviews", "").Payload).To(BeEmpty())

	h.stepTo(h.runAt.Add(30 * time.Minute))
	h.eventually(h.posts(teamChannel)).Should(HaveLen(1))
	summary := h.posts(teamChannel)()[0]
	g.Expect(summary.AllText()).To(And(ContainSubstring("Shipped it"), ContainSubstring("1 of 2 answered")))
	runName := conchv1.StandupRunName("team", conchv1.StandupRunID(h.runAt, conchv1.TriggerSchedule))
	h.eventually(func() *conchv1.StandupSummaryPost { return h.run(runName).Status.Summary }).Should(HaveField("MessageTS", []string{summary.TS}))

	// Alice corrects herself; Bob answers late. Each updates the posted summary, which keeps its place.
	h.clickAnswer(alice)
	edit := h.openedView(2)
	g.Expect(string(edit.Blocks)).To(And(ContainSubstring(`"initial_value":"Shipped it"`), ContainSubstring("saving updates it")))
	g.Expect(h.submit(alice, edit, "Shipped it & fixed <the> build", "Reviews", "").Payload).To(BeEmpty())
	h.eventually(func() []string { return texts(h.updates(teamChannel, summary.TS)()) }).Should(ContainElement(
		And(ContainSubstring("Shipped it &amp; fixed &lt;the&gt; build"), ContainSubstring("1 of 2 answered"))))
	h.clickAnswer(bob)
	g.Expect(h.submit(bob, h.openedView(3), "Late but here").Payload).To(BeEmpty())
	h.eventually(func() []string { return texts(h.updates(teamChannel, summary.TS)()) }).Should(ContainElement(
		And(ContainSubstring("Late but here"), ContainSubstring("2 of 2 answered"))))
	h.eventually(func() *conchv1.StandupRun { return h.run(runName) }).Should(And(
		HaveField("Status.Progress", "2/2"), HaveField("Status.AnswersRevision", int64(2)), HaveField("Status.SummaryRevision", int64(2))))
	h.consistently(h.posts(teamChannel)).Should(HaveLen(1), "updated in place, not posted again")
}

// updates returns the chat.update calls the bot made on a message.
func (h *harness) updates(channel, ts string) func() []fakeslack.Message {
	return func() []fakeslack.Message {
		var out []fakeslack.Message
		for _, m := range h.slack.Messages() {
			if m.Method == "chat.update" && m.Channel == channel && m.TS == ts {
				out = append(out, m)
			}
		}
		return out
	}
}

// answer clicks the Answer button of user's latest prompt and submits answers in the modal it opens.
func (h *harness) answer(user string, answers ...string) {
	h.t.Helper()
	n := len(h.slack.Views())
	h.clickAnswer(user)
	if ack := h.submit(user, h.openedView(n+1), answers...); len(ack.Payload) > 0 {
		h.t.Fatalf("answers of %s refused: %s", user, ack.Payload)
	}
}

// TestBlockerEscalatedOnItsThirdRun: with the third question as the blocker question and escalateAfter 3, a
// blocker Alice reports three runs in a row is highlighted and counted in the summaries, and on the third run it is
// posted to the escalation channel and DM'd to the escalation user, once; Bob's "none" is no blocker. An issue key
// in an answer is a link.
func TestBlockerEscalatedOnItsThirdRun(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	st := h.standup("team").Participants(alice, bob).Obj()
	q := int32(2)
	st.Spec.BlockerQuestion, st.Spec.EscalateAfter = &q, 3
	st.Spec.Escalation = &conchv1.StandupEscalation{Channel: "CESC", Users: []string{admin}}
	st.Spec.Links = []conchv1.StandupLink{{Pattern: `\b[A-Z][A-Z0-9]+-[0-9]+\b`, URL: "https://jira.example.com/browse/$0"}}
	h.create(st)
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextRunTime }).ShouldNot(BeNil())

	escalations := func() []string { return texts(h.posts("CESC")()) }
	for day := range 4 {
		h.stepTo(h.runAt.AddDate(0, 0, day))
		h.eventually(h.dms(alice)).Should(HaveLen(day + 1))
		h.answer(alice, "Work", "More work", "Waiting on OPS-7")
		h.answer(bob, "Work", "More work", "None")
		h.stepTo(h.runAt.AddDate(0, 0, day).Add(30 * time.Minute))
		h.eventually(h.posts(teamChannel)).Should(HaveLen(day + 1))
		summary := h.posts(teamChannel)()[day].AllText()
		g.Expect(summary).To(And(ContainSubstring(":no_entry: Waiting on <https://jira.example.com/browse/OPS-7|OPS-7>"),
			ContainSubstring("*Anything blocking you?*\nNone"), ContainSubstring("1 blocked")), "day %d", day)
		if day >= 1 {
			g.Expect(summary).To(ContainSubstring(fmt.Sprintf("(blocked for %d stand-ups in a row, since ", day+1)))
		}
		switch day {
		case 0, 1:
			h.consistently(escalations).Should(BeEmpty(), "day %d", day)
		case 2:
			h.eventually(escalations).Should(ConsistOf(And(ContainSubstring("<@UALICE> has been blocked for 3 stand-ups of *team* in a row"),
				ContainSubstring("Waiting on <https://jira.example.com/browse/OPS-7|OPS-7>"))))
			h.eventually(func() []string { return texts(h.posts("D" + admin)()) }).Should(containing("<@UALICE> has been blocked for 3 stand-ups"))
		case 3:
			h.consistently(escalations).Should(HaveLen(1), "escalated once per streak")
		}
	}
	g.Expect(h.get("team").Status.Blockers).To(ConsistOf(And(HaveField("User", alice), HaveField("Runs", int32(4)),
		HaveField("Escalated", true), HaveField("Since.Time", BeTemporally("==", h.runAt)))))
}
