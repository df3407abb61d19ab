package standup

import (
	"fmt"
	"time"

	. "github.com/onsi/gomega"
	"github.com/slack-go/slack"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/test/fakeslack"
)

// questions are the team's questions in every test.
var questions = []string{"What did you do yesterday?", "What will you do today?", "Anything blocking you?"}

// standupWrapper builds a Standup for tests: h.standup("team").Collect(30*time.Minute).Obj().
type standupWrapper struct{ conchv1.Standup }

// standup starts a Standup in the test's namespace that runs daily at the harness's run time, in its morning
// zone, asking Alice and Bob (and the web group, Carol) the three questions, collecting for 30 minutes with a
// reminder after 20.
func (h *harness) standup(name string) *standupWrapper {
	return &standupWrapper{conchv1.Standup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: conchv1.StandupSpec{
			Channel:      teamChannel,
			Schedule:     fmt.Sprintf("%d %d * * *", h.runAt.Minute(), h.runAt.Hour()),
			TimeZone:     h.zone,
			Participants: []string{alice, bob},
			UserGroup:    webGroup,
			Questions:    questions,
			CollectFor:   &metav1.Duration{Duration: 30 * time.Minute},
			RemindAfter:  &metav1.Duration{Duration: 20 * time.Minute},
		},
	}}
}

func (w *standupWrapper) Obj() *conchv1.Standup { return w.Standup.DeepCopy() }

func (w *standupWrapper) Schedule(expr, zone string) *standupWrapper {
	w.Spec.Schedule, w.Spec.TimeZone = expr, zone
	return w
}

func (w *standupWrapper) Skip(dates ...string) *standupWrapper { w.Spec.SkipDates = dates; return w }

func (w *standupWrapper) Links(links ...conchv1.StandupLink) *standupWrapper {
	w.Spec.Links = links
	return w
}

func (w *standupWrapper) Suspend() *standupWrapper { w.Spec.Suspend = true; return w }

func (w *standupWrapper) Away(user, until string) *standupWrapper {
	w.Spec.Away = append(w.Spec.Away, conchv1.StandupAway{User: user, Until: until})
	return w
}

func (w *standupWrapper) Participants(users ...string) *standupWrapper {
	w.Spec.Participants, w.Spec.UserGroup = users, ""
	return w
}

// morning picks the test's time zone and run time from the clock's current time: an Etc/GMT zone where it is
// about 09:00 now, so that the whole run (and "ends today") falls on one local day, and a run time a few minutes
// ahead, on a whole minute.
func morning(now time.Time) (string, time.Time) {
	offset := 9 - now.UTC().Hour() // hours east of UTC
	if offset < -12 {
		offset += 24
	}
	zone := "Etc/UTC"
	switch {
	case offset > 0:
		zone = fmt.Sprintf("Etc/GMT-%d", offset) // the Etc zones' signs are POSIX's, inverted
	case offset < 0:
		zone = fmt.Sprintf("Etc/GMT+%d", -offset)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		panic(err)
	}
	return zone, now.In(loc).Truncate(time.Minute).Add(5 * time.Minute)
}

// stepTo moves the clock to t (which must not be in the past).
func (h *harness) stepTo(t time.Time) {
	h.t.Helper()
	d := t.Sub(h.clk.Now())
	if d < 0 {
		h.t.Fatalf("cannot step back to %s", t)
	}
	h.clk.Step(d)
}

// date is the run's local date, YYYY-MM-DD.
func (h *harness) date(t time.Time) string {
	loc, _ := time.LoadLocation(h.zone)
	return string(schedule.DateOf(t, loc))
}

// condition returns a condition of the Standup, or nil.
func (h *harness) condition(name, typ string) func() *metav1.Condition {
	return func() *metav1.Condition {
		st, err := h.getErr(name)
		if err != nil {
			return nil
		}
		return meta.FindStatusCondition(st.Status.Conditions, typ)
	}
}

// haveCondition matches a condition with this status and reason whose message contains msg.
func haveCondition(status metav1.ConditionStatus, reason, msg string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason), HaveField("Message", ContainSubstring(msg)))
}

// clickAnswer clicks the Answer button of user's latest stand-up DM and returns the envelope ID.
func (h *harness) clickAnswer(user string) string {
	h.t.Helper()
	dms := h.dms(user)()
	for i := len(dms) - 1; i >= 0; i-- {
		if c, ok := dms[i].Click(user, "conch_standup_answer"); ok {
			return h.slack.ClickButton(c)
		}
	}
	h.t.Fatalf("no Answer button in %s's DMs", user)
	return ""
}

// openedView waits for the n-th view the bot opened (1-based) and returns it.
func (h *harness) openedView(n int) fakeslack.View {
	h.t.Helper()
	h.eventually(func() int { return len(h.slack.Views()) }).Should(BeNumerically(">=", n))
	return h.slack.Views()[n-1]
}

// submit submits a view with answers, one per question, and returns the ack.
func (h *harness) submit(user string, v fakeslack.View, answers ...string) fakeslack.Ack {
	h.t.Helper()
	values := map[string]map[string]slack.BlockAction{}
	for i, a := range answers {
		values[fmt.Sprintf("q%d", i)] = map[string]slack.BlockAction{"answer": {Type: "plain_text_input", Value: a}}
	}
	env := h.slack.SubmitView(fakeslack.Submission{UserID: user, ViewID: v.ID, Values: values})
	h.eventually(func() bool { _, ok := h.slack.AckFor(env); return ok }).Should(BeTrue())
	ack, _ := h.slack.AckFor(env)
	return ack
}

// activeRun returns the StandupRun the Standup's status.activeRun points to, or nil.
func (h *harness) activeRun(name string) *conchv1.StandupRun {
	st, err := h.getErr(name)
	if err != nil || st.Status.ActiveRun == nil {
		return nil
	}
	return h.run(st.Status.ActiveRun.Name)
}

// run reads a StandupRun of the test's namespace, or nil.
func (h *harness) run(name string) *conchv1.StandupRun {
	run := &conchv1.StandupRun{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: h.ns, Name: name}, run); err != nil {
		return nil
	}
	return run
}

// runs lists the StandupRuns of a Standup, by name.
func (h *harness) runs(standup string) func() []string {
	return func() []string {
		var list conchv1.StandupRunList
		if err := k8s.List(ctx, &list, client.InNamespace(h.ns), client.MatchingLabels{conchv1.LabelStandup: standup}); err != nil {
			return nil
		}
		var out []string
		for _, r := range list.Items {
			out = append(out, r.Name)
		}
		return out
	}
}

// answersOf returns user's answers in the active run.
func (h *harness) answersOf(name, user string) func() []string {
	return func() []string {
		run := h.activeRun(name)
		if run == nil {
			return nil
		}
		for _, p := range run.Status.Participants {
			if p.User == user {
				return p.Answers
			}
		}
		return nil
	}
}
