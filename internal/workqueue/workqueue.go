// Package workqueue builds the work queues of Conch's controllers, the core ones and the Slack notifier alike, so
// that both follow the same injected clock without one importing the other.
package workqueue

import (
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// New returns a controller.Options.NewQueue that builds the classic rate-limited work queue on clk.
// controller-runtime's default priority queue keeps the real clock, so RequeueAfter would not follow an injected
// clock; timed release depends on it doing so.
func New(clk clock.WithTicker) func(string, workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	return func(name string, rl workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
		return workqueue.NewTypedRateLimitingQueueWithConfig(rl, workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{
			Name:  name,
			Clock: clk,
		})
	}
}
