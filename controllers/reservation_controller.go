package controllers

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/queue"
)

// ReservationReconciler does what concerns a Reservation before and after its Resource: it adds the finalizer,
// binds a pooled Reservation to a Resource of the pool, and handles a Resource that does not exist (yet, or any
// more). It never grants: that is the ResourceReconciler's alone.
type ReservationReconciler struct {
	// Client reads from the manager's cache and writes Reservations.
	client.Client
	// APIReader lists the Resources of a pool from the API server when binding: a Resource created a moment ago
	// and not yet in the cache would otherwise be passed over for good, since a binding stays.
	APIReader client.Reader
	// Recorder emits Events on Reservations.
	Recorder events.EventRecorder
	// Clock tells the time.
	Clock clock.PassiveClock

	// binding serialises pool binding and remembers bindings this reconciler wrote that the cache may not show
	// yet, so that two Reservations arriving together are not both bound to the same free Resource.
	binding  sync.Mutex
	inflight map[types.UID]inflightBinding
}

// inflightBinding is a binding written but perhaps not yet in the cache.
type inflightBinding struct {
	rsv conchv1.Reservation // as written, with status.resourceName set
	at  time.Time
}

// inflightTTL bounds how long a binding is assumed missing from the cache; the cache is normally milliseconds
// behind.
const inflightTTL = time.Minute

var _ reconcile.Reconciler = (*ReservationReconciler)(nil)

