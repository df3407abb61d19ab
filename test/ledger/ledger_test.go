package ledger

import (
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// Defect 1: a holder recorded in the ledger whose Reservation a stale cache lacks was dropped and its slot given to
// the next in line. Two managers at once: the fresh one granted B; the other, whose cache lacks B, must not grant W.
func TestStaleCacheNeverDropsARecordedHolder(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), testutil.Reservation("b").Namespace(ns).On("staging").Obj())
	a := fresh(clk)
	a.reconcileResource(t, ns, "staging")
	g.Expect(holders(t, ns, "staging")).To(Equal([]string{"b"}))

	create(t, testutil.Reservation("w").Namespace(ns).On("staging").Obj())
	stale := newDecider(snapshot(t, ns, "b"), clk) // has w, lacks b
	stale.reconcileResource(t, ns, "staging")

	g.Expect(holders(t, ns, "staging")).To(Equal([]string{"b"}), "the recorded holder stays: the API server says b exists")
	g.Expect(granted(t, ns)).To(Equal([]string{"b"}))
	g.Expect(resource(t, ns, "staging").Status.Queue).To(HaveLen(1), "w waits, with a ticket")

	// Once b is gone from the API server, even the stale manager hands over: a read confirms the end.
	g.Expect(k8s.Delete(ctx, reservation(t, ns, "b"))).To(Succeed())
	stale.reconcileResource(t, ns, "staging")
	g.Expect(holders(t, ns, "staging")).To(Equal([]string{"w"}))
	g.Expect(granted(t, ns)).To(Equal([]string{"w"}))
}

// Defect 1, the other half: a Reservation's own Granted status never makes it a holder; only the ledger does.
func TestOwnStatusIsNotARecord(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), testutil.Reservation("a").Namespace(ns).On("staging").Obj())
	d := fresh(clk)
	d.reconcileResource(t, ns, "staging")
	create(t, testutil.Reservation("b").Namespace(ns).On("staging").Obj())
	d.reconcileResource(t, ns, "staging")
	// Someone (an old manager) stamps Granted on b; the ledger says a holds it.
	b := reservation(t, ns, "b")
	patch := client.MergeFrom(b.DeepCopy())
	b.Status.State = conchv1.StateGranted
	g.Expect(k8s.Status().Patch(ctx, b, patch)).To(Succeed())
	d.reconcileResource(t, ns, "staging")
	g.Expect(holders(t, ns, "staging")).To(Equal([]string{"a"}))
}

// Defect 2: a write of a stale decision must never change a final state. a is released, which frees the slot for
// x; x's own release was written by another manager a moment before it records the end, so the ledger still lists
// x as waiting. A manager whose cache shows x Queued would grant x: its write must lose.
func TestFinalIsFinal(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("a").Namespace(ns).On("staging").Obj(),
		testutil.Reservation("x").Namespace(ns).On("staging").Obj())
	d := fresh(clk)
	d.reconcileResource(t, ns, "staging")
	g.Expect(holders(t, ns, "staging")).To(Equal([]string{"a"}))
	patchSpec(t, reservation(t, ns, "a"), func(s *conchv1.ReservationSpec) { s.Released = true })
	stale := newDecider(snapshot(t, ns), clk)

	x := reservation(t, ns, "x")
	patchSpec(t, x, func(s *conchv1.ReservationSpec) { s.Released = true })
	x = reservation(t, ns, "x")
	patch := client.MergeFrom(x.DeepCopy())
	x.Status.State, x.Status.EndedAt = conchv1.StateReleased, &metav1.Time{Time: t0}
	g.Expect(k8s.Status().Patch(ctx, x, patch)).To(Succeed())

	stale.reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "x").Status.State).To(Equal(conchv1.StateReleased), "final is final")
	g.Expect(reservation(t, ns, "a").Status.State).To(Equal(conchv1.StateReleased))
	g.Expect(holders(t, ns, "staging")).To(BeEmpty())
	g.Expect(granted(t, ns)).To(BeEmpty())
}

