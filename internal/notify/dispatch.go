package notify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/metrics"
	"github.com/conch-dev/conch/internal/text"
)

// Timings of the Dispatcher.
const (
	// sendTimeout bounds one attempt to deliver.
	sendTimeout = 30 * time.Second
	// firstBackoff and maxBackoff bound the wait after a transient failure, doubling in between.
	firstBackoff = time.Second
	maxBackoff   = 5 * time.Minute
	// rememberFor is how long the Dispatcher keeps what it recorded in memory: longer than any cache lag, so that
	// its own recent records are never mistaken for missing ones.
	rememberFor = 10 * time.Minute
	// defaultWorkers is how many deliveries are in flight at once, across all lanes.
	defaultWorkers = 16
)

// Dispatcher delivers the events of Reservations and Resources to their destinations, at least once, away from
// the path that grants. Its reconcilers derive what is due from each object's status and status.deliveries and
// queue it in lanes, one per destination (a channel, a person, an EventSink): a lane sends one event at a time, in
// order, no faster than its Interval, waits as long as a rate limit asks and backs off after a transient failure,
// while the other lanes go on. After a delivery succeeds (or fails for good) it records the event's key in the
// object's status.deliveries with a server-side apply of the destination's own entry, so that a restarted or newly
// elected manager delivers what was due and not yet recorded. The duplicate window is a delivery whose record
// was not written when the manager stopped: it is delivered again, with the same event ID.
type Dispatcher struct {
	// Client reads objects from the manager's cache and writes status.deliveries.
	Client client.Client
	// Recorder records a Warning Event on an object whose event a destination refused for good.
	Recorder events.EventRecorder
	// Clock is the time; tests inject a fake one.
	Clock clock.WithTicker
	// Destinations make the Sinks of each object.
	Destinations []Destination
	// WarnBefore is how long before its end a hold is warned of (the expiring event); 0 means never.
	WarnBefore time.Duration
	// Workers bounds the deliveries in flight at once (default 16).
	Workers int

	mu      sync.Mutex
	lanes   map[string]*lane
	pending map[string]struct{} // jobs queued or in flight, by jobKey
	told    map[string]*memo    // what this process recorded, by object UID and sink
	wake    chan struct{}
}

var (
	_ manager.Runnable               = (*Dispatcher)(nil)
	_ manager.LeaderElectionRunnable = (*Dispatcher)(nil)
)

// lane is the queue of one destination.
type lane struct {
	jobs      []*job
	busy      bool      // a worker holds the head job
	notBefore time.Time // the head job waits until then (interval, rate limit or backoff)
	lastUsed  time.Time
}

// job is one event for one destination.
type job struct {
	obj      objectRef
	sink     Sink
	ev       Event
	attempts int
	// sent is true once Send returned for good (nil or permanent); then only the record is left to write.
	sent    bool
	failure string
}

type objectRef struct {
	kind            string
	namespace, name string
	uid             types.UID
}

type memo struct {
	keys    []string
	failure string
	at      time.Time
}

func (j *job) key() string { return string(j.obj.uid) + "|" + j.sink.Name + "|" + j.ev.Key }

func memoKey(uid types.UID, sink string) string { return string(uid) + "|" + sink }

// kind returns the destination kind a sink name stands for, as metrics label it.
func kind(sink string) string {
	if strings.HasPrefix(sink, conchv1.DeliveryEventSinkPrefix) {
		return "eventsink"
	}
	return sink
}

func (d *Dispatcher) init() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lanes == nil {
		d.lanes, d.pending, d.told = map[string]*lane{}, map[string]struct{}{}, map[string]*memo{}
		d.wake = make(chan struct{}, 1)
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.Workers <= 0 {
		d.Workers = defaultWorkers
	}
}

// NeedLeaderElection is true: only the leader delivers. A newly elected one starts from status.deliveries.
func (d *Dispatcher) NeedLeaderElection() bool { return true }

// consider queues what is due about obj for each of its sinks. derive returns the events due for a destination
// whose record is told, and when the next timed one is due. It returns that earliest time, zero if none.
func (d *Dispatcher) consider(ctx context.Context, obj client.Object, res client.Object,
	told func(sink string) []string, derive func(told []string) ([]Event, time.Time)) (time.Time, error) {
	var next time.Time
	for _, dest := range d.Destinations {
		sinks, err := dest.Sinks(ctx, obj, res)
		if err != nil {
			return time.Time{}, err
		}
		for _, s := range sinks {
			k := memoKey(obj.GetUID(), s.Name)
			d.mu.Lock()
			keys := merge(told(s.Name), d.told[k])
			d.mu.Unlock()
			evs, at := derive(keys)
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
			for _, ev := range evs {
				if s.Wants != nil && !s.Wants(ev) {
					continue
				}
				d.enqueue(objectRef{kind: objectKind(obj), namespace: obj.GetNamespace(), name: obj.GetName(), uid: obj.GetUID()}, s, ev, keys)
			}
		}
	}
	return next, nil
}

