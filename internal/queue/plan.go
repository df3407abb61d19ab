package queue

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/span"
)

// This file plans turns ahead of the queue: bookings (a hold that starts at spec.startTime), priorities with aging
// and polite preemption, and limits per holder. docs/planning.md states the rules for users.

// DefaultGracePeriod is how long a preempted holder keeps the Resource after the warning, unless the Resource says.
const DefaultGracePeriod = 5 * time.Minute

// DefaultAgingInterval is how long a Reservation waits for each point its priority rises, unless the Resource says.
const DefaultAgingInterval = 10 * time.Minute

// MinShortenedTerm is the shortest term a walk-in is granted when it is shortened to end at a booking: a shorter
// one waits for the booking to end instead.
const MinShortenedTerm = time.Minute

// Usage is what a holder holds of the Resources counted with a Resource for its limits, besides what this
// Resource's ledger holds now.
type Usage struct {
	// Holds is how many holds the holder has on the other Resources of the limits' scope.
	Holds int
	// HeldToday is how long the holder held, or is promised to hold, today (from midnight in the limits' time
	// zone) on the other Resources of the scope, plus the holds on this Resource that ended today.
	HeldToday time.Duration
}

// interval is a stretch of time during which one slot of a Resource is promised to someone.
type interval struct {
	from, to time.Time
	// what says whose it is, for messages: "alice's hold" or "bob's booking".
	what string
}

// blockedFrom returns the earliest time at or after from at which the intervals fill capacity slots, or zero if
// they never do.
func blockedFrom(from time.Time, ivs []interval, capacity int) time.Time {
	type event struct {
		at    time.Time
		delta int
	}
	n := 0
	var events []event
	for _, iv := range ivs {
		switch {
		case !iv.to.After(from):
		case !iv.from.After(from):
			n++
			events = append(events, event{iv.to, -1})
		default:
			events = append(events, event{iv.from, +1}, event{iv.to, -1})
		}
	}
	if n >= capacity {
		return from
	}
	// Ends before starts at the same instant: a hold that ends at 9:00 leaves room for a booking from 9:00.
	slices.SortFunc(events, func(a, b event) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.delta, b.delta)
	})
	for _, e := range events {
		n += e.delta
		if n >= capacity {
			return e.at
		}
	}
	return time.Time{}
}

// fits reports whether a slot is free from from until to beside the intervals.
func fits(from, to time.Time, ivs []interval, capacity int) bool {
	b := blockedFrom(from, ivs, capacity)
	return b.IsZero() || !b.Before(to)
}

// nextFree returns the earliest time at or after from at which a slot is free for d beside the intervals.
func nextFree(from time.Time, d time.Duration, ivs []interval, capacity int) time.Time {
	candidates := startsFrom(from, ivs)
	for _, t := range candidates {
		if fits(t, t.Add(d), ivs, capacity) {
			return t
		}
	}
	return candidates[len(candidates)-1]
}

