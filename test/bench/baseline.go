package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// floor is what the API server allows a grant on this machine, in this run: the least a grant must write is one
// create (the Reservation) and two status patches (the Resource's ledger, the Reservation's state).
type floor struct {
	// creates, resourcePatches and reservationPatches are the write rates from 16 clients (ops/s).
	creates, resourcePatches, reservationPatches float64
	// grantsPerSec is the rate those allow: 1 ÷ (1/creates + 1/resource patches + 1/reservation patches), which is
	// 1 ÷ (1/creates + 2/status patches) with the status patch rate taken as the harmonic mean of the two.
	grantsPerSec float64
	// latency is the p99 of a create and two status patches done one after the other from one client.
	latency time.Duration
}

// grantsPerSec is the throughput the write floor of a grant allows.
func grantsPerSec(creates, resourcePatches, reservationPatches float64) float64 {
	if creates <= 0 || resourcePatches <= 0 || reservationPatches <= 0 {
		return 0
	}
	return 1 / (1/creates + 1/resourcePatches + 1/reservationPatches)
}

// baseline measures, before the manager starts (so that nothing reacts), the API server's throughput and latency
// for the three writes a grant needs, from one client and from 16: creating a Reservation, patching a Resource's
// status (with optimistic concurrency, as the controller does) and patching a Reservation's status. Each client
// patches its own objects, as each Resource's reconcile does, so no write conflicts. From these it takes the floor
// the other phases are compared with: the grants/s the 16-client rates allow at three writes per grant, and the
// p99 of the three writes done in sequence by one client.
func (b *bench) baseline(ctx context.Context) error {
	const phase = "baseline"
	ns, err := b.namespace(ctx, phase)
	if err != nil {
		return err
	}
	if err := b.createResources(ctx, ns, "base", workers, 1, false); err != nil {
		return err
	}
	// One Resource and one Reservation per client for the status patches; each client keeps its latest copy.
	res := make([]*conchv1.Resource, workers)
	rsv := make([]*conchv1.Reservation, workers)
	for w := range workers {
		res[w] = &conchv1.Resource{}
		if err := b.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: resourceName("base", w)}, res[w]); err != nil {
			return err
		}
		rsv[w] = newReservation(ns, fmt.Sprintf("base-%02d", w), res[w].Name, time.Hour)
		if err := b.c.Create(ctx, rsv[w]); err != nil {
			return err
		}
	}
	var created atomic.Int64
	create := func(ctx context.Context, w, _ int) error {
		name := fmt.Sprintf("bc-%06d", created.Add(1))
		return b.c.Create(ctx, newReservation(ns, name, res[w].Name, time.Hour))
	}
	patchResource := func(ctx context.Context, w, i int) error {
		r := res[w]
		patch := client.MergeFromWithOptions(r.DeepCopy(), client.MergeFromWithOptimisticLock{})
		r.Status = grantResourceStatus(r, i)
		return b.c.Status().Patch(ctx, r, patch)
	}
	patchReservation := func(ctx context.Context, w, i int) error {
		r := rsv[w]
		patch := client.MergeFrom(r.DeepCopy())
		r.Status = grantReservationStatus(r, i)
		return b.c.Status().Patch(ctx, r, patch)
	}
	ops := []struct {
		name string
		f    func(ctx context.Context, w, i int) error
	}{
		{"create Reservation", create},
		{"status patch of a Resource", patchResource},
		{"status patch of a Reservation", patchReservation},
	}
	rate16 := make([]float64, len(ops))
	for k, op := range ops {
		for _, conc := range []int{1, workers} {
			n := b.sz.baselineOps1
			if conc > 1 {
				n = b.sz.baselineOps16
			}
			lat, wall, err := measure(ctx, conc, n, b.sz.baselineMax, op.f)
			if err != nil {
				return fmt.Errorf("%s: %w", op.name, err)
			}
			rate := b.baselineRow(phase, fmt.Sprintf("%s, %d client%s", op.name, conc, plural(conc)), lat, wall)
			if conc == workers {
				rate16[k] = rate
			}
		}
	}
	// The latency floor: what one client waits for the writes of a grant done one after the other, as a
	// controller that made no other request would: create a Reservation, record it in its Resource's ledger, tell
	// it.
	grant := func(ctx context.Context, _, i int) error {
		r := newReservation(ns, fmt.Sprintf("bf-%06d", i), res[0].Name, time.Hour)
		if err := b.c.Create(ctx, r); err != nil {
			return err
		}
		if err := patchResource(ctx, 0, i); err != nil {
			return err
		}
		patch := client.MergeFrom(r.DeepCopy())
		r.Status = grantReservationStatus(r, i)
		return b.c.Status().Patch(ctx, r, patch)
	}
	lat, wall, err := measure(ctx, 1, b.sz.baselineOps1, 2*b.sz.baselineMax, grant)
	if err != nil {
		return fmt.Errorf("a grant's writes in sequence: %w", err)
	}
	seq := Summarize(lat)
	b.baselineRow(phase, "create + 2 status patches in sequence, 1 client", lat, wall)

	f := &floor{creates: rate16[0], resourcePatches: rate16[1], reservationPatches: rate16[2], latency: seq.P99}
	f.grantsPerSec = grantsPerSec(f.creates, f.resourcePatches, f.reservationPatches)
	b.floor = f
	statusRate := 2 / (1/f.resourcePatches + 1/f.reservationPatches)
	b.rep.info(phase, "write floor: grants/s = 1 ÷ (1/creates + 2/status patches), 16 clients",
		fmt.Sprintf("%.0f grants/s (creates %.0f/s, status patches %.0f/s)", f.grantsPerSec, f.creates, statusRate), f.grantsPerSec, "grants/s")
	b.rep.latency(phase, "latency floor: p99 of create + 2 status patches in sequence, 1 client", f.latency, 0)
	fmt.Printf("   floor: %.0f grants/s, p99 %s\n", f.grantsPerSec, fmtDur(f.latency))

	// The manager must not find these when it starts. Nothing has a finalizer, so they go at once.
	if err := b.c.DeleteAllOf(ctx, &conchv1.Reservation{}, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("deleting the baseline's Reservations: %w", err)
	}
	if err := b.c.DeleteAllOf(ctx, &conchv1.Resource{}, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("deleting the baseline's Resources: %w", err)
	}
	return nil
}

