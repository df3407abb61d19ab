package integration

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

var ctx = context.Background()

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func reservation(t *testing.T, ns, name string) *conchv1.Reservation {
	t.Helper()
	r := &conchv1.Reservation{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r); err != nil {
		t.Fatalf("getting reservation %s: %v", name, err)
	}
	return r
}

func resource(t *testing.T, ns, name string) *conchv1.Resource {
	t.Helper()
	r := &conchv1.Resource{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r); err != nil {
		t.Fatalf("getting resource %s: %v", name, err)
	}
	return r
}

// state returns a function that reads a Reservation's state, for Eventually.
func state(t *testing.T, ns, name string) func() conchv1.ReservationState {
	return func() conchv1.ReservationState { return reservation(t, ns, name).Status.State }
}

// holders returns a function that reads the names of a Resource's holding Reservations.
func holders(t *testing.T, ns, name string) func() []string {
	return func() []string {
		var names []string
		for _, h := range resource(t, ns, name).Status.Holders {
			names = append(names, h.Reservation)
		}
		return names
	}
}

func patchSpec(t *testing.T, r *conchv1.Reservation, mutate func(*conchv1.ReservationSpec)) {
	t.Helper()
	patch := client.MergeFrom(r.DeepCopy())
	mutate(&r.Spec)
	if err := k8s.Patch(ctx, r, patch); err != nil {
		t.Fatalf("patching %s: %v", r.Name, err)
	}
}