// Defect 2: a Resource and its Reservation applied together; a cache that does not show the Resource yet must not
// end a fresh grant as ResourceDeleted, nor say the Resource is missing.
func TestCacheMissIsNotDeletion(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), testutil.Reservation("a").Namespace(ns).On("staging").Obj())
	fresh(clk).reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "a").Status.State).To(Equal(conchv1.StateGranted))

	// A cache with the Reservation and no Resource at all.
	var list conchv1.ReservationList
	g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	blind := newDecider(snapshotOf(&list.Items[0]), clk)
	before := reservation(t, ns, "a")
	blind.reconcileReservation(t, ns, "a")
	after := reservation(t, ns, "a")
	g.Expect(after.Status.State).To(Equal(conchv1.StateGranted))
	g.Expect(after.ResourceVersion).To(Equal(before.ResourceVersion), "nothing written")
	g.Expect(blind.writes.Load()).To(BeZero())
}

// Defect 3: lowering a Resource's maxDuration does not shorten holds already granted: a term is fixed at grant.
func TestAdminEditNeverShortensAHold(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	create(t, testutil.Resource("staging").Namespace(ns).Max(4*time.Hour).Obj(),
		testutil.Reservation("a").Namespace(ns).On("staging").For(4*time.Hour).Obj())
	d := fresh(clk)
	d.reconcileResource(t, ns, "staging")
	until := reservation(t, ns, "a").Status.ExpiresAt.Time
	g.Expect(until).To(BeTemporally("==", t0.Add(4*time.Hour)))

	res := resource(t, ns, "staging")
	patch := client.MergeFrom(res.DeepCopy())
	res.Spec.MaxDuration = &metav1.Duration{Duration: time.Hour}
	g.Expect(k8s.Patch(ctx, res, patch)).To(Succeed())
	clk.SetTime(t0.Add(2 * time.Hour))
	next := d.reconcileResource(t, ns, "staging")
	a := reservation(t, ns, "a")
	g.Expect(a.Status.State).To(Equal(conchv1.StateGranted), "the 4 h promised stand")
	g.Expect(a.Status.ExpiresAt.Time).To(BeTemporally("==", until))
	g.Expect(next.RequeueAfter).To(Equal(2 * time.Hour))

	// An extension is computed with today's rules, and never shortens the term it extends.
	patchSpec(t, a, func(s *conchv1.ReservationSpec) { s.Duration = &metav1.Duration{Duration: 5 * time.Hour} })
	d.reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "a").Status.ExpiresAt.Time).To(BeTemporally("==", until))
	g.Expect(resource(t, ns, "staging").Status.Holders[0].Until.Time).To(BeTemporally("==", until))
}

// Defect 3: shortening a hold below the time already held ends it at the edit, and the record says so.
func TestShorteningBelowTheTimeHeldEndsAtTheEdit(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0.Add(944 * time.Millisecond))
	create(t, testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("a").Namespace(ns).On("staging").For(time.Hour).Obj())
	d := fresh(clk)
	d.reconcileResource(t, ns, "staging")
	patchSpec(t, reservation(t, ns, "a"), func(s *conchv1.ReservationSpec) { s.Duration = &metav1.Duration{Duration: time.Second} })
	clk.SetTime(t0.Add(4444 * time.Millisecond))
	d.reconcileResource(t, ns, "staging")

	a := reservation(t, ns, "a")
	g.Expect(a.Status.State).To(Equal(conchv1.StateExpired))
	g.Expect(a.Status.ExpiresAt.Time).To(BeTemporally("==", t0.Add(4444*time.Millisecond)), "it ended at the edit")
	g.Expect(condition(a, conchv1.ConditionReady).Reason).To(Equal(conchv1.ReasonShortened))
	g.Expect(condition(a, conchv1.ConditionReady).Message).To(ContainSubstring("after 3.5s"))
	g.Expect(holders(t, ns, "staging")).To(BeEmpty())
}

