package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// Targets of the issue "The ledger" (2 cores, envtest). Latencies and throughputs are compared with the same run's
// floor (baseline.go): latencyFactor × its latency, burstShare × its grants/s.
const (
	burstShare             = 0.80
	writesPerGrantLimit    = 3.0  // manager writes per uncontended grant, Events included
	writesPerHandoverLimit = 10.0 // manager writes per handover, amortized over the whole drain
	latenessP99Target      = 100 * time.Millisecond
	restartTarget          = 2 * time.Second
	rssTargetMiB           = 100.0
)

// grantLatency creates Reservations at a steady rate (50/s) on 100 Resources with room for all of them, and
// measures from just before each create to the arrival, on a watch, of the event showing it Granted.
func (b *bench) grantLatency(ctx context.Context) error {
	const phase = "grant"
	ns, err := b.namespace(ctx, phase)
	if err != nil {
		return err
	}
	n := int(b.sz.grantFor.Seconds()) * b.sz.grantRate
	perResource := (n + b.sz.grantResources - 1) / b.sz.grantResources
	if err := b.createResources(ctx, ns, "g", b.sz.grantResources, int32(min(perResource+1, 100)), true); err != nil {
		return err
	}
	tr, err := track(ctx, b.c, ns)
	if err != nil {
		return err
	}
	defer tr.stop()
	// The Resources' own writes are not the grants'.
	if _, err := b.waitManagerIdle(ctx, 30*time.Second); err != nil {
		b.rep.detail(phase+" start", "%v before the first create", err)
	}

	before := b.counter.snapshot()
	// Open loop: each create leaves at its time, whatever the previous ones are doing.
	lat, sendWall, err := b.pacedGrants(ctx, tr, ns, "g", n, b.sz.grantResources)
	if err != nil {
		return err
	}
	// Its trailing writes belong to this phase.
	_, idleErr := b.waitManagerIdle(ctx, 30*time.Second)
	writes := b.counter.snapshot().sub(before)

	s := Summarize(lat)
	b.rep.info(phase, "load", fmt.Sprintf("%d creates at %.1f/s over %d Resources with room for all", n, float64(n)/sendWall.Seconds(), b.sz.grantResources),
		float64(n)/sendWall.Seconds(), "creates/s")
	b.rep.latency(phase, "create → Granted on watch, p50", s.P50, 0)
	b.rep.latency(phase, "create → Granted on watch, p90", s.P90, 0)
	b.floorLatency(phase, "create → Granted on watch, p99", s.P99)
	b.rep.latency(phase, "create → Granted on watch, max", s.Max, 0)
	b.writesPerGrant(phase, writes, n, idleErr)
	b.rep.detail("grant writes", "%s", writes)
	fmt.Printf("   p50 %s p90 %s p99 %s max %s; %s\n", fmtDur(s.P50), fmtDur(s.P90), fmtDur(s.P99), fmtDur(s.Max), writes)
	return nil
}

// writesPerGrant adds the row of the manager's writes per uncontended grant, Events included, checked against
// writesPerGrantLimit. idleErr says the manager was still busy when the count stopped.
func (b *bench) writesPerGrant(phase string, writes counts, grants int, idleErr error) {
	per := float64(writes.Writes) / float64(max(grants, 1))
	value := fmt.Sprintf("%.2f (%.2f without Events)", per, float64(writes.Writes-writes.events())/float64(max(grants, 1)))
	if idleErr != nil {
		value += ", counted while the manager was still busy"
	}
	b.rep.check(phase, "manager writes per grant (Events included)", value, per, "writes", fmt.Sprintf("≤ %.0f", writesPerGrantLimit),
		per <= writesPerGrantLimit && idleErr == nil)
}