func condition(r *conchv1.Reservation, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(r.Status.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// createInOrder creates Reservations one after the other. Creation timestamps have whole seconds and the queue
// breaks ties by name, so tests that need an order name their Reservations alphabetically too; see
// createSecondsApart for a test of creation order itself.
func createInOrder(t *testing.T, rs ...*conchv1.Reservation) {
	t.Helper()
	for _, r := range rs {
		create(t, r)
	}
}

// createSecondsApart creates each Reservation in a later second than the one before, so that creation
// timestamps alone order them.
func createSecondsApart(t *testing.T, rs ...*conchv1.Reservation) {
	t.Helper()
	for i, r := range rs {
		if i > 0 {
			prev := rs[i-1].CreationTimestamp.Time
			for !time.Now().After(prev.Add(time.Second)) {
				time.Sleep(10 * time.Millisecond) // waiting for the wall clock to pass a second, not for the cluster
			}
		}
		create(t, r)
	}
}

func TestGrant(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("alice").Namespace(ns).On("staging").For(2*time.Hour).Because("deploying PR #345").Obj())

	eventually(t, state(t, ns, "alice")).Should(Equal(conchv1.StateGranted))
	r := reservation(t, ns, "alice")
	g.Expect(r.Status.ResourceName).To(Equal("staging"))
	g.Expect(r.Status.GrantedAt).NotTo(BeNil())
	g.Expect(r.Status.ExpiresAt.Time).To(Equal(r.Status.GrantedAt.Add(2 * time.Hour)))
	g.Expect(r.Finalizers).To(BeEmpty(), "no finalizer: a deleted holder is released once the API server confirms it is gone")
	g.Expect(r.Status.Ticket).To(Equal(int64(1)), "the first arrival at the ledger")
	g.Expect(condition(r, conchv1.ConditionGranted).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(condition(r, conchv1.ConditionGranted).Message).To(ContainSubstring("alice holds staging until"))
	g.Expect(condition(r, conchv1.ConditionReconciling).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(r.Status.ObservedGeneration).To(Equal(r.Generation))

	eventually(t, func(g Gomega) {
		res := resource(t, ns, "staging")
		g.Expect(res.Status.HeldBy).To(Equal("alice"))
		g.Expect(res.Status.Holders).To(HaveLen(1))
		g.Expect(res.Status.Holders[0].UID).To(Equal(string(r.UID)))
		g.Expect(res.Status.NextRelease).NotTo(BeNil())
		available := meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionAvailable)
		g.Expect(available).NotTo(BeNil())
		g.Expect(available.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(available.Reason).To(Equal(conchv1.ReasonFull))
	}).Should(Succeed())

	eventually(t, func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(k8s.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		var reasons []string
		for _, e := range evs.Items {
			if e.Regarding.Name == "alice" {
				reasons = append(reasons, e.Reason)
			}
		}
		g.Expect(reasons).To(ContainElement(conchv1.ReasonGranted))
	}).Should(Succeed())
}

func TestQueueOfThreeIsGrantedInCreationOrder(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Default(time.Hour).Obj())
	// Names in reverse order: creation time, not the name, decides.
	createSecondsApart(t,
		testutil.Reservation("c-first").Namespace(ns).On("staging").Obj(),
		testutil.Reservation("b-second").Namespace(ns).On("staging").Obj(),
		testutil.Reservation("a-third").Namespace(ns).On("staging").Obj())

	eventually(t, state(t, ns, "c-first")).Should(Equal(conchv1.StateGranted))
	eventually(t, func(g Gomega) {
		second, third := reservation(t, ns, "b-second"), reservation(t, ns, "a-third")
		first := reservation(t, ns, "c-first")
		g.Expect(second.Status.State).To(Equal(conchv1.StateQueued))
		g.Expect(second.Status.Position).To(BeEquivalentTo(1))
		g.Expect(third.Status.Position).To(BeEquivalentTo(2))
		g.Expect(second.Status.EstimatedGrantTime.Time).To(BeTemporally("~", first.Status.ExpiresAt.Time, time.Second))
		g.Expect(third.Status.EstimatedGrantTime.Time).To(BeTemporally("~", first.Status.ExpiresAt.Add(time.Hour), time.Second))
		g.Expect(condition(second, conchv1.ConditionReconciling).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(condition(second, conchv1.ConditionReconciling).Message).To(ContainSubstring("Number 1 in line for staging"))
	}).Should(Succeed())
	res := resource(t, ns, "staging")
	g.Expect(res.Status.Waiting).To(BeEquivalentTo(2))
	g.Expect(res.Status.Queue).To(HaveLen(2))

	// Release the holder: the next in line is granted, the last moves up.
	next, last := "b-second", "a-third"
	g.Expect(res.Status.Queue[0].Reservation).To(Equal(next))
	patchSpec(t, reservation(t, ns, "c-first"), func(s *conchv1.ReservationSpec) { s.Released = true })
	eventually(t, state(t, ns, next)).Should(Equal(conchv1.StateGranted))
	eventually(t, func(g Gomega) {
		g.Expect(reservation(t, ns, last).Status.Position).To(BeEquivalentTo(1))
	}).Should(Succeed())
	first := reservation(t, ns, "c-first")
	g.Expect(first.Status.State).To(Equal(conchv1.StateReleased))
	g.Expect(first.Status.EndedAt).NotTo(BeNil())
	g.Expect(holders(t, ns, "staging")()).To(Equal([]string{next}))
}

func TestDeletingTheHolderHandsOver(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Resource("device").Namespace(ns).Obj())
	createInOrder(t,
		testutil.Reservation("a").Namespace(ns).On("device").Obj(),
		testutil.Reservation("b").Namespace(ns).On("device").Obj())
	eventually(t, state(t, ns, "a")).Should(Equal(conchv1.StateGranted))
	eventually(t, state(t, ns, "b")).Should(Equal(conchv1.StateQueued))

	if err := k8s.Delete(ctx, reservation(t, ns, "a")); err != nil {
		t.Fatal(err)
	}
	eventually(t, state(t, ns, "b")).Should(Equal(conchv1.StateGranted))
	eventually(t, func() bool {
		err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "a"}, &conchv1.Reservation{})
		return err != nil
	}).Should(BeTrue(), "the finalizer is removed once the hold is released")
	eventually(t, holders(t, ns, "device")).Should(Equal([]string{"b"}))
}

