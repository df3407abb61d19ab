// Package calendar lays out the coming days of Resources for people: who holds each until when, who waits and
// when they expect their turn, and the bookings ahead (Reservations with a spec.startTime). `/dibs calendar` and
// `kubectl conch calendar` both show what it builds, so that the two never disagree. It is pure: it reads the
// Resource's ledger (status.holders and status.queue, the record of who holds and who waits) and its
// Reservations as given, and the caller's clock and time zone.
package calendar

import (
	"cmp"
	"slices"
	"time"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/span"
)

// DefaultDays is how many days a calendar shows when the caller names no other number.
const DefaultDays = 7

// defaultHold is how long a hold lasts when neither its Reservation nor its Resource names a duration, as the
// controller defaults it.
const defaultHold = time.Hour

// Kind says what an Entry is.
type Kind string

// The kinds of entries, as both front ends print them.
const (
	// Held is a hold going on: in the Resource's status.holders.
	Held Kind = "held"
	// Booked is a hold that starts at a fixed time: a Reservation with spec.startTime that has not started.
	Booked Kind = "booked"
	// Queued is a Reservation waiting in the queue, at the time it expects its turn (status.estimatedGrantTime).
	Queued Kind = "queued"
)

// rank orders entries of the same start: holds, then bookings, then the queue.
func (k Kind) rank() int {
	switch k {
	case Held:
		return 0
	case Booked:
		return 1
	}
	return 2
}

// Entry is one line of a calendar: a hold, a booking or a place in the queue, from From to To.
type Entry struct {
	// Resource is the Resource's name.
	Resource string
	// Reservation is the Reservation's name.
	Reservation string
	// Holder is the Reservation's spec.holder.
	Holder string
	// Kind is held, booked or queued.
	Kind Kind
	// From is when the hold started or starts; zero for a queued Reservation with no estimate yet.
	From time.Time
	// To is when it ends (or is expected to): From plus its duration; zero when From is.
	To time.Time
	// Reason is the Reservation's spec.reason.
	Reason string
	// Priority is the Reservation's priority (the ledger's, else its spec.priority).
	Priority int32
	// NoPreempt is true when a higher priority may not take the hold (spec.preemptible Never).
	NoPreempt bool
	// Preempted is true when a higher priority is taking the hold: it ends at To, sooner than planned.
	Preempted bool
}

// Build returns the entries of res for the days days from now, sorted: its holds, its queue and its bookings,
// from its status and reservations (the Reservations of its namespace; those of other Resources are skipped).
// An entry is kept when it ends after now and starts before now + days; a queued Reservation without an
// estimate is kept with a zero From, last.
func Build(res *conchv1.Resource, reservations []conchv1.Reservation, now time.Time, days int) []Entry {
	byName := make(map[string]*conchv1.Reservation, len(reservations))
	for i := range reservations {
		if r := &reservations[i]; boundTo(r, res.Name) {
			byName[r.Name] = r
		}
	}
	end := now.Add(time.Duration(days) * 24 * time.Hour)
	var out []Entry
	keep := func(e Entry) {
		if e.From.IsZero() || (e.To.After(now) && e.From.Before(end)) {
			out = append(out, e)
		}
	}
	inLedger := map[string]bool{}

	for _, h := range res.Status.Holders {
		inLedger[h.Reservation] = true
		e := Entry{
			Resource: res.Name, Reservation: h.Reservation, Holder: h.Holder, Kind: Held,
			From: h.Since.Time, To: h.Until.Time, Priority: h.Priority, NoPreempt: h.Preemptible == conchv1.PreemptibleNever,
		}
		if p := h.Preemption; p != nil && p.EndsAt.Before(&h.Until) {
			e.To, e.Preempted = p.EndsAt.Time, true
		}
		if r := byName[h.Reservation]; r != nil {
			e.Reason = r.Spec.Reason
		}
		keep(e)
	}

	for _, q := range res.Status.Queue {
		inLedger[q.Reservation] = true
		r := byName[q.Reservation]
		e := Entry{Resource: res.Name, Reservation: q.Reservation, Holder: q.Holder, Kind: Queued, Priority: q.Priority}
		switch {
		case q.StartTime != nil:
			e.Kind, e.From = Booked, q.StartTime.Time
		case r != nil && r.Spec.StartTime != nil:
			// A booking the ledger does not mark as one yet: its spec says when it starts.
			e.Kind, e.From = Booked, r.Spec.StartTime.Time
		case r != nil && r.Status.EstimatedGrantTime != nil:
			e.From = r.Status.EstimatedGrantTime.Time
		}
		if r != nil {
			e.Reason, e.NoPreempt = r.Spec.Reason, r.Spec.Preemptible == conchv1.PreemptibleNever
			if e.Priority == 0 && r.Spec.Priority != nil {
				e.Priority = *r.Spec.Priority
			}
		}
		if !e.From.IsZero() {
			e.To = e.From.Add(q.Duration.Duration)
		}
		keep(e)
	}

	// Bookings the ledger has not admitted yet (just made, or waiting for their Resource): their spec says all.
	for _, r := range reservations {
		if !boundTo(&r, res.Name) || inLedger[r.Name] || r.Spec.StartTime == nil || !open(&r) {
			continue
		}
		e := Entry{
			Resource: res.Name, Reservation: r.Name, Holder: r.Spec.Holder, Kind: Booked,
			From: r.Spec.StartTime.Time, Reason: r.Spec.Reason, NoPreempt: r.Spec.Preemptible == conchv1.PreemptibleNever,
		}
		if r.Spec.Priority != nil {
			e.Priority = *r.Spec.Priority
		}
		e.To = e.From.Add(HoldDuration(res, &r))
		keep(e)
	}

	Sort(out)
	return out
}

