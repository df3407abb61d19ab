package standup

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/slackbot"
	"github.com/conch-dev/conch/internal/testutil"
)

// kstatusOf computes what kstatus (kubectl wait, Flux) makes of a StandupRun.
func kstatusOf(run *conchv1.StandupRun) status.Status {
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(run)
	if err != nil {
		return status.UnknownStatus
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: raw})
	if err != nil {
		return status.UnknownStatus
	}
	return res.Status
}

// TestARunFromPromptToSummary walks one stand-up: prompts at the run time (not a second before) to the people
// listed and the user group's, answers through the modal (and an edit), a reminder to those who have not
// answered, and at the deadline a summary with the answers, who did not answer, who holds and waits for what,
// and what ends today.
func TestARunFromPromptToSummary(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)

	// Environments: Alice holds staging (2h, ends today), Bob waits for it; a pipeline holds qa until tomorrow.
	h.create(testutil.Resource("staging").Namespace(h.ns).Obj(), testutil.Resource("qa").Namespace(h.ns).Obj())
	h.create(testutil.Reservation("alice-staging").Namespace(h.ns).On("staging").Holder("slack:" + alice).For(2 * time.Hour).Obj())
	h.eventually(func() conchv1.ReservationState { return h.rsv("alice-staging").Status.State }).Should(Equal(conchv1.StateGranted))
	h.create(testutil.Reservation("bob-staging").Namespace(h.ns).On("staging").Holder("slack:" + bob).Obj())
	h.create(testutil.Reservation("ci-qa").Namespace(h.ns).On("qa").Holder("ci:e2e").For(20 * time.Hour).Obj())
	h.eventually(func() conchv1.ReservationState { return h.rsv("bob-staging").Status.State }).Should(Equal(conchv1.StateQueued))

	h.create(h.standup("team").Obj())
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextRunTime }).Should(HaveField("Time", BeTemporally("==", h.runAt)))
	h.eventually(h.condition("team", conchv1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, conchv1.ReasonScheduled, "Next run"))

	// Never early: a second before the run time, nothing.
	h.stepTo(h.runAt.Add(-time.Second))
	h.consistently(func() int { return len(h.dms(alice)()) }).Should(BeZero())

	h.stepTo(h.runAt)
	for _, u := range []string{alice, bob, carol} {
		h.eventually(h.dms(u)).Should(HaveLen(1), "a prompt for %s", u)
	}
	prompt := h.dms(alice)()[0]
	g.Expect(prompt.AllText()).To(And(ContainSubstring("Time for the *team* stand-up"), ContainSubstring("What will you do today?"),
		ContainSubstring("the summary goes to <#CTEAM>")))
	g.Expect(prompt.Buttons()).To(ConsistOf(HaveField("Text", "Answer")))
	st := h.get("team")
	runName := conchv1.StandupRunName("team", conchv1.StandupRunID(h.runAt, conchv1.TriggerSchedule))
	g.Expect(st.Status.ActiveRun).To(And(Not(BeNil()), HaveField("Name", runName)))
	g.Expect(st.Status.ActiveRun.Deadline.Time).To(BeTemporally("==", h.runAt.Add(30*time.Minute)))
	g.Expect(st.Status.LastRunTime.Time).To(BeTemporally("==", h.runAt))
	run := h.run(runName)
	g.Expect(run).NotTo(BeNil())
	g.Expect(run.Spec.Questions).To(Equal(questions))
	g.Expect(run.OwnerReferences).To(ConsistOf(And(HaveField("Kind", "Standup"), HaveField("Name", "team"), HaveField("UID", st.UID))))
	g.Expect(run.Status.Participants).To(HaveLen(3))
	h.eventually(func() *conchv1.StandupRun { return h.run(runName) }).Should(And(
		HaveField("Status.State", conchv1.RunCollecting), HaveField("Status.Progress", "0/3"),
		HaveField("Status.Conditions", ContainElement(And(HaveField("Type", conchv1.ConditionReconciling), HaveField("Status", metav1.ConditionTrue))))))
	g.Expect(kstatusOf(h.run(runName))).To(Equal(status.InProgressStatus), "kstatus reads a collecting run as in progress")
	h.eventually(h.condition("team", conchv1.StandupConditionRunning)).Should(haveCondition(metav1.ConditionTrue, conchv1.ReasonCollecting, "0 of 3 answered"))

	// Alice answers in the modal the Answer button opens.
	h.clickAnswer(alice)
	modal := h.openedView(1)
	g.Expect(modal.UserID).To(Equal(alice))
	g.Expect(modal.CallbackID).To(Equal("conch_standup"))
	g.Expect(string(modal.Blocks)).To(And(ContainSubstring(`"block_id":"q0"`), ContainSubstring(`"block_id":"q2"`), ContainSubstring("Anything blocking you?")))
	ack := h.submit(alice, modal, "Shipped the login page", "Reviews", "Nothing")
	g.Expect(ack.Payload).To(BeEmpty(), "stored: the ack closes the modal")
	h.eventually(h.answersOf("team", alice)).Should(Equal([]string{"Shipped the login page", "Reviews", "Nothing"}))

	// And edits them: the modal opens with her answers.
	h.clickAnswer(alice)
	edit := h.openedView(2)
	g.Expect(string(edit.Blocks)).To(ContainSubstring(`"initial_value":"Shipped the login page"`))
	g.Expect(h.submit(alice, edit, "Shipped the login page & the <logout> page", "Reviews", "Nothing").Payload).To(BeEmpty())
	h.eventually(h.answersOf("team", alice)).Should(HaveExactElements(ContainSubstring("logout"), "Reviews", "Nothing"))

	// Carol answers only the first question.
	h.clickAnswer(carol)
	g.Expect(h.submit(carol, h.openedView(3), "Oncall").Payload).To(BeEmpty())
	h.eventually(h.condition("team", conchv1.StandupConditionRunning)).Should(haveCondition(metav1.ConditionTrue, conchv1.ReasonCollecting, "2 of 3 answered"))
	h.eventually(func() *conchv1.StandupRun { return h.run(runName) }).Should(HaveField("Status.Progress", "2/3"))
	for _, p := range h.run(runName).Status.Participants {
		if p.User != bob {
			g.Expect(p.AnsweredAt).NotTo(BeNil(), "%s's answer time", p.User)
		}
	}

	// The reminder, to Bob only, not before its time.
	h.stepTo(h.runAt.Add(20*time.Minute - time.Second))
	h.consistently(h.dms(bob)).Should(HaveLen(1))
	h.stepTo(h.runAt.Add(20 * time.Minute))
	h.eventually(h.dms(bob)).Should(HaveLen(2))
	g.Expect(h.dms(bob)()[1].AllText()).To(ContainSubstring("Reminder: the *team* stand-up closes"))
	g.Expect(h.dms(bob)()[1].Buttons()).To(ConsistOf(HaveField("ActionID", "conch_standup_answer")))
	h.consistently(h.dms(alice)).Should(HaveLen(1))
	g.Expect(h.dms(carol)()).To(HaveLen(1))

	// The summary, at the deadline.
	h.stepTo(h.runAt.Add(30*time.Minute - time.Second))
	h.consistently(h.posts(teamChannel)).Should(BeEmpty())
	h.stepTo(h.runAt.Add(30 * time.Minute))
	h.eventually(h.posts(teamChannel)).Should(HaveLen(1))
	summary := h.posts(teamChannel)()[0]
	all := summary.AllText()
	t.Logf("Summary:\n%s", all)
	g.Expect(summary.Text).To(ContainSubstring("Stand-up team"))
	g.Expect(summary.Text).To(ContainSubstring("2 of 3 answered"))
	g.Expect(all).To(ContainSubstring("*<@UALICE>*\n*What did you do yesterday?*\nShipped the login page &amp; the &lt;logout&gt; page\n*What will you do today?*\nReviews"))
	g.Expect(all).To(MatchRegexp(`<@UALICE>\*(.|\n)*:computer: holds \*staging\* until <!date\^[0-9]+\^[^>]*> \(ends today\)`))
	g.Expect(all).To(ContainSubstring("*<@UCAROL>*\n*What did you do yesterday?*\nOncall\n*What will you do today?*\n_(no answer)_"))
	g.Expect(all).To(ContainSubstring("*No answer:* <@UBOB>"))
	g.Expect(all).To(ContainSubstring("<@UBOB>: :computer: waits for *staging* (number 1)"))
	g.Expect(all).To(MatchRegexp(`Ending today:\* \*staging\* \(<@UALICE>, <!date`))
	g.Expect(all).NotTo(ContainSubstring("*qa*"), "qa is held until tomorrow, by someone not in the stand-up")
	var blocks []map[string]any
	g.Expect(json.Unmarshal(summary.Blocks, &blocks)).To(Succeed())
	g.Expect(blocks[0]["type"]).To(Equal("header"))

	// The runs are written before the Standup; the Standup follows within a pass.
	h.eventually(func() *conchv1.StandupRunReference { return h.get("team").Status.LastRun }).ShouldNot(BeNil())
	st = h.get("team")
	g.Expect(st.Status.ActiveRun).To(BeNil())
	g.Expect(st.Status.LastRun).To(HaveField("Name", runName))
	g.Expect(h.run(runName)).To(And(HaveField("Status.State", conchv1.RunCompleted), HaveField("Status.Progress", "2/3"),
		HaveField("Status.Conditions", ContainElement(And(HaveField("Type", conchv1.ConditionReady), HaveField("Status", metav1.ConditionTrue))))))
	g.Expect(kstatusOf(h.run(runName))).To(Equal(status.CurrentStatus), "kstatus reads an ended run as current")
	h.eventually(func() *conchv1.StandupSummaryPost { return h.run(runName).Status.Summary }).Should(
		And(Not(BeNil()), HaveField("Channel", teamChannel), HaveField("MessageTS", HaveLen(1))))
	g.Expect(st.Status.History).To(HaveLen(1))
	g.Expect(st.Status.History[0]).To(And(HaveField("Outcome", conchv1.OutcomeCompleted), HaveField("Participants", int32(3)),
		HaveField("Answered", int32(2)), HaveField("ScheduledTime.Time", BeTemporally("==", h.runAt))))
	g.Expect(st.Status.NextRunTime.Time).To(BeTemporally("==", h.runAt.AddDate(0, 0, 1)))
	h.eventually(h.condition("team", conchv1.StandupConditionRunning)).Should(haveCondition(metav1.ConditionFalse, conchv1.ReasonIdle, ""))

	// Too late to answer for the first time is not too late to edit: see TestEditAfterTheSummary. Once the
	// next run has ended, this one takes no more answers, and the button says the run is over.
	h.stepTo(h.runAt.AddDate(0, 0, 1))
	h.eventually(h.dms(bob)).Should(HaveLen(3))
	h.stepTo(h.runAt.AddDate(0, 0, 1).Add(30 * time.Minute))
	h.eventually(h.posts(teamChannel)).Should(HaveLen(2))
	h.eventually(func() *conchv1.StandupRunReference { return h.get("team").Status.LastRun }).ShouldNot(HaveField("Name", runName))
	late := h.submit(bob, modal, "Late")
	g.Expect(string(late.Payload)).To(And(ContainSubstring(`"response_action":"errors"`), ContainSubstring("is over: answers are no longer collected")))
	first, _ := h.dms(bob)()[0].Click(bob, slackbot.ActionStandupAnswer)
	h.slack.ClickButton(first)
	h.eventually(func() []string { return texts(h.replies(bob)()) }).Should(containing("That *team* stand-up is over"))
	h.consistently(h.posts(teamChannel)).Should(HaveLen(2))
}

