// Package planning tests bookings, priorities with polite preemption, and limits end to end: the real manager
// against a real kube-apiserver and etcd (envtest). Each test runs a manager of its own, limited to its namespace,
// with a clock of its own that it steps through hours in a second.
package planning

import (
	"context"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
	"github.com/conch-dev/conch/internal/testutil"
)

var (
	suite *testenv.Suite
	k8s   client.Client
	ctx   = context.Background()
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, k8s = s, s.Client
		return func() {}, nil
	}))
}

// setup makes a namespace and a manager for it, with a clock of its own.
func setup(t *testing.T) (string, *testutil.StepClock) {
	t.Helper()
	ns := suite.Namespace(t, "p")
	clk := testutil.NewStepClock()
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, suite.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: clk, Namespaces: []string{ns}, SeveralPerProcess: true,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(testenv.RunInBackground(mctx, t, cancel, mgr))
	t.Cleanup(func() {
		if t.Failed() {
			var ress conchv1.ResourceList
			_ = k8s.List(ctx, &ress, client.InNamespace(ns))
			for _, r := range ress.Items {
				t.Logf("Resource %s: %+v", r.Name, r.Status)
			}
		}
	})
	return ns, clk
}

func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		NewWithT(t).Expect(k8s.Create(ctx, o)).To(Succeed())
	}
}

func get(t *testing.T, ns, name string) *conchv1.Reservation {
	t.Helper()
	r := &conchv1.Reservation{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r)).To(Succeed())
	return r
}

// stateOf returns "State/Reason of the Ready condition" of a Reservation.
func stateOf(t *testing.T, ns, name string) func() string {
	return func() string {
		r := &conchv1.Reservation{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
			return ""
		}
		c := meta.FindStatusCondition(r.Status.Conditions, conchv1.ConditionReady)
		if c == nil {
			return string(r.Status.State)
		}
		return string(r.Status.State) + "/" + c.Reason
	}
}