func TestCapacityTwo(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Resource("cluster").Namespace(ns).Capacity(2).Obj())
	createInOrder(t,
		testutil.Reservation("a").Namespace(ns).On("cluster").Obj(),
		testutil.Reservation("b").Namespace(ns).On("cluster").Obj(),
		testutil.Reservation("c").Namespace(ns).On("cluster").Obj())
	eventually(t, state(t, ns, "a")).Should(Equal(conchv1.StateGranted))
	eventually(t, state(t, ns, "b")).Should(Equal(conchv1.StateGranted))
	eventually(t, state(t, ns, "c")).Should(Equal(conchv1.StateQueued))
	eventually(t, holders(t, ns, "cluster")).Should(ConsistOf("a", "b"))

	if err := k8s.Delete(ctx, reservation(t, ns, "b")); err != nil {
		t.Fatal(err)
	}
	eventually(t, state(t, ns, "c")).Should(Equal(conchv1.StateGranted))
	eventually(t, holders(t, ns, "cluster")).Should(ConsistOf("a", "c"))
}

func TestPoolOfThree(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	for _, name := range []string{"env-1", "env-2", "env-3"} {
		create(t, testutil.Resource(name).Namespace(ns).Label("pool", "qa").Obj())
	}
	create(t, testutil.Resource("other").Namespace(ns).Label("pool", "prod").Obj())
	pool := map[string]string{"pool": "qa"}
	createInOrder(t,
		testutil.Reservation("a").Namespace(ns).Pool(pool).For(time.Hour).Obj(),
		testutil.Reservation("b").Namespace(ns).Pool(pool).For(2*time.Hour).Obj(),
		testutil.Reservation("c").Namespace(ns).Pool(pool).For(3*time.Hour).Obj())
	for _, n := range []string{"a", "b", "c"} {
		eventually(t, state(t, ns, n)).Should(Equal(conchv1.StateGranted))
	}
	bound := map[string]bool{}
	for _, n := range []string{"a", "b", "c"} {
		bound[reservation(t, ns, n).Status.ResourceName] = true
	}
	g.Expect(bound).To(Equal(map[string]bool{"env-1": true, "env-2": true, "env-3": true}), "each takes a different free Resource of the pool")

	// The fourth waits on the whole pool, bound to none, expecting the member that frees up first (the one a holds
	// for an hour).
	create(t, testutil.Reservation("d").Namespace(ns).Pool(pool).Obj())
	eventually(t, state(t, ns, "d")).Should(Equal(conchv1.StateQueued))
	g.Expect(reservation(t, ns, "d").Status.ResourceName).To(BeEmpty(), "a pooled Reservation is bound only when granted")
	g.Expect(reservation(t, ns, "d").Status.EstimatedGrantTime.Time).To(BeTemporally("~", reservation(t, ns, "a").Status.ExpiresAt.Time, time.Second))

	// The member that frees first takes it: here c's, released before a's hour is up.
	patchSpec(t, reservation(t, ns, "c"), func(s *conchv1.ReservationSpec) { s.Released = true })
	eventually(t, state(t, ns, "d")).Should(Equal(conchv1.StateGranted))
	g.Expect(reservation(t, ns, "d").Status.ResourceName).To(Equal(reservation(t, ns, "c").Status.ResourceName))
}

func TestPoolWithNoMemberWaitsForOne(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Reservation("a").Namespace(ns).Pool(map[string]string{"pool": "gpu"}).Obj())
	eventually(t, func(g Gomega) {
		r := reservation(t, ns, "a")
		g.Expect(r.Status.State).To(Equal(conchv1.StatePending))
		g.Expect(condition(r, conchv1.ConditionReady).Reason).To(Equal(conchv1.ReasonNoMatchingResource))
	}).Should(Succeed())
	create(t, testutil.Resource("gpu-1").Namespace(ns).Label("pool", "gpu").Obj())
	eventually(t, state(t, ns, "a")).Should(Equal(conchv1.StateGranted))
}

