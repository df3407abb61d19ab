package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// scaleResult is what one step of the scale phase measured.
type scaleResult struct {
	level, objects      int
	grantP50, grantP99  time.Duration
	writesPerGrant      float64
	heap, rss           float64 // bytes
	synced, released    time.Duration
	idle                time.Duration
	restartIdleMeasured bool
}

// scalePhase measures how the manager's costs grow with what it holds. One namespace grows to each of scaleLevels
// Reservations in turn (10 per Resource of capacity 1: one holds, nine wait, so every step has the same shape),
// processed as they come by the manager run as a subprocess with the flags it ships with. At each step, once the
// manager is idle, it measures grant latency and the manager's writes per grant for scaleProbe grants paced at
// grantRate on Resources with room, then the manager's memory (read once), then a restart: the manager is stopped,
// scaleEnded holds are ended while it is down, and a new one starts. The manager's writes are the API server's own
// counts (apiserver_request_total) less the bench's. Then it states how each cost grew from step to step.
func (b *bench) scalePhase(ctx context.Context) error {
	if b.mgr != nil {
		return errors.New("the in-process manager must be stopped first")
	}
	deadline := time.Now().Add(b.sz.scaleMax)
	ns, err := b.namespace(ctx, "scale")
	if err != nil {
		return err
	}
	m, err := b.startSubManager(ctx, ns, "scale-0")
	if err != nil {
		return err
	}
	defer func() { m.stop() }()
	if _, err := m.ready(ctx, time.Minute); err != nil {
		return err
	}
	tr, err := track(ctx, b.c, ns)
	if err != nil {
		return err
	}
	defer tr.stop()

	var results []scaleResult
	have, resources, probes := 0, 0, 0
	for step, level := range b.sz.scaleLevels {
		phase := "scale " + thousands(level)
		if time.Now().After(deadline) {
			b.rep.check(phase, "step", fmt.Sprintf("not measured: the phase's bound of %s was reached", fmtDur(b.sz.scaleMax)), math.NaN(), "", "measured", false)
			break
		}
		fmt.Printf("   %s: filling\n", phase)
		// Fill: the step's new Resources, then its new Reservations, as fast as 16 clients can.
		add := level - have
		addRes := max(add/10, 1)
		prefix := fmt.Sprintf("s%d", step)
		if err := b.createResources(ctx, ns, prefix, addRes, 1, false); err != nil {
			return err
		}
		resources += addRes
		if err := b.waitResourcesReady(ctx, ns, resources, 2*time.Minute); err != nil {
			return err
		}
		fillStart := time.Now()
		if err := parallel(ctx, add, workers, func(ctx context.Context, i int) error {
			return b.c.Create(ctx, newReservation(ns, fmt.Sprintf("%s-%05d", prefix, i), resourceName(prefix, i%addRes), time.Hour))
		}); err != nil {
			return fmt.Errorf("%s: creating: %w", phase, err)
		}
		have = level
		limit := min(time.Until(deadline), 2*time.Minute+time.Duration(add)*20*time.Millisecond)
		if err := tr.wait(ctx, limit, "every Reservation processed", func(t *tracker) bool { return t.processed >= have+probes }); err != nil {
			return m.fail(fmt.Errorf("%s: %w", phase, err))
		}
		fill := time.Since(fillStart)
		if _, err := b.waitAPIQuiet(ctx, 2*time.Minute); err != nil {
			return m.fail(fmt.Errorf("%s, after the fill: %w", phase, err))
		}

		// Grants paced at grantRate on Resources with room (10 each), counted from outside the manager.
		fmt.Printf("   %s: grants\n", phase)
		probePrefix := fmt.Sprintf("p%d", step)
		probeRes := max(b.sz.scaleProbe/10, 1)
		if err := b.createResources(ctx, ns, probePrefix, probeRes, 10, false); err != nil {
			return err
		}
		resources += probeRes
		if err := b.waitResourcesReady(ctx, ns, resources, time.Minute); err != nil {
			return err
		}
		if _, err := b.waitAPIQuiet(ctx, time.Minute); err != nil {
			return m.fail(fmt.Errorf("%s, before the grants: %w", phase, err))
		}
		apiBefore, err := b.apiRequests(ctx)
		if err != nil {
			return err
		}
		ownBefore := b.own.snapshot()
		lat, _, err := b.pacedGrants(ctx, tr, ns, probePrefix, b.sz.scaleProbe, probeRes)
		if err != nil {
			return m.fail(fmt.Errorf("%s: %w", phase, err))
		}
		probes += b.sz.scaleProbe
		_, idleErr := b.waitAPIQuiet(ctx, time.Minute)
		apiAfter, err := b.apiRequests(ctx)
		if err != nil {
			return err
		}
		ownDelta := b.own.snapshot().sub(ownBefore)
		mgrWrites := apiAfter.writes - apiBefore.writes - float64(ownDelta.writesOn(conchKinds))
		b.rep.detail(phase+" grant writes", "all clients: %s; the bench's own: %s", apiAfter.sub(apiBefore), ownDelta)
		s := Summarize(lat)
		r := scaleResult{level: level, grantP50: s.P50, grantP99: s.P99, writesPerGrant: mgrWrites / float64(len(lat))}

		// Memory, read once, the manager idle.
		mem, err := m.readMemory()
		if err != nil {
			return m.fail(err)
		}
		r.heap, r.rss = mem.heap, mem.rss

		// Restart: end scaleEnded holds while no manager runs, start a new one, time it.
		fmt.Printf("   %s: restart\n", phase)
		ended := grantedNames(tr, prefixOf(b.sz.scaleLevels), b.sz.scaleEnded)
		m.stop()
		if err := parallel(ctx, len(ended), workers, func(ctx context.Context, i int) error {
			rsv := &conchv1.Reservation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ended[i]}}
			return b.c.Patch(ctx, rsv, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"duration":"1s"}}`)))
		}); err != nil {
			return fmt.Errorf("%s: shortening the holds: %w", phase, err)
		}
		time.Sleep(time.Second)
		if r.objects, _, err = b.countObjectsIn(ctx, ns); err != nil {
			return err
		}
		if m, err = b.startSubManager(ctx, ns, fmt.Sprintf("scale-%d", step+1)); err != nil {
			return err
		}
		if r.synced, err = m.ready(ctx, 2*time.Minute); err != nil {
			return err
		}
		if err := tr.wait(ctx, 2*time.Minute, "the ended holds released after the restart", func(t *tracker) bool {
			for _, name := range ended {
				if t.firstLocked(name, conchv1.StateExpired).IsZero() {
					return false
				}
			}
			return true
		}); err != nil {
			return m.fail(fmt.Errorf("%s: %w", phase, err))
		}
		for _, name := range ended {
			st, _ := tr.get(name)
			r.released = max(r.released, st.At(conchv1.StateExpired).Sub(m.started))
		}
		quietFrom := time.Now()
		if d, err := b.waitAPIQuiet(ctx, 3*time.Minute); err == nil {
			r.idle, r.restartIdleMeasured = quietFrom.Add(d).Sub(m.started), true
		}
		results = append(results, r)

		b.rep.info(phase, "load", fmt.Sprintf("%s Reservations (10 per Resource of capacity 1) and %s paced grants; %s objects; filled in %s (%.0f/s)",
			thousands(level), thousands(probes), thousands(r.objects), fmtDur(fill), float64(add)/fill.Seconds()), float64(level), "Reservations")
		b.rep.latency(phase, "create → Granted on watch, p50", r.grantP50, 0)
		b.floorLatency(phase, "create → Granted on watch, p99", r.grantP99)
		value := fmt.Sprintf("%.2f (counted by the API server)", r.writesPerGrant)
		if idleErr != nil {
			value += ", counted while the manager was still busy"
		}
		b.rep.check(phase, "manager writes per grant (Events included)", value, r.writesPerGrant, "writes", fmt.Sprintf("≤ %.0f", writesPerGrantLimit),
			r.writesPerGrant <= writesPerGrantLimit && idleErr == nil)
		b.rep.info(phase, "manager heap in use", fmt.Sprintf("%.1f MiB", mib(r.heap)), mib(r.heap), "MiB")
		b.rep.info(phase, "manager RSS", fmt.Sprintf("%.1f MiB", mib(r.rss)), mib(r.rss), "MiB")
		b.rep.info(phase, "restart: start → caches synced", fmtDur(r.synced), ms(r.synced), "ms")
		b.rep.info(phase, fmt.Sprintf("restart: start → %d ended holds released", len(ended)), fmtDur(r.released), ms(r.released), "ms")
		if r.restartIdleMeasured {
			b.rep.info(phase, "restart: start → idle", fmtDur(r.idle), ms(r.idle), "ms")
		} else {
			b.rep.info(phase, "restart: start → idle", "> 3 min", math.NaN(), "ms")
		}
		fmt.Printf("   %s: p99 %s, %.2f writes/grant, heap %.1f MiB, RSS %.1f MiB, restart %s\n", phase, fmtDur(r.grantP99), r.writesPerGrant, mib(r.heap), mib(r.rss), fmtDur(r.released))
	}
	b.scaleGrowth(results)
	return nil
}

// pacedGrants creates n Reservations named <prefix>-NNNNN at grantRate (open loop) on the Resources <prefix>-NNNN
// (nres of them, with room for all) and returns each one's latency, create → Granted on the watch.
func (b *bench) pacedGrants(ctx context.Context, tr *tracker, ns, prefix string, n, nres int) ([]time.Duration, time.Duration, error) {
	sent := make([]time.Time, n)
	errs := make([]error, n)
	name := func(i int) string { return fmt.Sprintf("%s-%05d", prefix, i) }
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Second / time.Duration(b.sz.grantRate)
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				wg.Wait()
				return nil, 0, ctx.Err()
			}
		}
		wg.Go(func() {
			rsv := newReservation(ns, name(i), resourceName(prefix, i%nres), time.Hour)
			sent[i] = time.Now()
			errs[i] = b.c.Create(ctx, rsv)
		})
	}
	wg.Wait()
	sendWall := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, 0, fmt.Errorf("creating: %w", err)
	}
	if err := tr.wait(ctx, 2*time.Minute, "every paced Reservation granted", func(t *tracker) bool {
		for i := range n {
			if t.firstLocked(name(i), conchv1.StateGranted).IsZero() {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, 0, err
	}
	lat := make([]time.Duration, n)
	for i := range n {
		s, _ := tr.get(name(i))
		lat[i] = s.At(conchv1.StateGranted).Sub(sent[i])
	}
	return lat, sendWall, nil
}

// prefixOf returns the name prefixes of the scale phase's filling Reservations ("s0-", "s1-", ...).
func prefixOf(levels []int) []string {
	out := make([]string, len(levels))
	for i := range levels {
		out[i] = fmt.Sprintf("s%d-", i)
	}
	return out
}

// grantedNames returns up to n names, in order, of Reservations the watch last showed Granted whose names start
// with one of prefixes.
func grantedNames(tr *tracker, prefixes []string, n int) []string {
	var out []string
	for name, s := range tr.all() {
		if s.state != conchv1.StateGranted {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				out = append(out, name)
				break
			}
		}
	}
	slices.Sort(out)
	return out[:min(n, len(out))]
}

// countObjectsIn says how many Resources and Reservations namespace ns holds.
func (b *bench) countObjectsIn(ctx context.Context, ns string) (int, string, error) {
	var res conchv1.ResourceList
	if err := b.c.List(ctx, &res, client.InNamespace(ns)); err != nil {
		return 0, "", err
	}
	var rsv conchv1.ReservationList
	if err := b.c.List(ctx, &rsv, client.InNamespace(ns)); err != nil {
		return 0, "", err
	}
	return len(res.Items) + len(rsv.Items), fmt.Sprintf("%s Resources, %s Reservations", thousands(len(res.Items)), thousands(len(rsv.Items))), nil
}

// scaleGrowth adds, for each cost the scale phase measured, how it grew from step to step: the factor, the
// exponent k of cost ∝ N^k, and a word for it. The target is growth no worse than linear at every step.
func (b *bench) scaleGrowth(results []scaleResult) {
	const phase = "scale growth"
	costs := []struct {
		metric string
		unit   string
		of     func(r scaleResult) float64
	}{
		{"grant p99", "ms", func(r scaleResult) float64 { return ms(r.grantP99) }},
		{"manager writes per grant", "writes", func(r scaleResult) float64 { return r.writesPerGrant }},
		{"manager heap in use", "MiB", func(r scaleResult) float64 { return mib(r.heap) }},
		{"manager RSS", "MiB", func(r scaleResult) float64 { return mib(r.rss) }},
		{"restart: start → ended holds released", "ms", func(r scaleResult) float64 { return ms(r.released) }},
		{"restart: start → idle", "ms", func(r scaleResult) float64 {
			if !r.restartIdleMeasured {
				return math.NaN()
			}
			return ms(r.idle)
		}},
	}
	for _, c := range costs {
		if len(results) < 2 {
			b.rep.check(phase, c.metric, "not measured: fewer than two steps", math.NaN(), "", "≤ linear per step", false)
			continue
		}
		var steps []string
		worst := math.Inf(-1)
		for i := 1; i < len(results); i++ {
			r0, r1 := results[i-1], results[i]
			v0, v1 := c.of(r0), c.of(r1)
			k, word := growth(r0.level, r1.level, v0, v1)
			worst = max(worst, k)
			steps = append(steps, fmt.Sprintf("%s→%s: %s → %s %s, N^%.2f (%s)", thousands(r0.level), thousands(r1.level),
				fmtNum(v0), fmtNum(v1), c.unit, k, word))
		}
		b.rep.check(phase, c.metric, strings.Join(steps, "; "), worst, "exponent", "≤ linear per step", !math.IsNaN(worst) && worst <= linearMax)
	}
}

// fmtNum formats a cost with three significant digits or so.
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "?"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