func released(t *testing.T, ns, name string) {
	t.Helper()
	r := &conchv1.Reservation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	NewWithT(t).Expect(k8s.Patch(ctx, r, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"released":true}}`)))).To(Succeed())
}

func eventNotes(ns, regarding, reason string) func() []string {
	return func() []string {
		var list eventsv1.EventList
		_ = k8s.List(ctx, &list, client.InNamespace(ns))
		var out []string
		for _, e := range list.Items {
			if e.Regarding.Name == regarding && e.Reason == reason {
				out = append(out, e.Note)
			}
		}
		return out
	}
}

func TestABookingIsGrantedAtItsStartAndAWalkInIsShortenedToFitBeforeIt(t *testing.T) {
	ns, clk := setup(t)
	start := clk.Now().Add(time.Hour).Truncate(time.Second)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("demo").Namespace(ns).On("staging").Holder("bob").At(start).For(time.Hour).Obj())
	eventually(t, stateOf(t, ns, "demo")).Should(Equal("Queued/" + conchv1.ReasonBooked))
	eventually(t, func() *conchv1.NextBooking {
		res := &conchv1.Resource{}
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "staging"}, res)
		return res.Status.NextBooking
	}).Should(HaveField("Reservation", "demo"))

	// alice asks for two hours now: she is granted until the booking starts, and told so.
	create(t, testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(2*time.Hour).Obj())
	eventually(t, stateOf(t, ns, "alice")).Should(Equal("Granted/" + conchv1.ReasonShortenedForBooking))
	a := get(t, ns, "alice")
	NewWithT(t).Expect(a.Status.ExpiresAt.Time).To(BeTemporally("==", start))
	NewWithT(t).Expect(meta.FindStatusCondition(a.Status.Conditions, conchv1.ConditionGranted).Message).
		To(ContainSubstring("shortened to end when bob's booking"))

	// A booking that overlaps bob's is rejected with the next free slot.
	create(t, testutil.Reservation("clash").Namespace(ns).On("staging").Holder("carol").At(start.Add(30*time.Minute)).For(time.Hour).Obj())
	eventually(t, stateOf(t, ns, "clash")).Should(Equal("Rejected/" + conchv1.ReasonBookingConflict))
	NewWithT(t).Expect(meta.FindStatusCondition(get(t, ns, "clash").Status.Conditions, conchv1.ConditionStalled).Message).
		To(ContainSubstring(start.Add(time.Hour).UTC().Format(time.RFC3339)))

	// Not a moment before its start...
	clk.Step(start.Add(-2 * time.Second).Sub(clk.Now()))
	NewWithT(t).Consistently(stateOf(t, ns, "demo")).WithTimeout(time.Second).WithPolling(50 * time.Millisecond).
		Should(Equal("Queued/" + conchv1.ReasonBooked))
	// ...and at it: alice's hold ends and bob's starts, to end exactly an hour after the booked start.
	clk.Step(3 * time.Second)
	eventually(t, stateOf(t, ns, "demo")).Should(Equal("Granted/" + conchv1.ReasonGranted))
	eventually(t, stateOf(t, ns, "alice")).Should(Equal("Expired/" + conchv1.ReasonExpired))
	d := get(t, ns, "demo")
	NewWithT(t).Expect(d.Status.GrantedAt.Time).To(BeTemporally(">=", start))
	NewWithT(t).Expect(d.Status.ExpiresAt.Time).To(BeTemporally("==", start.Add(time.Hour)))
}

func TestAPreemptionWarnsTheHolderKeepsTheGracePeriodAndEndsThePreempted(t *testing.T) {
	ns, clk := setup(t)
	create(t, testutil.Resource("staging").Namespace(ns).Preemption(conchv1.PreemptionHold, 5*time.Minute, 0).Obj(),
		testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(2*time.Hour).Obj())
	eventually(t, stateOf(t, ns, "alice")).Should(Equal("Granted/" + conchv1.ReasonGranted))
	create(t, testutil.Reservation("hotfix").Namespace(ns).On("staging").Holder("dave").Priority(10, "INC-42: prod is down").Obj())
	eventually(t, stateOf(t, ns, "alice")).Should(Equal("Granted/" + conchv1.ReasonPreempting))
	a := get(t, ns, "alice")
	NewWithT(t).Expect(a.Status.ExpiresAt.Time).To(BeTemporally("~", clk.Now().Add(5*time.Minute), 5*time.Second))
	eventually(t, eventNotes(ns, "alice", conchv1.ReasonPreempting)).Should(ContainElement(And(
		ContainSubstring("dave (priority 10) takes staging from alice"), ContainSubstring("INC-42: prod is down"))))

	clk.Step(4 * time.Minute)
	NewWithT(t).Consistently(stateOf(t, ns, "alice")).WithTimeout(time.Second).WithPolling(50 * time.Millisecond).
		Should(Equal("Granted/" + conchv1.ReasonPreempting))
	clk.Step(time.Minute + time.Second)
	eventually(t, stateOf(t, ns, "alice")).Should(Equal("Released/" + conchv1.ReasonPreempted))
	eventually(t, stateOf(t, ns, "hotfix")).Should(Equal("Granted/" + conchv1.ReasonGranted))
	NewWithT(t).Expect(meta.FindStatusCondition(get(t, ns, "alice").Status.Conditions, conchv1.ConditionReady).Message).
		To(ContainSubstring("Preempted: dave took staging by priority (INC-42: prod is down)"))
}

func TestALimitRefusesAFourthHoldAcrossAPool(t *testing.T) {
	ns, _ := setup(t)
	limits := conchv1.Limits{MaxHoldsPerHolder: 3, Scope: &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "qa"}},
		WhenOver: conchv1.LimitReject}
	for _, name := range []string{"qa-1", "qa-2", "qa-3", "qa-4"} {
		create(t, testutil.Resource(name).Namespace(ns).Label("pool", "qa").Limits(limits).Obj())
	}
	for i, name := range []string{"qa-1", "qa-2", "qa-3"} {
		r := testutil.Reservation("alice-" + name).Namespace(ns).On(name).Holder("alice").Obj()
		create(t, r)
		eventually(t, stateOf(t, ns, r.Name)).Should(Equal("Granted/"+conchv1.ReasonGranted), "hold %d", i+1)
	}
	create(t, testutil.Reservation("alice-qa-4").Namespace(ns).On("qa-4").Holder("alice").Obj(),
		testutil.Reservation("bob-qa-4").Namespace(ns).On("qa-4").Holder("bob").Obj())
	eventually(t, stateOf(t, ns, "alice-qa-4")).Should(Equal("Rejected/" + conchv1.ReasonOverLimit))
	NewWithT(t).Expect(meta.FindStatusCondition(get(t, ns, "alice-qa-4").Status.Conditions, conchv1.ConditionReady).Message).
		To(ContainSubstring("alice already has 3 of at most 3 holds at once"))
	eventually(t, stateOf(t, ns, "bob-qa-4")).Should(Equal("Granted/" + conchv1.ReasonGranted))
}

func TestAWaitingOverALimitIsGrantedWhenAHoldOnAnotherMemberEnds(t *testing.T) {
	ns, _ := setup(t)
	limits := conchv1.Limits{MaxHoldsPerHolder: 1, Scope: &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "qa"}}}
	for _, name := range []string{"qa-1", "qa-2"} {
		create(t, testutil.Resource(name).Namespace(ns).Label("pool", "qa").Limits(limits).Obj())
	}
	create(t, testutil.Reservation("first").Namespace(ns).On("qa-1").Holder("alice").Obj())
	eventually(t, stateOf(t, ns, "first")).Should(Equal("Granted/" + conchv1.ReasonGranted))
	create(t, testutil.Reservation("second").Namespace(ns).On("qa-2").Holder("alice").Obj())
	eventually(t, stateOf(t, ns, "second")).Should(Equal("Queued/" + conchv1.ReasonOverLimit))
	released(t, ns, "first")
	eventually(t, stateOf(t, ns, "second")).Should(Equal("Granted/" + conchv1.ReasonGranted))
}

func TestAPriorityGoesAheadAndTheJumpIsAudited(t *testing.T) {
	ns, _ := setup(t)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").Obj())
	eventually(t, stateOf(t, ns, "alice")).Should(Equal("Granted/" + conchv1.ReasonGranted))
	create(t, testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").Obj())
	eventually(t, stateOf(t, ns, "bob")).Should(Equal("Queued/" + conchv1.ReasonQueued))
	create(t, testutil.Reservation("hotfix").Namespace(ns).On("staging").Holder("dave").Priority(5, "INC-7").Obj())
	eventually(t, func() int32 { return get(t, ns, "hotfix").Status.Position }).Should(Equal(int32(1)))
	eventually(t, func() int32 { return get(t, ns, "bob").Status.Position }).Should(Equal(int32(2)))

	released(t, ns, "alice")
	eventually(t, stateOf(t, ns, "hotfix")).Should(Equal("Granted/" + conchv1.ReasonGranted))
	eventually(t, eventNotes(ns, "hotfix", conchv1.ReasonQueueJumped)).Should(Equal([]string{
		"dave went ahead of 1 who arrived earlier, by priority 5: INC-7"}))
	NewWithT(t).Expect(get(t, ns, "bob").Status.State).To(Equal(conchv1.StateQueued))

	// Without a reason, the API server refuses a priority.
	err := k8s.Create(ctx, testutil.Reservation("sneaky").Namespace(ns).On("staging").Holder("eve").Priority(5, "").Obj())
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("a priority above 0 needs a reason")))
}