func TestTimedReleaseIsOnTimeAndNeverEarly(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Obj())
	createInOrder(t,
		testutil.Reservation("a-short").Namespace(ns).On("staging").For(2*time.Second).Obj(),
		testutil.Reservation("b-next").Namespace(ns).On("staging").Obj())
	eventually(t, state(t, ns, "a-short")).Should(Equal(conchv1.StateGranted))

	// Watch the state at a fine grain: it must not end before expiresAt by the manager's clock.
	r := reservation(t, ns, "a-short")
	expires := r.Status.ExpiresAt.Time
	for clk.Now().Before(expires.Add(-100 * time.Millisecond)) {
		g.Expect(reservation(t, ns, "a-short").Status.State).To(Equal(conchv1.StateGranted), "released early")
		time.Sleep(50 * time.Millisecond) // sampling the state, not waiting for it
	}
	eventually(t, state(t, ns, "a-short")).Should(Equal(conchv1.StateExpired))
	r = reservation(t, ns, "a-short")
	g.Expect(r.Status.EndedAt.Time).To(BeTemporally(">=", expires.Truncate(time.Second)))
	g.Expect(condition(r, conchv1.ConditionReady).Reason).To(Equal(conchv1.ReasonExpired))
	eventually(t, state(t, ns, "b-next")).Should(Equal(conchv1.StateGranted))
}

func TestTimedReleaseFollowsTheInjectedClock(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("long").Namespace(ns).On("staging").For(3*time.Hour).Obj())
	eventually(t, state(t, ns, "long")).Should(Equal(conchv1.StateGranted))

	clk.Step(3*time.Hour - time.Minute)
	NewWithT(t).Consistently(state(t, ns, "long")).WithTimeout(300 * time.Millisecond).Should(Equal(conchv1.StateGranted))
	clk.Step(time.Minute)
	eventually(t, state(t, ns, "long")).Should(Equal(conchv1.StateExpired))
}

func TestExtendAndShorten(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Max(8*time.Hour).Obj(),
		testutil.Reservation("a").Namespace(ns).On("staging").For(time.Hour).Obj())
	eventually(t, state(t, ns, "a")).Should(Equal(conchv1.StateGranted))
	granted := reservation(t, ns, "a").Status.GrantedAt.Time

	patchSpec(t, reservation(t, ns, "a"), func(s *conchv1.ReservationSpec) { s.Duration = &metav1.Duration{Duration: 3 * time.Hour} })
	eventually(t, func() time.Time { return reservation(t, ns, "a").Status.ExpiresAt.Time }).Should(Equal(granted.Add(3 * time.Hour)))
	eventually(t, func() time.Time { return resource(t, ns, "staging").Status.Holders[0].Until.Time }).Should(Equal(granted.Add(3 * time.Hour)))

	// Shortened below the time already held: it ends now.
	patchSpec(t, reservation(t, ns, "a"), func(s *conchv1.ReservationSpec) { s.Duration = &metav1.Duration{Duration: time.Second} })
	eventually(t, state(t, ns, "a")).Should(Equal(conchv1.StateExpired))
	// The Resource lets go of an ended hold once the end is recorded: a moment later.
	eventually(t, holders(t, ns, "staging")).Should(BeEmpty())
}

func TestDurationIsClampedToTheMaximum(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Max(time.Hour).Obj(),
		testutil.Reservation("a").Namespace(ns).On("staging").For(5*time.Hour).Obj())
	eventually(t, state(t, ns, "a")).Should(Equal(conchv1.StateGranted))
	r := reservation(t, ns, "a")
	g.Expect(r.Status.Duration.Duration).To(Equal(time.Hour))
	g.Expect(r.Status.ExpiresAt.Time).To(Equal(r.Status.GrantedAt.Add(time.Hour)))
	c := condition(r, conchv1.ConditionDurationClamped)
	g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(c.Message).To(ContainSubstring("at most 1h0m0s"))
}

func TestReservationForAMissingResourceWaitsForIt(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Reservation("a").Namespace(ns).On("later").Obj())
	eventually(t, func(g Gomega) {
		r := reservation(t, ns, "a")
		g.Expect(r.Status.State).To(Equal(conchv1.StatePending))
		c := condition(r, conchv1.ConditionReady)
		g.Expect(c.Reason).To(Equal(conchv1.ReasonResourceMissing))
		g.Expect(c.Message).To(Equal("Resource later does not exist; waiting for it to be created"))
		g.Expect(condition(r, conchv1.ConditionReconciling).Status).To(Equal(metav1.ConditionTrue))
	}).Should(Succeed())

	create(t, testutil.Resource("later").Namespace(ns).Obj())
	eventually(t, state(t, ns, "a")).Should(Equal(conchv1.StateGranted))
	g.Expect(condition(reservation(t, ns, "a"), conchv1.ConditionReconciling).Status).To(Equal(metav1.ConditionFalse))
}

