// Package notify decides what Conch tells the world about its objects, and records what was told: a transition of
// a Reservation or a Resource is an Event, derived from the object's status alone; each destination (a person's
// Slack DM, a Resource's channel, an EventSink) records in status.deliveries the keys of the events it received.
// What is due for a destination is what its status says happened and its record does not hold, so that a
// restarted or newly elected manager delivers what was due and nothing else.
//
// This file is pure: the derivation of events and the bookkeeping of records, table-tested.
package notify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// Event is one transition of a Reservation or a Resource, as every destination hears of it.
type Event struct {
	// Key names the event within its object: what status.deliveries records. Its shape is
	// "<kind>:<moment>", the moment in Unix microseconds, so that a new grant or a new end is a new event and a
	// repeated one is not.
	Key string
	// ID is unique and stable across retries and managers, for receivers to de-duplicate: the object's UID and
	// Key.
	ID string
	// Type is one of the conchv1.Event* names.
	Type string
	// Time is when it happened (for an expiry warning: when it became due).
	Time time.Time
	// Reservation is the Reservation it is about, as it was when the event was derived; nil for a Resource's
	// events.
	Reservation *conchv1.Reservation
	// Resource is the Resource it is about; for a Reservation's events, its Resource when known (the channel to
	// post in comes from it), else nil.
	Resource *conchv1.Resource
}

// Namespace returns the namespace of the object the event is about.
func (e Event) Namespace() string {
	if e.Reservation != nil {
		return e.Reservation.Namespace
	}
	if e.Resource != nil {
		return e.Resource.Namespace
	}
	return ""
}

// ResourceName returns the name of the Resource the event concerns ("" when none is known yet).
func (e Event) ResourceName() string {
	if e.Reservation != nil {
		return e.Reservation.Status.ResourceName
	}
	if e.Resource != nil {
		return e.Resource.Name
	}
	return ""
}

// Kinds of event keys.
const (
	keyQueued   = "queued"
	keyGranted  = "granted"
	keyExpiring = "expiring"
	keyExtended = "extended"
	keyPreempt  = "preempting"
	keyEnded    = "ended"
	keyPaused   = "paused"
	keyResumed  = "resumed"
	keyUnwell   = "unhealthy"
	keyWell     = "healthy"
)

func key(kind string, at time.Time) string { return kind + ":" + strconv.FormatInt(at.UnixMicro(), 10) }

// grantKey records a grant at g told with the end e: a later end is an extension.
func grantKey(g, e time.Time) string {
	return keyGranted + ":" + strconv.FormatInt(g.UnixMicro(), 10) + ":" + strconv.FormatInt(e.UnixMicro(), 10)
}

// kindOf returns the kind of a key ("granted" for "granted:1:2").
func kindOf(k string) string {
	kind, _, _ := strings.Cut(k, ":")
	return kind
}

// ReservationEvents returns the events of r that are due for a destination whose record is told (its keys, newest
// last), at time now, in the order they happened; and when the next timed event (the warning before the end)
// becomes due, zero when none is. warnBefore is how long before its end a hold is warned of (0: never).
//
// What a destination is told depends only on r's status and told:
//   - queued, while r waits in a queue (a wait that ended before it was seen is not told);
//   - granted, once per grant, with the end known then;
//   - extended, when the end moved later than the destination was last told;
//   - expiring, warnBefore ahead of each end, once per end, for holds longer than warnBefore;
//   - preempting, once per new end, when a higher priority takes the hold's slot;
//   - released, expired or rejected, once, at the end.
func ReservationEvents(r *conchv1.Reservation, res *conchv1.Resource, told []string, warnBefore time.Duration,
	now time.Time) ([]Event, time.Time) {
	st := &r.Status
	var out []Event
	var next time.Time
	add := func(k, typ string, at time.Time) {
		if !slices.Contains(told, k) {
			out = append(out, Event{Key: k, ID: string(r.UID) + "/" + k, Type: typ, Time: at, Reservation: r, Resource: res})
		}
	}
	switch {
	case st.State == conchv1.StateQueued && st.Ticket > 0:
		at := r.CreationTimestamp.Time
		if c := meta.FindStatusCondition(st.Conditions, conchv1.ConditionReady); c != nil && c.Reason == conchv1.ReasonQueued {
			at = c.LastTransitionTime.Time
		}
		add(keyQueued+":"+strconv.FormatInt(st.Ticket, 10), conchv1.EventReservationQueued, at)
	case st.State == conchv1.StateGranted && st.GrantedAt != nil && st.ExpiresAt != nil:
		g, e := st.GrantedAt.Time, st.ExpiresAt.Time
		toldEnd, granted := lastToldEnd(told, g)
		switch {
		case !granted:
			add(grantKey(g, e), conchv1.EventReservationGranted, g)
		case e.After(toldEnd):
			add(key(keyExtended, e), conchv1.EventReservationExtended, now)
		}
		// A hold being preempted is told so (its end is news while it lasts), and no other warning.
		preempting := false
		if c := meta.FindStatusCondition(st.Conditions, conchv1.ConditionGranted); c != nil && c.Reason == conchv1.ReasonPreempting {
			preempting = true
			add(key(keyPreempt, e), conchv1.EventReservationPreempting, now)
		}
		// Holds shorter than the warning period get none: the grant already says when they end.
		if warnBefore > 0 && e.Sub(g) > warnBefore && !preempting {
			warnAt := e.Add(-warnBefore)
			switch {
			case now.Before(warnAt):
				next = warnAt
			case now.Before(e):
				add(key(keyExpiring, e), conchv1.EventReservationExpiring, warnAt)
			}
		}
	case st.State.IsFinal():
		at := now
		if st.EndedAt != nil {
			at = st.EndedAt.Time
		}
		add(keyEnded, endType(st.State), at)
	}
	return out, next
}

