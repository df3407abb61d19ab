// Package queue is Conch's queue engine: given a Resource, the Reservations bound to it and the current time, it
// decides who holds the Resource, who waits in which order, what every Reservation's state is, and when something
// will next change by itself. It is pure: no client, no clock, no randomness, so that every decision can be
// table-tested and the controller only has to read, call Plan, and write.
//
// The engine keeps two promises:
//   - never more holders than capacity: a grant only fills a slot that no current or expiring hold occupies;
//   - never early: a hold ends when now is at or after since+duration, both kept to the microsecond and rounded up.
package queue

import (
	"cmp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// DefaultDuration is the length of a hold when neither the Reservation nor the Resource names one.
const DefaultDuration = time.Hour

// Outcome is the engine's decision about one Reservation.
type Outcome struct {
	// Name and UID identify the Reservation.
	Name string
	UID  types.UID

	// State is the Reservation's new state.
	State conchv1.ReservationState
	// Reason is a PascalCase reason for State, one of the conchv1.Reason* constants.
	Reason string

	// Position is the 1-based place in the queue while Queued, else 0.
	Position int32
	// Waiting is how many wait in the queue in all (for messages such as "2 of 5").
	Waiting int32
	// EstimatedGrantTime is the expected start of the hold while Queued; zero when unknown (granting paused).
	EstimatedGrantTime time.Time

	// Duration is the hold's length after defaulting and clamping; Requested is what the Reservation asked for
	// (zero when it named none), and Clamped says whether the Resource's maxDuration shortened it.
	Duration  time.Duration
	Requested time.Duration
	Clamped   bool

	// GrantedAt and ExpiresAt bound the hold; zero unless the Reservation was granted.
	GrantedAt time.Time
	ExpiresAt time.Time
	// EndedAt is when the Reservation reached its final state; zero unless final.
	EndedAt time.Time

	// Deleting reports that the Reservation is being deleted and no longer holds the Resource, so its finalizer
	// can be removed once the Resource's status is written.
	Deleting bool
}

// Plan is the engine's decision about one Resource.
type Plan struct {
	// Holders are the holds to record in the Resource's status, oldest first.
	Holders []conchv1.ResourceHolder
	// Queue is the first conchv1.MaxQueueEntries waiting Reservations in grant order.
	Queue []conchv1.QueueEntry
	// Waiting counts every waiting Reservation.
	Waiting int32
	// Outcomes has one entry per Reservation given to Decide, in grant order (creation time, then name).
	Outcomes []Outcome
	// NextChange is the earliest time after now at which the plan changes by itself (a hold ends); zero when nothing
	// is timed.
	NextChange time.Time
	// NextSlot is when a Reservation arriving now could expect to be granted: now when a slot is free, the end of the
	// first hold or queued turn otherwise; zero when granting is paused.
	NextSlot time.Time
}

// Outcome returns the outcome for the named Reservation.
func (p *Plan) Outcome(name string) (Outcome, bool) {
	for _, o := range p.Outcomes {
		if o.Name == name {
			return o, true
		}
	}
	return Outcome{}, false
}

// Decide computes the Plan for res given the Reservations bound to it (in any order) at time now.
//
// res.Status.Holders is the record of who holds the Resource; the Reservations' statuses are only consulted for
// what is final and for holds the Resource's status has lost (a Resource deleted and re-created keeps its holders).
// A holder whose hold ran out stays in Holders, as Expired, until its Reservation's final status has been observed:
// only then is its slot given to the next in line. That way a stale view of a Reservation can never make an ended
// hold look like a new request.
func Decide(res *conchv1.Resource, reservations []conchv1.Reservation, now time.Time) Plan {
	now = CeilMicro(now)
	rules := rulesOf(res)

	ordered := slices.Clone(reservations)
	slices.SortFunc(ordered, compareArrival)

	recorded := make(map[types.UID]conchv1.ResourceHolder, len(res.Status.Holders))
	for _, h := range res.Status.Holders {
		recorded[types.UID(h.UID)] = h
	}

	plan := Plan{Outcomes: make([]Outcome, 0, len(ordered))}
	var held, waiting []int // indexes into plan.Outcomes
	for i := range ordered {
		r := &ordered[i]
		requested := time.Duration(0)
		if r.Spec.Duration != nil {
			requested = r.Spec.Duration.Duration
		}
		dur, clamped := rules.duration(requested)
		o := Outcome{Name: r.Name, UID: r.UID, Duration: dur, Requested: requested, Clamped: clamped}

		since, holding := holdStart(r, recorded)
		switch {
		case r.Status.State.IsFinal():
			// Final states never change; keep what the Reservation already says.
			o.State, o.Reason = r.Status.State, finalReason(r)
			o.GrantedAt, o.ExpiresAt = microTime(r.Status.GrantedAt), microTime(r.Status.ExpiresAt)
			if r.Status.EndedAt != nil {
				o.EndedAt = r.Status.EndedAt.Time
			}
			o.Deleting = r.DeletionTimestamp != nil
		case r.DeletionTimestamp != nil || r.Spec.Released:
			o.State, o.Reason, o.EndedAt = conchv1.StateReleased, conchv1.ReasonReleased, now
			if r.DeletionTimestamp != nil {
				o.Reason, o.Deleting = conchv1.ReasonDeleted, true
			}
			if holding {
				o.GrantedAt, o.ExpiresAt = since, CeilMicro(since.Add(dur))
			}
		case holding:
			o.GrantedAt, o.ExpiresAt = since, CeilMicro(since.Add(dur))
			o.State, o.Reason = conchv1.StateGranted, conchv1.ReasonGranted
			if hb := heartbeatDeadline(r, since); !hb.IsZero() && !now.Before(hb) {
				o.State, o.Reason, o.EndedAt = conchv1.StateExpired, conchv1.ReasonHeartbeatMissed, now
			}
			if !now.Before(o.ExpiresAt) {
				o.State, o.Reason, o.EndedAt = conchv1.StateExpired, conchv1.ReasonExpired, now
			}
			held = append(held, len(plan.Outcomes))
		case !rules.allows(r.Spec.Holder):
			o.State, o.Reason, o.EndedAt = conchv1.StateRejected, conchv1.ReasonHolderNotAllowed, now
		case heartbeatMissed(r, r.CreationTimestamp.Time, now):
			// Abandoned while waiting (a crashed pipeline): it leaves the queue rather than being granted.
			o.State, o.Reason, o.EndedAt = conchv1.StateExpired, conchv1.ReasonHeartbeatMissed, now
		default:
			o.State, o.Reason = conchv1.StateQueued, conchv1.ReasonQueued
			waiting = append(waiting, len(plan.Outcomes))
		}
		plan.Outcomes = append(plan.Outcomes, o)
	}

	// Grant free slots in arrival order. Expiring holds still occupy their slot (see Decide's doc comment).
	free := rules.capacity - len(held)
	granted := 0
	if !rules.paused {
		for _, idx := range waiting {
			if granted >= free {
				break
			}
			o := &plan.Outcomes[idx]
			o.State, o.Reason = conchv1.StateGranted, conchv1.ReasonGranted
			o.GrantedAt, o.ExpiresAt = now, CeilMicro(now.Add(o.Duration))
			held = append(held, idx)
			granted++
		}
	}
	waiting = waiting[granted:]

	// Holders in the order they were granted; the Resource's record.
	slices.SortStableFunc(held, func(a, b int) int {
		return plan.Outcomes[a].GrantedAt.Compare(plan.Outcomes[b].GrantedAt)
	})
	byName := make(map[string]*conchv1.Reservation, len(ordered))
	for i := range ordered {
		byName[ordered[i].Name] = &ordered[i]
	}
	for _, idx := range held {
		o := plan.Outcomes[idx]
		plan.Holders = append(plan.Holders, conchv1.ResourceHolder{
			Reservation: o.Name,
			UID:         string(o.UID),
			Holder:      byName[o.Name].Spec.Holder,
			Since:       metav1.NewMicroTime(o.GrantedAt),
			Until:       metav1.NewMicroTime(o.ExpiresAt),
		})
		if o.State == conchv1.StateGranted {
			plan.NextChange = earliest(plan.NextChange, o.ExpiresAt)
			if hb := heartbeatDeadline(byName[o.Name], o.GrantedAt); !hb.IsZero() {
				plan.NextChange = earliest(plan.NextChange, hb)
			}
		}
	}

	// The queue, with estimated grant times from a simulation of the slots.
	slots := newSlots(rules.capacity, plan.Outcomes, held, now)
	plan.Waiting = int32(len(waiting))
	for pos, idx := range waiting {
		o := &plan.Outcomes[idx]
		o.Position, o.Waiting = int32(pos+1), plan.Waiting
		if !rules.paused {
			o.EstimatedGrantTime = slots.take(o.Duration)
		}
		if pos < conchv1.MaxQueueEntries {
			plan.Queue = append(plan.Queue, conchv1.QueueEntry{
				Reservation: o.Name,
				Holder:      byName[o.Name].Spec.Holder,
				Duration:    metav1.Duration{Duration: o.Duration},
			})
		}
	}
	if !rules.paused {
		plan.NextSlot = slots.next()
	}
	for _, idx := range waiting {
		if hb := heartbeatDeadline(byName[plan.Outcomes[idx].Name], byName[plan.Outcomes[idx].Name].CreationTimestamp.Time); !hb.IsZero() {
			plan.NextChange = earliest(plan.NextChange, hb)
		}
	}
	return plan
}

// heartbeatDeadline is when r ends for want of renewal, counting from its last renewal or from start (its
// creation while it waits, its grant once it holds), whichever is later; zero without a heartbeatTimeout.
func heartbeatDeadline(r *conchv1.Reservation, start time.Time) time.Time {
	if r.Spec.HeartbeatTimeout == nil {
		return time.Time{}
	}
	last := start
	if r.Spec.RenewTime != nil && r.Spec.RenewTime.After(last) {
		last = r.Spec.RenewTime.Time
	}
	return CeilMicro(last.Add(r.Spec.HeartbeatTimeout.Duration))
}

func heartbeatMissed(r *conchv1.Reservation, start, now time.Time) bool {
	hb := heartbeatDeadline(r, start)
	return !hb.IsZero() && !now.Before(hb)
}

// holdStart says whether r holds the Resource and since when: by the Resource's record, or, when the record lost it
// (the Resource was re-created), by the Reservation's own status.
func holdStart(r *conchv1.Reservation, recorded map[types.UID]conchv1.ResourceHolder) (time.Time, bool) {
	if h, ok := recorded[r.UID]; ok {
		return h.Since.Time, true
	}
	if r.Status.State == conchv1.StateGranted && r.Status.GrantedAt != nil {
		return r.Status.GrantedAt.Time, true
	}
	return time.Time{}, false
}

// finalReason keeps the reason a final Reservation already carries in its Ready condition.
func finalReason(r *conchv1.Reservation) string {
	for _, c := range r.Status.Conditions {
		if c.Type == conchv1.ConditionReady && c.Reason != "" {
			return c.Reason
		}
	}
	switch r.Status.State {
	case conchv1.StateExpired:
		return conchv1.ReasonExpired
	case conchv1.StateRejected:
		return conchv1.ReasonHolderNotAllowed
	default:
		return conchv1.ReasonReleased
	}
}

// compareArrival orders Reservations first come, first served: by creation time, then by name, then by UID, so
// that two created in the same second (creation timestamps have whole seconds) still have one fixed order.
func compareArrival(a, b conchv1.Reservation) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return cmp.Compare(a.UID, b.UID)
}

