package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
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
	"github.com/conch-dev/conch/internal/metrics"
	"github.com/conch-dev/conch/internal/queue"
)

// ResourceReconciler keeps a Resource's ledger: it is the one writer of the Resource's holders, queue and tickets,
// and of every change of state of the Reservations it decides about (granted, ended). Positions of waiting
// Reservations are refreshed by the PositionReconciler, off this path.
type ResourceReconciler struct {
	// Client reads Reservations from the manager's cache and writes status.
	client.Client
	// APIReader reads from the API server, never from the cache: the Resource (its ledger is the truth every
	// decision starts from) and any Reservation the engine needs confirmed.
	APIReader client.Reader
	// Recorder emits Events on Reservations (Granted, Released, Expired, Rejected).
	Recorder events.EventRecorder
	// Clock tells the time; tests inject a clock they can step.
	Clock clock.PassiveClock
	// Arrivals orders Reservations created within one second; SetupWithManager creates it when nil.
	Arrivals *Arrivals
}

var _ reconcile.Reconciler = (*ResourceReconciler)(nil)

// The ResourceReconciler reads Resources and Reservations (the cache, and the API server to confirm), writes the
// ledger (Resource status) and the decisions it reports (Reservation status), and patches a Reservation's
// metadata only to remove the finalizer of Conch before v0.2. Each component of the manager carries the markers
// for what it calls itself; test/rbac checks the generated role against the calls the manager makes.
// +kubebuilder:rbac:groups=conch.dev,resources=resources,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=resources/status,verbs=patch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// maxPasses bounds how often one Reconcile decides again after a write lost to a concurrent one (a conflict) or
// after reading what the engine asked to confirm. Beyond it the request is retried with backoff.
const maxPasses = 8

// Reconcile decides who holds a Resource and who waits. Every state-changing write carries a resourceVersion
// precondition, so that a decision taken on a stale view fails instead of granting twice; a conflict re-reads and
// decides again. It wakes itself at the next timed change.
func (r *ResourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var p pass
	for range maxPasses {
		next, err := r.pass(ctx, req, &p)
		if err == nil || !errors.Is(err, errDecideAgain) {
			return next, err
		}
	}
	return ctrl.Result{}, fmt.Errorf("the ledger of %s kept changing under %d decisions; retrying", req.Name, maxPasses)
}

// errDecideAgain ends a pass whose view turned out to be stale; the next pass starts from what it learned.
var errDecideAgain = errors.New("decide again")

// pass carries what one Reconcile learned from the API server across its passes. Its writes and reads run side
// by side (see each), so it is guarded.
type pass struct {
	mu sync.Mutex
	// live are Reservations read from the API server, which replace the cache's copies.
	live map[string]*conchv1.Reservation
	// gone are Reservations the API server says do not exist, by UID.
	gone map[types.UID]bool
}

// wrote remembers rsv as the API server answered a write of it: should this Reconcile decide again, it starts
// from that rather than from the cache, which has not seen the write yet.
func (p *pass) wrote(rsv *conchv1.Reservation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	p.live[rsv.Name] = rsv.DeepCopy()
}

func (p *pass) init() {
	if p.live == nil {
		p.live, p.gone = map[string]*conchv1.Reservation{}, map[types.UID]bool{}
	}
}

// learn reads the named Reservations from the API server. The ledger entries of res recorded under a name that
// the API server no longer has, or has under another UID, are gone: UIDs are never reused, so that stays true
// whatever happens to the name later in this Reconcile.
func (r *ResourceReconciler) learn(ctx context.Context, res *conchv1.Resource, names []string, p *pass) error {
	p.mu.Lock()
	p.init()
	p.mu.Unlock()
	return inParallel(len(names), func(i int) error {
		name := names[i]
		rsv := &conchv1.Reservation{}
		switch err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: res.Namespace, Name: name}, rsv); {
		case apierrors.IsNotFound(err):
			rsv = nil
		case err != nil:
			return err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.live[name] = rsv
		for _, uid := range ledgerUIDs(res, name) {
			if rsv == nil || rsv.UID != uid {
				p.gone[uid] = true
			}
		}
		return nil
	})
}

