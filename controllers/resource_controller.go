package controllers

import (
	"context"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/metrics"
	"github.com/conch-dev/conch/internal/queue"
)

// ResourceReconciler makes every grant decision for a Resource: it is the one writer of the Resource's holders and
// of the state of every Reservation bound to it.
type ResourceReconciler struct {
	// Client reads Reservations from the manager's cache and writes status.
	client.Client
	// APIReader reads the Resource itself from the API server, never from the cache: the holders it records are
	// the truth every decision starts from, and a stale copy could hide a hold.
	APIReader client.Reader
	// Recorder emits Events on Reservations (Granted, Queued, Released, Expired, Rejected).
	Recorder events.EventRecorder
	// Clock tells the time; tests inject a clock they can step.
	Clock clock.PassiveClock

	// refreshed remembers, per Resource, when its waiting Reservations were last rewritten (see queueRefresh).
	// Lost on restart, which only means one refresh at once.
	refreshed sync.Map
}

var _ reconcile.Reconciler = (*ResourceReconciler)(nil)

// +kubebuilder:rbac:groups=conch.dev,resources=resources,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=resources/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=get;list;watch;patch;update
// +kubebuilder:rbac:groups=conch.dev,resources=reservations/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile decides who holds a Resource and who waits, in three writes at most: the Resource's status first (with
// optimistic concurrency, so that a stale decision fails instead of granting twice), then the status of each
// Reservation whose state changed, then the finalizers of Reservations being deleted. It wakes itself at the next
// expiry.
func (r *ResourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)

	res := &conchv1.Resource{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, res); err != nil {
		// A deleted Resource's Reservations are ended or re-bound by the ReservationReconciler, which watches Resources.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var list conchv1.ReservationList
	if err := r.List(ctx, &list, client.InNamespace(res.Namespace), client.MatchingFields{index.BoundResourceField: res.Name}); err != nil {
		return ctrl.Result{}, err
	}

	now := r.Clock.Now()
	plan := queue.Decide(res, list.Items, now)

	// Step 1: record the holders. Everything after this only reports what is recorded here.
	if st := resourceStatus(res, &plan, now); !equality.Semantic.DeepEqual(st, res.Status) {
		patch := client.MergeFromWithOptions(res.DeepCopy(), client.MergeFromWithOptimisticLock{})
		res.Status = st
		if err := r.Status().Patch(ctx, res, patch); err != nil {
			return ctrl.Result{}, err
		}
		log.V(1).Info("Recorded holders", "holders", st.HeldBy, "waiting", st.Waiting)
	}

	// Step 2: tell each Reservation its state.
	byName := make(map[string]*conchv1.Reservation, len(list.Items))
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	// Ends first, then grants: whoever watches the Reservations never sees more of them Granted than the
	// Resource has room for, not even between two writes. Then the waiting ones' positions and estimates, which
	// move for everyone at every handover: while a queue drains fast they are refreshed at most once per
	// queueRefresh, so a handover costs a few writes rather than one per waiting Reservation.
	refresh := r.positionsDue(req.NamespacedName, now)
	deferred := false
	for _, o := range reportOrder(plan.Outcomes) {
		rsv := byName[o.Name]
		if !refresh && o.State == conchv1.StateQueued && rsv.Status.State == conchv1.StateQueued {
			deferred = true
			continue
		}
		if err := r.report(ctx, res, rsv, o, now); err != nil {
			return ctrl.Result{}, err
		}
	}
	if refresh {
		r.refreshed.Store(req.NamespacedName, now)
	}

	// Step 3: let go of Reservations being deleted, now that the Resource no longer lists them.
	for _, o := range plan.Outcomes {
		if rsv := byName[o.Name]; o.Deleting && controllerutil.ContainsFinalizer(rsv, conchv1.ReservationFinalizer) {
			if err := removeFinalizer(ctx, r.Client, rsv); err != nil {
				return ctrl.Result{}, err
			}
		}
	}

	next := plan.NextChange
	if deferred {
		next = earliest(next, now.Add(queueRefresh))
	}
	if next.IsZero() {
		return ctrl.Result{}, nil
	}
	// Never early: Decide re-checks the time at wake-up, and a wake-up a little late is retried by the next one.
	return ctrl.Result{RequeueAfter: max(next.Sub(r.Clock.Now()), time.Millisecond)}, nil
}

// queueRefresh is how often, at most, the positions and estimates of a Resource's waiting Reservations are
// rewritten while its queue moves.
const queueRefresh = time.Second

