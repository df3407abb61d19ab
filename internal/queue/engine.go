// Package queue is Conch's queue engine: given a Resource's ledger (its status: who holds it, who waits with which
// arrival ticket), the Reservations a controller sees and the current time, it decides the next ledger and what
// every Reservation's state is. It is pure: no client, no clock, no randomness, so that every decision can be
// table-tested and the controller only has to read, call Decide, and write.
//
// The ledger is the only truth. A Reservation's own status is a report derived from it and may lag, and the
// controller's view of the Reservations may be stale or incomplete (a cache, or a second manager during a
// rollout: leader election is not fencing). So the engine keeps three promises whatever the view:
//   - never more holders than capacity: only the ledger grants, and a recorded hold is never dropped unless its
//     end is known (its term ran out by the clock, its Reservation's final status is seen, or a read of the API
//     server confirms it is gone);
//   - never early: a hold's term is fixed when it is granted; a shortening and a missed heartbeat are acted on only
//     when the Reservation was just read from the API server;
//   - first come, first served: each Reservation gets an arrival ticket the first time the ledger sees it, and the
//     queue is granted in ticket order.
package queue

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/span"
)

// DefaultDuration is the length of a hold when neither the Reservation nor the Resource names one.
const DefaultDuration = time.Hour

// ArrivalGrace is how long after its creation a Reservation without an arrival number waits to be admitted; past
// it, it is admitted by its creation time (see View.Arrival).
const ArrivalGrace = 5 * time.Second

// View is what a controller knows when it decides about one Resource.
type View struct {
	// Resource is the Resource, with its ledger, as just read from the API server.
	Resource *conchv1.Resource
	// Reservations are the Reservations the controller sees (in any order): those bound to the Resource, the
	// unbound pooled ones whose selector matches it, and those the ledger names. A cache may show old versions or
	// miss some; the engine never lets that grant twice or end early.
	Reservations []conchv1.Reservation
	// Fresh marks Reservations (by UID) that were just read from the API server rather than from a cache.
	Fresh map[types.UID]bool
	// Gone marks ledger entries (by UID) that the API server says no longer exist.
	Gone map[types.UID]bool
	// Arrival, when set, returns the order in which the controller's watch delivered the creation of a
	// Reservation (a sequence number), if it was delivered yet. Creation timestamps have whole seconds, so among the
	// Reservations a look admits together, those created in the same second are ordered by it. A Reservation the
	// cache shows but whose creation was not delivered yet (a cache is updated before its watchers are told) waits
	// for the next look, up to ArrivalGrace. Without Arrival, ties go by name.
	Arrival func(types.UID) (uint64, bool)
	// Usage, when set, returns what a holder holds of the other Resources counted with this one for its
	// spec.limits (see Usage). Limits are fair-use rules, not the ledger's promise: a cache may serve it.
	Usage func(holder string) Usage
}

// Outcome is the engine's decision about one Reservation.
type Outcome struct {
	// Name and UID identify the Reservation.
	Name string
	UID  types.UID

	// State is the Reservation's new state.
	State conchv1.ReservationState
	// Reason is a PascalCase reason for State, one of the conchv1.Reason* constants.
	Reason string
	// Ticket is the arrival ticket the ledger gave it; 0 when it was never admitted.
	Ticket int64

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

	// Bind says that the Reservation is pooled and not bound yet: the controller binds it to this Resource (a
	// write with a precondition, so that two members never both take it) before it records the grant.
	Bind bool
	// Deleting reports that the Reservation is being deleted (or is gone): nothing is written to it.
	Deleting bool
	// Gone reports that the API server confirmed the Reservation no longer exists.
	Gone bool

	// BookedStart and BookedEnd bound a booking's term (spec.startTime); zero for a hold asked for now.
	BookedStart, BookedEnd time.Time
	// ShortenedFor names the booking a walk-in's term was shortened to end at ("bob's booking 09:00–10:00").
	ShortenedFor string
	// WaitingFor says what a waiting Reservation waits for beyond its turn: the booking its term would run into,
	// or the slot a booking whose time came is still held by.
	WaitingFor string
	// Limit names the limit a Reservation is over (it waits, or is Rejected with reason OverLimit).
	Limit string
	// Conflict says why a booking was Rejected (BookingConflict) or could not be moved, and NextFree is the next
	// time a slot is free for its term.
	Conflict string
	NextFree time.Time
	// Preemption is set on a hold that a higher priority is taking (reason Preempting), and on its end (Preempted).
	Preemption *conchv1.Preemption
	// Priority is the priority the Reservation waits or holds with; Jumped, on a grant, counts the Reservations
	// that arrived before it and still wait: it went ahead of them by priority.
	Priority int32
	Jumped   int
}

// Plan is the engine's decision about one Resource.
type Plan struct {
	// Ledger is the Resource's next ledger: its holders (oldest first), its queue (in ticket order), the next
	// ticket and the count of waiting Reservations. Write it only after every final state in Outcomes is written.
	Ledger Ledger
	// Outcomes has one entry per Reservation whose state the Resource decides: those in the ledger, those it just
	// admitted, granted or ended, those it rejects or leaves Pending, and those being deleted. Ordered as the
	// controller reports them: ends first, then holds (granted or kept) and Pending, then the queue in ticket order,
	// then those being deleted that were decided before.
	Outcomes []Outcome
	// Confirm names the Reservations the engine needs read from the API server before it can decide about them:
	// a ledger entry the view lacks, a shortened term, a missed heartbeat or a booking's move seen in a view that
	// may be stale.
	// Their entries are kept unchanged in this plan.
	Confirm []string
	// NextChange is the earliest time at which the plan changes by itself (a hold ends, a heartbeat is due); zero
	// when nothing is timed. It may be now or earlier when Confirm is not empty: the controller reads and decides
	// again first.
	NextChange time.Time
	// NextSlot is when a Reservation arriving now could expect to be granted: now when a slot is free, the end of the
	// first hold or queued turn otherwise; zero when granting is paused.
	NextSlot time.Time
}

