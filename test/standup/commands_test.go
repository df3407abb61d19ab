package standup

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/test/fakeslack"
)

// dave is in the workspace but in no stand-up.
const dave = "UDAVE"

// standupCmd types "/dibs standup <text>" as user in channel and returns the reply (the n-th to that user).
func (h *harness) standupCmd(user, channel, text string) fakeslack.Message {
	h.t.Helper()
	n := len(h.replies(user)()) + 1
	h.slack.SendSlashCommand(fakeslack.SlashCommand{Command: "/dibs", Text: "standup " + text, UserID: user, ChannelID: channel})
	h.eventually(func() int { return len(h.replies(user)()) }).Should(BeNumerically(">=", n))
	return h.replies(user)()[n-1]
}

// TestSlashCommands drives a stand-up from Slack: the list, helpful errors, who may change it, skipping today
// (which cancels the run collecting answers), skipping and unskipping another day, away and back, and running
// one now.
func TestSlashCommands(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.slack.AddUser(fakeslack.User{ID: dave, Name: "dave", DisplayName: "Dave", TZ: "UTC"})
	other := h.standup("infra").Participants(alice).Obj()
	other.Spec.Channel = "CINFRA"
	h.create(h.standup("team").Obj(), other)
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextRunTime }).ShouldNot(BeNil())
	today, tomorrow := h.date(h.runAt), h.date(h.runAt.AddDate(0, 0, 1))

	// The list, and errors that say what to do.
	list := h.standupCmd(alice, teamChannel, "")
	g.Expect(list.ResponseType).To(Equal("ephemeral"))
	g.Expect(list.Text).To(And(ContainSubstring("*team* — `"+h.standup("team").Spec.Schedule+"` "+h.zone+", in <#CTEAM> · next <!date^"),
		ContainSubstring("*infra* —")))
	g.Expect(h.standupCmd(alice, teamChannel, "dance").Text).To(ContainSubstring("I do not know `standup dance`. I know `skip`, `unskip`, `away`, `back`, `run` and `list`"))
	g.Expect(h.standupCmd(alice, teamChannel, "run tem").Text).To(ContainSubstring("There is no *tem* stand-up here. Did you mean *team*?"))
	g.Expect(h.standupCmd(alice, "CRANDOM", "run").Text).To(ContainSubstring("Which stand-up? There are 2 here: *infra*, *team*"))
	g.Expect(h.standupCmd(bob, teamChannel, "away").Text).To(ContainSubstring("Away until when? Give the last day you are away"))
	g.Expect(h.standupCmd(alice, teamChannel, "skip team 2026-02-30").Text).To(ContainSubstring(`"2026-02-30" is not a date I know`))
	g.Expect(h.standupCmd(alice, teamChannel, "skip team 2001-01-01").Text).To(ContainSubstring("is past in the *team* stand-up's time zone"))
	g.Expect(h.standupCmd(dave, teamChannel, "skip").Text).To(Equal("Only the people of the *team* stand-up (and admins) may change it."))
	g.Expect(h.standupCmd(dave, teamChannel, "away tomorrow").Text).To(ContainSubstring("You are not in any stand-up in namespace"))
	g.Expect(h.standupCmd(alice, teamChannel, "help").Text).To(ContainSubstring("/dibs standup away 2026-12-01"))
	g.Expect(h.get("team").Spec.SkipDates).To(BeEmpty())

	// Another day, skipped and taken back; the group's member may (Carol is in the team through its user group).
	g.Expect(h.standupCmd(carol, teamChannel, "skip tomorrow").Text).To(ContainSubstring("No *team* stand-up on"))
	g.Expect(h.get("team").Spec.SkipDates).To(Equal([]string{tomorrow}))
	g.Expect(h.standupCmd(carol, teamChannel, "skip tomorrow").Text).To(ContainSubstring("*team* already skips"))
	g.Expect(h.standupCmd(admin, teamChannel, "unskip team "+tomorrow).Text).To(ContainSubstring("takes place on"))
	g.Expect(h.get("team").Spec.SkipDates).To(BeEmpty())

	// Today's run starts; skipping today then cancels it, says so in the channel, and the buttons say so too.
	h.stepTo(h.runAt)
	h.eventually(h.dms(bob)).Should(HaveLen(1))
	skip := h.standupCmd(alice, teamChannel, "skip")
	g.Expect(skip.ResponseType).To(Equal("in_channel"))
	g.Expect(skip.Text).To(ContainSubstring("Today's was collecting answers: it is cancelled, and there will be no summary."))
	g.Expect(h.get("team").Spec.SkipDates).To(Equal([]string{today}))
	h.eventually(func() []string { return texts(h.posts(teamChannel)()) }).Should(containing("stand-up of " + h.runAt.Format("Monday 2 January") + " was cancelled"))
	h.eventually(func() []conchv1.StandupRunRecord { return h.get("team").Status.History }).Should(ConsistOf(
		And(HaveField("Outcome", conchv1.OutcomeCancelled), HaveField("Participants", int32(3)))))
	h.clickAnswer(bob)
	h.eventually(func() []string { return texts(h.replies(bob)()) }).Should(containing("That *team* stand-up was cancelled."))
	h.stepTo(h.runAt.Add(30 * time.Minute))
	h.consistently(h.posts(teamChannel)).Should(HaveLen(1), "no summary")

	// Bob is away through tomorrow; a run started now asks the others only.
	away := h.standupCmd(bob, teamChannel, "away until tomorrow")
	g.Expect(away.Text).To(ContainSubstring("You are away from *team* through " + h.runAt.AddDate(0, 0, 1).Format("Monday 2 January")))
	g.Expect(h.get("team").Spec.Away).To(Equal([]conchv1.StandupAway{{User: bob, Until: tomorrow}}))
	run := h.standupCmd(alice, teamChannel, "run")
	g.Expect(run.ResponseType).To(Equal("in_channel"))
	g.Expect(run.Text).To(ContainSubstring("<@UALICE> started the *team* stand-up: 2 people asked (1 away); answers until"))
	h.eventually(h.dms(carol)).Should(HaveLen(2))
	h.consistently(h.dms(bob)).Should(HaveLen(1))
	g.Expect(h.activeRun("team")).To(And(Not(BeNil()), HaveField("Spec.Trigger", conchv1.TriggerManual), HaveField("Status.Away", []string{bob})))
	g.Expect(h.standupCmd(carol, teamChannel, "run team").Text).To(ContainSubstring("The *team* stand-up is already collecting answers, until"))

	// Back: Bob's entry goes; the run that started without him stays as it was.
	g.Expect(h.standupCmd(bob, teamChannel, "back").Text).To(Equal("Welcome back: *team* will ask you again."))
	g.Expect(h.get("team").Spec.Away).To(BeEmpty())

	// An Event records each run and skip for kubectl describe.
	h.eventually(func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(k8s.List(ctx, &evs, client.InNamespace(h.ns))).To(Succeed())
		var reasons []string
		for _, e := range evs.Items {
			reasons = append(reasons, e.Reason)
		}
		g.Expect(reasons).To(ContainElements("RunStarted", "RunCancelled"))
	}).Should(Succeed())
}

// TestUserGroupUnavailable: a user group Slack does not know is reported in an Event, and the people listed are
// asked anyway.
func TestUserGroupUnavailable(t *testing.T) {
	h := setup(t)
	st := h.standup("team").Obj()
	st.Spec.UserGroup = "SGONE"
	h.create(st)
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextRunTime }).ShouldNot(BeNil())
	h.stepTo(h.runAt)
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.eventually(h.dms(bob)).Should(HaveLen(1))
	h.eventually(func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(k8s.List(ctx, &evs, client.InNamespace(h.ns))).To(Succeed())
		var notes []string
		for _, e := range evs.Items {
			if e.Reason == "UserGroupUnavailable" {
				notes = append(notes, e.Note)
			}
		}
		g.Expect(notes).To(ContainElement(ContainSubstring("Cannot read user group SGONE (user group unavailable: Slack says no_such_subteam); asking the participants listed only")))
	}).Should(Succeed())
}
