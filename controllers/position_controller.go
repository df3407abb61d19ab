package controllers

import (
	"context"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
)

// PositionReconciler tells waiting Reservations where they stand: state Queued, their ticket, their position and
// when they can expect their turn, all derived from their Resource's ledger. It runs beside the
// ResourceReconciler, on its own work queue, so that a grant never waits behind these writes, and it refreshes each
// Resource's queue at most once per Every: while a queue drains fast, a handover costs a few writes rather than one
// per waiting Reservation. Everything it writes is a report that may lag the ledger by up to Every; a write whose
// precondition fails (the Reservation changed, perhaps it was granted) is dropped and redone from the next look.
type PositionReconciler struct {
	// Client reads Resources and Reservations from the manager's cache and writes status.
	client.Client
	// Clock tells the time.
	Clock clock.PassiveClock
	// Every is the least time between two refreshes of one Resource's queue; DefaultPositionRefresh when zero.
	Every time.Duration

	// last remembers when each Resource's queue was last refreshed. Lost on restart, which only means one refresh
	// at once.
	last sync.Map
}

// DefaultPositionRefresh is how often, at most, the waiting Reservations of one Resource are rewritten.
const DefaultPositionRefresh = 2 * time.Second

var _ reconcile.Reconciler = (*PositionReconciler)(nil)

// The PositionReconciler reads Resources and Reservations from the cache and writes the waiting Reservations'
// positions and estimates (status).
// +kubebuilder:rbac:groups=conch.dev,resources=resources,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations/status,verbs=patch

