package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// states the tracker records the first arrival of.
var trackedStates = []conchv1.ReservationState{
	conchv1.StatePending, conchv1.StateQueued, conchv1.StateGranted,
	conchv1.StateReleased, conchv1.StateExpired, conchv1.StateRejected,
}

func stateIndex(s conchv1.ReservationState) int {
	for i, t := range trackedStates {
		if t == s {
			return i
		}
	}
	return -1
}

// seenRsv is what the watch told about one Reservation.
type seenRsv struct {
	first     [6]time.Time // arrival of the first event showing each of trackedStates
	grantedAt time.Time    // the latest status.grantedAt seen
	expiresAt time.Time    // the latest status.expiresAt seen
	state     conchv1.ReservationState
	// processedAt is the arrival of the first event showing it Granted or Queued: the controller decided.
	processedAt time.Time
}

// At returns when the watch first showed the Reservation in state s.
func (s *seenRsv) At(st conchv1.ReservationState) time.Time { return s.first[stateIndex(st)] }

// tracker watches the Reservations of one namespace and records, for each, when each state first arrived on the
// watch. The arrival time is taken as soon as the event is received, before anything else is done with it.
type tracker struct {
	mu      sync.Mutex
	rsv     map[string]*seenRsv
	reached [6]int // Reservations that have reached each state at least once
	// processed counts Reservations that reached Granted or Queued; lastProcessed is when the latest did.
	processed     int
	lastProcessed time.Time
	events        int
	err           error
	changed       chan struct{}
	cancel        context.CancelFunc
	done          chan struct{}
}

// track starts watching the Reservations of ns. The namespace must be new, so that the watch starts before any of
// its Reservations exists.
func track(ctx context.Context, c client.WithWatch, ns string) (*tracker, error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &tracker{rsv: map[string]*seenRsv{}, changed: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	w, err := c.Watch(ctx, &conchv1.ReservationList{}, client.InNamespace(ns))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watching Reservations: %w", err)
	}
	go t.run(ctx, c, ns, w)
	return t, nil
}

// stop ends the watch.
func (t *tracker) stop() {
	t.cancel()
	<-t.done
}

// run consumes the watch; when the API server closes it (watch timeouts), it resumes from the last resourceVersion,
// at most 20 times.
func (t *tracker) run(ctx context.Context, c client.WithWatch, ns string, w watch.Interface) {
	defer close(t.done)
	rv := ""
	for restarts := 0; ; restarts++ {
		for ev := range w.ResultChan() {
			now := time.Now()
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				r, ok := ev.Object.(*conchv1.Reservation)
				if !ok {
					continue
				}
				rv = r.ResourceVersion
				t.record(r, now)
			case watch.Bookmark:
				if o, ok := ev.Object.(client.Object); ok {
					rv = o.GetResourceVersion()
				}
			case watch.Error:
				t.fail(apierrors.FromObject(ev.Object))
				w.Stop()
				return
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		if restarts >= 20 {
			t.fail(errors.New("the watch closed 20 times"))
			return
		}
		var err error
		w, err = c.Watch(ctx, &conchv1.ReservationList{}, client.InNamespace(ns),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
		if err != nil {
			t.fail(fmt.Errorf("resuming the watch: %w", err))
			return
		}
	}
}

func (t *tracker) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
	t.notify()
}

func (t *tracker) record(r *conchv1.Reservation, now time.Time) {
	t.mu.Lock()
	s := t.rsv[r.Name]
	if s == nil {
		s = &seenRsv{}
		t.rsv[r.Name] = s
	}
	s.state = r.Status.State
	if r.Status.GrantedAt != nil {
		s.grantedAt = r.Status.GrantedAt.Time
	}
	if r.Status.ExpiresAt != nil {
		s.expiresAt = r.Status.ExpiresAt.Time
	}
	if i := stateIndex(r.Status.State); i >= 0 && s.first[i].IsZero() {
		s.first[i] = now
		t.reached[i]++
	}
	if s.processedAt.IsZero() && (r.Status.State == conchv1.StateGranted || r.Status.State == conchv1.StateQueued) {
		s.processedAt, t.lastProcessed = now, now
		t.processed++
	}
	t.events++
	t.mu.Unlock()
	t.notify()
}

func (t *tracker) notify() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// reachedCount returns how many Reservations have reached state s at least once.
func (t *tracker) reachedCount(s conchv1.ReservationState) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reached[stateIndex(s)]
}

// get returns a copy of what was seen of the named Reservation.
func (t *tracker) get(name string) (seenRsv, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.rsv[name]
	if !ok {
		return seenRsv{}, false
	}
	return *s, true
}

// all returns a copy of everything seen, by name.
func (t *tracker) all() map[string]seenRsv {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]seenRsv, len(t.rsv))
	for k, v := range t.rsv {
		out[k] = *v
	}
	return out
}

// wait returns when cond (called with the tracker locked) holds, or an error after timeout or when the watch
// failed.
func (t *tracker) wait(ctx context.Context, timeout time.Duration, what string, cond func(t *tracker) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		ok, err := cond(t), t.err
		t.mu.Unlock()
		if ok {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for %s: watch: %w", what, err)
		}
		select {
		case <-t.changed:
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("waiting for %s: not done after %v", what, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reachedLocked is for wait conditions: how many reached s. The tracker is locked.
func (t *tracker) reachedLocked(s conchv1.ReservationState) int { return t.reached[stateIndex(s)] }

// firstLocked is for wait conditions: when name first showed state s (zero if not yet). The tracker is locked.
func (t *tracker) firstLocked(name string, s conchv1.ReservationState) time.Time {
	if r := t.rsv[name]; r != nil {
		return r.first[stateIndex(s)]
	}
	return time.Time{}
}