func TestResourceDeletedUnderItsHolder(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Obj())
	createInOrder(t,
		testutil.Reservation("holder").Namespace(ns).On("staging").Obj(),
		testutil.Reservation("waiter").Namespace(ns).On("staging").Obj())
	eventually(t, state(t, ns, "holder")).Should(Equal(conchv1.StateGranted))
	eventually(t, state(t, ns, "waiter")).Should(Equal(conchv1.StateQueued))

	if err := k8s.Delete(ctx, resource(t, ns, "staging")); err != nil {
		t.Fatal(err)
	}
	eventually(t, state(t, ns, "holder")).Should(Equal(conchv1.StateReleased))
	c := condition(reservation(t, ns, "holder"), conchv1.ConditionReady)
	g.Expect(c.Reason).To(Equal(conchv1.ReasonResourceDeleted))
	g.Expect(c.Message).To(Equal("Resource staging was deleted while held; the hold ended"))
	eventually(t, func() string {
		return condition(reservation(t, ns, "waiter"), conchv1.ConditionReady).Reason
	}).Should(Equal(conchv1.ReasonResourceMissing))

	// Re-created (a GitOps re-sync): the waiter proceeds; the ended holder does not come back.
	create(t, testutil.Resource("staging").Namespace(ns).Obj())
	eventually(t, state(t, ns, "waiter")).Should(Equal(conchv1.StateGranted))
	g.Expect(reservation(t, ns, "holder").Status.State).To(Equal(conchv1.StateReleased))
}

func TestPausedGrantsNothingNew(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Paused().Obj(),
		testutil.Reservation("a").Namespace(ns).On("staging").Obj())
	eventually(t, func(g Gomega) {
		r := reservation(t, ns, "a")
		g.Expect(r.Status.State).To(Equal(conchv1.StateQueued))
		g.Expect(condition(r, conchv1.ConditionReady).Message).To(ContainSubstring("granting is paused"))
	}).Should(Succeed())

	res := resource(t, ns, "staging")
	patch := client.MergeFrom(res.DeepCopy())
	res.Spec.Granting = conchv1.GrantingOpen
	if err := k8s.Patch(ctx, res, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, state(t, ns, "a")).Should(Equal(conchv1.StateGranted))
}

func TestHolderNotAllowedIsRejected(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Resource("prod-db").Namespace(ns).Allow("ci:*").Obj(),
		testutil.Reservation("bob").Namespace(ns).On("prod-db").Holder("bob@example.com").Obj(),
		testutil.Reservation("deploy").Namespace(ns).On("prod-db").Holder("ci:deploy-web").Obj())
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateRejected))
	eventually(t, state(t, ns, "deploy")).Should(Equal(conchv1.StateGranted))
	r := reservation(t, ns, "bob")
	g.Expect(condition(r, conchv1.ConditionStalled).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(condition(r, conchv1.ConditionStalled).Reason).To(Equal(conchv1.ReasonHolderNotAllowed))
}

func TestStatusIsQuietWhenNothingChanges(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Obj())
	createInOrder(t,
		testutil.Reservation("a").Namespace(ns).On("staging").Obj(),
		testutil.Reservation("b").Namespace(ns).On("staging").Obj())
	eventually(t, state(t, ns, "b")).Should(Equal(conchv1.StateQueued))
	eventually(t, func() int64 { return reservation(t, ns, "b").Status.ObservedGeneration }).Should(BeEquivalentTo(1))

	before := []string{resource(t, ns, "staging").ResourceVersion, reservation(t, ns, "a").ResourceVersion, reservation(t, ns, "b").ResourceVersion}
	g.Consistently(func() []string {
		return []string{resource(t, ns, "staging").ResourceVersion, reservation(t, ns, "a").ResourceVersion, reservation(t, ns, "b").ResourceVersion}
	}).WithTimeout(time.Second).WithPolling(100*time.Millisecond).Should(Equal(before), "no writes while nothing changes")
}