// Ledger is the part of a Resource's status that records who holds it and who waits.
type Ledger struct {
	Holders    []conchv1.ResourceHolder
	Queue      []conchv1.QueueEntry
	NextTicket int64
	Waiting    int32
	// RecentlyEnded are the UIDs of the latest Reservations that left the ledger with a known end, oldest first.
	RecentlyEnded []string
	// Turnover is the step between holders that runs (cleanup, health check), if any: nobody is granted while it
	// is set. The engine starts one when a hold ends on a Resource with hooks, and when a Resource with a health
	// check that never ran is free; the TurnoverReconciler runs it and clears it.
	Turnover *conchv1.Turnover
	// HookSequence is the sequence number of the last turnover step started.
	HookSequence int64
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

// Decide computes the Plan for the Resource in v at time now.
func Decide(v View, now time.Time) Plan {
	now = CeilMicro(now)
	d := decider{
		res: v.Resource, rules: rulesOf(v.Resource), now: now, fresh: v.Fresh, gone: v.Gone,
		byUID:   make(map[types.UID]*conchv1.Reservation, len(v.Reservations)),
		next:    max(v.Resource.Status.NextTicket, 1),
		arrival: v.Arrival, usage: v.Usage,
		notes: map[types.UID]note{}, unresolvedTickets: map[int64]bool{},
	}
	for i := range v.Reservations {
		r := &v.Reservations[i]
		d.byUID[r.UID] = r
	}
	d.holders()
	d.queue()
	d.rebook()
	d.admit(v.Reservations)
	d.turnover()
	d.order()
	d.grant()
	d.order()
	d.preempt()
	plan := d.finish()
	d.letGo(&plan, v.Reservations)
	return plan
}

// letGo gives an outcome marked Deleting to every Reservation being deleted that the plan neither keeps in the
// ledger nor decided about (it ended before, or its view is older than its end), so that the controller removes
// the finalizer Conch set before v0.2 and it can go.
func (d *decider) letGo(p *Plan, all []conchv1.Reservation) {
	have := make(map[types.UID]bool, len(p.Outcomes)+len(p.Ledger.Holders)+len(p.Ledger.Queue))
	for _, o := range p.Outcomes {
		have[o.UID] = true
	}
	for _, h := range p.Ledger.Holders {
		have[types.UID(h.UID)] = true
	}
	for _, q := range p.Ledger.Queue {
		have[types.UID(q.UID)] = true
	}
	for i := range all {
		r := &all[i]
		if r.DeletionTimestamp == nil || have[r.UID] || boundElsewhere(r, d.res.Name) {
			continue
		}
		state := r.Status.State
		if !state.IsFinal() {
			state = conchv1.StateReleased
		}
		p.Outcomes = append(p.Outcomes, Outcome{
			Name: r.Name, UID: r.UID, State: state, Reason: conchv1.ReasonDeleted, EndedAt: d.now, Deleting: true,
		})
	}
}

// decider carries one Decide call.
type decider struct {
	res   *conchv1.Resource
	rules rules
	now   time.Time
	fresh map[types.UID]bool
	gone  map[types.UID]bool
	byUID map[types.UID]*conchv1.Reservation
	// arrival is View.Arrival, usage View.Usage.
	arrival func(types.UID) (uint64, bool)
	usage   func(string) Usage
	// notes say more about a Reservation's outcome: why it waits, or what shortened it.
	notes map[types.UID]note
	// unresolvedTickets are the tickets of the queue entries the engine could not decide about.
	unresolvedTickets map[int64]bool

	holding []conchv1.ResourceHolder
	waiting []conchv1.QueueEntry
	next    int64
	// ended are the outcomes of Reservations that leave the ledger (or never enter it) in a final state.
	ended   []Outcome
	pending []Outcome
	// left are the UIDs that leave the ledger with a known end in this plan.
	left    []string
	confirm []string
	// endedHolds are the holds that leave the ledger in this plan with a known end, in ledger order.
	endedHolds []endedHold
	// turn and seq are the turnover step and sequence the plan records.
	turn *conchv1.Turnover
	seq  int64
}

// endedHold is a hold that ended, as a cleanup hook is told about it.
type endedHold struct {
	holder, reservation, reason string
}

// entryFate is what becomes of a ledger entry.
type entryFate int

const (
	keep    entryFate = iota // still in the ledger
	drop                     // its end is known and already reported (final, gone, bound elsewhere)
	end                      // it ends now: report the final state, then drop it
	unknown                  // the engine cannot tell from this view; confirm with the API server
)

// fate decides what becomes of the ledger entry for uid, held or waiting.
func (d *decider) fate(name string, uid types.UID) (*conchv1.Reservation, entryFate) {
	r, ok := d.byUID[uid]
	switch {
	case !ok && d.gone[uid]:
		return nil, drop
	case !ok:
		d.confirm = append(d.confirm, name)
		return nil, unknown
	case r.Status.State.IsFinal():
		return r, drop
	case boundElsewhere(r, d.res.Name):
		return r, drop
	case r.DeletionTimestamp != nil || r.Spec.Released:
		return r, end
	}
	return r, keep
}

// holders walks the ledger's current holds: they end by the clock, by release, by a missed heartbeat, or by an
// extension that shortens them below the time already held; the others are kept with their fixed terms.
func (d *decider) holders() {
	for _, h := range d.res.Status.Holders {
		uid := types.UID(h.UID)
		r, f := d.fate(h.Reservation, uid)
		switch f {
		case drop:
			d.leave(r, uid)
			switch {
			case r == nil:
				d.ended = append(d.ended, d.goneOutcome(h.Reservation, uid, h.Ticket, h.Since.Time, h.Until.Time))
				d.endedHolds = append(d.endedHolds, endedHold{h.Holder, h.Reservation, conchv1.ReasonDeleted})
			case !boundElsewhere(r, d.res.Name):
				d.endedHolds = append(d.endedHolds, endedHold{h.Holder, h.Reservation, finalReason(r)})
			}
			continue
		case unknown:
			d.holding = append(d.holding, h)
			continue
		}
		h = *h.DeepCopy()
		o := d.outcome(r, h.Ticket)
		term, requested := holderTerm(h, r)
		shortened := false
		if requested != term.requested {
			// An extension or a shortening. An extension is computed with today's rules and never shortens the
			// term; a shortening keeps what was asked, which the Resource allowed when it granted the longer term.
			// A shortening seen in a view that may be stale waits for a read of the API server.
			want := requested
			if want == 0 {
				want = d.rules.defaultDuration
			}
			// A booking held from after its startTime still ends at startTime + duration: its term held is shorter
			// by the time it started late.
			late := time.Duration(0)
			if s := startOf(r); !s.IsZero() && s.Before(h.Since.Time) {
				late = h.Since.Sub(s)
			}
			want = max(want-late, 0)
			dur := want
			if want > term.duration {
				dur, _ = d.rules.duration(requested)
				dur -= late
				// An extension stops where a booking needs the slot, and never shortens the term.
				if b := d.extensionLimit(h); !b.IsZero() && h.Since.Add(dur).After(b) {
					dur = b.Sub(h.Since.Time)
					d.notes[uid] = note{shortenedFor: joinAnd(blocking(b, bookingIntervals(d.res.Status.Queue, "")))}
				}
				dur = max(dur, term.duration)
			}
			until := CeilMicro(h.Since.Add(dur))
			switch {
			case until.Before(h.Until.Time) && !d.now.Before(h.Until.Time):
				// A shortening seen only after the recorded term ran out: the hold ended by its term.
			case until.Before(h.Until.Time) && !d.fresh[uid]:
				d.confirm = append(d.confirm, r.Name)
			default:
				shortened = until.Before(h.Until.Time)
				term = holdTerm{duration: dur, requested: requested}
				h.Duration = &metav1.Duration{Duration: dur}
				h.Requested = optDuration(requested)
				h.Until = metav1.NewMicroTime(until)
			}
		}
		o.Duration, o.Requested = term.duration, requested
		// Clamped by maxDuration, not shortened for a booking or held from after a booking's start.
		_, byMax := d.rules.duration(requested)
		o.Clamped = byMax && requested > term.duration
		o.GrantedAt, o.ExpiresAt = h.Since.Time, h.Until.Time
		o.Priority, o.Preemption = h.Priority, h.Preemption.DeepCopy()
		h.Heartbeat = d.observe(r, h.Heartbeat, h.Since.Time)
		preempted := h.Preemption != nil && h.Preemption.EndsAt.Before(&h.Until)
		if preempted && !d.now.Before(h.Preemption.EndsAt.Time) && !d.preemptionStands(h.Preemption) {
			// Its grace period ran out before anyone decided, and meanwhile preemption was turned off or the one it
			// was for left: the preemption is called off (as preempt would have), not carried out.
			h.Preemption, o.Preemption, preempted = nil, nil, false
		}
		switch hb := d.heartbeat(r, h.Heartbeat); {
		case f == end:
			d.release(&o, r)
		case preempted && !d.now.Before(h.Preemption.EndsAt.Time):
			// Warned, given its grace period, and now ends so that a higher priority gets its turn.
			o.State, o.Reason, o.EndedAt, o.ExpiresAt = conchv1.StateReleased, conchv1.ReasonPreempted, d.now, d.now
		case !d.now.Before(h.Until.Time) && shortened:
			// Shortened below the time already held: it ends now, at the edit, and its record says so.
			o.Duration, o.ExpiresAt = d.now.Sub(h.Since.Time), d.now
			o.State, o.Reason, o.EndedAt = conchv1.StateExpired, conchv1.ReasonShortened, d.now
		case !d.now.Before(h.Until.Time):
			o.State, o.Reason, o.EndedAt = conchv1.StateExpired, conchv1.ReasonExpired, d.now
		case hb == beatMissed:
			o.State, o.Reason, o.EndedAt = conchv1.StateExpired, conchv1.ReasonHeartbeatMissed, d.now
		default:
			o.State, o.Reason = conchv1.StateGranted, conchv1.ReasonGranted
			if want, _ := d.rules.duration(requested); startOf(r).IsZero() && h.Duration != nil && h.Duration.Duration < want {
				// Granted (or extended) short of what it asked for: its term ends where a booking needs the slot.
				o.Reason = conchv1.ReasonShortenedForBooking
				o.ShortenedFor = joinAnd(blocking(h.Until.Time, bookingIntervals(d.res.Status.Queue, "")))
				if o.ShortenedFor == "" {
					o.ShortenedFor = "a booking"
				}
			}
			if preempted {
				o.Reason, o.ExpiresAt = conchv1.ReasonPreempting, h.Preemption.EndsAt.Time
			}
			d.holding = append(d.holding, h)
			d.pending = append(d.pending, o)
			continue
		}
		d.left = append(d.left, string(uid))
		d.ended = append(d.ended, o)
		d.endedHolds = append(d.endedHolds, endedHold{h.Holder, h.Reservation, o.Reason})
	}
}

// queue walks the ledger's waiting Reservations: they leave by release, by a missed heartbeat or when the Resource
// no longer allows their holder; the others keep their tickets.
func (d *decider) queue() {
	for _, q := range d.res.Status.Queue {
		uid := types.UID(q.UID)
		if uid == "" {
			continue // an entry from before tickets: its Reservation is admitted anew
		}
		r, f := d.fate(q.Reservation, uid)
		switch f {
		case drop:
			d.leave(r, uid)
			if r == nil {
				d.ended = append(d.ended, d.goneOutcome(q.Reservation, uid, q.Ticket, time.Time{}, time.Time{}))
			}
			continue
		case unknown:
			d.waiting = append(d.waiting, q)
			d.unresolve(q.Ticket)
			continue
		}
		q = *q.DeepCopy()
		o := d.outcome(r, q.Ticket)
		q.Duration = metav1.Duration{Duration: o.Duration}
		q.Priority = priorityOf(r)
		q.Heartbeat = d.observe(r, q.Heartbeat, time.Time{})
		switch hb := d.heartbeat(r, q.Heartbeat); {
		case f == end:
			d.release(&o, r)
		case !d.rules.allows(r.Spec.Holder):
			if r.Spec.Selector != nil {
				continue // another member of the pool may take it
			}
			o.State, o.Reason, o.EndedAt = conchv1.StateRejected, conchv1.ReasonHolderNotAllowed, d.now
		case hb == beatMissed:
			o.State, o.Reason, o.EndedAt = conchv1.StateExpired, conchv1.ReasonHeartbeatMissed, d.now
		case hb == beatUnsure:
			d.waiting = append(d.waiting, q) // not granted before the read says whether it still lives
			d.unresolve(q.Ticket)
			continue
		default:
			d.waiting = append(d.waiting, q)
			continue
		}
		d.left = append(d.left, string(uid))
		d.ended = append(d.ended, o)
	}
	slices.SortStableFunc(d.waiting, func(a, b conchv1.QueueEntry) int { return cmp.Compare(a.Ticket, b.Ticket) })
}

// admit gives tickets to the Reservations the ledger does not know, in order of creation, and rejects or leaves
// Pending those it cannot admit.
func (d *decider) admit(all []conchv1.Reservation) {
	known := make(map[types.UID]bool, len(d.res.Status.Holders)+len(d.res.Status.Queue))
	for _, h := range d.res.Status.Holders {
		known[types.UID(h.UID)] = true
	}
	for _, q := range d.res.Status.Queue {
		if q.UID != "" {
			known[types.UID(q.UID)] = true
		}
	}
	for _, uid := range d.res.Status.RecentlyEnded {
		known[types.UID(uid)] = true
	}
	for _, uid := range d.left {
		known[types.UID(uid)] = true
	}
	var fresh []*conchv1.Reservation
	for i := range all {
		r := &all[i]
		switch {
		case known[r.UID], r.Status.State.IsFinal(), boundElsewhere(r, d.res.Name):
			continue
		case r.Status.ResourceUID == string(d.res.UID) && d.res.UID != "" &&
			(r.Status.State == conchv1.StateQueued || r.Status.State == conchv1.StateGranted):
			// This ledger admitted it and has since let it go: the view of it is older than its end.
			continue
		case r.Spec.Selector != nil && r.Status.ResourceName == "" && !d.rules.allows(r.Spec.Holder):
			continue // another member of the pool may take it
		case d.arrival != nil && d.now.Sub(r.CreationTimestamp.Time) < ArrivalGrace:
			if _, ok := d.arrival(r.UID); !ok {
				continue // its arrival is not numbered yet: the next look admits it in its place
			}
		}
		fresh = append(fresh, r)
	}
	slices.SortFunc(fresh, d.compareArrival)
	for _, r := range fresh {
		o := d.outcome(r, 0)
		switch {
		case r.DeletionTimestamp != nil || r.Spec.Released:
			d.release(&o, r)
			d.ended = append(d.ended, o)
		case !d.rules.allows(r.Spec.Holder):
			o.State, o.Reason, o.EndedAt = conchv1.StateRejected, conchv1.ReasonHolderNotAllowed, d.now
			d.ended = append(d.ended, o)
		case len(d.waiting) >= conchv1.MaxQueueEntries:
			if r.Spec.Selector == nil || r.Status.ResourceName != "" {
				o.State, o.Reason = conchv1.StatePending, conchv1.ReasonQueueFull
				d.pending = append(d.pending, o)
			}
		case !startOf(r).IsZero() && !CeilMicro(startOf(r).Add(o.Duration)).After(d.now):
			o.State, o.Reason, o.EndedAt = conchv1.StateRejected, conchv1.ReasonBookingInPast, d.now
			o.BookedStart, o.BookedEnd = startOf(r), CeilMicro(startOf(r).Add(o.Duration))
			d.ended = append(d.ended, o)
		case d.rejectsBooking(&o, r):
			if r.Spec.Selector != nil && r.Status.ResourceName == "" {
				continue // a pooled booking: another member of the pool may have room for it
			}
			d.ended = append(d.ended, o)
		case d.rules.limits != nil && d.rules.limits.reject && startOf(r).IsZero() && d.overLimit(r, o.Duration) != "":
			o.State, o.Reason, o.EndedAt, o.Limit = conchv1.StateRejected, conchv1.ReasonOverLimit, d.now, d.overLimit(r, o.Duration)
			d.ended = append(d.ended, o)
		default:
			q := conchv1.QueueEntry{
				Reservation: r.Name, UID: string(r.UID), Holder: r.Spec.Holder, Ticket: d.next,
				Duration: metav1.Duration{Duration: o.Duration},
				Admitted: ptrMicro(d.now), Priority: priorityOf(r),
			}
			if s := startOf(r); !s.IsZero() {
				q.StartTime = &metav1.Time{Time: s}
			}
			q.Heartbeat = d.observe(r, nil, time.Time{})
			d.next++
			d.waiting = append(d.waiting, q)
		}
	}
}

// turnover starts the step between holders that the Resource's hooks ask for: a cleanup (or, without one, a
// health check) when a hold ends, and a first health check when a Resource that never passed one is free. One
// step at a time: a hold that ends while a step runs marks it to clean again. Nothing starts on an Unhealthy
// Resource: its repair does.
func (d *decider) turnover() {
	st, spec := d.res.Status, d.res.Spec
	d.turn, d.seq = st.Turnover.DeepCopy(), st.HookSequence
	if d.rules.unhealthy || (spec.OnRelease == nil && spec.HealthCheck == nil) {
		return
	}
	switch {
	case len(d.endedHolds) > 0 && d.turn != nil:
		if spec.OnRelease != nil {
			d.turn.EndedMeanwhile += int32(len(d.endedHolds))
		}
	case len(d.endedHolds) > 0:
		last := d.endedHolds[len(d.endedHolds)-1]
		step := conchv1.StepCleaning
		if spec.OnRelease == nil {
			step = conchv1.StepChecking
		}
		d.start(step)
		d.turn.PreviousHolder, d.turn.PreviousReservation, d.turn.ReleaseReason = last.holder, last.reservation, last.reason
	case d.turn == nil && spec.HealthCheck != nil && st.LastCheckTime == nil && len(d.holding) == 0:
		d.start(conchv1.StepChecking)
	}
}

// finalReason is the reason of r's final state, as its Ready condition says (its state when it has none).
func finalReason(r *conchv1.Reservation) string {
	if c := meta.FindStatusCondition(r.Status.Conditions, conchv1.ConditionReady); c != nil {
		return c.Reason
	}
	return string(r.Status.State)
}

// start records a new turnover step.
func (d *decider) start(step conchv1.TurnoverStep) {
	d.seq++
	d.turn = &conchv1.Turnover{Step: step, Sequence: d.seq, StartedAt: metav1.NewTime(d.now)}
}

// grant fills free slots in the order of the queue (d.order): first the bookings whose time came, then the
// walk-ins by priority and arrival, stopping at an entry the engine could not decide about. A walk-in whose term
// would run into a booking is shortened to end at it, or waits (spec.bookings.walkIns) while shorter ones behind it
// fit; one over a limit waits or is rejected (spec.limits.whenOver). Nothing is granted while granting is paused,
// a turnover step runs, or the Resource is Unhealthy; a booking whose whole term passed meanwhile ends unheld.
func (d *decider) grant() {
	blocked := d.rules.paused || d.rules.unhealthy || d.turn != nil
	hasBookings := slices.ContainsFunc(d.waiting, func(q conchv1.QueueEntry) bool { return q.StartTime != nil })
	keep := make([]conchv1.QueueEntry, 0, len(d.waiting))
	var granted []int // indexes in d.pending of walk-ins granted with a priority
	stop := false
	for i, q := range d.waiting {
		r := d.byUID[types.UID(q.UID)]
		unresolved := r == nil || d.isUnresolved(q.Ticket)
		booking := q.StartTime != nil
		switch {
		case booking && !unresolved && !bookedEnd(q).After(d.now):
			o := d.outcome(r, q.Ticket)
			o.State, o.Reason, o.EndedAt = conchv1.StateExpired, conchv1.ReasonBookingMissed, d.now
			o.BookedStart, o.BookedEnd = q.StartTime.Time, bookedEnd(q)
			d.left = append(d.left, q.UID)
			d.ended = append(d.ended, o)
			continue
		case booking && q.StartTime.After(d.now), blocked, stop:
			keep = append(keep, q)
			continue
		case unresolved:
			stop = true // first come, first served: nothing passes an entry the engine could not decide about
			keep = append(keep, q)
			continue
		case len(d.holding) >= d.rules.capacity:
			if booking {
				d.notes[r.UID] = note{waitingFor: d.res.Name + " to be free: " + heldBy(d.holding)}
			}
			keep = append(keep, q)
			continue
		case booking:
			d.hold(q, r, bookedEnd(q))
			continue
		}
		dur, _ := d.rules.duration(requestedOf(r))
		if lim := d.overLimit(r, dur); lim != "" {
			if d.rules.limits.reject {
				o := d.outcome(r, q.Ticket)
				o.State, o.Reason, o.EndedAt, o.Limit = conchv1.StateRejected, conchv1.ReasonOverLimit, d.now, lim
				d.left = append(d.left, q.UID)
				d.ended = append(d.ended, o)
				continue
			}
			d.notes[r.UID] = note{limit: lim}
			keep = append(keep, q)
			continue
		}
		until := CeilMicro(d.now.Add(dur))
		if hasBookings {
			rest := bookingIntervals(append(slices.Clone(keep), d.waiting[i+1:]...), "")
			ivs := append(promisedIntervals(d.holding, d.now), rest...)
			if b := blockedFrom(d.now, ivs, d.rules.capacity); !b.IsZero() && b.Before(until) {
				why := joinAnd(blocking(b, rest))
				if d.rules.walkIns == conchv1.WalkInWait || b.Sub(d.now) < min(MinShortenedTerm, dur) {
					d.notes[r.UID] = note{waitingFor: why} // shorter holds behind it may fit before the booking
					keep = append(keep, q)
					continue
				}
				until = b
				d.notes[r.UID] = note{shortenedFor: why}
			}
		}
		d.hold(q, r, until)
		if q.Priority > 0 {
			granted = append(granted, len(d.pending)-1)
		}
	}
	for _, i := range granted {
		o := &d.pending[i]
		for _, q := range keep {
			if q.StartTime == nil && q.Ticket < o.Ticket {
				o.Jumped++
			}
		}
	}
	d.waiting = keep
}

// hold grants the queue entry q of r now, until until.
func (d *decider) hold(q conchv1.QueueEntry, r *conchv1.Reservation, until time.Time) {
	requested := requestedOf(r)
	_, clamped := d.rules.duration(requested)
	until = CeilMicro(until)
	term := until.Sub(d.now)
	if dur, _ := d.rules.duration(requested); q.StartTime == nil && until.Equal(CeilMicro(d.now.Add(dur))) {
		term = dur // the whole term asked for, as asked (until is rounded up to the microsecond)
	}
	h := conchv1.ResourceHolder{
		Reservation: q.Reservation, UID: q.UID, Holder: q.Holder, Ticket: q.Ticket,
		Since: metav1.NewMicroTime(d.now), Duration: &metav1.Duration{Duration: term},
		Requested: optDuration(requested), Until: metav1.NewMicroTime(until),
		Priority: q.Priority,
	}
	if r.Spec.Preemptible == conchv1.PreemptibleNever {
		h.Preemptible = conchv1.PreemptibleNever
	}
	if q.Heartbeat != nil {
		// Granting is a sign of life too: the holder gets a whole heartbeatTimeout from now.
		h.Heartbeat = q.Heartbeat.DeepCopy()
		h.Heartbeat.ObservedAt = metav1.NewMicroTime(d.now)
	}
	o := d.outcome(r, q.Ticket)
	o.State, o.Reason, o.Clamped = conchv1.StateGranted, conchv1.ReasonGranted, clamped
	o.Duration, o.GrantedAt, o.ExpiresAt, o.Priority = term, h.Since.Time, h.Until.Time, q.Priority
	if q.StartTime != nil {
		o.BookedStart, o.BookedEnd = q.StartTime.Time, until
	}
	o.Bind = r.Spec.Selector != nil && r.Status.ResourceName == ""
	d.holding = append(d.holding, h)
	d.pending = append(d.pending, o)
}

// heldBy lists the holders of holds, with their ends.
func heldBy(holds []conchv1.ResourceHolder) string {
	s := make([]string, 0, len(holds))
	for _, h := range holds {
		s = append(s, fmt.Sprintf("%s until %s", h.Holder, clock(HoldEnd(h))))
	}
	return joinAnd(s)
}

// rebook applies edits of spec.startTime and spec.duration to the bookings in the queue: a booking moves when its
// new term fits beside the others, and otherwise keeps its slot and says why it could not move; a walk-in given a
// startTime becomes a booking the same way, and a booking whose startTime is removed waits as a walk-in. Such an
// edit is acted on only when the Reservation was just read from the API server.
func (d *decider) rebook() {
	old := make(map[string]conchv1.QueueEntry, len(d.res.Status.Queue))
	for _, q := range d.res.Status.Queue {
		old[q.UID] = q
	}
	for i := range d.waiting {
		q := &d.waiting[i]
		r := d.byUID[types.UID(q.UID)]
		if r == nil || d.isUnresolved(q.Ticket) {
			continue
		}
		s := startOf(r)
		prev := old[q.UID]
		switch {
		case s.IsZero() && prev.StartTime == nil:
			continue
		case prev.StartTime != nil && prev.StartTime.Time.Equal(s) && prev.Duration == q.Duration:
			continue
		case !d.fresh[r.UID]:
			// A move seen in a view that may be older than the ledger's booking (a cache from before the person
			// booked or moved it) must not undo it: the entry stays as recorded until a read of the API server.
			q.StartTime, q.Duration = prev.StartTime, prev.Duration
			if prev.StartTime == nil {
				q.Duration = metav1.Duration{Duration: d.outcome(r, 0).Duration}
			}
			d.confirm = append(d.confirm, r.Name)
			d.unresolve(q.Ticket)
			continue
		case s.IsZero():
			q.StartTime = nil
			continue
		}
		if prev.StartTime != nil && !s.Before(prev.StartTime.Time) && !CeilMicro(s.Add(q.Duration.Duration)).After(bookedEnd(prev)) {
			// Within its own slot (a shortening): it takes nothing from anyone, so it cannot conflict, even where
			// capacity was lowered under the bookings.
			q.StartTime = &metav1.Time{Time: s}
			continue
		}
		if conflict, next := d.book(r, s, q.Duration.Duration); conflict != "" {
			q.StartTime, q.Duration = prev.StartTime, prev.Duration
			if prev.StartTime == nil {
				q.Duration = metav1.Duration{Duration: d.outcome(r, 0).Duration} // a walk-in waits for what it asks now
			}
			d.notes[r.UID] = note{conflict: "cannot move to " + clock(s) + ": " + conflict, nextFree: next}
			continue
		}
		q.StartTime = &metav1.Time{Time: s}
	}
}

// rejectsBooking rejects the new booking r, in o, when it does not fit beside the holds and bookings promised.
func (d *decider) rejectsBooking(o *Outcome, r *conchv1.Reservation) bool {
	s := startOf(r)
	if s.IsZero() {
		return false
	}
	conflict, next := d.book(r, s, o.Duration)
	if conflict == "" {
		return false
	}
	o.State, o.Reason, o.EndedAt = conchv1.StateRejected, conchv1.ReasonBookingConflict, d.now
	o.BookedStart, o.BookedEnd = s, CeilMicro(s.Add(o.Duration))
	o.Conflict, o.NextFree = conflict, next
	return true
}

// extensionLimit is the latest a hold h may be extended to: when the other holds and the bookings fill every
// slot after its current end; zero when nothing does. The other holds count with the terms this plan gave them
// so far (an extension before this one), else as read.
func (d *decider) extensionLimit(h conchv1.ResourceHolder) time.Time {
	planned := make(map[string]conchv1.ResourceHolder, len(d.holding))
	for _, o := range d.holding {
		planned[o.UID] = o
	}
	var ivs []interval
	for _, o := range d.res.Status.Holders {
		if p, ok := planned[o.UID]; ok {
			o = p
		}
		if o.UID != h.UID {
			ivs = append(ivs, promisedIntervals([]conchv1.ResourceHolder{o}, d.now)...)
		}
	}
	ivs = append(ivs, bookingIntervals(d.res.Status.Queue, "")...)
	return blockedFrom(h.Until.Time, ivs, d.rules.capacity)
}

func ptrMicro(t time.Time) *metav1.MicroTime {
	m := metav1.NewMicroTime(t)
	return &m
}

// finish computes positions and estimates, the next timed change, and assembles the plan.
func (d *decider) finish() Plan {
	slices.SortStableFunc(d.holding, func(a, b conchv1.ResourceHolder) int { return a.Since.Compare(b.Since.Time) })
	walkIns := int32(0)
	for _, q := range d.waiting {
		if q.StartTime == nil {
			walkIns++
		}
	}
	p := Plan{
		Ledger: Ledger{
			Holders: d.holding, Queue: d.waiting, NextTicket: d.next, Waiting: walkIns,
			RecentlyEnded: recentlyEnded(d.res.Status.RecentlyEnded, d.left),
			Turnover:      d.turn, HookSequence: d.seq,
		},
	}
	p.Outcomes = append(p.Outcomes, d.ended...)
	p.Outcomes = append(p.Outcomes, d.pending...)
	est := Estimate(d.res, p.Ledger, d.now)
	overDaily := false
	for i, q := range d.waiting {
		r := d.byUID[types.UID(q.UID)]
		if q.StartTime != nil {
			// A booking whose time came and still waits (paused, a step between holders, its slot held) changes by
			// itself only at its end; what it waits for wakes the controller (a hold's end, a watch event).
			if q.StartTime.After(d.now) {
				p.NextChange = earliest(p.NextChange, q.StartTime.Time)
			}
			p.NextChange = earliest(p.NextChange, bookedEnd(q))
		}
		if r == nil {
			continue
		}
		o := d.outcome(r, q.Ticket)
		o.State, o.Reason, o.Priority = conchv1.StateQueued, conchv1.ReasonQueued, q.Priority
		o.Waiting, o.EstimatedGrantTime, o.Position = p.Ledger.Waiting, est.Turns[i], est.Positions[i]
		switch n := d.notes[r.UID]; {
		case q.StartTime != nil:
			o.Reason, o.BookedStart, o.BookedEnd = conchv1.ReasonBooked, q.StartTime.Time, bookedEnd(q)
		case n.limit != "":
			o.Reason = conchv1.ReasonOverLimit
			overDaily = overDaily || d.rules.limits.maxPerDay > 0
		case n.waitingFor != "":
			o.Reason = conchv1.ReasonWaitingForBooking
		}
		p.Outcomes = append(p.Outcomes, o)
	}
	if overDaily {
		p.NextChange = earliest(p.NextChange, d.nextDay())
	}
	for i := range p.Outcomes {
		o := &p.Outcomes[i]
		n, ok := d.notes[o.UID]
		if !ok {
			continue
		}
		o.ShortenedFor, o.Limit, o.Conflict, o.NextFree = n.shortenedFor, n.limit, n.conflict, n.nextFree
		if o.State == conchv1.StateQueued {
			o.WaitingFor = n.waitingFor
		}
		if o.State == conchv1.StateGranted && n.shortenedFor != "" && o.Reason == conchv1.ReasonGranted {
			o.Reason = conchv1.ReasonShortenedForBooking
		}
	}
	// A hold says whether it is being preempted as the plan leaves it: a preemption may start or be called off in
	// this plan.
	holdAt := make(map[types.UID]int, len(d.holding))
	for i, h := range d.holding {
		holdAt[types.UID(h.UID)] = i
	}
	for i := range p.Outcomes {
		o := &p.Outcomes[i]
		j, ok := holdAt[o.UID]
		if !ok || o.State != conchv1.StateGranted {
			continue
		}
		switch h := d.holding[j]; {
		case h.Preemption != nil && h.Preemption.EndsAt.Before(&h.Until):
			o.Reason, o.ExpiresAt, o.Preemption = conchv1.ReasonPreempting, h.Preemption.EndsAt.Time, h.Preemption.DeepCopy()
		case o.Reason == conchv1.ReasonPreempting:
			o.Reason, o.ExpiresAt, o.Preemption = conchv1.ReasonGranted, h.Until.Time, nil
		}
	}
	p.NextSlot = est.NextSlot
	for _, h := range d.holding {
		p.NextChange = earliest(p.NextChange, HoldEnd(h))
		if r := d.byUID[types.UID(h.UID)]; r != nil && h.Heartbeat != nil {
			p.NextChange = earliest(p.NextChange, d.deadline(r, h.Heartbeat))
		}
	}
	for _, q := range d.waiting {
		if r := d.byUID[types.UID(q.UID)]; r != nil && q.Heartbeat != nil {
			p.NextChange = earliest(p.NextChange, d.deadline(r, q.Heartbeat))
		}
	}
	slices.Sort(d.confirm)
	p.Confirm = slices.Compact(d.confirm)
	return p
}

// leave notes that the entry uid leaves the ledger because its end is known (r final, or gone), unless it leaves
// because another member of its pool bound it: that is no end, and it may come back if that member is deleted.
func (d *decider) leave(r *conchv1.Reservation, uid types.UID) {
	if r == nil || !boundElsewhere(r, d.res.Name) {
		d.left = append(d.left, string(uid))
	}
}

// recentlyEnded appends left to old, keeping the last conchv1.MaxRecentlyEnded.
func recentlyEnded(old, left []string) []string {
	if len(left) == 0 {
		return old
	}
	out := append(slices.Clone(old), left...)
	if n := len(out) - conchv1.MaxRecentlyEnded; n > 0 {
		out = out[n:]
	}
	return out
}

// outcome starts the outcome of r with its duration after today's rules.
func (d *decider) outcome(r *conchv1.Reservation, ticket int64) Outcome {
	requested := requestedOf(r)
	dur, clamped := d.rules.duration(requested)
	return Outcome{
		Name: r.Name, UID: r.UID, Ticket: ticket, Duration: dur, Requested: requested, Clamped: clamped,
		Deleting: r.DeletionTimestamp != nil,
	}
}

// goneOutcome is the outcome of a ledger entry whose Reservation the API server says is gone: released by
// deletion. Nothing is written to it; the controller records the end in Events and metrics.
func (d *decider) goneOutcome(name string, uid types.UID, ticket int64, since, until time.Time) Outcome {
	return Outcome{
		Name: name, UID: uid, Ticket: ticket, State: conchv1.StateReleased, Reason: conchv1.ReasonDeleted,
		GrantedAt: since, ExpiresAt: until, EndedAt: d.now, Deleting: true, Gone: true,
	}
}

// release ends o as released by its holder, by the end of the object that held it (spec.heldBy), or as deleted.
func (d *decider) release(o *Outcome, r *conchv1.Reservation) {
	o.State, o.Reason, o.EndedAt = conchv1.StateReleased, conchv1.ReasonReleased, d.now
	switch {
	case r.DeletionTimestamp != nil:
		o.Reason = conchv1.ReasonDeleted
	case ReleasedBecause(r) != "":
		o.Reason = ReleasedBecause(r)
	}
}

// ReleasedBecause returns HolderFinished or HolderDeleted when Conch released r because the object holding it
// ended (the annotation conch.dev/released-because), else "".
func ReleasedBecause(r *conchv1.Reservation) string {
	if !r.Spec.Released {
		return ""
	}
	why, _, _ := strings.Cut(r.Annotations[conchv1.AnnotationReleasedBecause], ":")
	switch why = strings.TrimSpace(why); why {
	case conchv1.ReasonHolderFinished, conchv1.ReasonHolderDeleted:
		return why
	}
	return ""
}

// unresolve notes that the entry with this ticket could not be decided about.
func (d *decider) unresolve(ticket int64) {
	d.unresolvedTickets[ticket] = true
}

// observe returns the heartbeat record of r after this look at it: a new renewTime value starts the count again
// from now, on the controller's clock; start (when not zero) is the latest the count may start from.
func (d *decider) observe(r *conchv1.Reservation, rec *conchv1.HeartbeatRecord, start time.Time) *conchv1.HeartbeatRecord {
	if r.Spec.HeartbeatTimeout == nil {
		return nil
	}
	if rec == nil {
		at := d.now
		if !start.IsZero() {
			at = start
		}
		return &conchv1.HeartbeatRecord{RenewTime: r.Spec.RenewTime.DeepCopy(), ObservedAt: metav1.NewMicroTime(at)}
	}
	if !sameMicro(rec.RenewTime, r.Spec.RenewTime) {
		return &conchv1.HeartbeatRecord{RenewTime: r.Spec.RenewTime.DeepCopy(), ObservedAt: metav1.NewMicroTime(d.now)}
	}
	return rec.DeepCopy()
}

// deadline is when r's heartbeat is missed: a heartbeatTimeout after the last renewal observed.
func (d *decider) deadline(r *conchv1.Reservation, rec *conchv1.HeartbeatRecord) time.Time {
	if r.Spec.HeartbeatTimeout == nil || rec == nil {
		return time.Time{}
	}
	return CeilMicro(rec.ObservedAt.Add(r.Spec.HeartbeatTimeout.Duration))
}

// beat is what the engine makes of a heartbeat.
type beat int

const (
	beatAlive  beat = iota // renewed in time, or no heartbeat asked for
	beatMissed             // missed, as a read of the API server just confirmed
	beatUnsure             // missed in a view that may be stale: the engine asks for a read
)

// heartbeat tells whether r's heartbeat is missed. A missed heartbeat counts only for a Reservation just read from
// the API server: a cache that has not seen the latest renewal must not end a hold.
func (d *decider) heartbeat(r *conchv1.Reservation, rec *conchv1.HeartbeatRecord) beat {
	dl := d.deadline(r, rec)
	switch {
	case dl.IsZero() || d.now.Before(dl):
		return beatAlive
	case d.fresh[r.UID]:
		return beatMissed
	}
	d.confirm = append(d.confirm, r.Name)
	return beatUnsure
}

// holdTerm is how a hold's length was computed.
type holdTerm struct {
	duration  time.Duration
	requested time.Duration
}

// holderTerm returns the term recorded for h and what r asks for now. A hold recorded before terms were kept
// (no duration) keeps until − since and is taken to have been computed from r's current request.
func holderTerm(h conchv1.ResourceHolder, r *conchv1.Reservation) (holdTerm, time.Duration) {
	requested := requestedOf(r)
	if h.Duration == nil {
		return holdTerm{duration: h.Until.Sub(h.Since.Time), requested: requested}, requested
	}
	t := holdTerm{duration: h.Duration.Duration}
	if h.Requested != nil {
		t.requested = h.Requested.Duration
	}
	return t, requested
}

// Turns are the estimates for a ledger's queue.
type Turns struct {
	// Turns[i] is when the i-th entry of the queue is expected to be granted; zero when granting is paused.
	Turns []time.Time
	// Positions[i] is the i-th entry's place in line among those waiting for their turn; 0 for a booking, which
	// starts at its startTime.
	Positions []int32
	// NextSlot is when a Reservation arriving now could expect its turn; zero when granting is paused.
	NextSlot time.Time
}

// Estimate simulates the slots of res with ledger l from now: each current hold frees its slot at its until (at
// now when it is already due), and each waiting Reservation takes the first slot to free for its duration.
func Estimate(res *conchv1.Resource, l Ledger, now time.Time) Turns {
	ru := rulesOf(res)
	t := Turns{Turns: make([]time.Time, len(l.Queue)), Positions: positions(l.Queue)}
	if ru.paused || ru.unhealthy {
		return t
	}
	if slices.ContainsFunc(l.Queue, func(q conchv1.QueueEntry) bool { return q.StartTime != nil }) {
		t.Turns, t.NextSlot = estimateAroundBookings(ru, l, now)
		return t
	}
	s := &slots{}
	for _, h := range l.Holders {
		s.free = append(s.free, span.Later(HoldEnd(h), now))
	}
	for len(s.free) < ru.capacity {
		s.free = append(s.free, now)
	}
	slices.SortFunc(s.free, time.Time.Compare)
	// Holders beyond capacity (capacity lowered under them) free no slot for the queue until enough have ended.
	if extra := len(s.free) - ru.capacity; extra > 0 {
		s.free = s.free[extra:]
	}
	for i, q := range l.Queue {
		t.Turns[i] = s.take(q.Duration.Duration)
	}
	t.NextSlot = s.next()
	return t
}

// positions numbers the entries of a queue that wait for their turn, in order; bookings get 0.
func positions(queue []conchv1.QueueEntry) []int32 {
	out := make([]int32, len(queue))
	n := int32(0)
	for i, q := range queue {
		if q.StartTime == nil {
			n++
			out[i] = n
		}
	}
	return out
}

// LedgerOf returns the ledger recorded in res's status.
func LedgerOf(res *conchv1.Resource) Ledger {
	return Ledger{
		Holders: res.Status.Holders, Queue: res.Status.Queue, NextTicket: res.Status.NextTicket,
		Waiting: int32(len(res.Status.Queue)), RecentlyEnded: res.Status.RecentlyEnded,
		Turnover: res.Status.Turnover, HookSequence: res.Status.HookSequence,
	}
}

// Matches reports whether the pooled Reservation r may be taken by res: its selector matches res's labels in the
// same namespace. A Reservation by name never matches here.
func Matches(r *conchv1.Reservation, res *conchv1.Resource) bool {
	if r.Spec.Selector == nil || r.Namespace != res.Namespace {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(r.Spec.Selector)
	return err == nil && !sel.Empty() && sel.Matches(labels.Set(res.Labels))
}

// boundElsewhere reports whether r is bound to a Resource other than name.
func boundElsewhere(r *conchv1.Reservation, name string) bool {
	if r.Spec.ResourceName != "" {
		return r.Spec.ResourceName != name
	}
	return r.Status.ResourceName != "" && r.Status.ResourceName != name
}

func requestedOf(r *conchv1.Reservation) time.Duration {
	if r != nil && r.Spec.Duration != nil {
		return r.Spec.Duration.Duration
	}
	return 0
}

func optDuration(d time.Duration) *metav1.Duration {
	if d == 0 {
		return nil
	}
	return &metav1.Duration{Duration: d}
}

func sameMicro(a, b *metav1.MicroTime) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(b)
}

// compareArrival orders Reservations that arrive at the ledger together: by creation time (whole seconds), then
// in the order the watch delivered their creation (one without a number, admitted after ArrivalGrace, came
// first), then by name and UID. It only breaks ties within one look: the ticket is what orders the queue.
func (d *decider) compareArrival(a, b *conchv1.Reservation) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	if d.arrival != nil {
		sa, oka := d.arrival(a.UID)
		sb, okb := d.arrival(b.UID)
		switch {
		case oka && okb && sa != sb:
			return cmp.Compare(sa, sb)
		case oka != okb:
			if okb {
				return -1
			}
			return 1
		}
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
	// unhealthy: the Resource failed its cleanup or health check (its Healthy condition is False).
	unhealthy bool
	allowed   []string

	walkIns    conchv1.WalkInPolicy
	preemption conchv1.PreemptionPolicy
	grace      time.Duration
	aging      time.Duration
	limits     *limitRules
}

// limitRules are a Resource's spec.limits, with defaults filled in.
type limitRules struct {
	maxHolds  int
	maxPerDay time.Duration
	loc       *time.Location
	reject    bool
}

func rulesOf(res *conchv1.Resource) rules {
	r := rules{
		capacity:        int(res.Spec.Capacity),
		defaultDuration: DefaultDuration,
		paused:          res.Spec.Granting == conchv1.GrantingPaused,
		unhealthy:       meta.IsStatusConditionFalse(res.Status.Conditions, conchv1.ResourceConditionHealthy),
		allowed:         res.Spec.AllowedHolders,
	}
	if r.capacity < 1 {
		r.capacity = 1
	}
	r.walkIns, r.preemption = conchv1.WalkInShorten, conchv1.PreemptionQueue
	r.grace, r.aging = DefaultGracePeriod, DefaultAgingInterval
	if b := res.Spec.Bookings; b != nil && b.WalkIns != "" {
		r.walkIns = b.WalkIns
	}
	if p := res.Spec.Priorities; p != nil {
		if p.Preemption != "" {
			r.preemption = p.Preemption
		}
		if p.GracePeriod != nil {
			r.grace = p.GracePeriod.Duration
		}
		if p.AgingInterval != nil && p.AgingInterval.Duration > 0 {
			r.aging = p.AgingInterval.Duration
		}
	}
	if l := res.Spec.Limits; l != nil {
		r.limits = &limitRules{maxHolds: int(l.MaxHoldsPerHolder), reject: l.WhenOver == conchv1.LimitReject, loc: time.UTC}
		if l.MaxHoldTimePerDay != nil {
			r.limits.maxPerDay = l.MaxHoldTimePerDay.Duration
		}
		if loc, err := LimitsLocation(l); err == nil {
			r.limits.loc = loc
		}
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

// Allows reports whether res lets holder hold it (allowedHolders, everyone when empty).
func Allows(res *conchv1.Resource, holder string) bool { return rulesOf(res).allows(holder) }

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

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// Term returns how long res would hold r if granted now, what r asked for (zero: nothing named), and whether the
// Resource's maxDuration shortened it.
func Term(res *conchv1.Resource, r *conchv1.Reservation) (dur, requested time.Duration, clamped bool) {
	requested = requestedOf(r)
	dur, clamped = rulesOf(res).duration(requested)
	return dur, requested, clamped
}

// note says more about one Reservation's outcome.
type note struct {
	shortenedFor, waitingFor, limit, conflict string
	nextFree                                  time.Time
}

// isUnresolved reports whether the queue entry with this ticket could not be decided about.
func (d *decider) isUnresolved(ticket int64) bool { return d.unresolvedTickets[ticket] }