// TestRestartMidRunNeitherRepromptsNorLosesAnswers stops the manager in the middle of a run and starts another:
// no prompt is sent twice, the answers given before are in the summary, and the summary is posted once.
func TestRestartMidRunNeitherRepromptsNorLosesAnswers(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.standup("team").Participants(alice, bob).Obj())
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextRunTime }).ShouldNot(BeNil())
	h.stepTo(h.runAt)
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.eventually(h.dms(bob)).Should(HaveLen(1))
	h.clickAnswer(alice)
	g.Expect(h.submit(alice, h.openedView(1), "Before the restart", "More", "None").Payload).To(BeEmpty())

	h.stop()
	h.start()
	h.consistently(func() int { return len(h.dms(alice)()) + len(h.dms(bob)()) }).Should(Equal(2))
	g.Expect(h.answersOf("team", alice)()).To(Equal([]string{"Before the restart", "More", "None"}))

	// Bob answers after the restart, through the button of the first manager's prompt.
	h.clickAnswer(bob)
	g.Expect(h.submit(bob, h.openedView(2), "After the restart").Payload).To(BeEmpty())

	// The reminder is due while the manager is down: it goes out once, after the restart, to nobody (both answered).
	h.stop()
	h.stepTo(h.runAt.Add(25 * time.Minute))
	h.start()
	h.stepTo(h.runAt.Add(30 * time.Minute))
	h.eventually(h.posts(teamChannel)).Should(HaveLen(1))
	all := h.posts(teamChannel)()[0].AllText()
	g.Expect(all).To(And(ContainSubstring("Before the restart"), ContainSubstring("After the restart"), ContainSubstring("2 of 2 answered")))
	h.stop()
	h.start()
	h.consistently(h.posts(teamChannel)).Should(HaveLen(1))
	g.Expect(len(h.dms(alice)()) + len(h.dms(bob)())).To(Equal(2))
}

