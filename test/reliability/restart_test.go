package reliability

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

var ctx = context.Background()

// states counts the Reservations of a namespace by state.
func states(t *testing.T, ns string) func() map[conchv1.ReservationState]int {
	return func() map[conchv1.ReservationState]int {
		var list conchv1.ReservationList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		out := map[conchv1.ReservationState]int{}
		for _, r := range list.Items {
			out[r.Status.State]++
		}
		return out
	}
}

// TestHoldsThatEndedWhileDownAreReleasedAtStart stops the manager while 20 Resources are held, lets the holds
// end, and starts a new manager: the holds end and the Resources pass to the next in line within 5 s.
func TestHoldsThatEndedWhileDownAreReleasedAtStart(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	clk := testutil.NewStepClock()
	first := startManager(t, clk, false)

	const n = 20
	for i := range n {
		res := fmt.Sprintf("env-%02d", i)
		if err := k8s.Create(ctx, testutil.Resource(res).Namespace(ns).Obj()); err != nil {
			t.Fatal(err)
		}
		for _, who := range []string{"a", "b"} {
			r := testutil.Reservation(fmt.Sprintf("%s-%s", res, who)).Namespace(ns).On(res).For(time.Hour).Obj()
			if err := k8s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, states(t, ns), 20*time.Second).Should(Equal(map[conchv1.ReservationState]int{
		conchv1.StateGranted: n, conchv1.StateQueued: n,
	}))

	first.stop(t)
	clk.Step(time.Hour + time.Second) // the holds end while no manager runs

	start := time.Now()
	startManager(t, clk, false)
	eventually(t, states(t, ns), 5*time.Second).Should(Equal(map[conchv1.ReservationState]int{
		conchv1.StateExpired: n, conchv1.StateGranted: n,
	}))
	t.Logf("all %d expired holds released and handed over %v after the manager started", n, time.Since(start))

	var list conchv1.ReservationList
	g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	for _, r := range list.Items {
		if r.Status.State == conchv1.StateExpired {
			g.Expect(r.Status.EndedAt.Time).To(BeTemporally(">=", r.Status.ExpiresAt.Time.Truncate(time.Second)), "never early")
		}
	}
}

// TestGrantsResumeAfterTheLeaderDies runs two replicas under leader election with the default lease timings and
// kills the leader without releasing its Lease: the other replica takes over and grants within 20 s.
func TestGrantsResumeAfterTheLeaderDies(t *testing.T) {
	ns := namespace(t)
	clk := testutil.NewStepClock()
	leader := startManager(t, clk, true)
	if err := k8s.Create(ctx, testutil.Resource("staging").Namespace(ns).Capacity(10).Obj()); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, testutil.Reservation("before").Namespace(ns).On("staging").Obj()); err != nil {
		t.Fatal(err)
	}
	eventually(t, states(t, ns), 30*time.Second).Should(HaveKeyWithValue(conchv1.StateGranted, 1))

	startManager(t, clk, true) // the standby
	leader.stop(t)             // dies holding the Lease
	killed := time.Now()
	if err := k8s.Create(ctx, testutil.Reservation("after").Namespace(ns).On("staging").Obj()); err != nil {
		t.Fatal(err)
	}
	eventually(t, states(t, ns), 20*time.Second).Should(HaveKeyWithValue(conchv1.StateGranted, 2))
	t.Logf("grants resumed %v after the leader died", time.Since(killed))
}