// Defect 4: heartbeats are timed on the controller's clock. A CI runner whose clock is 40 s slow keeps its hold
// while it renews every 30 s with a 1 m timeout; silence still ends it.
func TestHeartbeatOfASlowClientClock(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	client40 := func() *metav1.MicroTime { m := metav1.NewMicroTime(clk.Now().Add(-40 * time.Second)); return &m }
	rsv := testutil.Reservation("ci").Namespace(ns).On("staging").Obj()
	rsv.Spec.HeartbeatTimeout = &metav1.Duration{Duration: time.Minute}
	rsv.Spec.RenewTime = client40()
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), rsv)
	d := fresh(clk)
	d.reconcileResource(t, ns, "staging")
	for i := range 10 {
		clk.SetTime(clk.Now().Add(30 * time.Second))
		patchSpec(t, reservation(t, ns, "ci"), func(s *conchv1.ReservationSpec) { s.RenewTime = client40() })
		d.reconcileResource(t, ns, "staging")
		g.Expect(reservation(t, ns, "ci").Status.State).To(Equal(conchv1.StateGranted), "after renewal %d", i+1)
	}
	clk.SetTime(clk.Now().Add(59 * time.Second))
	d.reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "ci").Status.State).To(Equal(conchv1.StateGranted), "59 s of silence is within the timeout")
	clk.SetTime(clk.Now().Add(time.Second))
	d.reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "ci").Status.State).To(Equal(conchv1.StateExpired))
	g.Expect(condition(reservation(t, ns, "ci"), conchv1.ConditionReady).Reason).To(Equal(conchv1.ReasonHeartbeatMissed))
}

// Defect 4: a renewTime a year in the future does not defeat the heartbeat.
func TestHeartbeatFromTheFuture(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	future := metav1.NewMicroTime(t0.AddDate(1, 0, 0))
	rsv := testutil.Reservation("ci").Namespace(ns).On("staging").Obj()
	rsv.Spec.HeartbeatTimeout, rsv.Spec.RenewTime = &metav1.Duration{Duration: time.Minute}, &future
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), rsv)
	d := fresh(clk)
	d.reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "ci").Status.State).To(Equal(conchv1.StateGranted))
	clk.SetTime(clk.Now().Add(97 * time.Second))
	d.reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "ci").Status.State).To(Equal(conchv1.StateExpired))
}

// Defect 4: a missed heartbeat seen in a stale cache is confirmed with the API server before it ends a hold.
func TestStaleCacheNeverMissesARenewal(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	rsv := testutil.Reservation("ci").Namespace(ns).On("staging").Obj()
	rsv.Spec.HeartbeatTimeout = &metav1.Duration{Duration: time.Minute}
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), rsv)
	fresh(clk).reconcileResource(t, ns, "staging")
	stale := newDecider(snapshot(t, ns), clk)
	clk.SetTime(clk.Now().Add(50 * time.Second))
	patchSpec(t, reservation(t, ns, "ci"), func(s *conchv1.ReservationSpec) {
		m := metav1.NewMicroTime(clk.Now())
		s.RenewTime = &m
	})
	clk.SetTime(clk.Now().Add(20 * time.Second)) // 70 s after the grant, 20 s after the renewal the stale cache never saw
	stale.reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "ci").Status.State).To(Equal(conchv1.StateGranted))
}

// Defect 7: a handover costs the same few writes however many wait: the ended hold's status, the ledger, the
// next grant. Positions are not written on this path.
func TestHandoverWritesDoNotGrowWithTheQueue(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	create(t, testutil.Resource("staging").Namespace(ns).Obj())
	for i := range 200 {
		create(t, testutil.Reservation(name(i)).Namespace(ns).On("staging").Obj())
	}
	d := fresh(clk)
	d.reconcileResource(t, ns, "staging")
	g.Expect(resource(t, ns, "staging").Status.Waiting).To(Equal(int32(199)))

	for i := range 3 {
		clk.SetTime(clk.Now().Add(2 * time.Second))
		patchSpec(t, reservation(t, ns, name(i)), func(s *conchv1.ReservationSpec) { s.Released = true })
		d.writes.Store(0)
		d.reconcileResource(t, ns, "staging")
		g.Expect(granted(t, ns)).To(Equal([]string{name(i + 1)}))
		g.Expect(d.writes.Load()).To(BeNumerically("<=", 3), "handover %d", i+1)
	}
}

