package main

import (
	"context"
	"fmt"
	"math"
	"time"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// bursts creates 1,000 and then 10,000 Reservations as fast as 16 clients can over 1,000 Resources of capacity 1
// and measures the time until every one is processed (Granted or Queued, seen on a watch). It counts the manager's
// writes meanwhile and compares the throughput with the floor's grants/s: what the API server allows at the least a
// grant must write (a create and two status patches), so that extra writes cost throughput instead of excusing it.
// After the last burst it measures the manager's writes while nothing changes.
func (b *bench) bursts(ctx context.Context) error {
	for i, n := range b.sz.bursts {
		last := i == len(b.sz.bursts)-1
		if err := b.burst(ctx, n, last); err != nil {
			if last {
				b.rep.check("steady", "manager writes/s with nothing changing", "not measured: the last burst failed", math.NaN(), "writes/s", "0", false)
			}
			return fmt.Errorf("burst of %d: %w", n, err)
		}
	}
	return nil
}

func (b *bench) burst(ctx context.Context, n int, last bool) error {
	phase := fmt.Sprintf("burst %s", thousands(n))
	ns, err := b.namespace(ctx, fmt.Sprintf("burst%d", n))
	if err != nil {
		return err
	}
	nres := b.sz.burstResources
	if err := b.createResources(ctx, ns, "b", nres, 1, true); err != nil {
		return err
	}
	if last {
		b.burstNS, b.burstN = ns, n
	}
	tr, err := track(ctx, b.c, ns)
	if err != nil {
		return err
	}
	defer tr.stop()
	// The Resources' own writes are done; count only the burst's.
	if _, err := b.waitManagerIdle(ctx, time.Minute); err != nil {
		b.rep.detail(phase+" start", "%v before the first create", err)
	}
	before := b.counter.snapshot()
	start := time.Now()
	if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		return b.c.Create(ctx, newReservation(ns, fmt.Sprintf("b-%05d", i), resourceName("b", i%nres), time.Hour))
	}); err != nil {
		return fmt.Errorf("creating: %w", err)
	}
	created := time.Since(start)
	// Bounded so that a slow machine still finishes the run: a burst cut short is reported as such.
	limit := b.sz.burstLimit(n)
	waitErr := tr.wait(ctx, time.Until(start.Add(limit)), "every Reservation processed", func(t *tracker) bool { return t.processed >= n })
	if ctx.Err() != nil {
		return ctx.Err()
	}
	tr.mu.Lock()
	processed, wall := tr.processed, tr.lastProcessed.Sub(start)
	tr.mu.Unlock()
	complete := waitErr == nil
	if !complete {
		wall = time.Since(start)
	}
	// The manager's work that follows (positions, events) belongs to the burst too.
	processedAt := time.Now()
	busy, idleErr := b.waitManagerIdle(ctx, b.sz.idleMax(n))
	busy += processedAt.Sub(start) - wall
	writes := b.counter.snapshot().sub(before)
	grants := tr.reachedCount(conchv1.StateGranted)
	queued := tr.reachedCount(conchv1.StateQueued)

	rate := float64(processed) / wall.Seconds()
	b.rep.info(phase, "load", fmt.Sprintf("%s Reservations on %s Resources of capacity 1: %d granted, %d queued", thousands(n), thousands(nres), grants, queued), float64(n), "Reservations")
	wallValue := fmtDur(wall)
	if !complete {
		wallValue = fmt.Sprintf("> %s (%d of %d processed when cut short)", fmtDur(wall), processed, n)
	}
	b.rep.info(phase, "wall time (first create → last Granted or Queued on watch)", wallValue, wall.Seconds(), "s")
	b.rep.info(phase, "throughput", fmt.Sprintf("%.0f Reservations/s (the creates took %s)", rate, fmtDur(created)), rate, "Reservations/s")
	if idleErr != nil {
		b.rep.info(phase, "manager still working after the last was processed", fmt.Sprintf("> %s", fmtDur(busy)), busy.Seconds(), "s")
	} else {
		b.rep.info(phase, "manager still working after the last was processed", fmtDur(busy), busy.Seconds(), "s")
	}
	uncontended := n <= nres // one Reservation per Resource: every one is an uncontended grant
	if uncontended {
		b.writesPerGrant(phase, writes, processed, idleErr)
		// A burst that did not finish has no throughput to speak of: it is a MISS whatever the rate so far.
		b.floorRate(phase, "throughput ÷ floor grants/s", rate, burstShare, true)
		if !complete {
			b.rep.Rows[len(b.rep.Rows)-1].Result = miss
		}
	} else {
		per := float64(writes.Writes) / float64(max(processed, 1))
		b.rep.info(phase, "manager writes per Reservation", fmt.Sprintf("%.2f (%.2f without Events)", per, float64(writes.Writes-writes.events())/float64(max(processed, 1))), per, "writes")
		// Granted or Queued, each needs the same floor (a create, the ledger, the Reservation's status).
		b.floorRate(phase, "throughput ÷ floor grants/s", rate, burstShare, false)
	}
	b.rep.detail(phase+" writes", "%s", writes)
	fmt.Printf("   %d of %d processed in %s (%.0f/s, creates took %s); %s\n", processed, n, fmtDur(wall), rate, fmtDur(created), writes)

	if !last {
		return nil
	}
	return b.steady(ctx)
}

// steady waits (bounded) until the manager is idle after the last burst, then counts its writes for steadyFor in
// which nothing changes (every hold lasts an hour). A manager that never becomes idle misses the target: it is
// writing with nothing to do.
func (b *bench) steady(ctx context.Context) error {
	const phase = "steady"
	metric := fmt.Sprintf("manager writes/s with nothing changing for %v", b.sz.steadyFor)
	target := "0"
	waitFrom := b.counter.snapshot()
	t0 := time.Now()
	if _, err := b.waitManagerIdle(ctx, 2*time.Minute); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w := b.counter.snapshot().sub(waitFrom)
		perSec := float64(w.Writes) / time.Since(t0).Seconds()
		b.rep.check(phase, metric, fmt.Sprintf("never idle within %s: %.1f writes/s meanwhile", fmtDur(time.Since(t0)), perSec), perSec, "writes/s", target, false)
		b.rep.detail("steady writes", "never idle: %s", w)
		return nil
	}
	before := b.counter.snapshot()
	select {
	case <-time.After(b.sz.steadyFor):
	case <-ctx.Done():
		return ctx.Err()
	}
	idle := b.counter.snapshot().sub(before)
	perSec := float64(idle.Writes) / b.sz.steadyFor.Seconds()
	_, objects, err := b.countObjects(ctx)
	if err != nil {
		return err
	}
	b.rep.check(phase, metric+" ("+objects+")", fmt.Sprintf("%.1f", perSec), perSec, "writes/s", target, idle.Writes == 0)
	b.rep.detail("steady writes", "%s", idle)
	return nil
}

// thousands writes n with a comma every three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