// lastToldEnd returns the latest end of the grant at g that told names, and whether told holds that grant.
func lastToldEnd(told []string, g time.Time) (time.Time, bool) {
	prefix := keyGranted + ":" + strconv.FormatInt(g.UnixMicro(), 10) + ":"
	var end time.Time
	granted := false
	for _, k := range told {
		var micros string
		switch {
		case strings.HasPrefix(k, prefix):
			granted, micros = true, strings.TrimPrefix(k, prefix)
		case granted && kindOf(k) == keyExtended:
			micros = strings.TrimPrefix(k, keyExtended+":")
		default:
			continue
		}
		if us, err := strconv.ParseInt(micros, 10, 64); err == nil && time.UnixMicro(us).After(end) {
			end = time.UnixMicro(us)
		}
	}
	return end, granted
}

func endType(s conchv1.ReservationState) string {
	switch s {
	case conchv1.StateExpired:
		return conchv1.EventReservationExpired
	case conchv1.StateRejected:
		return conchv1.EventReservationRejected
	default:
		return conchv1.EventReservationReleased
	}
}

// ResourceEvents returns the events of res that are due for a destination whose record is told: paused and
// resumed, each once per transition of the Paused condition; unhealthy once per failure (the Healthy condition
// turning False), and healthy when it recovers, to a destination that was told it was unhealthy.
func ResourceEvents(res *conchv1.Resource, told []string) []Event {
	var out []Event
	add := func(kind, typ string, at time.Time) {
		k := key(kind, at)
		if !slices.Contains(told, k) {
			out = append(out, Event{Key: k, ID: string(res.UID) + "/" + k, Type: typ, Time: at, Resource: res})
		}
	}
	if c := meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionPaused); c != nil {
		if c.Status == metav1.ConditionTrue {
			add(keyPaused, conchv1.EventResourcePaused, c.LastTransitionTime.Time)
		} else {
			add(keyResumed, conchv1.EventResourceResumed, c.LastTransitionTime.Time)
		}
	}
	if c := meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionHealthy); c != nil {
		switch {
		case c.Status == metav1.ConditionFalse:
			add(keyUnwell, conchv1.EventResourceUnhealthy, c.LastTransitionTime.Time)
		case c.Status == metav1.ConditionTrue && toldSince(told, keyUnwell, c.LastTransitionTime.Time):
			add(keyWell, conchv1.EventResourceHealthy, c.LastTransitionTime.Time)
		}
	}
	return out
}

// toldSince reports whether told has a key of kind recorded before t: the destination heard of the state that
// ended at t.
func toldSince(told []string, kind string, t time.Time) bool {
	for _, k := range told {
		if rest, ok := strings.CutPrefix(k, kind+":"); ok {
			if us, err := strconv.ParseInt(rest, 10, 64); err == nil && us <= t.UnixMicro() {
				return true
			}
		}
	}
	return false
}

// Told returns the keys recorded for sink in deliveries, newest last. For the Slack destinations of a Reservation
// that an earlier version of Conch notified (status.notified), it adds the keys that record stood for, so that an
// upgrade repeats nothing.
func Told(r *conchv1.Reservation, deliveries []conchv1.Delivery, sink string) []string {
	var told []string
	for _, d := range deliveries {
		if d.Sink == sink {
			told = slices.Clone(d.Events)
		}
	}
	if r == nil || r.Status.Notified == nil || (sink != conchv1.DeliverySlackDM && sink != conchv1.DeliverySlackChannel) {
		return told
	}
	n, st := r.Status.Notified, &r.Status
	if n.Granted != nil && st.GrantedAt != nil && n.Granted.Equal(st.GrantedAt) && st.ExpiresAt != nil {
		told = append(told, grantKey(st.GrantedAt.Time, st.ExpiresAt.Time))
	}
	if n.Warned != nil {
		told = append(told, key(keyExpiring, n.Warned.Time))
	}
	if n.Ended != "" {
		told = append(told, keyEnded)
	}
	return told
}

// Record returns told with k added as the newest, keeping at most conchv1.MaxDeliveredEvents keys: the oldest go
// first, except a grant's key, which later extensions are measured against.
func Record(told []string, k string) []string {
	if slices.Contains(told, k) {
		return told
	}
	out := append(slices.Clone(told), k)
	for len(out) > conchv1.MaxDeliveredEvents {
		drop := slices.IndexFunc(out, func(s string) bool { return kindOf(s) != keyGranted })
		if drop < 0 {
			drop = 0
		}
		out = slices.Delete(out, drop, drop+1)
	}
	return out
}

// String describes an event for logs.
func (e Event) String() string {
	name := ""
	switch {
	case e.Reservation != nil:
		name = e.Reservation.Namespace + "/" + e.Reservation.Name
	case e.Resource != nil:
		name = e.Resource.Namespace + "/" + e.Resource.Name
	}
	return fmt.Sprintf("%s %s", e.Type, name)
}