// Defect 8: finalizer writes never drop or bring back another controller's finalizer. Conch no longer adds one (a
// merge patch from a cached copy replaced the whole list, dropping one added meanwhile); removing its old one
// from a Reservation being deleted tests the list it edits.
func TestFinalizersOfOthersAreLeftAlone(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), testutil.Reservation("a").Namespace(ns).On("staging").Obj())
	stale := newDecider(snapshot(t, ns), clk)
	a := reservation(t, ns, "a")
	patch := client.MergeFrom(a.DeepCopy())
	a.Finalizers = []string{"example.com/other"}
	g.Expect(k8s.Patch(ctx, a, patch)).To(Succeed())
	stale.reconcileReservation(t, ns, "a")
	stale.reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "a").Finalizers).To(Equal([]string{"example.com/other"}), "added after the cache's copy, kept")

	// A Reservation being deleted that still carries Conch's old finalizer, and another controller's that is
	// removed meanwhile: removing Conch's from a stale copy must not fail into a loop or touch the other.
	rsv := testutil.Reservation("b").Namespace(ns).On("nothing").Obj()
	rsv.Finalizers = []string{"example.com/other", conchv1.ReservationFinalizer}
	create(t, rsv)
	g.Expect(k8s.Delete(ctx, reservation(t, ns, "b"))).To(Succeed())
	stale = newDecider(snapshot(t, ns), clk)
	b := reservation(t, ns, "b")
	patch = client.MergeFrom(b.DeepCopy())
	b.Finalizers = []string{conchv1.ReservationFinalizer}
	g.Expect(k8s.Patch(ctx, b, patch)).To(Succeed())
	stale.reconcileReservation(t, ns, "b")
	g.Expect(reservation(t, ns, "b").Finalizers).To(Equal([]string{conchv1.ReservationFinalizer}))

	// A fresh look lets it go.
	fresh(clk).reconcileReservation(t, ns, "b")
	var list conchv1.ReservationList
	g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	g.Expect(list.Items).To(HaveLen(1), "only a is left")
}

// A Reservation created and deleted never carries a finalizer: a deleted holder is released when the API server
// confirms it is gone, and watchers never see it Terminating and Granted.
func TestDeletedHolderIsReleasedWithoutAFinalizer(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := clocktesting.NewFakePassiveClock(t0)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), testutil.Reservation("a").Namespace(ns).On("staging").Obj(),
		testutil.Reservation("b").Namespace(ns).On("staging").Obj())
	d := fresh(clk)
	d.reconcileResource(t, ns, "staging")
	g.Expect(reservation(t, ns, "a").Finalizers).To(BeEmpty())
	g.Expect(k8s.Delete(ctx, reservation(t, ns, "a"))).To(Succeed())
	d.reconcileResource(t, ns, "staging")
	g.Expect(holders(t, ns, "staging")).To(Equal([]string{"b"}))
	g.Expect(granted(t, ns)).To(Equal([]string{"b"}))
}

func name(i int) string {
	return "r" + string(rune('a'+i/26%26)) + string(rune('a'+i%26)) + string(rune('a'+i/676))
}

func condition(r *conchv1.Reservation, typ string) metav1.Condition {
	i := slices.IndexFunc(r.Status.Conditions, func(c metav1.Condition) bool { return c.Type == typ })
	if i < 0 {
		return metav1.Condition{}
	}
	return r.Status.Conditions[i]
}

// snapshotOf is a cache holding exactly objs.
func snapshotOf(objs ...client.Object) client.Reader {
	return newSnapshot(objs...)
}