// Sort orders entries by start, those without one last; at the same start holds come first, then bookings, then
// the queue, then by Resource and Reservation name, so that the order never depends on the input's.
func Sort(entries []Entry) {
	slices.SortStableFunc(entries, func(a, b Entry) int {
		if a.From.IsZero() != b.From.IsZero() {
			if a.From.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(a.From.Compare(b.From), cmp.Compare(a.Kind.rank(), b.Kind.rank()),
			cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Reservation, b.Reservation))
	})
}

// HoldDuration is how long r will hold res once granted: its spec.duration, else the Resource's defaultDuration,
// else an hour; never longer than the Resource's maxDuration. The controller computes the same when it admits r.
func HoldDuration(res *conchv1.Resource, r *conchv1.Reservation) time.Duration {
	d := defaultHold
	switch {
	case r.Spec.Duration != nil:
		d = r.Spec.Duration.Duration
	case res.Spec.DefaultDuration != nil:
		d = res.Spec.DefaultDuration.Duration
	}
	if m := res.Spec.MaxDuration; m != nil && d > m.Duration {
		d = m.Duration
	}
	return d
}

// boundTo reports whether r is for the Resource named name: by spec.resourceName, or bound to it from a pool.
func boundTo(r *conchv1.Reservation, name string) bool {
	return r.Spec.ResourceName == name || (r.Spec.ResourceName == "" && r.Status.ResourceName == name)
}

// open reports whether r may still hold: not released, not ended, not being deleted.
func open(r *conchv1.Reservation) bool {
	return !r.Spec.Released && !r.Status.State.IsFinal() && r.DeletionTimestamp == nil
}

// Day is the entries of one calendar day in a time zone.
type Day struct {
	// Date is the day's midnight in the time zone.
	Date time.Time
	// Entries are the entries shown on that day, in order.
	Entries []Entry
}

// Days groups sorted entries by the day, in loc, they are shown on: the day they start, or today for those that
// started before now (a hold since yesterday is one of today's). Entries without a start are returned apart, in
// order.
func Days(entries []Entry, now time.Time, loc *time.Location) (days []Day, unscheduled []Entry) {
	for _, e := range entries {
		if e.From.IsZero() {
			unscheduled = append(unscheduled, e)
			continue
		}
		date := span.Midnight(span.Later(e.From, now), loc)
		if n := len(days); n > 0 && days[n-1].Date.Equal(date) {
			days[n-1].Entries = append(days[n-1].Entries, e)
			continue
		}
		days = append(days, Day{Date: date, Entries: []Entry{e}})
	}
	return days, unscheduled
}

// DayLabel names a day for people: "Tue 8 Dec".
func DayLabel(d Day) string { return d.Date.Format("Mon 2 Jan") }

// Times writes an entry's start and end as shown on day, in loc: "15:04" for a time on that day, "Mon 2 Jan 15:04"
// for one on another day, each followed by the zone's abbreviation when the two differ (a day clocks change:
// "01:30 PST", "04:30 PDT"), so that the span reads true.
func Times(e Entry, day Day, loc *time.Location) (from, to string) {
	from, to = clock(e.From, day, loc), clock(e.To, day, loc)
	if zf, zt := e.From.In(loc).Format("MST"), e.To.In(loc).Format("MST"); zf != zt {
		from, to = from+" "+zf, to+" "+zt
	}
	return from, to
}

func clock(t time.Time, day Day, loc *time.Location) string {
	if span.Midnight(t, loc).Equal(day.Date) {
		return t.In(loc).Format("15:04")
	}
	return t.In(loc).Format("Mon 2 Jan 15:04")
}
