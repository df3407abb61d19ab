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
// writes meanwhile and compares the throughput with what the baseline's write rate allows. After the last burst it
// measures the manager's writes while nothing changes.
func (b *bench) bursts(ctx context.Context) error {
	for i, n := range b.sz.bursts {
		if err := b.burst(ctx, n, i == len(b.sz.bursts)-1); err != nil {
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
	time.Sleep(time.Second) // the Resources' own writes are done; count only the burst's
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
	// The manager's work that follows (events, reconciles its own writes set off) belongs to the burst too.
	processedAt := time.Now()
	busy, idleErr := b.waitManagerIdle(ctx, b.sz.idleMax(n))
	busy += processedAt.Sub(start) - wall
	writes := b.counter.snapshot().sub(before)
	grants := tr.reachedCount(conchv1.StateGranted)
	queued := tr.reachedCount(conchv1.StateQueued)

	rate := float64(processed) / wall.Seconds()
	perRsv := float64(writes.Writes) / float64(max(processed, 1))
	b.rep.info(phase, "load", fmt.Sprintf("%s Reservations on %s Resources of capacity 1: %d granted, %d queued", thousands(n), thousands(nres), grants, queued), float64(n), "Reservations")
	wallMetric := "wall time (first create → last processed on watch)"
	wallValue := fmtDur(wall)
	if !complete {
		wallValue = fmt.Sprintf("> %s (%d of %d processed when cut short)", fmtDur(wall), processed, n)
	}
	if n <= 1000 {
		b.rep.check(phase, wallMetric, wallValue, wall.Seconds(), "s", "≤ "+fmtDur(burst1kTarget), complete && wall <= burst1kTarget)
	} else {
		b.rep.info(phase, wallMetric, wallValue, wall.Seconds(), "s")
	}
	b.rep.info(phase, "throughput", fmt.Sprintf("%.0f Reservations/s (the creates took %s)", rate, fmtDur(created)), rate, "Reservations/s")
	if idleErr != nil {
		b.rep.info(phase, "manager still reconciling after the last was processed", fmt.Sprintf("> %s", fmtDur(busy)), busy.Seconds(), "s")
	} else {
		b.rep.info(phase, "manager still reconciling after the last was processed", fmtDur(busy), busy.Seconds(), "s")
	}
	noEvents := float64(writes.Writes-writes.events()) / float64(max(processed, 1))
	if grants == n || (n <= nres && !complete) {
		b.rep.check(phase, "manager writes per grant", fmt.Sprintf("%.2f (%.2f without Events)", perRsv, noEvents), perRsv, "writes",
			fmt.Sprintf("≤ %.0f", writesPerGrantLimit), perRsv <= writesPerGrantLimit)
	} else {
		b.rep.info(phase, "manager writes per Reservation", fmt.Sprintf("%.2f (%.2f without Events)", perRsv, noEvents), perRsv, "writes")
	}
	if b.baselineWritesPerSec > 0 {
		ideal := b.baselineWritesPerSec / perRsv
		ratio := rate / ideal
		b.rep.check(phase, "throughput ÷ (baseline writes/s ÷ writes per Reservation)",
			fmt.Sprintf("%.0f %% (%.0f/s of %.0f/s)", 100*ratio, rate, ideal), 100*ratio, "%", fmt.Sprintf("≥ %.0f %%", 100*burstRatioTarget), ratio >= burstRatioTarget)
	} else {
		b.rep.info(phase, "throughput ÷ (baseline writes/s ÷ writes per Reservation)", "n/a (no baseline in this run)", math.NaN(), "%")
	}
	b.rep.detail(phase+" writes", "%s", writes)
	fmt.Printf("   %d of %d processed in %s (%.0f/s, creates took %s); %s\n", processed, n, fmtDur(wall), rate, fmtDur(created), writes)

	if !last {
		return nil
	}
	steadyMetric := fmt.Sprintf("manager writes/s with nothing changing for %v", b.sz.steadyFor)
	if !complete || idleErr != nil {
		b.rep.info("steady", steadyMetric, "not measured: the manager was still busy with the burst", math.NaN(), "writes/s")
		return nil
	}
	// Steady state: nothing changes (every hold lasts an hour); the manager should write nothing.
	before = b.counter.snapshot()
	select {
	case <-time.After(b.sz.steadyFor):
	case <-ctx.Done():
		return ctx.Err()
	}
	idle := b.counter.snapshot().sub(before)
	perSec := float64(idle.Writes) / b.sz.steadyFor.Seconds()
	objects, err := b.countObjects(ctx)
	if err != nil {
		return err
	}
	b.rep.check("steady", steadyMetric+" ("+objects+")", fmt.Sprintf("%.1f", perSec), perSec, "writes/s", "0", idle.Writes == 0)
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
