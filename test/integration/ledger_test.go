package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// Defect 5: first come, first served within one second. Reservations created one after another within a second,
// with names in the reverse order (as Slack's hashes and generateName make them: random), get tickets in the order
// they were created, and are granted in that order.
func TestTicketsFollowArrivalWithinASecond(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Paused().Obj())
	var order []string
	for i := range 30 {
		name := fmt.Sprintf("z%02d-%x", 29-i, rand.Uint32()) // later ones sort first by name
		create(t, testutil.Reservation(name).Namespace(ns).On("staging").Obj())
		order = append(order, name)
	}
	eventually(t, func(g Gomega) {
		g.Expect(resource(t, ns, "staging").Status.Queue).To(HaveLen(30))
	}).Should(Succeed())
	var got []string
	for _, q := range resource(t, ns, "staging").Status.Queue {
		got = append(got, q.Reservation)
	}
	g.Expect(got).To(Equal(order), "the queue is in the order of creation")
	tickets := map[string]int64{}
	for _, q := range resource(t, ns, "staging").Status.Queue {
		tickets[q.Reservation] = q.Ticket
	}
	for i := 1; i < len(order); i++ {
		g.Expect(tickets[order[i]]).To(BeNumerically(">", tickets[order[i-1]]))
	}
	// Each Reservation is told its ticket and place, off the path that grants.
	eventually(t, func(g Gomega) {
		last := reservation(t, ns, order[29])
		g.Expect(last.Status.State).To(Equal(conchv1.StateQueued))
		g.Expect(last.Status.Ticket).To(Equal(tickets[order[29]]))
		g.Expect(last.Status.Position).To(Equal(int32(30)))
	}).Should(Succeed())
}

// Defect 6: whatever clients do (create, release, delete, at once), a watch of the Reservations never shows more
// of them Granted than the Resource's capacity.
func TestWatchersNeverSeeMoreGrantedThanCapacity(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Capacity(2).Obj())
	w, err := suite.Watcher.Watch(ctx, &conchv1.ReservationList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for i := 0; ctx.Err() == nil && i < 6; i++ {
				r := testutil.Reservation(fmt.Sprintf("c%d-%d", c, i)).Namespace(ns).On("staging").Obj()
				if err := k8s.Create(ctx, r); err != nil {
					return
				}
				for ctx.Err() == nil { // until it holds, then let go one way or another
					cur := &conchv1.Reservation{}
					if k8s.Get(ctx, client.ObjectKeyFromObject(r), cur) != nil || cur.Status.State == conchv1.StateGranted {
						break
					}
					time.Sleep(20 * time.Millisecond) // a client polling its own Reservation
				}
				if rng.IntN(2) == 0 {
					_ = k8s.Delete(ctx, r)
				} else {
					cur := &conchv1.Reservation{}
					if k8s.Get(ctx, client.ObjectKeyFromObject(r), cur) == nil {
						patch := client.MergeFrom(cur.DeepCopy())
						cur.Spec.Released = true
						_ = k8s.Patch(ctx, cur, patch)
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	latest := map[string]conchv1.ReservationState{}
	grants, most := 0, 0
	for {
		select {
		case ev := <-w.ResultChan():
			r, ok := ev.Object.(*conchv1.Reservation)
			if !ok {
				t.Fatalf("watch: %v", ev.Object)
			}
			latest[r.Name] = r.Status.State
			if ev.Type == watch.Deleted {
				delete(latest, r.Name)
			}
			n := 0
			for _, s := range latest {
				if s == conchv1.StateGranted {
					n++
				}
			}
			if r.Status.State == conchv1.StateGranted && ev.Type == watch.Modified {
				grants++
			}
			most = max(most, n)
			if n > 2 {
				t.Fatalf("after %s %s, %d Reservations read Granted on a Resource of capacity 2", ev.Type, r.Name, n)
			}
		case <-done:
			if grants < 12 {
				t.Fatalf("only %d grants were seen; the test did not exercise handovers", grants)
			}
			t.Logf("%d grants seen, at most %d Granted at once", grants, most)
			return
		}
	}
}

// Defect 9: a pooled Reservation takes the first member of its pool that frees, not the one it was bound to when
// it arrived.
func TestPoolTakesTheFirstMemberThatFrees(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	pool := map[string]string{"pool": "pa"}
	for _, n := range []string{"pa-1", "pa-2"} {
		create(t, testutil.Resource(n).Namespace(ns).Label("pool", "pa").Obj())
	}
	createInOrder(t,
		testutil.Reservation("h1").Namespace(ns).Pool(pool).For(time.Hour).Obj(),
		testutil.Reservation("h2").Namespace(ns).Pool(pool).For(2*time.Hour).Obj())
	eventually(t, state(t, ns, "h2")).Should(Equal(conchv1.StateGranted))
	create(t, testutil.Reservation("z3").Namespace(ns).Pool(pool).Obj())
	eventually(t, state(t, ns, "z3")).Should(Equal(conchv1.StateQueued))

	// h2's member frees first, though h1's hold ends sooner by the clock.
	second := reservation(t, ns, "h2").Status.ResourceName
	patchSpec(t, reservation(t, ns, "h2"), func(s *conchv1.ReservationSpec) { s.Released = true })
	eventually(t, state(t, ns, "z3")).Should(Equal(conchv1.StateGranted))
	g.Expect(reservation(t, ns, "z3").Status.ResourceName).To(Equal(second))
}

// Defect 9: inside a pool, first come, first served: of three pooled Reservations made in order on two free
// members, the first two are granted.
func TestPoolIsFirstComeFirstServed(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	pool := map[string]string{"pool": "pb"}
	for _, n := range []string{"pb-1", "pb-2"} {
		create(t, testutil.Resource(n).Namespace(ns).Label("pool", "pb").Obj())
	}
	// Created within one second, so that only the order of arrival tells them apart.
	for _, n := range []string{"p1", "p2", "p3"} {
		create(t, testutil.Reservation(n).Namespace(ns).Pool(pool).Obj())
	}
	eventually(t, state(t, ns, "p2")).Should(Equal(conchv1.StateGranted))
	eventually(t, state(t, ns, "p3")).Should(Equal(conchv1.StateQueued))
	g.Expect(reservation(t, ns, "p1").Status.State).To(Equal(conchv1.StateGranted))
	bound := []string{reservation(t, ns, "p1").Status.ResourceName, reservation(t, ns, "p2").Status.ResourceName}
	slices.Sort(bound)
	g.Expect(bound).To(Equal([]string{"pb-1", "pb-2"}))
}

// Defect 9: two namespaces with the same Resource and pool names, set up moments apart, never see each other.
func TestPoolsOfTwoNamespacesNeverMix(t *testing.T) {
	g := NewWithT(t)
	pool := map[string]string{"pool": "qa"}
	var nss []string
	for range 2 {
		ns := namespace(t)
		nss = append(nss, ns)
		for _, n := range []string{"qa-1", "qa-2"} {
			create(t, testutil.Resource(n).Namespace(ns).Label("pool", "qa").Obj())
		}
		for _, y := range []string{"y1", "y2"} {
			create(t, testutil.Reservation(y).Namespace(ns).Pool(pool).Obj())
			eventually(t, state(t, ns, y)).Should(Equal(conchv1.StateGranted))
		}
	}
	for _, ns := range nss {
		g.Expect(reservation(t, ns, "y1").Status.ResourceName).NotTo(Equal(reservation(t, ns, "y2").Status.ResourceName))
	}
}
