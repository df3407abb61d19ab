package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// Targets from issue 6 (2 cores, envtest).
const (
	grantP99Target      = 50 * time.Millisecond
	burst1kTarget       = 5 * time.Second
	burstRatioTarget    = 0.80
	writesPerGrantLimit = 3.0
	handoverP99Target   = 50 * time.Millisecond
	latenessP99Target   = 100 * time.Millisecond
	latenessMaxTarget   = time.Second
	restartTarget       = 5 * time.Second
	rssTargetMiB        = 100.0
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

	before := b.counter.snapshot()
	sent := make([]time.Time, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Second / time.Duration(b.sz.grantRate)
	for i := range n {
		// Open loop: each create leaves at its time, whatever the previous ones are doing.
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				wg.Wait()
				return ctx.Err()
			}
		}
		wg.Go(func() {
			rsv := newReservation(ns, fmt.Sprintf("g-%05d", i), resourceName("g", i%b.sz.grantResources), time.Hour)
			sent[i] = time.Now()
			errs[i] = b.c.Create(ctx, rsv)
		})
	}
	wg.Wait()
	sendWall := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("creating: %w", err)
		}
	}
	if err := tr.wait(ctx, time.Minute, "every Reservation granted", func(t *tracker) bool {
		return t.reachedLocked(conchv1.StateGranted) >= n
	}); err != nil {
		return err
	}
	_, _ = b.waitManagerIdle(ctx, 15*time.Second) // its trailing writes belong to this phase
	writes := b.counter.snapshot().sub(before)

	lat := make([]time.Duration, n)
	for i := range n {
		s, _ := tr.get(fmt.Sprintf("g-%05d", i))
		lat[i] = s.At(conchv1.StateGranted).Sub(sent[i])
	}
	s := Summarize(lat)
	b.rep.info(phase, "load", fmt.Sprintf("%d creates at %.1f/s over %d Resources", n, float64(n)/sendWall.Seconds(), b.sz.grantResources),
		float64(n)/sendWall.Seconds(), "creates/s")
	b.rep.latency(phase, "create → Granted on watch, p50", s.P50, 0)
	b.rep.latency(phase, "create → Granted on watch, p90", s.P90, 0)
	b.rep.latency(phase, "create → Granted on watch, p99", s.P99, grantP99Target)
	b.rep.latency(phase, "create → Granted on watch, max", s.Max, 0)
	wpg := float64(writes.Writes) / float64(n)
	b.rep.info(phase, "manager writes per grant (paced)", fmt.Sprintf("%.2f", wpg), wpg, "writes")
	b.rep.detail("grant writes", "%s", writes)
	fmt.Printf("   p50 %s p90 %s p99 %s max %s; %s\n", fmtDur(s.P50), fmtDur(s.P90), fmtDur(s.P99), fmtDur(s.Max), writes)
	return nil
}

// handover queues handoverQueue Reservations behind one holder of a Resource of capacity 1, then releases the
// holder (patch spec.released), waits on the watch for the next one's Granted, releases that one, and so on.
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
	// One after the other: creation timestamps have whole seconds and ties go by name, so the names give the order.
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
	time.Sleep(time.Second) // let the queue's writes finish

	before := b.counter.snapshot()
	lat := make([]time.Duration, 0, q)
	var first, lastGrant time.Time
	deadline := time.Now().Add(b.sz.handoverMax) // bounded, so that a slow machine still ends the run in time
	for i := range q {
		if time.Now().After(deadline) {
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
		if err := tr.wait(ctx, 30*time.Second, next+" granted", func(t *tracker) bool {
			return !t.firstLocked(next, conchv1.StateGranted).IsZero()
		}); err != nil {
			return fmt.Errorf("handover %d: %w", i+1, err)
		}
		s, _ := tr.get(next)
		lastGrant = s.At(conchv1.StateGranted)
		lat = append(lat, lastGrant.Sub(t0))
	}
	if len(lat) == 0 {
		return fmt.Errorf("no handover within %v", b.sz.handoverMax)
	}
	drain := lastGrant.Sub(first)
	writes := b.counter.snapshot().sub(before)

	s := Summarize(lat)
	b.rep.info(phase, "queue", fmt.Sprintf("%d queued behind one holder, capacity 1", q), float64(q), "Reservations")
	b.rep.latency(phase, "release → next Granted on watch, p50", s.P50, 0)
	b.rep.latency(phase, "release → next Granted on watch, p99", s.P99, handoverP99Target)
	b.rep.latency(phase, "release → next Granted on watch, max", s.Max, 0)
	if len(lat) == q {
		b.rep.info(phase, "drain time (all handovers)", fmtDur(drain), drain.Seconds(), "s")
	} else {
		b.rep.info(phase, "drain time (all handovers)", fmt.Sprintf("cut short after %s: %d of %d handovers done", fmtDur(drain), len(lat), q), drain.Seconds(), "s")
	}
	wph := float64(writes.Writes) / float64(max(len(lat), 1))
	b.rep.info(phase, "manager writes per handover", fmt.Sprintf("%.1f", wph), wph, "writes")
	b.rep.detail("handover writes", "%s", writes)
	fmt.Printf("   p50 %s p99 %s max %s, drain %s; %s\n", fmtDur(s.P50), fmtDur(s.P99), fmtDur(s.Max), fmtDur(drain), writes)
	return nil
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