// TestSkippedHolidayAndSuspended: a run on a skip date and a run of a suspended Standup do not start; the
// RunSkipped condition and the history say why, and the next run is tomorrow's.
func TestSkippedHolidayAndSuspended(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.standup("holiday").Skip(h.date(h.runAt)).Obj(), h.standup("paused").Suspend().Obj())
	h.eventually(h.condition("paused", conchv1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, conchv1.ReasonSuspended, "Suspended"))
	h.eventually(func() *metav1.Time { return h.get("holiday").Status.NextRunTime }).ShouldNot(BeNil())
	h.stepTo(h.runAt)

	h.eventually(h.condition("holiday", conchv1.StandupConditionRunSkipped)).Should(haveCondition(metav1.ConditionTrue, conchv1.StandupReasonHoliday, h.date(h.runAt)+" is in skipDates"))
	h.eventually(h.condition("paused", conchv1.StandupConditionRunSkipped)).Should(haveCondition(metav1.ConditionTrue, conchv1.StandupReasonSuspended, "the Standup is suspended"))
	for _, name := range []string{"holiday", "paused"} {
		st := h.get(name)
		g.Expect(st.Status.ActiveRun).To(BeNil())
		g.Expect(st.Status.History).To(ConsistOf(And(HaveField("Outcome", conchv1.OutcomeSkipped), HaveField("ScheduledTime.Time", BeTemporally("==", h.runAt)))))
		g.Expect(st.Status.NextRunTime.Time).To(BeTemporally("==", h.runAt.AddDate(0, 0, 1)))
	}
	h.consistently(func() int { return len(h.slack.Calls("chat.postMessage")) }).Should(BeZero())
}