func objectKind(obj client.Object) string {
	if _, ok := obj.(*conchv1.Resource); ok {
		return "Resource"
	}
	return "Reservation"
}

// merge returns the keys recorded on the object followed by those this process recorded that the object (from a
// lagging cache) does not show yet.
func merge(recorded []string, m *memo) []string {
	if m == nil {
		return recorded
	}
	out := recorded
	for _, k := range m.keys {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// enqueue adds ev for s to s's lane unless it is queued already. told is the destination's record as the
// reconcile saw it: the base of what is written when the event is delivered.
func (d *Dispatcher) enqueue(obj objectRef, s Sink, ev Event, told []string) {
	j := &job{obj: obj, sink: s, ev: ev}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.pending[j.key()]; ok {
		return
	}
	mk := memoKey(obj.uid, s.Name)
	if m := d.told[mk]; m == nil {
		d.told[mk] = &memo{keys: told, at: d.Clock.Now()}
	} else {
		m.keys = merge(told, m)
	}
	d.pending[j.key()] = struct{}{}
	l := d.lanes[s.Lane]
	if l == nil {
		l = &lane{}
		d.lanes[s.Lane] = l
	}
	l.jobs = append(l.jobs, j)
	metrics.NotificationBacklog.WithLabelValues(kind(s.Name)).Inc()
	d.poke()
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start runs the lanes until ctx ends: it hands each lane's head job to a worker when the lane is free and its
// wait is over, up to Workers at once.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.init()
	log := ctrl.LoggerFrom(ctx).WithName("notify")
	ctx = ctrl.LoggerInto(ctx, log)
	sem := make(chan struct{}, d.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	lastPrune := d.Clock.Now()
	for {
		now := d.Clock.Now()
		wait := time.Duration(-1)
		d.mu.Lock()
		for _, l := range d.lanes {
			if l.busy || len(l.jobs) == 0 {
				continue
			}
			if l.notBefore.After(now) {
				if w := l.notBefore.Sub(now); wait < 0 || w < wait {
					wait = w
				}
				continue
			}
			if len(sem) == cap(sem) {
				break // every worker is busy; one that finishes wakes the loop
			}
			sem <- struct{}{}
			l.busy = true
			wg.Add(1)
			go func(l *lane, j *job) {
				defer wg.Done()
				d.work(ctx, l, j)
				<-sem
				d.poke()
			}(l, l.jobs[0])
		}
		if now.Sub(lastPrune) > time.Minute {
			d.pruneLocked(now)
			lastPrune = now
		}
		d.mu.Unlock()

		var timer clock.Timer
		var fire <-chan time.Time
		if wait >= 0 {
			timer = d.Clock.NewTimer(wait)
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			wg.Wait()
			d.drop()
			return nil
		case <-d.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// drop forgets every queued job when the Dispatcher stops (it lost leadership or the manager ends): the next
// leader derives them again from status.
func (d *Dispatcher) drop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, l := range d.lanes {
		for _, j := range l.jobs {
			metrics.NotificationBacklog.WithLabelValues(kind(j.sink.Name)).Dec()
		}
		delete(d.lanes, name)
	}
	clear(d.pending)
}

// pruneLocked forgets idle lanes and old memos.
func (d *Dispatcher) pruneLocked(now time.Time) {
	for name, l := range d.lanes {
		if !l.busy && len(l.jobs) == 0 && now.Sub(l.lastUsed) > time.Minute {
			delete(d.lanes, name)
		}
	}
	for k, m := range d.told {
		if now.Sub(m.at) > rememberFor {
			delete(d.told, k)
		}
	}
}

// work sends j (unless only its record is left) and records it; on a transient failure it leaves j at the head of
// its lane with a time to try again.
func (d *Dispatcher) work(ctx context.Context, l *lane, j *job) {
	log := ctrl.LoggerFrom(ctx).WithValues("event", j.ev.String(), "sink", j.sink.Name)
	k := kind(j.sink.Name)
	if !j.sent {
		if d.stale(ctx, j) {
			metrics.Notifications.WithLabelValues(k, "dropped").Inc()
			d.finish(l, j)
			return
		}
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		start := d.Clock.Now()
		err := j.sink.Send(sctx, j.ev)
		cancel()
		now := d.Clock.Now()
		switch after, limited := RetryAfterOf(err); {
		case err == nil:
			j.sent = true
			metrics.Notifications.WithLabelValues(k, "delivered").Inc()
			metrics.NotificationDelaySeconds.WithLabelValues(k).Observe(now.Sub(j.ev.Time).Seconds())
		case IsGone(err):
			metrics.Notifications.WithLabelValues(k, "dropped").Inc()
			log.V(1).Info("The destination is gone; dropping the event", "error", err.Error())
			d.finish(l, j)
			return
		case IsPermanent(err):
			j.sent, j.failure = true, text.Truncate(err.Error(), 256, text.Ellipsis)
			metrics.Notifications.WithLabelValues(k, "failed").Inc()
			log.Info("A destination refused an event for good", "error", err.Error())
			d.warn(j, err)
		case limited:
			metrics.Notifications.WithLabelValues(k, "retried").Inc()
			log.V(1).Info("Rate limited", "after", after)
			d.retry(l, start.Add(after))
			return
		default:
			j.attempts++
			metrics.Notifications.WithLabelValues(k, "retried").Inc()
			wait := backoff(j.attempts)
			log.V(1).Info("Delivery failed; retrying", "error", err.Error(), "after", wait, "attempts", j.attempts)
			d.retry(l, now.Add(wait))
			return
		}
		d.mu.Lock()
		l.notBefore = start.Add(j.sink.Interval)
		d.mu.Unlock()
	}
	if err := d.record(ctx, j); err != nil {
		j.attempts++
		log.Error(err, "Cannot record a delivery; will record it again")
		d.retry(l, d.Clock.Now().Add(backoff(j.attempts)))
		return
	}
	if j.sink.Done != nil {
		var err error
		if j.failure != "" {
			err = fmt.Errorf("%s", j.failure)
		}
		j.sink.Done(j.ev, err)
	}
	d.finish(l, j)
}

func backoff(attempts int) time.Duration {
	w := firstBackoff
	for i := 1; i < attempts && w < maxBackoff; i++ {
		w *= 2
	}
	return min(w, maxBackoff)
}

func (d *Dispatcher) retry(l *lane, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l.busy = false
	if at.After(l.notBefore) {
		l.notBefore = at
	}
}

// finish takes j off its lane.
func (d *Dispatcher) finish(l *lane, j *job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l.busy = false
	l.jobs = l.jobs[1:]
	l.lastUsed = d.Clock.Now()
	delete(d.pending, j.key())
	metrics.NotificationBacklog.WithLabelValues(kind(j.sink.Name)).Dec()
}

// stale reports that j is no longer worth sending: a warning of an end that has passed or moved.
func (d *Dispatcher) stale(ctx context.Context, j *job) bool {
	if j.ev.Type != conchv1.EventReservationExpiring || j.ev.Reservation == nil {
		return false
	}
	r := &conchv1.Reservation{}
	if err := d.Client.Get(ctx, types.NamespacedName{Namespace: j.obj.namespace, Name: j.obj.name}, r); err != nil {
		return apierrors.IsNotFound(err)
	}
	was := j.ev.Reservation.Status.ExpiresAt
	now := d.Clock.Now()
	return r.UID != j.obj.uid || r.Status.State != conchv1.StateGranted || r.Status.ExpiresAt == nil || was == nil ||
		!r.Status.ExpiresAt.Equal(was) || !now.Before(was.Time)
}

// record writes j's key into the object's status.deliveries entry for j's sink: a server-side apply by a field
// manager of the sink's own, so that sinks and the controllers never overwrite each other, with the object's UID,
// so that a re-created object of the same name is not written. An object that is gone needs no record.
func (d *Dispatcher) record(ctx context.Context, j *job) error {
	mk := memoKey(j.obj.uid, j.sink.Name)
	d.mu.Lock()
	m := d.told[mk]
	if m == nil {
		m = &memo{}
		d.told[mk] = m
	}
	keys := Record(m.keys, j.ev.Key)
	failure := m.failure
	if j.failure != "" {
		failure = j.failure
	}
	d.mu.Unlock()

	entry := map[string]any{"sink": j.sink.Name, "events": toAny(keys)}
	if failure != "" {
		entry["lastFailure"] = failure
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": conchv1.GroupVersion.String(),
		"kind":       j.obj.kind,
		"metadata":   map[string]any{"name": j.obj.name, "namespace": j.obj.namespace, "uid": string(j.obj.uid)},
		"status":     map[string]any{"deliveries": []any{entry}},
	}}
	err := d.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(fieldOwner(j.sink.Name)), client.ForceOwnership)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	d.mu.Lock()
	m.keys, m.failure, m.at = keys, failure, d.Clock.Now()
	d.mu.Unlock()
	return nil
}

// fieldOwner is the field manager that owns a sink's entry in status.deliveries.
func fieldOwner(sink string) string {
	return text.Truncate("conch-notify-"+strings.ReplaceAll(sink, "/", "-"), 128, "")
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// warn records a Warning Event on the object j is about: a person or a tool was not told something.
func (d *Dispatcher) warn(j *job, err error) {
	if d.Recorder == nil {
		return
	}
	var obj runtime.Object
	switch {
	case j.ev.Reservation != nil:
		obj = j.ev.Reservation
	case j.ev.Resource != nil:
		obj = j.ev.Resource
	default:
		return
	}
	d.Recorder.Eventf(obj, nil, "Warning", "NotificationFailed", "Notify", "Could not deliver %s to %s: %s",
		j.ev.Type, j.sink.Name, text.Truncate(err.Error(), 512, text.Ellipsis))
}
