package history

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/index"
)

// DefaultEvery is the least time between two writes of one Resource's history.
const DefaultEvery = 5 * time.Second

// Recorder copies every Reservation that ends into its Resource's history ConfigMap. It runs on the leader only,
// beside the controllers and never in their way: it watches Reservations through the manager's cache, collects
// the ended ones per Resource, and writes each Resource's ConfigMap at most once per Every, with a
// resourceVersion precondition (two managers may overlap while leadership changes hands; the loser of a race
// reads again and merges). A Reservation deleted while it waited or held ends then: it is recorded as Released,
// reason Deleted, at the time the Recorder saw it go; one deleted while no manager ran is recorded, from its line
// in the ledger, when the controller takes it out. When the Recorder starts, the cache shows it every ended
// Reservation still there; the history holds each UID once, so a restart adds nothing twice.
type Recorder struct {
	// Client writes ConfigMaps.
	Client client.Client
	// APIReader reads ConfigMaps: the manager caches none.
	APIReader client.Reader
	// Cache is the manager's cache, with Reservations and Resources.
	Cache cache.Cache
	// Clock tells the time and times the delays between writes; the real clock when nil.
	Clock clock.WithTicker
	// Retention is how long ended holds are kept; DefaultRetention when zero.
	Retention time.Duration
	// Every is the least time between two writes of one Resource's history; DefaultEvery when zero.
	Every time.Duration

	mu sync.Mutex
	// pending are the ended holds not yet written, per Resource, by Reservation UID.
	pending map[types.NamespacedName]map[types.UID]pendingHold
	// written are the UIDs of ended Reservations already in a history, while the cache still shows them, so
	// that later changes of them (a notifier's delivery record) cost no read.
	written map[types.UID]bool
	// last is when each Resource's history was last written.
	last  map[types.NamespacedName]time.Time
	queue workqueue.TypedRateLimitingInterface[types.NamespacedName]
}

// pendingHold is an ended hold and the UID of the Resource whose ledger it was in (empty when unknown), so that
// the history of a Resource re-created under the same name does not get the old one's holds.
type pendingHold struct {
	Hold
	resourceUID types.UID
	// fromLedger says it was made from a line of the ledger, which knows neither when a waiting Reservation was
	// created nor, for a holder, how long it waited (both are taken as none).
	fromLedger bool
}

var (
	_ manager.Runnable               = (*Recorder)(nil)
	_ manager.LeaderElectionRunnable = (*Recorder)(nil)
)

// The Recorder reads and writes the history ConfigMaps; it reads Reservations and Resources from the cache.
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;create;update
// +kubebuilder:rbac:groups=conch.dev,resources=reservations;resources,verbs=get;list;watch

// NeedLeaderElection is true: one writer of the history at a time, as far as leader election goes.
func (r *Recorder) NeedLeaderElection() bool { return true }

// Start watches Reservations and writes histories until ctx ends.
func (r *Recorder) Start(ctx context.Context) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	r.mu.Lock()
	r.pending = map[types.NamespacedName]map[types.UID]pendingHold{}
	r.last = map[types.NamespacedName]time.Time{}
	r.written = map[types.UID]bool{}
	r.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName](),
		workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Name: "conch-history", Clock: r.Clock})
	r.mu.Unlock()
	defer r.queue.ShutDown()

	inf, err := r.Cache.GetInformer(ctx, &conchv1.Reservation{})
	if err != nil {
		return fmt.Errorf("watching Reservations for the history: %w", err)
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.seen(obj, false) },
		UpdateFunc: func(_, obj any) { r.seen(obj, false) },
		DeleteFunc: func(obj any) { r.seen(obj, true) },
	})
	if err != nil {
		return fmt.Errorf("watching Reservations for the history: %w", err)
	}
	defer func() { _ = inf.RemoveEventHandler(reg) }()

	// The ledger too: a Reservation deleted while no manager watched leaves it, when the controller sees it gone,
	// without a delete event here.
	resInf, err := r.Cache.GetInformer(ctx, &conchv1.Resource{})
	if err != nil {
		return fmt.Errorf("watching Resources for the history: %w", err)
	}
	resReg, err := resInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, obj any) { r.leftLedger(ctx, old, obj) },
	})
	if err != nil {
		return fmt.Errorf("watching Resources for the history: %w", err)
	}
	defer func() { _ = resInf.RemoveEventHandler(resReg) }()

	go func() {
		<-ctx.Done()
		r.queue.ShutDown()
	}()
	log := ctrl.LoggerFrom(ctx).WithName("history")
	for {
		key, shutdown := r.queue.Get()
		if shutdown {
			return nil
		}
		if err := r.flush(ctx, key); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
				log.V(1).Info("Another writer changed the history; merging again", "resource", key)
			} else {
				log.Error(err, "Writing the history failed; trying again", "resource", key)
			}
			r.queue.AddRateLimited(key)
		} else {
			r.queue.Forget(key)
		}
		r.queue.Done(key)
	}
}