// TestMissedWhileDown: a run due while the manager is down starts late if its window is still open (same
// deadline), and is recorded as missed if not.
func TestMissedWhileDown(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.standup("late").Participants(alice).Obj())
	h.eventually(func() *metav1.Time { return h.get("late").Status.NextRunTime }).ShouldNot(BeNil())

	// Down over the run time, back 10 minutes later: it starts late, with the deadline it would have had.
	h.stop()
	h.stepTo(h.runAt.Add(10 * time.Minute))
	h.start()
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	run := h.activeRun("late")
	g.Expect(run.Spec.Deadline.Time).To(BeTemporally("==", h.runAt.Add(30*time.Minute)))
	g.Expect(run.Status.StartTime.Time).To(BeTemporally(">=", h.runAt.Add(10*time.Minute)))
	h.stepTo(h.runAt.Add(30 * time.Minute))
	h.eventually(h.posts(teamChannel)).Should(HaveLen(1))

	// Down over the next day's run and its whole window: missed, loudly.
	h.stop()
	h.stepTo(h.runAt.AddDate(0, 0, 1).Add(45 * time.Minute))
	h.start()
	h.eventually(h.condition("late", conchv1.StandupConditionRunSkipped)).Should(haveCondition(metav1.ConditionTrue, conchv1.StandupReasonMissed, "was missed: the manager was not running"))
	st := h.get("late")
	g.Expect(st.Status.History[0]).To(And(HaveField("Outcome", conchv1.OutcomeMissed), HaveField("ScheduledTime.Time", BeTemporally("==", h.runAt.AddDate(0, 0, 1)))))
	g.Expect(st.Status.NextRunTime.Time).To(BeTemporally("==", h.runAt.AddDate(0, 0, 2)))
	h.consistently(h.dms(alice)).Should(HaveLen(1))
}

