package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/queue"
)

// ReservationReconciler does what concerns a Reservation when no Resource decides about it: a Resource that does
// not exist (yet, or any more), and a pool that has no member for it. It never grants, and it never binds: a pooled
// Reservation waits in the queue of every member of its pool and is bound by the first that grants it.
type ReservationReconciler struct {
	// Client reads from the manager's cache and writes Reservations.
	client.Client
	// APIReader reads Resources from the API server before concluding that one does not exist: a Resource created
	// a moment ago may not be in the cache yet, and a cache miss is not a deletion.
	APIReader client.Reader
	// Recorder emits Events on Reservations.
	Recorder events.EventRecorder
	// Clock tells the time.
	Clock clock.PassiveClock
}

var _ reconcile.Reconciler = (*ReservationReconciler)(nil)

// The ReservationReconciler reads Reservations and Resources (the cache, and the API server before it concludes
// a Resource is gone), writes Reservation status, and patches a Reservation's metadata only to remove the
// finalizer of Conch before v0.2.
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations/status,verbs=patch
// +kubebuilder:rbac:groups=conch.dev,resources=resources,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile handles a Reservation whose Resource is missing or whose pool is empty.
func (r *ReservationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rsv := &conchv1.Reservation{}
	if err := r.Get(ctx, req.NamespacedName, rsv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if rsv.Status.State.IsFinal() && rsv.DeletionTimestamp == nil {
		return ctrl.Result{}, nil
	}
	// Step 1: a pooled Reservation not bound yet waits for the members of its pool; only an empty pool is ours.
	name := index.BoundResource(rsv)
	if name == "" {
		return ctrl.Result{}, r.pool(ctx, rsv)
	}
	// Step 2: while the bound Resource exists, the ResourceReconciler owns everything else. The cache is asked
	// first; a miss is confirmed with the API server.
	key := types.NamespacedName{Namespace: rsv.Namespace, Name: name}
	err := r.Get(ctx, key, &conchv1.Resource{})
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, &conchv1.Resource{})
	}
	if !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.resourceMissing(ctx, rsv, name)
}

// resourceMissing handles a Reservation whose Resource the API server says does not exist: it waits for it
// (Pending), returns to its pool, or, if it held the Resource, ends.
func (r *ReservationReconciler) resourceMissing(ctx context.Context, rsv *conchv1.Reservation, name string) error {
	now := r.Clock.Now()
	var st conchv1.ReservationStatus
	switch {
	case rsv.DeletionTimestamp != nil:
		return removeLegacyFinalizer(ctx, r.Client, rsv)
	case rsv.Status.State == conchv1.StateGranted:
		st = endedStatus(rsv, fmt.Sprintf("Resource %s was deleted while held; the hold ended", name), now)
	case rsv.Spec.Selector != nil:
		st = pendingStatus(rsv, conchv1.ReasonNoMatchingResource,
			fmt.Sprintf("Resource %s of the pool was deleted; waiting for another", name), now)
		st.ResourceName = ""
	default:
		st = pendingStatus(rsv, conchv1.ReasonResourceMissing,
			fmt.Sprintf("Resource %s does not exist; waiting for it to be created", name), now)
	}
	wrote, err := r.writeStatus(ctx, rsv, st)
	if wrote && st.State == conchv1.StateReleased {
		r.Recorder.Eventf(rsv, nil, corev1.EventTypeWarning, conchv1.ReasonResourceDeleted, "Release",
			"Resource %s was deleted while held; the hold ended", name)
		observeEnd(rsv.Namespace, conchv1.StateReleased, microOrZero(rsv.Status.GrantedAt), now)
	}
	return err
}