// baselineRow adds a row "N ops/s, p50, p99" and returns the ops/s.
func (b *bench) baselineRow(phase, metric string, lat []time.Duration, wall time.Duration) float64 {
	s := Summarize(lat)
	rate := float64(s.N) / wall.Seconds()
	b.rep.info(phase, metric, fmt.Sprintf("%.0f ops/s, p50 %s, p99 %s", rate, fmtDur(s.P50), fmtDur(s.P99)), rate, "ops/s")
	b.rep.detail("baseline "+metric, "n=%d wall=%v p50=%v p90=%v p99=%v max=%v", s.N, wall.Round(time.Millisecond), s.P50, s.P90, s.P99, s.Max)
	fmt.Printf("   %-60s %6.0f ops/s  p50 %-8s p99 %s\n", metric, rate, fmtDur(s.P50), fmtDur(s.P99))
	return rate
}

// measure runs f n times from conc clients (client w calls f(ctx, w, i) for its i-th operation), at most for
// maxTime, and returns every operation's latency and the wall time.
func measure(ctx context.Context, conc, n int, maxTime time.Duration, f func(ctx context.Context, w, i int) error) ([]time.Duration, time.Duration, error) {
	// After maxTime no new operation starts; those under way finish (cancelling them would only add errors).
	deadline := time.Now().Add(maxTime)
	var next atomic.Int64
	lat := make([][]time.Duration, conc)
	errs := make([]error, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && time.Now().Before(deadline); i++ {
				if next.Add(1) > int64(n) {
					return
				}
				t0 := time.Now()
				if err := f(ctx, w, i); err != nil {
					errs[w] = err
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	var all []time.Duration
	for w := range conc {
		if errs[w] != nil {
			return nil, 0, errs[w]
		}
		all = append(all, lat[w]...)
	}
	if len(all) == 0 {
		return nil, 0, fmt.Errorf("no operation completed within %v", maxTime)
	}
	return all, wall, nil
}

// grantResourceStatus is a Resource status like the one the controller writes at a grant; i makes every write a
// change.
func grantResourceStatus(r *conchv1.Resource, i int) conchv1.ResourceStatus {
	now := time.Now()
	until := now.Add(time.Hour)
	return conchv1.ResourceStatus{
		Holders: []conchv1.ResourceHolder{{
			Reservation: fmt.Sprintf("bench-holder-%d", i), UID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i),
			Holder: "bench:holder", Ticket: int64(i + 1), Since: metav1.NewMicroTime(now),
			Duration: &metav1.Duration{Duration: time.Hour}, Requested: &metav1.Duration{Duration: time.Hour},
			Until: metav1.NewMicroTime(until),
		}},
		NextTicket:         int64(i + 2),
		Waiting:            int32(i % 50),
		HeldBy:             "bench:holder",
		NextRelease:        &metav1.Time{Time: until},
		ObservedGeneration: r.Generation,
		Conditions: []metav1.Condition{
			{Type: conchv1.ConditionReady, Status: metav1.ConditionTrue, Reason: conchv1.ReasonReconciled,
				Message: fmt.Sprintf("1 of 1 held, %d waiting", i%50), ObservedGeneration: r.Generation,
				LastTransitionTime: metav1.NewTime(now)},
			{Type: conchv1.ResourceConditionAvailable, Status: metav1.ConditionFalse, Reason: conchv1.ReasonFull,
				Message: "Held by bench:holder", ObservedGeneration: r.Generation, LastTransitionTime: metav1.NewTime(now)},
		},
	}
}

// grantReservationStatus is a Reservation status like the one the controller writes at a grant.
func grantReservationStatus(r *conchv1.Reservation, i int) conchv1.ReservationStatus {
	now := time.Now()
	exp := now.Add(time.Hour)
	msg := fmt.Sprintf("%s holds %s until %s (%d)", r.Spec.Holder, r.Spec.ResourceName, exp.UTC().Format(time.RFC3339), i)
	cond := func(typ string, s metav1.ConditionStatus) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: conchv1.ReasonGranted, Message: msg,
			ObservedGeneration: r.Generation, LastTransitionTime: metav1.NewTime(now)}
	}
	return conchv1.ReservationStatus{
		State: conchv1.StateGranted, ResourceName: r.Spec.ResourceName,
		ResourceUID: "00000000-0000-0000-0000-000000000001", Ticket: int64(i + 1),
		Duration:  &metav1.Duration{Duration: time.Hour},
		GrantedAt: &metav1.MicroTime{Time: now}, ExpiresAt: &metav1.MicroTime{Time: exp},
		Conditions: []metav1.Condition{
			cond(conchv1.ConditionReady, metav1.ConditionTrue), cond(conchv1.ConditionGranted, metav1.ConditionTrue),
			cond(conchv1.ConditionReconciling, metav1.ConditionFalse), cond(conchv1.ConditionStalled, metav1.ConditionFalse),
			{Type: conchv1.ConditionDurationClamped, Status: metav1.ConditionFalse, Reason: conchv1.ReasonWithinMaxDuration,
				Message: "The hold lasts 1h0m0s", ObservedGeneration: r.Generation, LastTransitionTime: metav1.NewTime(now)},
		},
		ObservedGeneration: r.Generation,
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