// TestInvalidScheduleAndTimeZone: what the API server lets through but the controller cannot use is reported on
// Ready (and Stalled) with a message that says what to fix; fixing it schedules the Standup.
func TestInvalidScheduleAndTimeZone(t *testing.T) {
	h := setup(t)
	h.create(
		h.standup("minute").Schedule("61 9 * * *", "UTC").Obj(),
		h.standup("never").Schedule("0 9 30 2 *", "UTC").Obj(),
		h.standup("mars").Schedule("0 9 * * *", "Mars/Olympus_Mons").Obj(),
		h.standup("links").Links(conchv1.StandupLink{Pattern: "JIRA-(", URL: "https://jira.example.com/browse/$0"}).Obj(),
	)
	h.eventually(h.condition("links", conchv1.ConditionReady)).Should(haveCondition(metav1.ConditionFalse, conchv1.ReasonInvalidLinks,
		`spec.links[0].pattern "JIRA-(" is not a regular expression: error parsing regexp: missing closing ): `+"`JIRA-(`; no run starts until it is fixed"))
	h.eventually(h.condition("minute", conchv1.ConditionReady)).Should(haveCondition(metav1.ConditionFalse, conchv1.ReasonInvalidSchedule,
		`spec.schedule "61 9 * * *": end of range (61) above maximum (59)`))
	h.eventually(h.condition("never", conchv1.ConditionReady)).Should(haveCondition(metav1.ConditionFalse, conchv1.ReasonInvalidSchedule,
		"matches no date (such as 30 February), so it would never run"))
	h.eventually(h.condition("mars", conchv1.ConditionReady)).Should(haveCondition(metav1.ConditionFalse, conchv1.ReasonInvalidTimeZone,
		`spec.timeZone: "Mars/Olympus_Mons" is not an IANA time zone name`))
	h.eventually(h.condition("mars", conchv1.ConditionStalled)).Should(haveCondition(metav1.ConditionTrue, conchv1.ReasonInvalidTimeZone, ""))
	NewWithT(t).Expect(h.get("mars").Status.NextRunTime).To(BeNil())

	st := h.get("mars")
	NewWithT(t).Expect(k8s.Patch(ctx, st, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"timeZone":"`+h.zone+`"}}`)))).To(Succeed())
	h.eventually(h.condition("mars", conchv1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, conchv1.ReasonScheduled, "Next run"))
	h.eventually(h.condition("mars", conchv1.ConditionStalled)).Should(haveCondition(metav1.ConditionFalse, conchv1.ReasonScheduled, ""))
}

// TestWithoutSlack: a manager without Slack tokens still reconciles Standups, and says why none runs.
func TestWithoutSlack(t *testing.T) {
	ns := namespace(t)
	clk := testutil.NewStepClock()
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, env.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: clk, SeveralPerProcess: true, Namespaces: []string{ns},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = mgr.Start(mctx)
	}()
	defer func() { cancel(); <-done }()

	h := &harness{t: t, ns: ns}
	h.zone, h.runAt = morning(clk.Now())
	h.create(h.standup("quiet").Obj())
	h.eventually(h.condition("quiet", conchv1.ConditionReady)).Should(haveCondition(metav1.ConditionFalse, conchv1.ReasonSlackDisabled,
		"Slack is off in this manager (no tokens), so no run starts"))
	NewWithT(t).Expect(h.get("quiet").Status.NextRunTime.Time).To(BeTemporally("==", h.runAt))
	clk.Step(h.runAt.Sub(clk.Now()))
	h.consistently(func() *conchv1.StandupRunReference { return h.get("quiet").Status.ActiveRun }).Should(BeNil())
	h.consistently(h.runs("quiet")).Should(BeEmpty())
}