// Reconcile refreshes the waiting Reservations of one Resource.
func (r *PositionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	every := r.Every
	if every <= 0 {
		every = DefaultPositionRefresh
	}
	now := r.Clock.Now()
	if last, ok := r.last.Load(req.NamespacedName); ok {
		if wait := last.(time.Time).Add(every).Sub(now); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	res := &conchv1.Resource{}
	if err := r.Get(ctx, req.NamespacedName, res); err != nil {
		r.last.Delete(req.NamespacedName)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.last.Store(req.NamespacedName, now)
	turns := queue.Estimate(res, queue.LedgerOf(res), now)
	retry := false
	for i, q := range res.Status.Queue {
		rsv := &conchv1.Reservation{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: res.Namespace, Name: q.Reservation}, rsv); err != nil {
			if !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
			retry = true // the cache is behind the ledger, or it is gone: look again
			continue
		}
		if string(rsv.UID) != q.UID {
			retry = true
			continue
		}
		if rsv.DeletionTimestamp != nil || rsv.Status.State.IsFinal() || rsv.Status.State == conchv1.StateGranted || decidedWait(rsv) {
			continue
		}
		o := queuedOutcome(res, rsv, q, turns.Positions[i], res.Status.Waiting, turns.Turns[i])
		on := res
		if rsv.Spec.Selector != nil && rsv.Status.ResourceName == "" {
			best, err := r.bestOfPool(ctx, rsv, now)
			if err != nil {
				return ctrl.Result{}, err
			}
			if best.res == nil || best.res.Name != res.Name {
				continue // the member where it stands best refreshes it
			}
		} else if rsv.Status.ResourceName != "" && rsv.Status.ResourceName != res.Name {
			continue
		}
		wrote, err := r.write(ctx, on, rsv, o, now)
		if err != nil {
			return ctrl.Result{}, err
		}
		retry = retry || !wrote
	}
	if retry {
		return ctrl.Result{RequeueAfter: every}, nil
	}
	return ctrl.Result{}, nil
}

// queuedOutcome is the report of the waiting Reservation rsv, entry q of res's queue.
func queuedOutcome(res *conchv1.Resource, rsv *conchv1.Reservation, q conchv1.QueueEntry, pos, waiting int32, turn time.Time) queue.Outcome {
	dur, requested, clamped := queue.Term(res, rsv)
	o := queue.Outcome{
		Name: rsv.Name, UID: rsv.UID, State: conchv1.StateQueued, Reason: conchv1.ReasonQueued, Ticket: q.Ticket,
		Position: pos, Waiting: waiting, EstimatedGrantTime: turn, Duration: dur, Requested: requested, Clamped: clamped,
		Priority: q.Priority,
	}
	if q.StartTime != nil {
		o.Reason = conchv1.ReasonBooked
		o.BookedStart, o.BookedEnd = q.StartTime.Time, queue.CeilMicro(q.StartTime.Add(q.Duration.Duration))
	}
	return o
}

// decidedWait reports whether the Resource's controller reported rsv as waiting for more than its turn (over a
// limit, for a booking to end, or a booking it could not move): the refresh of positions keeps that report, which
// only the engine can make, and leaves the next change of it to the engine.
func decidedWait(rsv *conchv1.Reservation) bool {
	c := meta.FindStatusCondition(rsv.Status.Conditions, conchv1.ConditionReady)
	if c == nil {
		return false
	}
	switch c.Reason {
	case conchv1.ReasonOverLimit, conchv1.ReasonWaitingForBooking:
		return true
	}
	return c.Reason == conchv1.ReasonBooked && strings.HasPrefix(condMessage(rsv.Status, conchv1.ConditionStalled), "It stays at")
}

// write patches rsv's status to report o, with a precondition on the version read. It reports false when the
// write lost to another (to be redone from a fresher look).
func (r *PositionReconciler) write(ctx context.Context, res *conchv1.Resource, rsv *conchv1.Reservation, o queue.Outcome, now time.Time) (bool, error) {
	st := reservationStatus(rsv, res, o, now)
	if rsv.Spec.Selector != nil && rsv.Status.ResourceName == "" {
		// Pooled and not bound: it waits on every member, and only the grant binds it.
		st.ResourceName, st.ResourceUID, st.Ticket = "", "", 0
	}
	if equality.Semantic.DeepEqual(st, rsv.Status) {
		return true, nil
	}
	patch := client.MergeFromWithOptions(rsv.DeepCopy(), client.MergeFromWithOptimisticLock{})
	rsv.Status = st
	if err := r.Status().Patch(ctx, rsv, patch); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// poolTurn is where a pooled Reservation stands in one member's queue.
type poolTurn struct {
	res  *conchv1.Resource
	turn time.Time
}

// bestOfPool returns the member of rsv's pool whose queue would grant it first (an earlier estimate wins, paused
// members lose, names break ties).
func (r *PositionReconciler) bestOfPool(ctx context.Context, rsv *conchv1.Reservation, now time.Time) (poolTurn, error) {
	var pool conchv1.ResourceList
	if err := r.List(ctx, &pool, client.InNamespace(rsv.Namespace)); err != nil {
		return poolTurn{}, err
	}
	var best poolTurn
	for i := range pool.Items {
		res := &pool.Items[i]
		if !queue.Matches(rsv, res) {
			continue
		}
		for j, q := range res.Status.Queue {
			if q.UID != string(rsv.UID) {
				continue
			}
			t := queue.Estimate(res, queue.LedgerOf(res), now).Turns[j]
			if best.res == nil || better(t, res.Name, best.turn, best.res.Name) {
				best = poolTurn{res: res, turn: t}
			}
		}
	}
	return best, nil
}

// better orders pool candidates: an earlier turn wins, never (zero) loses, and names break ties.
func better(at time.Time, name string, bestAt time.Time, bestName string) bool {
	switch {
	case at.IsZero() != bestAt.IsZero():
		return bestAt.IsZero()
	case !at.Equal(bestAt):
		return at.Before(bestAt)
	}
	return name < bestName
}

// SetupWithManager runs the reconciler for every Resource whose status or spec changes.
func (r *PositionReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("positions").
		For(&conchv1.Resource{}).
		WithOptions(opts).
		Complete(r)
}