// rules are the parts of a Resource's spec the engine applies, with defaults filled in.
type rules struct {
	capacity        int
	defaultDuration time.Duration
	maxDuration     time.Duration // 0: no limit
	paused          bool
	allowed         []string
}

func rulesOf(res *conchv1.Resource) rules {
	r := rules{
		capacity:        int(res.Spec.Capacity),
		defaultDuration: DefaultDuration,
		paused:          res.Spec.Granting == conchv1.GrantingPaused,
		allowed:         res.Spec.AllowedHolders,
	}
	if r.capacity < 1 {
		r.capacity = 1
	}
	if res.Spec.MaxDuration != nil {
		r.maxDuration = res.Spec.MaxDuration.Duration
	}
	if res.Spec.DefaultDuration != nil {
		r.defaultDuration = res.Spec.DefaultDuration.Duration
	}
	if r.maxDuration > 0 && r.defaultDuration > r.maxDuration {
		r.defaultDuration = r.maxDuration
	}
	return r
}

// duration returns the effective length of a hold asked for as requested (0: not named), and whether maxDuration
// shortened it.
func (r rules) duration(requested time.Duration) (time.Duration, bool) {
	if requested <= 0 {
		return r.defaultDuration, false
	}
	if r.maxDuration > 0 && requested > r.maxDuration {
		return r.maxDuration, true
	}
	return requested, false
}