// seen takes note of a Reservation the cache shows (deleted: it is gone) if it has ended.
func (r *Recorder) seen(obj any, deleted bool) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	rsv, ok := obj.(*conchv1.Reservation)
	if !ok {
		return
	}
	h, ok := holdOf(rsv, deleted, r.Clock.Now())
	if !ok {
		return
	}
	r.add(rsv.Namespace, pendingHold{Hold: h, resourceUID: types.UID(rsv.Status.ResourceUID)}, deleted)
}

// maxWritten bounds the memory of UIDs written; past it, the memory starts again (which costs a read each of
// the ended Reservations that change later, nothing more).
const maxWritten = 100000

// add takes note of an ended hold in namespace ns, unless it is already written or noted: the first note wins,
// except over one made from the ledger alone (which knows less). gone says the Reservation is deleted, so that
// no later event of it will come.
func (r *Recorder) add(ns string, h pendingHold, gone bool) {
	key := types.NamespacedName{Namespace: ns, Name: h.Resource}
	r.mu.Lock()
	if r.written[h.UID] {
		if gone {
			delete(r.written, h.UID)
		}
		r.mu.Unlock()
		return
	}
	if r.pending[key] == nil {
		r.pending[key] = map[types.UID]pendingHold{}
	}
	if old, dup := r.pending[key][h.UID]; !dup || (old.fromLedger && !h.fromLedger) {
		r.pending[key][h.UID] = h
	}
	r.mu.Unlock()
	r.queue.Add(key)
}

// leftLedger notes the Reservations that left a Resource's ledger (old to obj) and are no longer in the cache:
// deleted, perhaps while no manager ran. A Reservation still there tells its own end.
func (r *Recorder) leftLedger(ctx context.Context, old, obj any) {
	before, ok1 := old.(*conchv1.Resource)
	after, ok2 := obj.(*conchv1.Resource)
	if !ok1 || !ok2 {
		return
	}
	still := map[string]bool{}
	for _, h := range after.Status.Holders {
		still[h.UID] = true
	}
	for _, q := range after.Status.Queue {
		still[q.UID] = true
	}
	now := r.Clock.Now()
	gone := func(name, uid string) bool {
		if still[uid] || uid == "" {
			return false
		}
		rsv := &conchv1.Reservation{}
		err := r.Cache.Get(ctx, types.NamespacedName{Namespace: after.Namespace, Name: name}, rsv)
		return apierrors.IsNotFound(err) || (err == nil && string(rsv.UID) != uid)
	}
	for _, h := range before.Status.Holders {
		if gone(h.Reservation, h.UID) {
			r.add(after.Namespace, pendingHold{Hold: Hold{
				Reservation: h.Reservation, UID: types.UID(h.UID), Holder: h.Holder, Resource: after.Name,
				State: string(conchv1.StateReleased), Reason: conchv1.ReasonDeleted,
				Created: h.Since.Time, Granted: h.Since.Time, Ended: now,
			}, resourceUID: after.UID, fromLedger: true}, true)
		}
	}
	for _, q := range before.Status.Queue {
		if gone(q.Reservation, q.UID) {
			r.add(after.Namespace, pendingHold{Hold: Hold{
				Reservation: q.Reservation, UID: types.UID(q.UID), Holder: q.Holder, Resource: after.Name,
				State: string(conchv1.StateReleased), Reason: conchv1.ReasonDeleted, Created: now, Ended: now,
			}, resourceUID: after.UID, fromLedger: true}, true)
		}
	}
}

