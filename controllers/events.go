package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/queue"
)

// startupDefer is how long, at start, a Resource with nothing due waits behind those with holds already due: after
// a restart the holds that ended while no manager ran are released first, in one Resource write each.
const startupDefer = 500 * time.Millisecond

// resourceEvents enqueues a Resource for its own changes; from the initial list, those with nothing due are
// deferred by startupDefer.
type resourceEvents struct {
	clock clock.PassiveClock
}

var _ handler.EventHandler = resourceEvents{}

// Create implements handler.EventHandler.
func (h resourceEvents) Create(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)}
	if res, ok := e.Object.(*conchv1.Resource); ok && e.IsInInitialList && !due(res, h.clock.Now()) {
		q.AddAfter(req, startupDefer)
		return
	}
	q.Add(req)
}

// Update implements handler.EventHandler.
func (resourceEvents) Update(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.ObjectNew)})
}

// Delete implements handler.EventHandler.
func (resourceEvents) Delete(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)})
}

// Generic implements handler.EventHandler.
func (resourceEvents) Generic(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)})
}

// due reports whether a hold recorded on res has ended by the clock, or res has never been reconciled.
func due(res *conchv1.Resource, now time.Time) bool {
	if res.Status.ObservedGeneration != res.Generation {
		return true
	}
	for _, h := range res.Status.Holders {
		if !now.Before(h.Until.Time) {
			return true
		}
	}
	return false
}

// reservationEvents maps a Reservation to the Resources that decide about it: the one it is bound to or, pooled
// and unbound, every Resource of its namespace that its selector matches. From the initial list, those whose spec
// did not change while no manager ran are deferred by startupDefer, as in resourceEvents.
type reservationEvents struct {
	c        client.Reader
	arrivals *Arrivals
}

var _ handler.EventHandler = reservationEvents{}

func (h reservationEvents) enqueue(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request], after time.Duration) {
	for _, req := range resourcesOf(ctx, h.c, o) {
		if after > 0 {
			q.AddAfter(req, after)
		} else {
			q.Add(req)
		}
	}
}

// Create implements handler.EventHandler.
func (h reservationEvents) Create(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if h.arrivals != nil {
		h.arrivals.Arrived(e.Object.GetUID())
	}
	after := time.Duration(0)
	if rsv, ok := e.Object.(*conchv1.Reservation); ok && e.IsInInitialList && rsv.Generation == rsv.Status.ObservedGeneration {
		after = startupDefer // unchanged while no manager ran; one changed meanwhile (released, shortened) goes first
	}
	h.enqueue(ctx, e.Object, q, after)
}

// Update implements handler.EventHandler. A Reservation bound meanwhile also wakes the Resources it was matched to.
func (h reservationEvents) Update(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if rsv, ok := e.ObjectNew.(*conchv1.Reservation); ok && h.arrivals != nil && rsv.Status.State.IsFinal() {
		h.arrivals.Forget(rsv.UID)
	}
	h.enqueue(ctx, e.ObjectNew, q, 0)
	if old, ok := e.ObjectOld.(*conchv1.Reservation); ok && index.BoundResource(old) == "" {
		h.enqueue(ctx, e.ObjectOld, q, 0)
	}
}

// Delete implements handler.EventHandler.
func (h reservationEvents) Delete(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if h.arrivals != nil {
		h.arrivals.Forget(e.Object.GetUID())
	}
	h.enqueue(ctx, e.Object, q, 0)
}

// Generic implements handler.EventHandler.
func (h reservationEvents) Generic(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.enqueue(ctx, e.Object, q, 0)
}

// resourcesOf returns the Resources that decide about the Reservation o.
func resourcesOf(ctx context.Context, c client.Reader, o client.Object) []reconcile.Request {
	rsv, ok := o.(*conchv1.Reservation)
	if !ok {
		return nil
	}
	if name := index.BoundResource(rsv); name != "" {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: rsv.Namespace, Name: name}}}
	}
	if rsv.Spec.Selector == nil || rsv.Status.State.IsFinal() {
		return nil
	}
	var pool conchv1.ResourceList
	if err := c.List(ctx, &pool, client.InNamespace(rsv.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot list the Resources of a pool")
		return nil
	}
	var reqs []reconcile.Request
	for i := range pool.Items {
		if queue.Matches(rsv, &pool.Items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pool.Items[i])})
		}
	}
	return reqs
}