// pool handles a pooled Reservation that is not bound: when no Resource of its namespace matches its selector and
// allows its holder, it says so (Pending). Otherwise the members' ResourceReconcilers queue it.
func (r *ReservationReconciler) pool(ctx context.Context, rsv *conchv1.Reservation) error {
	if rsv.DeletionTimestamp != nil {
		return removeLegacyFinalizer(ctx, r.Client, rsv)
	}
	sel, err := metav1.LabelSelectorAsSelector(rsv.Spec.Selector)
	if err != nil {
		// The API server validates selectors, so this is a bug or a very old object: say so and stop.
		_, werr := r.writeStatus(ctx, rsv, pendingStatus(rsv, conchv1.ReasonNoMatchingResource,
			fmt.Sprintf("The selector is not valid: %v", err), r.Clock.Now()))
		return reconcile.TerminalError(werr)
	}
	matched, allowed, err := r.members(ctx, r.Client, rsv, sel)
	if err == nil && allowed == 0 {
		// The cache may not show a Resource created a moment ago: ask the API server before saying none matches.
		matched, allowed, err = r.members(ctx, r.APIReader, rsv, sel)
	}
	if err != nil || allowed > 0 {
		return err
	}
	msg := fmt.Sprintf("No Resource matches the selector %s; waiting for one", sel)
	if matched > 0 {
		msg = fmt.Sprintf("None of the %d Resources matching %s allows holder %s; waiting for one that does", matched, sel, rsv.Spec.Holder)
	}
	_, err = r.writeStatus(ctx, rsv, pendingStatus(rsv, conchv1.ReasonNoMatchingResource, msg, r.Clock.Now()))
	return err
}

// members counts the Resources of rsv's pool, and those of them that allow its holder, as c shows them.
func (r *ReservationReconciler) members(ctx context.Context, c client.Reader, rsv *conchv1.Reservation, sel interface{ String() string }) (matched, allowed int, err error) {
	var pool conchv1.ResourceList
	if err := c.List(ctx, &pool, client.InNamespace(rsv.Namespace)); err != nil {
		return 0, 0, err
	}
	for i := range pool.Items {
		res := &pool.Items[i]
		if res.DeletionTimestamp != nil || !queue.Matches(rsv, res) {
			continue
		}
		matched++
		if queue.Allows(res, rsv.Spec.Holder) {
			allowed++
		}
	}
	return matched, allowed, nil
}

// writeStatus writes st with a precondition on the version read: this reconciler's view may be older than a grant
// the ResourceReconciler just wrote, and must then lose. It reports whether it wrote.
func (r *ReservationReconciler) writeStatus(ctx context.Context, rsv *conchv1.Reservation, st conchv1.ReservationStatus) (bool, error) {
	if equality.Semantic.DeepEqual(st, rsv.Status) {
		return false, nil
	}
	patch := client.MergeFromWithOptions(rsv.DeepCopy(), client.MergeFromWithOptimisticLock{})
	rsv.Status = st
	if err := r.Status().Patch(ctx, rsv, patch); err != nil {
		return false, ignoreGone(err)
	}
	return true, nil
}

// SetupWithManager runs the reconciler for every Reservation, woken also when Resources appear, disappear or
// change labels: a new Resource may be the one a Reservation waits for or a pool member, a deleted one ends or
// returns its Reservations to their pools. A Resource's status changes (every grant) wake nothing here.
func (r *ReservationReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	labelsOrLife := predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return !equality.Semantic.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
				e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("reservation").
		For(&conchv1.Reservation{}).
		Watches(&conchv1.Resource{}, handler.EnqueueRequestsFromMapFunc(r.resourceToReservations), builder.WithPredicates(labelsOrLife)).
		WithOptions(opts).
		Complete(r)
}

// resourceToReservations maps a Resource to the Reservations bound to it and to the unbound pooled ones of its
// namespace.
func (r *ReservationReconciler) resourceToReservations(ctx context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, f := range []client.MatchingFields{{index.BoundResourceField: o.GetName()}, {index.UnboundPoolField: "true"}} {
		var list conchv1.ReservationList
		if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), f, client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Cannot list Reservations of a Resource")
			continue
		}
		for _, item := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&item)})
		}
	}
	return reqs
}

func microOrZero(t *metav1.MicroTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}