// holdOf is the ended hold rsv is, if it has ended: in a final state, or deleted while it waited or held (then it
// ended at now, released).
func holdOf(rsv *conchv1.Reservation, deleted bool, now time.Time) (Hold, bool) {
	resource := index.BoundResource(rsv)
	if rsv.Status.ResourceName != "" {
		resource = rsv.Status.ResourceName
	}
	if resource == "" {
		return Hold{}, false // never bound to a Resource: no Resource's history
	}
	h := Hold{
		Reservation: rsv.Name, UID: rsv.UID, Holder: rsv.Spec.Holder, Resource: resource,
		State: string(rsv.Status.State), Created: rsv.CreationTimestamp.Time,
	}
	if c := meta.FindStatusCondition(rsv.Status.Conditions, conchv1.ConditionReady); c != nil {
		h.Reason = c.Reason
	}
	if rsv.Status.GrantedAt != nil {
		h.Granted = rsv.Status.GrantedAt.Time
	}
	switch st := rsv.Status.State; {
	case st.IsFinal():
		h.Ended = now
		if rsv.Status.EndedAt != nil {
			h.Ended = rsv.Status.EndedAt.Time
		}
	case deleted && (st == conchv1.StateQueued || st == conchv1.StateGranted):
		h.State, h.Reason, h.Ended = string(conchv1.StateReleased), conchv1.ReasonDeleted, now
	default:
		return Hold{}, false
	}
	if h.Reason == "" {
		h.Reason = h.State
	}
	return h, true
}

// flush writes the pending holds of one Resource into its history, unless that was written less than Every ago
// (then it comes back when it may).
func (r *Recorder) flush(ctx context.Context, key types.NamespacedName) error {
	every := r.Every
	if every <= 0 {
		every = DefaultEvery
	}
	now := r.Clock.Now()
	r.mu.Lock()
	last, wrote := r.last[key]
	batch := make([]pendingHold, 0, len(r.pending[key]))
	for _, h := range r.pending[key] {
		batch = append(batch, h)
	}
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if wait := last.Add(every).Sub(now); wrote && wait > 0 {
		r.queue.AddAfter(key, wait)
		return nil
	}

	res := &conchv1.Resource{}
	if err := r.Cache.Get(ctx, key, res); err != nil {
		if apierrors.IsNotFound(err) {
			r.done(key, batch) // its history goes with it (the ConfigMap is owned by it)
			return nil
		}
		return err
	}
	added := make([]Hold, 0, len(batch))
	for _, h := range batch {
		if h.resourceUID == "" || h.resourceUID == res.UID {
			added = append(added, h.Hold)
		}
	}
	retention := r.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	if err := r.write(ctx, res, added, now.Add(-retention)); err != nil {
		return err
	}
	r.mu.Lock()
	r.last[key] = now
	r.mu.Unlock()
	r.done(key, batch)
	return nil
}

// done forgets the pending holds that were written (more may have come meanwhile).
func (r *Recorder) done(key types.NamespacedName, batch []pendingHold) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range batch {
		delete(r.pending[key], h.UID)
		if len(r.written) >= maxWritten {
			clear(r.written)
		}
		r.written[h.UID] = true
	}
	if len(r.pending[key]) == 0 {
		delete(r.pending, key)
	}
}

// write merges added into res's history ConfigMap, creating it if needed; it writes nothing when that changes
// nothing. A write that loses a race (409) returns the error, and the whole flush is redone from a fresh read.
func (r *Recorder) write(ctx context.Context, res *conchv1.Resource, added []Hold, cutoff time.Time) error {
	name := types.NamespacedName{Namespace: res.Namespace, Name: ConfigMapName(res.Name)}
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, name, cm)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	exists := err == nil
	var recorded []Hold
	if exists {
		if recorded, err = Decode(res.Name, cm.Data[DataKey]); err != nil {
			// A history that cannot be read is started again rather than never written.
			ctrl.LoggerFrom(ctx).Error(err, "Replacing an unreadable history", "configMap", klog.KObj(cm))
			recorded = nil
		}
	}
	merged := Merge(recorded, added, cutoff, MaxHolds, MaxBytes)
	data := Encode(merged)
	if exists && cm.Data[DataKey] == data {
		return nil
	}
	if !exists {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name}}
	}
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	cm.Labels[LabelHistory] = "true"
	cm.Labels["app.kubernetes.io/managed-by"] = "conch"
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[AnnotationResource] = res.Name
	cm.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: conchv1.GroupVersion.String(), Kind: "Resource", Name: res.Name, UID: res.UID,
	}}
	cm.Data = map[string]string{DataKey: data}
	if exists {
		return r.Client.Update(ctx, cm) // cm.ResourceVersion is the precondition
	}
	return r.Client.Create(ctx, cm)
}