// handover queues handoverQueue Reservations behind one holder of a Resource of capacity 1, then releases the
// holder (patch spec.released), waits on the watch for the next one's Granted, releases that one, and so on until
// the whole queue has drained (bounded by handoverMax). It counts every write of the manager from the first
// release until the manager is idle after the last grant, so that the positions it refreshes afterwards count too.
func (b *bench) handover(ctx context.Context) error {
	const phase = "handover"
	ns, err := b.namespace(ctx, phase)
	if err != nil {
		return err
	}
	if err := b.createResources(ctx, ns, "h", 1, 1, true); err != nil {
		return err
	}
	tr, err := track(ctx, b.c, ns)
	if err != nil {
		return err
	}
	defer tr.stop()
	q := b.sz.handoverQueue
	name := func(i int) string { return fmt.Sprintf("h-%04d", i) }
	// One after the other, so that the arrival tickets give the order of the names.
	for i := 0; i <= q; i++ {
		if err := b.c.Create(ctx, newReservation(ns, name(i), resourceName("h", 0), time.Hour)); err != nil {
			return err
		}
	}
	if err := tr.wait(ctx, time.Minute, "the queue to form", func(t *tracker) bool {
		return t.reachedLocked(conchv1.StateGranted) == 1 && t.reachedLocked(conchv1.StateQueued) == q
	}); err != nil {
		return err
	}
	if err := b.waitWaiting(ctx, ns, resourceName("h", 0), int32(q), 30*time.Second); err != nil {
		return err
	}
	// The queue's own writes are not the handovers'.
	if _, err := b.waitManagerIdle(ctx, time.Minute); err != nil {
		b.rep.detail(phase+" start", "%v before the first release", err)
	}

	before := b.counter.snapshot()
	lat := make([]time.Duration, 0, q)
	var first, lastGrant time.Time
	// stalled says why the drain ended before the queue was empty. It is bounded, so that a slow machine still
	// ends the run in time.
	stalled := ""
	deadline := time.Now().Add(b.sz.handoverMax)
	for i := range q {
		if time.Now().After(deadline) {
			stalled = fmt.Sprintf("the drain's bound of %s was reached", fmtDur(b.sz.handoverMax))
			break
		}
		holder, next := name(i), name(i+1)
		if s, _ := tr.get(holder); s.At(conchv1.StateGranted).IsZero() {
			return fmt.Errorf("%s should hold the Resource", holder)
		}
		t0 := time.Now()
		if i == 0 {
			first = t0
		}
		if err := b.release(ctx, ns, holder); err != nil {
			return fmt.Errorf("releasing %s: %w", holder, err)
		}
		if err := tr.wait(ctx, min(30*time.Second, max(time.Until(deadline), time.Second)), next+" granted", func(t *tracker) bool {
			return !t.firstLocked(next, conchv1.StateGranted).IsZero()
		}); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Reported below as a drain cut short, with what the API server says of the two.
			stalled = fmt.Sprintf("%s not Granted %s after %s was released", next, fmtDur(time.Since(t0).Round(time.Second)), holder)
			b.rep.detail("handover stall", "%s", b.describeStall(ctx, ns, resourceName("h", 0), holder, next))
			break
		}
		s, _ := tr.get(next)
		lastGrant = s.At(conchv1.StateGranted)
		lat = append(lat, lastGrant.Sub(t0))
	}
	if len(lat) == 0 {
		return fmt.Errorf("no handover within %v", b.sz.handoverMax)
	}
	drain := lastGrant.Sub(first)
	// The positions refreshed after the last grant belong to the drain.
	idleFrom := time.Now()
	busy, idleErr := b.waitManagerIdle(ctx, time.Minute)
	busy = idleFrom.Add(busy).Sub(lastGrant) // from the last grant
	writes := b.counter.snapshot().sub(before)

	s := Summarize(lat)
	b.rep.info(phase, "queue", fmt.Sprintf("%d queued behind one holder, capacity 1", q), float64(q), "Reservations")
	b.rep.latency(phase, "release → next Granted on watch, p50", s.P50, 0)
	b.floorLatency(phase, "release → next Granted on watch, p99", s.P99)
	b.rep.latency(phase, "release → next Granted on watch, max", s.Max, 0)
	drained := fmt.Sprintf("%d of %d handovers in %s", len(lat), q, fmtDur(drain))
	if len(lat) < q {
		drained = fmt.Sprintf("cut short (%s): %d of %d handovers in %s", stalled, len(lat), q, fmtDur(drain))
	}
	b.rep.check(phase, "whole queue drained", drained, float64(len(lat)), "handovers", fmt.Sprintf("all %d within %s", q, fmtDur(b.sz.handoverMax)), len(lat) == q)
	wph := float64(writes.Writes) / float64(len(lat))
	value := fmt.Sprintf("%.1f (%d writes for %d handovers, until idle %s after the last grant)", wph, writes.Writes, len(lat), fmtDur(busy))
	if idleErr != nil {
		value = fmt.Sprintf("%.1f (%d writes for %d handovers; the manager was still busy %s after the last grant)", wph, writes.Writes, len(lat), fmtDur(busy))
	}
	b.rep.check(phase, "manager writes per handover, whole drain", value, wph, "writes", fmt.Sprintf("≤ %.0f", writesPerHandoverLimit),
		wph <= writesPerHandoverLimit && idleErr == nil && len(lat) == q)
	b.rep.detail("handover writes", "%s", writes)
	fmt.Printf("   p50 %s p99 %s max %s, %s; %s\n", fmtDur(s.P50), fmtDur(s.P99), fmtDur(s.Max), drained, writes)
	return nil
}

// describeStall says what the API server shows of a handover that did not come: the Resource's ledger and the
// states of the released holder and of the next in line.
func (b *bench) describeStall(ctx context.Context, ns, resource, holder, next string) string {
	var res conchv1.Resource
	if err := b.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: resource}, &res); err != nil {
		return err.Error()
	}
	var holders []string
	for _, h := range res.Status.Holders {
		holders = append(holders, h.Reservation)
	}
	head := ""
	if len(res.Status.Queue) > 0 {
		head = res.Status.Queue[0].Reservation
	}
	out := fmt.Sprintf("%s: holders %v, %d queued (first %s)", resource, holders, len(res.Status.Queue), head)
	for _, name := range []string{holder, next} {
		var rsv conchv1.Reservation
		if err := b.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &rsv); err != nil {
			out += fmt.Sprintf("; %s: %v", name, err)
			continue
		}
		out += fmt.Sprintf("; %s: state %s, position %d, released %v", name, rsv.Status.State, rsv.Status.Position, rsv.Spec.Released)
	}
	return out
}

// release patches spec.released of a Reservation, as `kubectl patch` would.
func (b *bench) release(ctx context.Context, ns, name string) error {
	rsv := &conchv1.Reservation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	return b.c.Patch(ctx, rsv, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"released":true}}`)))
}

// waitWaiting polls until the Resource's status.waiting is n.
func (b *bench) waitWaiting(ctx context.Context, ns, name string, n int32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var res conchv1.Resource
		if err := b.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &res); err != nil {
			return err
		}
		if res.Status.Waiting == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s has %d waiting, not %d, after %v", name, res.Status.Waiting, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
