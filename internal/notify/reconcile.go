package notify

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	conchqueue "github.com/conch-dev/conch/internal/workqueue"
)

// The Dispatcher reads Reservations and Resources from the cache and writes what it delivered into their
// status.deliveries (server-side apply); it records an Event when a destination refuses one for good.
// +kubebuilder:rbac:groups=conch.dev,resources=reservations;resources,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations/status;resources/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// reservations queues the events of one Reservation.
type reservations struct{ d *Dispatcher }

// Reconcile derives what is due about a Reservation for each of its destinations and queues it; it wakes again
// when the warning before the end is due.
func (r reservations) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	d := r.d
	rsv := &conchv1.Reservation{}
	if err := d.Client.Get(ctx, req.NamespacedName, rsv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	res, resource, err := d.resourceOf(ctx, rsv)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := d.Clock.Now()
	next, err := d.consider(ctx, rsv, res,
		func(sink string) []string { return Told(rsv, rsv.Status.Deliveries, sink) },
		func(told []string) ([]Event, time.Time) {
			return ReservationEvents(rsv, resource, told, d.WarnBefore, now)
		})
	if err != nil || next.IsZero() {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: next.Sub(now)}, nil
}

// deleted queues the end of a Reservation deleted before it reached a final state (kubectl delete while it held
// or waited): its status can no longer say so, so the end is derived from the last state the cache saw, with
// the reason Deleted. This one event is best effort: it lives in memory only, and a Reservation deleted while no
// manager leads is not told (docs/events.md).
func (d *Dispatcher) deleted(ctx context.Context, e event.TypedDeleteEvent[client.Object], _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	was, ok := e.Object.(*conchv1.Reservation)
	if !ok || was.Status.State.IsFinal() || was.Status.State == "" {
		return
	}
	r := was.DeepCopy()
	now := d.Clock.Now()
	r.Status.State, r.Status.EndedAt = conchv1.StateReleased, &metav1.Time{Time: now}
	meta.SetStatusCondition(&r.Status.Conditions, metav1.Condition{
		Type: conchv1.ConditionReady, Status: metav1.ConditionFalse, Reason: conchv1.ReasonDeleted,
		Message: "The Reservation was deleted", ObservedGeneration: r.Generation,
	})
	res, resource, _ := d.resourceOf(ctx, r) // without its Resource, sinks that select by Resource hear nothing
	if _, err := d.consider(ctx, r, res,
		func(sink string) []string { return Told(r, r.Status.Deliveries, sink) },
		func(told []string) ([]Event, time.Time) {
			return ReservationEvents(r, resource, told, d.WarnBefore, now)
		}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot tell of a deleted Reservation", "reservation", klog.KObj(r))
	}
}

// resourceOf returns the Resource r is bound to, from the cache, twice: as the client.Object a Destination takes (a
// nil interface when there is none) and typed. A Resource that is gone is none, not an error.
func (d *Dispatcher) resourceOf(ctx context.Context, r *conchv1.Reservation) (client.Object, *conchv1.Resource, error) {
	if r.Status.ResourceName == "" {
		return nil, nil, nil
	}
	res := &conchv1.Resource{}
	if err := d.Client.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: r.Status.ResourceName}, res); err != nil {
		return nil, nil, client.IgnoreNotFound(err)
	}
	return res, res, nil
}

// resources queues the events of one Resource.
type resources struct{ d *Dispatcher }

// Reconcile derives what is due about a Resource for each of its destinations and queues it.
func (r resources) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	d := r.d
	res := &conchv1.Resource{}
	if err := d.Client.Get(ctx, req.NamespacedName, res); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	_, err := d.consider(ctx, res, res,
		func(sink string) []string { return Told(nil, res.Status.Deliveries, sink) },
		func(told []string) ([]Event, time.Time) { return ResourceEvents(res, told), time.Time{} })
	return ctrl.Result{}, err
}

// SetupWithManager registers the Dispatcher's lanes and its two reconcilers with mgr; all run on the leader only.
func (d *Dispatcher) SetupWithManager(mgr ctrl.Manager) error {
	d.init()
	if err := mgr.Add(d); err != nil {
		return err
	}
	opts := controller.Options{MaxConcurrentReconciles: 4, NewQueue: conchqueue.New(d.Clock)}
	if err := ctrl.NewControllerManagedBy(mgr).
		Named("notify-reservation").
		For(&conchv1.Reservation{}, builder.WithPredicates(reservationTold{})).
		Watches(&conchv1.Reservation{}, handler.Funcs{DeleteFunc: d.deleted}).
		WithOptions(opts).
		Complete(reservations{d}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("notify-resource").
		For(&conchv1.Resource{}, builder.WithPredicates(resourceTold{})).
		WithOptions(opts).
		Complete(resources{d})
}

// reservationTold passes the changes of a Reservation that can make an event due: what the events are derived
// from. Its own records (status.deliveries) and positions wake nothing.
type reservationTold struct{ predicate.Funcs }

// Update implements predicate.Predicate.
func (reservationTold) Update(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*conchv1.Reservation)
	n, okNew := e.ObjectNew.(*conchv1.Reservation)
	if !okOld || !okNew {
		return true
	}
	a, b := &o.Status, &n.Status
	return a.State != b.State || a.ResourceName != b.ResourceName || a.Ticket != b.Ticket ||
		!microEqual(a.GrantedAt, b.GrantedAt) || !microEqual(a.ExpiresAt, b.ExpiresAt)
}

// Create implements predicate.Predicate.
func (reservationTold) Create(event.CreateEvent) bool { return true }

// Delete implements predicate.Predicate.
func (reservationTold) Delete(event.DeleteEvent) bool { return false }

// Generic implements predicate.Predicate.
func (reservationTold) Generic(event.GenericEvent) bool { return true }

func microEqual(a, b *metav1.MicroTime) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// resourceTold passes the changes of a Resource that can make an event due: its Paused and Healthy conditions.
type resourceTold struct{ predicate.Funcs }

// Update implements predicate.Predicate.
func (resourceTold) Update(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*conchv1.Resource)
	n, okNew := e.ObjectNew.(*conchv1.Resource)
	if !okOld || !okNew {
		return true
	}
	for _, typ := range []string{conchv1.ResourceConditionPaused, conchv1.ResourceConditionHealthy} {
		a := meta.FindStatusCondition(o.Status.Conditions, typ)
		b := meta.FindStatusCondition(n.Status.Conditions, typ)
		if (a == nil) != (b == nil) || (a != nil && (a.Status != b.Status || !a.LastTransitionTime.Equal(&b.LastTransitionTime))) {
			return true
		}
	}
	return false
}

// Create implements predicate.Predicate.
func (resourceTold) Create(event.CreateEvent) bool { return true }

// Delete implements predicate.Predicate.
func (resourceTold) Delete(event.DeleteEvent) bool { return false }

// Generic implements predicate.Predicate.
func (resourceTold) Generic(event.GenericEvent) bool { return true }

var _ reconcile.Reconciler = reservations{}