// positionsDue reports whether the waiting Reservations of a Resource may be rewritten now.
func (r *ResourceReconciler) positionsDue(key types.NamespacedName, now time.Time) bool {
	last, ok := r.refreshed.Load(key)
	return !ok || now.Sub(last.(time.Time)) >= queueRefresh
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// report writes the status the outcome o gives rsv, when it differs from what rsv says, and emits an Event and
// metrics for a change of state. A deleted Reservation is not written: it is about to go.
func (r *ResourceReconciler) report(ctx context.Context, res *conchv1.Resource, rsv *conchv1.Reservation, o queue.Outcome, now time.Time) error {
	if o.Deleting {
		if o.State == conchv1.StateReleased && rsv.Status.State == conchv1.StateGranted {
			r.Recorder.Eventf(rsv, res, corev1.EventTypeNormal, conchv1.ReasonReleased, "Release",
				"Deleted while holding %s; released it", res.Name)
			observeEnd(rsv.Namespace, conchv1.StateReleased, o.GrantedAt, now)
		}
		return nil
	}
	st := reservationStatus(rsv, res, o, now)
	if equality.Semantic.DeepEqual(st, rsv.Status) {
		return nil
	}
	before := rsv.Status.State
	patch := client.MergeFrom(rsv.DeepCopy())
	rsv.Status = st
	if err := r.Status().Patch(ctx, rsv, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if before == st.State {
		return nil
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Reservation changed state", "reservation", klog.KObj(rsv), "from", before, "to", st.State)
	msg := condMessage(st)
	switch st.State {
	case conchv1.StateGranted:
		r.Recorder.Eventf(rsv, res, corev1.EventTypeNormal, conchv1.ReasonGranted, "Grant", "%s", msg)
		metrics.Grants.WithLabelValues(rsv.Namespace).Inc()
		metrics.WaitSeconds.WithLabelValues(rsv.Namespace).Observe(o.GrantedAt.Sub(rsv.CreationTimestamp.Time).Seconds())
	case conchv1.StateQueued:
		r.Recorder.Eventf(rsv, res, corev1.EventTypeNormal, conchv1.ReasonQueued, "Queue", "%s", msg)
	case conchv1.StateExpired:
		if o.Reason == conchv1.ReasonHeartbeatMissed {
			r.Recorder.Eventf(rsv, res, corev1.EventTypeWarning, conchv1.ReasonHeartbeatMissed, "Expire", "%s", msg)
		} else {
			r.Recorder.Eventf(rsv, res, corev1.EventTypeNormal, conchv1.ReasonExpired, "Expire", "%s", msg)
		}
		metrics.Expirations.WithLabelValues(rsv.Namespace).Inc()
		observeEnd(rsv.Namespace, st.State, o.GrantedAt, now)
	case conchv1.StateReleased:
		r.Recorder.Eventf(rsv, res, corev1.EventTypeNormal, conchv1.ReasonReleased, "Release", "%s", msg)
		observeEnd(rsv.Namespace, st.State, o.GrantedAt, now)
	case conchv1.StateRejected:
		r.Recorder.Eventf(rsv, res, corev1.EventTypeWarning, o.Reason, "Reject", "%s", msg)
		observeEnd(rsv.Namespace, st.State, o.GrantedAt, now)
	}
	return nil
}

// reportOrder returns the outcomes with final states first, then grants, then the rest, each group in arrival
// order.
func reportOrder(outcomes []queue.Outcome) []queue.Outcome {
	rank := func(o queue.Outcome) int {
		switch {
		case o.State.IsFinal():
			return 0
		case o.State == conchv1.StateGranted:
			return 1
		}
		return 2
	}
	out := slices.Clone(outcomes)
	slices.SortStableFunc(out, func(a, b queue.Outcome) int { return rank(a) - rank(b) })
	return out
}

// SetupWithManager runs the reconciler for every Resource, woken by changes to the Resource's spec and to any
// Reservation bound to it.
func (r *ResourceReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("resource").
		For(&conchv1.Resource{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&conchv1.Reservation{}, handler.EnqueueRequestsFromMapFunc(reservationToResource)).
		WithOptions(opts).
		Complete(r)
}

// reservationToResource maps a Reservation to the Resource it is bound to.
func reservationToResource(_ context.Context, o client.Object) []reconcile.Request {
	name := index.BoundResource(o.(*conchv1.Reservation))
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}