// Reconcile takes a Reservation to the point where its Resource's reconciler takes over.
func (r *ReservationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rsv := &conchv1.Reservation{}
	if err := r.Get(ctx, req.NamespacedName, rsv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting, final := rsv.DeletionTimestamp != nil, rsv.Status.State.IsFinal()

	// Step 1: the finalizer, so that deleting a granted Reservation releases it. Final ones hold nothing.
	if !deleting && !final && !controllerutil.ContainsFinalizer(rsv, conchv1.ReservationFinalizer) {
		patch := client.MergeFrom(rsv.DeepCopy())
		controllerutil.AddFinalizer(rsv, conchv1.ReservationFinalizer)
		if err := r.Patch(ctx, rsv, patch); err != nil {
			return ctrl.Result{}, ignoreGone(err)
		}
	}

	// Step 2: a pooled Reservation not bound yet picks its Resource.
	name := index.BoundResource(rsv)
	if name == "" {
		switch {
		case deleting:
			return ctrl.Result{}, removeFinalizer(ctx, r.Client, rsv)
		case final:
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, r.bind(ctx, rsv)
	}

	// Step 3: while the bound Resource exists, the ResourceReconciler owns everything else.
	err := r.Get(ctx, types.NamespacedName{Namespace: rsv.Namespace, Name: name}, &conchv1.Resource{})
	if !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.resourceMissing(ctx, rsv, name)
}

// resourceMissing handles a Reservation whose Resource does not exist: it waits for it (Pending), picks another of
// its pool, or, if it held the Resource, ends.
func (r *ReservationReconciler) resourceMissing(ctx context.Context, rsv *conchv1.Reservation, name string) error {
	now := r.Clock.Now()
	var st conchv1.ReservationStatus
	switch {
	case rsv.DeletionTimestamp != nil:
		return removeFinalizer(ctx, r.Client, rsv)
	case rsv.Status.State.IsFinal():
		return nil
	case rsv.Status.State == conchv1.StateGranted:
		st = endedStatus(rsv, fmt.Sprintf("Resource %s was deleted while held; the hold ended", name), now)
		r.Recorder.Eventf(rsv, nil, corev1.EventTypeWarning, conchv1.ReasonResourceDeleted, "Release",
			"Resource %s was deleted while held; the hold ended", name)
		observeEnd(rsv.Namespace, conchv1.StateReleased, microOrZero(rsv.Status.GrantedAt), now)
	case rsv.Spec.Selector != nil:
		st = pendingStatus(rsv, conchv1.ReasonNoMatchingResource,
			fmt.Sprintf("Resource %s of the pool was deleted; choosing another", name), now)
		st.ResourceName = ""
	default:
		st = pendingStatus(rsv, conchv1.ReasonResourceMissing,
			fmt.Sprintf("Resource %s does not exist; waiting for it to be created", name), now)
	}
	return r.writeStatus(ctx, rsv, st)
}

// bind chooses the Resource of the pool that would grant rsv soonest: a free one, else the one whose queue moves
// first; ties go to the first name. The choice is recorded in status.resourceName and never changes while the
// Resource exists. Resources whose allowedHolders exclude the holder are not candidates.
func (r *ReservationReconciler) bind(ctx context.Context, rsv *conchv1.Reservation) error {
	r.binding.Lock()
	defer r.binding.Unlock()
	if r.inflight == nil {
		r.inflight = map[types.UID]inflightBinding{}
	}
	now := r.Clock.Now()
	sel, err := metav1.LabelSelectorAsSelector(rsv.Spec.Selector)
	if err != nil {
		// The API server validates selectors, so this is a bug or a very old object: say so and stop.
		return reconcile.TerminalError(r.writeStatus(ctx, rsv, pendingStatus(rsv, conchv1.ReasonNoMatchingResource,
			fmt.Sprintf("The selector is not valid: %v", err), now)))
	}
	var pool conchv1.ResourceList
	if err := r.APIReader.List(ctx, &pool, client.InNamespace(rsv.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return err
	}
	type candidate struct {
		name string
		at   time.Time // when rsv would be granted; zero: never (paused)
	}
	var best *candidate
	rejected := 0
	for i := range pool.Items {
		res := &pool.Items[i]
		if res.DeletionTimestamp != nil {
			continue
		}
		var bound conchv1.ReservationList
		if err := r.List(ctx, &bound, client.InNamespace(res.Namespace), client.MatchingFields{index.BoundResourceField: res.Name}); err != nil {
			return err
		}
		plan := queue.Decide(res, append(r.withInflight(res.Name, bound.Items, now), *rsv), now)
		o, _ := plan.Outcome(rsv.Name)
		c := candidate{name: res.Name}
		switch o.State {
		case conchv1.StateRejected:
			rejected++
			continue
		case conchv1.StateGranted:
			c.at = now
		default:
			c.at = o.EstimatedGrantTime
		}
		if best == nil || better(c.at, c.name, best.at, best.name) {
			best = &c
		}
	}

	if best == nil {
		msg := fmt.Sprintf("No Resource matches the selector %s; waiting for one", sel)
		if rejected > 0 {
			msg = fmt.Sprintf("None of the %d Resources matching %s allows holder %s; waiting for one that does", rejected, sel, rsv.Spec.Holder)
		}
		return r.writeStatus(ctx, rsv, pendingStatus(rsv, conchv1.ReasonNoMatchingResource, msg, now))
	}
	st := *rsv.Status.DeepCopy()
	st.ResourceName = best.name
	ctrl.LoggerFrom(ctx).V(1).Info("Bound to a Resource of the pool", "resource", best.name)
	if err := r.writeStatus(ctx, rsv, st); err != nil {
		return err
	}
	r.inflight[rsv.UID] = inflightBinding{rsv: *rsv.DeepCopy(), at: now}
	return nil
}

// withInflight returns the Reservations bound to resource as the cache shows them, plus the bindings to it this
// reconciler wrote that the cache does not show yet. Bindings the cache shows, or that are too old, are forgotten.
func (r *ReservationReconciler) withInflight(resource string, cached []conchv1.Reservation, now time.Time) []conchv1.Reservation {
	seen := make(map[types.UID]bool, len(cached))
	for _, c := range cached {
		seen[c.UID] = true
	}
	out := slices.Clone(cached)
	for uid, b := range r.inflight {
		switch {
		case seen[uid] || now.Sub(b.at) > inflightTTL:
			delete(r.inflight, uid)
		case b.rsv.Status.ResourceName == resource:
			out = append(out, b.rsv)
		}
	}
	return out
}

// better orders pool candidates: an earlier grant wins, never (zero) loses, and names break ties.
func better(at time.Time, name string, bestAt time.Time, bestName string) bool {
	switch {
	case at.IsZero() != bestAt.IsZero():
		return bestAt.IsZero()
	case !at.Equal(bestAt):
		return at.Before(bestAt)
	}
	return name < bestName
}

// writeStatus writes st with optimistic concurrency: this reconciler's view may be older than a grant the
// ResourceReconciler just wrote, and must then lose.
func (r *ReservationReconciler) writeStatus(ctx context.Context, rsv *conchv1.Reservation, st conchv1.ReservationStatus) error {
	if equality.Semantic.DeepEqual(st, rsv.Status) {
		return nil
	}
	patch := client.MergeFromWithOptions(rsv.DeepCopy(), client.MergeFromWithOptimisticLock{})
	rsv.Status = st
	return ignoreGone(r.Status().Patch(ctx, rsv, patch))
}

// SetupWithManager runs the reconciler for every Reservation, woken also by Resources: a new Resource may be the
// one a Reservation waits for or a pool member, a deleted one ends or re-binds its Reservations.
func (r *ReservationReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("reservation").
		For(&conchv1.Reservation{}).
		Watches(&conchv1.Resource{}, handler.EnqueueRequestsFromMapFunc(r.resourceToReservations)).
		WithOptions(opts).
		Complete(r)
}

// resourceToReservations maps a Resource to the Reservations bound to it and to the unbound pooled ones of its
// namespace.
func (r *ReservationReconciler) resourceToReservations(ctx context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, f := range []client.MatchingFields{{index.BoundResourceField: o.GetName()}, {index.UnboundPoolField: "true"}} {
		var list conchv1.ReservationList
		if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), f); err != nil {
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