// inParallel runs f(0) … f(n-1), a few at a time (writes and reads of different objects that a step must all
// have done before the next), and returns the first error.
func inParallel(n int, f func(i int) error) error {
	if n == 1 {
		return f(0)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	slots := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil || (errors.Is(first, errDecideAgain) && !errors.Is(err, errDecideAgain)) {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// pass is one decision: read, decide, confirm what the engine asks, then write in the order that keeps the
// promise: ends, the ledger, grants.
func (r *ResourceReconciler) pass(ctx context.Context, req ctrl.Request, p *pass) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	res := &conchv1.Resource{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, res); err != nil {
		// A deleted Resource's Reservations are ended or re-bound by the ReservationReconciler, which watches Resources.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Step 1: decide on what the cache shows, then read from the API server whatever the engine cannot decide on
	// from a cache, and decide again.
	v, err := r.view(ctx, res, p)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := r.Clock.Now()
	if v.Usage, err = r.usage(ctx, res, now); err != nil {
		return ctrl.Result{}, err
	}
	plan := queue.Decide(v, now)
	if unread := unlearned(plan.Confirm, p); len(unread) > 0 {
		if err := r.learn(ctx, res, unread, p); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, errDecideAgain
	}
	byUID := make(map[types.UID]*conchv1.Reservation, len(v.Reservations))
	for i := range v.Reservations {
		byUID[v.Reservations[i].UID] = &v.Reservations[i]
	}

	// Step 2: bind the pooled Reservations about to be granted here, so that no other member takes them too.
	for _, o := range plan.Outcomes {
		if o.Bind {
			if err := r.bind(ctx, res, byUID[o.UID], p); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	// Step 3: the final states of the Reservations that leave the ledger, before the ledger lets them go: a
	// watcher never sees more Granted than capacity, and a crash in between leaves a known end.
	ends := outcomesWhere(plan.Outcomes, func(o queue.Outcome) bool { return o.State.IsFinal() })
	if err := inParallel(len(ends), func(i int) error { return r.report(ctx, res, byUID[ends[i].UID], ends[i], now, p) }); err != nil {
		return ctrl.Result{}, err
	}
	// Step 4: the ledger.
	if st := resourceStatus(res, &plan, now); !equality.Semantic.DeepEqual(st, res.Status) {
		patch := client.MergeFromWithOptions(res.DeepCopy(), client.MergeFromWithOptimisticLock{})
		res.Status = st
		if err := r.Status().Patch(ctx, res, patch); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{}, errDecideAgain
			}
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		log.V(1).Info("Recorded the ledger", "holders", st.HeldBy, "waiting", st.Waiting, "nextTicket", st.NextTicket)
	}
	// Step 5: tell the holders, and those left Pending, their state. A report that loses to another write (the
	// Reservation ended meanwhile) is decided again once the others are told.
	told := outcomesWhere(plan.Outcomes, func(o queue.Outcome) bool {
		return o.State == conchv1.StateGranted || o.State == conchv1.StatePending || toldWait(o, byUID[o.UID])
	})
	if err := inParallel(len(told), func(i int) error { return r.report(ctx, res, byUID[told[i].UID], told[i], now, p) }); err != nil {
		return ctrl.Result{}, err
	}
	// Step 6: let go of Reservations being deleted that still carry the finalizer of Conch before v0.2.
	for _, o := range plan.Outcomes {
		if rsv := byUID[o.UID]; o.Deleting && !o.Gone && rsv != nil {
			if err := removeLegacyFinalizer(ctx, r.Client, rsv); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	if plan.NextChange.IsZero() {
		return ctrl.Result{}, nil
	}
	// Never early: Decide re-checks the time at wake-up, and a wake-up a little late is retried by the next one.
	return ctrl.Result{RequeueAfter: max(plan.NextChange.Sub(r.Clock.Now()), time.Millisecond)}, nil
}

// outcomesWhere returns the outcomes that keep.
func outcomesWhere(all []queue.Outcome, keep func(queue.Outcome) bool) []queue.Outcome {
	var out []queue.Outcome
	for _, o := range all {
		if keep(o) {
			out = append(out, o)
		}
	}
	return out
}

// view gathers what the engine decides from: the Reservations bound to res, the unbound pooled ones of its
// namespace that match it, those its ledger names (from the cache), and whatever this Reconcile read from the API
// server instead.
func (r *ResourceReconciler) view(ctx context.Context, res *conchv1.Resource, p *pass) (queue.View, error) {
	v := queue.View{Resource: res, Fresh: map[types.UID]bool{}, Gone: p.gone}
	if r.Arrivals != nil {
		v.Arrival = r.Arrivals.Of
	}
	seen := map[string]bool{}
	add := func(rsv *conchv1.Reservation) {
		if seen[rsv.Name] {
			return
		}
		seen[rsv.Name] = true
		p.mu.Lock()
		live, ok := p.live[rsv.Name]
		p.mu.Unlock()
		if ok {
			if live == nil {
				return
			}
			rsv = live
			v.Fresh[rsv.UID] = true
		}
		v.Reservations = append(v.Reservations, *rsv)
	}
	var bound, pooled conchv1.ReservationList
	if err := r.List(ctx, &bound, client.InNamespace(res.Namespace), client.MatchingFields{index.BoundResourceField: res.Name}); err != nil {
		return v, err
	}
	if err := r.List(ctx, &pooled, client.InNamespace(res.Namespace), client.MatchingFields{index.UnboundPoolField: "true"}); err != nil {
		return v, err
	}
	for i := range bound.Items {
		add(&bound.Items[i])
	}
	for i := range pooled.Items {
		if queue.Matches(&pooled.Items[i], res) {
			add(&pooled.Items[i])
		}
	}
	named := func(name, uid string) error {
		if seen[name] {
			return nil
		}
		rsv := &conchv1.Reservation{}
		err := r.Get(ctx, types.NamespacedName{Namespace: res.Namespace, Name: name}, rsv)
		switch {
		case apierrors.IsNotFound(err):
			p.mu.Lock()
			live := p.live[name]
			p.mu.Unlock()
			if live != nil {
				add(live)
			}
			return nil
		case err != nil:
			return err
		}
		add(rsv)
		return nil
	}
	for _, h := range res.Status.Holders {
		if err := named(h.Reservation, h.UID); err != nil {
			return v, err
		}
	}
	for _, q := range res.Status.Queue {
		if err := named(q.Reservation, q.UID); err != nil {
			return v, err
		}
	}
	return v, nil
}

// ledgerUIDs returns the UIDs the ledger records under a Reservation's name.
func ledgerUIDs(res *conchv1.Resource, name string) []types.UID {
	var out []types.UID
	for _, h := range res.Status.Holders {
		if h.Reservation == name {
			out = append(out, types.UID(h.UID))
		}
	}
	for _, q := range res.Status.Queue {
		if q.Reservation == name && q.UID != "" {
			out = append(out, types.UID(q.UID))
		}
	}
	return out
}

// unlearned returns the names in confirm that this Reconcile has not read from the API server yet.
func unlearned(confirm []string, p *pass) []string {
	var out []string
	for _, name := range confirm {
		if _, ok := p.live[name]; !ok {
			out = append(out, name)
		}
	}
	return out
}

// bind records in a pooled Reservation's status that it is bound to res. The write's precondition is the version
// the engine decided on: if another member bound it meanwhile, the write fails and the next pass sees where.
func (r *ResourceReconciler) bind(ctx context.Context, res *conchv1.Resource, rsv *conchv1.Reservation, p *pass) error {
	st := *rsv.Status.DeepCopy()
	st.ResourceName, st.ResourceUID = res.Name, string(res.UID)
	if err := r.writeStatus(ctx, res, rsv, st, p); err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Bound to a Resource of the pool", "reservation", klog.KObj(rsv))
	return nil
}

// writeStatus writes st as rsv's status, with a precondition on the version the engine decided on. A write that
// loses to another reads the Reservation from the API server and ends the pass (errDecideAgain), so that the
// engine decides again on what it really is.
func (r *ResourceReconciler) writeStatus(ctx context.Context, res *conchv1.Resource, rsv *conchv1.Reservation, st conchv1.ReservationStatus, p *pass) error {
	patch := client.MergeFromWithOptions(rsv.DeepCopy(), client.MergeFromWithOptimisticLock{})
	rsv.Status = st
	if err := r.Status().Patch(ctx, rsv, patch); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			if err := r.learn(ctx, res, []string{rsv.Name}, p); err != nil {
				return err
			}
			return errDecideAgain
		}
		return err
	}
	p.wrote(rsv)
	return nil
}

// report writes the status the outcome o gives rsv, when it differs from what rsv says, with a precondition on the
// version the engine decided on, and emits an Event and metrics for a change of state. A write that loses to
// another reads the Reservation from the API server and ends the pass, so that the engine decides again on it.
// Nothing is written to a Reservation being deleted or gone.
func (r *ResourceReconciler) report(ctx context.Context, res *conchv1.Resource, rsv *conchv1.Reservation, o queue.Outcome, now time.Time, p *pass) error {
	if o.Deleting || rsv == nil {
		if o.State == conchv1.StateReleased && o.Reason == conchv1.ReasonDeleted && !o.GrantedAt.IsZero() {
			r.Recorder.Eventf(res, nil, corev1.EventTypeNormal, conchv1.ReasonReleased, "Release",
				"Reservation %s was deleted while holding %s; released it", o.Name, res.Name)
			observeEnd(res.Namespace, conchv1.StateReleased, o.GrantedAt, now)
		}
		return nil
	}
	if rsv.Status.State.IsFinal() {
		return nil // final is final
	}
	st := reservationStatus(rsv, res, o, now)
	if equality.Semantic.DeepEqual(st, rsv.Status) {
		return nil
	}
	before := rsv.Status.State
	wasPreempting := condReason(rsv.Status, conchv1.ConditionGranted) == conchv1.ReasonPreempting
	if err := r.writeStatus(ctx, res, rsv, st, p); err != nil {
		return err
	}
	if before != st.State {
		r.recordChange(ctx, res, rsv, o, st, now)
	}
	if o.Reason == conchv1.ReasonPreempting && !wasPreempting {
		r.Recorder.Eventf(rsv, res, corev1.EventTypeWarning, conchv1.ReasonPreempting, "Preempt",
			"%s (priority %d) takes %s from %s for: %s; the hold ends at %s", o.Preemption.Holder,
			priorityOfHolder(res, o.Preemption.Reservation), res.Name, rsv.Spec.Holder, o.Preemption.Reason,
			formatTime(o.Preemption.EndsAt.Time))
	}
	return nil
}

// toldWait reports whether the resource controller reports the waiting outcome o itself: when the engine knows more
// than its turn (over a limit, waiting for a booking to end, a booking that could not move), or no longer does
// and the Reservation still says so. Plain turns are the PositionReconciler's, off the grant path.
func toldWait(o queue.Outcome, rsv *conchv1.Reservation) bool {
	if o.State != conchv1.StateQueued || rsv == nil {
		return false
	}
	return o.Reason == conchv1.ReasonOverLimit || o.Reason == conchv1.ReasonWaitingForBooking || o.Conflict != "" ||
		decidedWait(rsv)
}

// priorityOfHolder is the priority with which the Reservation name waits in res's queue.
func priorityOfHolder(res *conchv1.Resource, name string) int32 {
	for _, q := range res.Status.Queue {
		if q.Reservation == name {
			return q.Priority
		}
	}
	return 0
}

// condReason is the reason of st's condition typ, or "".
func condReason(st conchv1.ReservationStatus, typ string) string {
	if c := meta.FindStatusCondition(st.Conditions, typ); c != nil {
		return c.Reason
	}
	return ""
}

// recordChange emits the Event and metrics of a Reservation's change of state, where people act on them: grants
// and ends.
func (r *ResourceReconciler) recordChange(ctx context.Context, res *conchv1.Resource, rsv *conchv1.Reservation, o queue.Outcome, st conchv1.ReservationStatus, now time.Time) {
	ctrl.LoggerFrom(ctx).V(1).Info("Reservation changed state", "reservation", klog.KObj(rsv), "to", st.State)
	msg := condMessage(st, conchv1.ConditionReady)
	switch st.State {
	case conchv1.StateGranted:
		r.Recorder.Eventf(rsv, res, corev1.EventTypeNormal, conchv1.ReasonGranted, "Grant", "%s", condMessage(st, conchv1.ConditionGranted))
		if o.Jumped > 0 {
			r.Recorder.Eventf(rsv, res, corev1.EventTypeNormal, conchv1.ReasonQueueJumped, "Grant",
				"%s went ahead of %d who arrived earlier, by priority %d: %s", rsv.Spec.Holder, o.Jumped, o.Priority, rsv.Spec.Reason)
		}
		metrics.Grants.WithLabelValues(rsv.Namespace).Inc()
		metrics.WaitSeconds.WithLabelValues(rsv.Namespace).Observe(o.GrantedAt.Sub(rsv.CreationTimestamp.Time).Seconds())
	case conchv1.StateExpired:
		if o.Reason == conchv1.ReasonHeartbeatMissed {
			r.Recorder.Eventf(rsv, res, corev1.EventTypeWarning, conchv1.ReasonHeartbeatMissed, "Expire", "%s", msg)
		} else {
			r.Recorder.Eventf(rsv, res, corev1.EventTypeNormal, conchv1.ReasonExpired, "Expire", "%s", msg)
		}
		metrics.Expirations.WithLabelValues(rsv.Namespace).Inc()
		observeEnd(rsv.Namespace, st.State, o.GrantedAt, now)
	case conchv1.StateReleased:
		reason := conchv1.ReasonReleased
		if o.Reason == conchv1.ReasonHolderFinished || o.Reason == conchv1.ReasonHolderDeleted {
			reason = o.Reason // the Event says the holding object ended, not that someone let go
		}
		r.Recorder.Eventf(rsv, res, corev1.EventTypeNormal, reason, "Release", "%s", msg)
		observeEnd(rsv.Namespace, st.State, o.GrantedAt, now)
	case conchv1.StateRejected:
		r.Recorder.Eventf(rsv, res, corev1.EventTypeWarning, o.Reason, "Reject", "%s", msg)
		observeEnd(rsv.Namespace, st.State, o.GrantedAt, now)
	}
}

// SetupWithManager runs the reconciler for every Resource, woken by changes to the Resource's spec and to any
// Reservation bound to it or, pooled and unbound, matching it. At start, Resources with holds already due come
// first (see resourceEvents).
func (r *ResourceReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if r.Arrivals == nil {
		r.Arrivals = NewArrivals()
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("resource").
		Watches(&conchv1.Resource{}, resourceEvents{clock: r.Clock},
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, unblocked{}))).
		Watches(&conchv1.Reservation{}, reservationEvents{c: mgr.GetClient(), arrivals: r.Arrivals},
			builder.WithPredicates(decidable{})).
		Watches(&conchv1.Resource{}, handler.EnqueueRequestsFromMapFunc(scopePeers(mgr.GetClient())),
			builder.WithPredicates(holdsChanged{})).
		WithOptions(opts).
		Complete(r)
}

// unblocked passes the changes of a Resource's status that let its queue move on: a turnover step that ended
// (or gave way to the next), and a change of its Healthy condition (a repair, a check that passed).
type unblocked struct{ predicate.Funcs }

// Update implements predicate.Predicate.
func (unblocked) Update(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*conchv1.Resource)
	n, okNew := e.ObjectNew.(*conchv1.Resource)
	if !okOld || !okNew {
		return false
	}
	if o.Status.Turnover != nil && (n.Status.Turnover == nil || n.Status.Turnover.Sequence != o.Status.Turnover.Sequence) {
		return true
	}
	a := meta.FindStatusCondition(o.Status.Conditions, conchv1.ResourceConditionHealthy)
	b := meta.FindStatusCondition(n.Status.Conditions, conchv1.ResourceConditionHealthy)
	return (a == nil) != (b == nil) || (a != nil && a.Status != b.Status)
}

// Create implements predicate.Predicate.
func (unblocked) Create(event.CreateEvent) bool { return false }

// Delete implements predicate.Predicate.
func (unblocked) Delete(event.DeleteEvent) bool { return false }

// Generic implements predicate.Predicate.
func (unblocked) Generic(event.GenericEvent) bool { return false }

// decidable passes the changes of a Reservation that its Resource decides on: its creation and deletion, a new
// spec (release, extension, renewal), a binding to a pool member, and an end written by someone else. A report
// the controller itself wrote (Granted, Queued, a position) wakes nothing: each grant would otherwise cost one more
// reconcile and one more read of the Resource.
type decidable struct{ predicate.Funcs }

// Update implements predicate.Predicate.
func (decidable) Update(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*conchv1.Reservation)
	n, okNew := e.ObjectNew.(*conchv1.Reservation)
	if !okOld || !okNew {
		return true
	}
	return o.Generation != n.Generation || !o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
		o.Status.ResourceName != n.Status.ResourceName || o.Status.State.IsFinal() != n.Status.State.IsFinal()
}

// Create implements predicate.Predicate.
func (decidable) Create(event.CreateEvent) bool { return true }

// Delete implements predicate.Predicate.
func (decidable) Delete(event.DeleteEvent) bool { return true }

// Generic implements predicate.Predicate.
func (decidable) Generic(event.GenericEvent) bool { return true }