// allows reports whether holder matches allowedHolders (everyone, when it is empty).
func (r rules) allows(holder string) bool {
	if len(r.allowed) == 0 {
		return true
	}
	for _, pattern := range r.allowed {
		if MatchHolder(pattern, holder) {
			return true
		}
	}
	return false
}

// MatchHolder reports whether holder matches pattern, where '*' matches any run of characters and every other
// character matches itself.
func MatchHolder(pattern, holder string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == holder
	}
	if !strings.HasPrefix(holder, parts[0]) {
		return false
	}
	rest := holder[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return len(rest) >= len(last) && strings.HasSuffix(rest, last)
}

// slots simulates when each of a Resource's slots frees up, to estimate grant times of the queue.
type slots struct {
	free []time.Time // the time each slot frees up, sorted
}

func newSlots(capacity int, outcomes []Outcome, held []int, now time.Time) *slots {
	s := &slots{}
	for _, idx := range held {
		o := outcomes[idx]
		end := o.ExpiresAt
		if o.State != conchv1.StateGranted || end.Before(now) {
			end = now // expiring: frees up as soon as its end is recorded
		}
		s.free = append(s.free, end)
	}
	for len(s.free) < capacity {
		s.free = append(s.free, now)
	}
	slices.SortFunc(s.free, time.Time.Compare)
	// Holders beyond capacity (capacity lowered under them) free no slot for the queue until enough have ended.
	if extra := len(s.free) - capacity; extra > 0 {
		s.free = s.free[extra:]
	}
	return s
}

// take returns when the next turn starts and books the slot for d.
func (s *slots) take(d time.Duration) time.Time {
	start := s.free[0]
	s.free[0] = start.Add(d)
	slices.SortFunc(s.free, time.Time.Compare)
	return start
}

// next returns when the next turn would start.
func (s *slots) next() time.Time { return s.free[0] }

// CeilMicro rounds t up to a whole microsecond, the resolution at which metav1.MicroTime stores times, so that a
// time written and read back is never earlier than the time computed.
func CeilMicro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	c := t.Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c
}

func microTime(t *metav1.MicroTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