// startsFrom returns, in order, the times at or after from at which a turn could start beside the intervals: from
// itself and each end of one (a slot frees only when something ends).
func startsFrom(from time.Time, ivs []interval) []time.Time {
	out := []time.Time{from}
	for _, iv := range ivs {
		if iv.to.After(from) {
			out = append(out, iv.to)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// blocking names the intervals that fill the slots at t.
func blocking(t time.Time, ivs []interval) []string {
	var out []string
	for _, iv := range ivs {
		if !iv.from.After(t) && iv.to.After(t) {
			out = append(out, fmt.Sprintf("%s %s–%s", iv.what, clock(iv.from), clock(iv.to)))
		}
	}
	return out
}

func clock(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// bookedEnd is when the booking q ends.
func bookedEnd(q conchv1.QueueEntry) time.Time {
	return CeilMicro(q.StartTime.Add(q.Duration.Duration))
}

// holdIntervals are the slots the holds in the ledger are expected to take, to their end (a preempted hold's end):
// for estimates.
func holdIntervals(holders []conchv1.ResourceHolder, now time.Time) []interval {
	out := make([]interval, 0, len(holders))
	for _, h := range holders {
		out = append(out, interval{from: now, to: span.Later(HoldEnd(h), now), what: h.Holder + "'s hold"})
	}
	return out
}

// promisedIntervals are the slots the holds in the ledger are promised, to their until: what is planned beside
// them (a booking, a walk-in's term, an extension) fits their whole term, since a preemption may be called off.
func promisedIntervals(holders []conchv1.ResourceHolder, now time.Time) []interval {
	out := make([]interval, 0, len(holders))
	for _, h := range holders {
		out = append(out, interval{from: now, to: span.Later(h.Until.Time, now), what: h.Holder + "'s hold"})
	}
	return out
}

// HoldEnd is when the hold h ends: its term, or the end of its preemption if that comes first.
func HoldEnd(h conchv1.ResourceHolder) time.Time {
	if h.Preemption != nil && h.Preemption.EndsAt.Before(&h.Until) {
		return h.Preemption.EndsAt.Time
	}
	return h.Until.Time
}

// bookingIntervals are the slots the bookings in the queue are promised, but skip.
func bookingIntervals(queue []conchv1.QueueEntry, skip types.UID) []interval {
	var out []interval
	for _, q := range queue {
		if q.StartTime == nil || types.UID(q.UID) == skip {
			continue
		}
		out = append(out, interval{from: q.StartTime.Time, to: bookedEnd(q), what: q.Holder + "'s booking"})
	}
	return out
}

// startOf returns r's spec.startTime, or zero.
func startOf(r *conchv1.Reservation) time.Time {
	if r == nil || r.Spec.StartTime == nil {
		return time.Time{}
	}
	return r.Spec.StartTime.Time
}

// book decides whether the booking r (asked for from start, for dur) fits beside the holds and the other
// bookings; when it does not, it returns why, and the next free slot.
func (d *decider) book(r *conchv1.Reservation, start time.Time, dur time.Duration) (conflict string, next time.Time) {
	from := span.Later(start, d.now)
	to := CeilMicro(start.Add(dur))
	ivs := append(promisedIntervals(d.holding, d.now), bookingIntervals(d.waiting, r.UID)...)
	b := blockedFrom(from, ivs, d.rules.capacity)
	if b.IsZero() || !b.Before(to) {
		return "", time.Time{}
	}
	why := blocking(b, ivs)
	return fmt.Sprintf("%s is taken at %s by %s", d.res.Name, clock(b), joinAnd(why)),
		nextFree(d.now, to.Sub(from), ivs, d.rules.capacity)
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := ""
	for i, x := range s {
		switch {
		case i == 0:
		case i == len(s)-1:
			out += " and "
		default:
			out += ", "
		}
		out += x
	}
	return out
}

// priorityOf returns r's spec.priority.
func priorityOf(r *conchv1.Reservation) int32 {
	if r == nil || r.Spec.Priority == nil {
		return 0
	}
	return *r.Spec.Priority
}

// effective is the priority that orders q in the queue: its own plus one for each agingInterval it waited. Under
// preemption Never every Reservation has the same priority.
func (d *decider) effective(q conchv1.QueueEntry) int64 {
	if d.rules.preemption == conchv1.PreemptionNever {
		return 0
	}
	p := int64(q.Priority)
	if q.Admitted != nil && d.now.After(q.Admitted.Time) {
		p += int64(d.now.Sub(q.Admitted.Time) / d.rules.aging)
	}
	return p
}

// order sorts the waiting entries in the order they are granted: bookings whose time came (by start), then the
// walk-ins by effective priority and ticket, then the bookings still ahead (by start).
func (d *decider) order() {
	rank := func(q conchv1.QueueEntry) int {
		switch {
		case q.StartTime == nil:
			return 1
		case !q.StartTime.After(d.now):
			return 0
		}
		return 2
	}
	slices.SortStableFunc(d.waiting, func(a, b conchv1.QueueEntry) int {
		ra, rb := rank(a), rank(b)
		if ra != rb {
			return cmp.Compare(ra, rb)
		}
		if ra != 1 {
			if c := a.StartTime.Compare(b.StartTime.Time); c != 0 {
				return c
			}
			return cmp.Compare(a.Ticket, b.Ticket)
		}
		if c := cmp.Compare(d.effective(b), d.effective(a)); c != 0 {
			return c
		}
		return cmp.Compare(a.Ticket, b.Ticket)
	})
}

// overLimit returns which of the Resource's limits granting r for dur now would break, or "".
func (d *decider) overLimit(r *conchv1.Reservation, dur time.Duration) string {
	l := d.rules.limits
	if l == nil {
		return ""
	}
	var u Usage
	if d.usage != nil {
		u = d.usage(r.Spec.Holder)
	}
	day := span.Midnight(d.now, l.loc)
	next := span.NextMidnight(d.now, l.loc)
	held := u.HeldToday
	holds := u.Holds
	for _, h := range d.holding {
		if h.Holder == r.Spec.Holder {
			holds++
			held += span.Overlap(h.Since.Time, HoldEnd(h), day, next)
		}
	}
	if l.maxHolds > 0 && holds >= l.maxHolds {
		return fmt.Sprintf("%s already has %d of at most %d holds at once (spec.limits.maxHoldsPerHolder)",
			r.Spec.Holder, holds, l.maxHolds)
	}
	if l.maxPerDay > 0 && held+span.Overlap(d.now, d.now.Add(dur), day, next) > l.maxPerDay {
		return fmt.Sprintf("%s has held %s today; %s more would pass the %s a day allowed (spec.limits.maxHoldTimePerDay)",
			r.Spec.Holder, held.Round(time.Second), dur, l.maxPerDay)
	}
	return ""
}

// nextDay is the next midnight of the limits' time zone, when a holder over maxHoldTimePerDay may fit again.
func (d *decider) nextDay() time.Time {
	return span.NextMidnight(d.now, d.rules.limits.loc)
}

// preempt lets the waiting Reservations with a priority above a holder's take its slot, politely: the holder is
// warned (its hold records the preemption) and keeps the Resource for the grace period. A preemption whose
// Reservation no longer waits is called off.
func (d *decider) preempt() {
	waiting := make(map[string]int64, len(d.waiting))
	for _, q := range d.waiting {
		waiting[q.Reservation] = int64(q.Priority)
	}
	claimed := map[string]bool{}
	for i := range d.holding {
		h := &d.holding[i]
		if h.Preemption == nil {
			continue
		}
		if _, ok := waiting[h.Preemption.Reservation]; !ok || d.rules.preemption != conchv1.PreemptionHold {
			h.Preemption = nil // the one it was for got its turn elsewhere, left, or preemption was turned off
			d.notes[types.UID(h.UID)] = note{}
			continue
		}
		claimed[h.Preemption.Reservation] = true
	}
	if d.rules.preemption != conchv1.PreemptionHold || d.rules.paused || d.rules.unhealthy || d.turn != nil {
		return
	}
	for _, q := range d.waiting {
		r := d.byUID[types.UID(q.UID)]
		if q.StartTime != nil || r == nil || d.isUnresolved(q.Ticket) {
			break // bookings wait for their time; nothing passes an entry the engine could not decide about
		}
		if claimed[q.Reservation] || d.notes[r.UID].limit != "" {
			continue
		}
		if q.Priority == 0 {
			break
		}
		// One over a limit (the grant may not have looked, with every slot held) could not take another's slot:
		// only the end of a hold of its own holder may make room for it.
		dur, _ := d.rules.duration(requestedOf(r))
		over := d.overLimit(r, dur) != ""
		victim := -1
		for i, h := range d.holding {
			if h.Preemption != nil || h.Preemptible == conchv1.PreemptibleNever || h.Priority >= q.Priority ||
				(over && h.Holder != q.Holder) {
				continue
			}
			if victim < 0 || h.Priority < d.holding[victim].Priority ||
				(h.Priority == d.holding[victim].Priority && h.Since.After(d.holding[victim].Since.Time)) {
				victim = i
			}
		}
		if victim < 0 {
			break
		}
		h := &d.holding[victim]
		ends := CeilMicro(d.now.Add(d.rules.grace))
		if h.Until.Time.Before(ends) {
			ends = h.Until.Time
		}
		h.Preemption = &conchv1.Preemption{
			Reservation: q.Reservation, Holder: q.Holder, Reason: r.Spec.Reason,
			Since: metav1.NewMicroTime(d.now), EndsAt: metav1.NewMicroTime(ends),
		}
		claimed[q.Reservation] = true
	}
}

// preemptionStands reports whether the preemption p may still end its hold: the Resource still preempts holds,
// and the Reservation it was for still waits in the ledger read as a walk-in, as far as the view shows (not
// released, deleted, ended, nor past its heartbeat). A move that makes it a booking is not counted here: it may
// not fit (then it waits as a walk-in and preempt would warn the holder again, at every decision).
func (d *decider) preemptionStands(p *conchv1.Preemption) bool {
	if d.rules.preemption != conchv1.PreemptionHold {
		return false
	}
	for _, q := range d.res.Status.Queue {
		if q.Reservation != p.Reservation || q.StartTime != nil {
			continue
		}
		r, ok := d.byUID[types.UID(q.UID)]
		switch {
		case !ok:
			return !d.gone[types.UID(q.UID)]
		case r.Status.State.IsFinal(), r.Spec.Released, r.DeletionTimestamp != nil, boundElsewhere(r, d.res.Name):
			return false
		}
		// A missed heartbeat (or one that may be: the queue's walk asks for a read) ends its wait in this plan.
		dl := d.deadline(r, d.observe(r, q.Heartbeat, time.Time{}))
		return dl.IsZero() || d.now.Before(dl)
	}
	return false
}

// LimitsLocation returns the time zone of l's day (UTC when it names none), or an error that says what is wrong.
func LimitsLocation(l *conchv1.Limits) (*time.Location, error) {
	if l == nil || l.TimeZone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(l.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("spec.limits.timeZone %q is not an IANA time zone name", l.TimeZone)
	}
	return loc, nil
}

// estimateAroundBookings estimates the queue's turns when bookings hold slots ahead: each booking starts at its
// startTime, and each walk-in, in queue order, at the first time from the previous walk-in's turn at which a slot
// is free (for its whole term under walkIns: Wait), its term shortened to the next booking under Shorten.
func estimateAroundBookings(ru rules, l Ledger, now time.Time) (turns []time.Time, nextSlot time.Time) {
	turns = make([]time.Time, len(l.Queue))
	ivs := append(holdIntervals(l.Holders, now), bookingIntervals(l.Queue, "")...)
	from := now
	place := func(dur time.Duration) time.Time {
		candidates := startsFrom(from, ivs)
		for _, c := range candidates {
			b := blockedFrom(c, ivs, ru.capacity)
			switch {
			case b.IsZero() || !b.Before(c.Add(dur)):
				return c
			case b.Equal(c):
			case ru.walkIns == conchv1.WalkInShorten && b.Sub(c) >= min(MinShortenedTerm, dur):
				return c
			}
		}
		return candidates[len(candidates)-1]
	}
	for i, q := range l.Queue {
		if q.StartTime != nil {
			turns[i] = span.Later(q.StartTime.Time, now)
			continue
		}
		start := place(q.Duration.Duration)
		end := start.Add(q.Duration.Duration)
		if b := blockedFrom(start, ivs, ru.capacity); !b.IsZero() && b.Before(end) {
			end = b
		}
		ivs = append(ivs, interval{from: start, to: end})
		turns[i], from = start, start
	}
	return turns, place(ru.defaultDuration)
}