func rawMergePatch(p string) client.Patch { return client.RawPatch(types.MergePatchType, []byte(p)) }

func TestHeartbeatMissedEndsTheHoldLoudly(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	rsv := testutil.Reservation("ci").Namespace(ns).On("staging").Holder("ci:deploy").For(2 * time.Hour).Obj()
	rsv.Spec.HeartbeatTimeout = &metav1.Duration{Duration: time.Minute}
	// As `kubectl conch on --heartbeat` does: the first renewal comes with the creation. (The manager's clock was
	// stepped ahead of the API server's by other tests, so the creation time would not do.)
	renewed := metav1.NewMicroTime(clk.Now())
	rsv.Spec.RenewTime = &renewed
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), rsv)
	eventually(t, state(t, ns, "ci")).Should(Equal(conchv1.StateGranted))

	// Renewing keeps it: 50 s later the holder renews, and 50 s after that it still holds.
	clk.Step(50 * time.Second)
	patchSpec(t, reservation(t, ns, "ci"), func(s *conchv1.ReservationSpec) {
		now := metav1.NewMicroTime(clk.Now())
		s.RenewTime = &now
	})
	// Let the manager see the renewal before time moves on (a renewal racing its deadline may lose, as it should).
	eventually(t, func() bool {
		r := reservation(t, ns, "ci")
		return r.Status.ObservedGeneration == r.Generation
	}).Should(BeTrue())
	clk.Step(50 * time.Second)
	g.Consistently(state(t, ns, "ci")).WithTimeout(300 * time.Millisecond).Should(Equal(conchv1.StateGranted))

	// Silence ends it, with a warning Event.
	clk.Step(11 * time.Second)
	eventually(t, state(t, ns, "ci")).Should(Equal(conchv1.StateExpired))
	c := condition(reservation(t, ns, "ci"), conchv1.ConditionReady)
	g.Expect(c.Reason).To(Equal(conchv1.ReasonHeartbeatMissed))
	g.Expect(c.Message).To(ContainSubstring("ci:deploy stopped renewing"))
	eventually(t, func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(k8s.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		found := false
		for _, e := range evs.Items {
			found = found || (e.Reason == conchv1.ReasonHeartbeatMissed && e.Type == "Warning")
		}
		g.Expect(found).To(BeTrue())
	}).Should(Succeed())
}

// TestHandoverNeverShowsTwoHolders watches the Reservations during a release and a deletion: at no point do two of
// them read Granted on a Resource of capacity 1 (the ended one is written before the next is granted).
func TestHandoverNeverShowsTwoHolders(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Obj())
	createInOrder(t,
		testutil.Reservation("a").Namespace(ns).On("staging").Obj(),
		testutil.Reservation("b").Namespace(ns).On("staging").Obj(),
		testutil.Reservation("c").Namespace(ns).On("staging").Obj())
	eventually(t, state(t, ns, "c")).Should(Equal(conchv1.StateQueued))

	w, err := suite.Watcher.Watch(ctx, &conchv1.ReservationList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	patchSpec(t, reservation(t, ns, "a"), func(s *conchv1.ReservationSpec) { s.Released = true })
	eventually(t, state(t, ns, "b")).Should(Equal(conchv1.StateGranted))
	if err := k8s.Delete(ctx, reservation(t, ns, "b")); err != nil {
		t.Fatal(err)
	}
	eventually(t, state(t, ns, "c")).Should(Equal(conchv1.StateGranted))

	latest := map[string]*conchv1.Reservation{}
	for {
		select {
		case ev := <-w.ResultChan():
			r := ev.Object.(*conchv1.Reservation)
			latest[r.Name] = r
			if ev.Type == watch.Deleted {
				delete(latest, r.Name)
			}
			var granted []string
			for name, x := range latest {
				if x.Status.State == conchv1.StateGranted && x.DeletionTimestamp == nil {
					granted = append(granted, name)
				}
			}
			if len(granted) > 1 {
				t.Fatalf("after a change of %s, %v all read Granted", r.Name, granted)
			}
			if r.Name == "c" && r.Status.State == conchv1.StateGranted {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the watch never showed c granted")
		}
	}
}
