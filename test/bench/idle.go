package main

import (
	"context"
	"fmt"
	"time"

	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/conch-dev/conch/controllers"
)

// reconcileActivity reads, from controller-runtime's metrics registry in this process, how many reconciles the
// in-process manager's controllers have run and how many run right now.
func reconcileActivity() (total, active float64, err error) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return 0, 0, err
	}
	for _, f := range families {
		switch f.GetName() {
		case "controller_runtime_reconcile_total":
			for _, m := range f.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		case "controller_runtime_active_workers":
			for _, m := range f.GetMetric() {
				active += m.GetGauge().GetValue()
			}
		}
	}
	return total, active, nil
}

// idleQuiet is how long the manager must run no reconcile to count as idle: longer than the longest delay it
// gives itself while work remains, the PositionReconciler's least time between two refreshes of one queue.
const idleQuiet = controllers.DefaultPositionRefresh + time.Second

// waitManagerIdle waits until the in-process manager has run no reconcile for idleQuiet and none runs, at most limit,
// and returns how long it took until the quiet began.
func (b *bench) waitManagerIdle(ctx context.Context, limit time.Duration) (time.Duration, error) {
	return waitQuiet(ctx, limit, 200*time.Millisecond, "still reconciling", func() (float64, bool, error) {
		total, active, err := reconcileActivity()
		return total, active > 0, err
	})
}

// waitQuiet polls sample every poll until its total has not moved, and nothing was busy, for idleQuiet, and
// returns how long it took until the quiet began; after limit it says the manager was still what busy says.
func waitQuiet(ctx context.Context, limit, poll time.Duration, busy string, sample func() (total float64, active bool, err error)) (time.Duration, error) {
	start := time.Now()
	last, quietSince := -1.0, time.Time{}
	for {
		total, active, err := sample()
		if err != nil {
			return 0, err
		}
		switch {
		case total != last || active:
			quietSince = time.Time{}
		case quietSince.IsZero():
			quietSince = time.Now()
		case time.Since(quietSince) >= idleQuiet:
			return quietSince.Sub(start), nil
		}
		last = total
		if time.Since(start) > limit {
			return time.Since(start), fmt.Errorf("the manager was %s after %v", busy, limit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(poll):
		}
	}
}
