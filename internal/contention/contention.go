// Package contention turns a Resource's holds into what its charts and summaries show: hours held and hours
// waited per day, the waits, and how long the queue was over time. Compute is pure (no client, no clock); the
// CacheSource beside it reads the holds from the Reservations in the manager's cache.
package contention

import (
	"cmp"
	"slices"
	"time"

	"github.com/conch-dev/conch/internal/charts"
	"github.com/conch-dev/conch/internal/history"
)

// Hold is one Reservation's life on a Resource: when it was asked for, granted and ended. It is the history's
// record of a hold, so that the history and the cache can both feed Compute; a Hold from the cache may have no end
// yet (zero Ended, or neither Granted nor Ended while it waits).
type Hold = history.Hold

// waitEnd is when h's wait ended (its grant, or its end without one), or at while it still waits.
func waitEnd(h Hold, at time.Time) time.Time {
	switch {
	case !h.Granted.IsZero():
		return h.Granted
	case !h.Ended.IsZero():
		return h.Ended
	}
	return at
}

// Stats is a Resource's contention over a period.
type Stats struct {
	// From and To bound the period: [From, To).
	From, To time.Time
	// Days are the period's days in the time zone it was computed in, oldest first; the first starts at From.
	Days []charts.Day
	// Waits are the waits that ended in the period (by a grant, or by leaving the queue), in the order they ended.
	Waits []time.Duration
	// Queue is how many waited, from From to To: a point at From and one at each change.
	Queue []charts.QueuePoint
	// Held and Waited add up Days.
	Held, Waited time.Duration
	// LongestWait is the longest wait that ended in the period, or that still goes on at To.
	LongestWait time.Duration
	// Grants counts the holds granted in the period.
	Grants int
}

// Period is the period of the last days days up to now, in loc: from the start of the day days-1 days before
// now's, to now. A period of 7 days read on a Sunday afternoon starts on Monday at midnight.
func Period(now time.Time, days int, loc *time.Location) (from, to time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	days = max(days, 1)
	n := now.In(loc)
	from = time.Date(n.Year(), n.Month(), n.Day()-(days-1), 0, 0, 0, 0, loc)
	return from, now
}

// Compute reads holds over [from, to), with days cut at midnight in loc (nil: UTC). Holds outside the period
// count for the part of them inside it; times after to are read as to, so a clock that stepped back or a hold that
// ended a moment after the period began are no trouble.
func Compute(holds []Hold, from, to time.Time, loc *time.Location) Stats {
	if loc == nil {
		loc = time.UTC
	}
	s := Stats{From: from, To: to}
	if !to.After(from) {
		return s
	}
	// The days are the history's: the same split at midnight, with holds going on counted up to to.
	for _, d := range history.Daily(holds, loc, from, to) {
		if len(s.Days) == charts.MaxDays {
			break
		}
		s.Days = append(s.Days, charts.Day{Date: d.Date, Held: d.Held, Waited: d.Waited})
		s.Held += d.Held
		s.Waited += d.Waited
	}

	type ended struct {
		at   time.Time
		wait time.Duration
	}
	var waits []ended
	type change struct {
		at    time.Time
		delta int
	}
	var changes []change
	waiting := 0
	for _, h := range holds {
		wEnd := waitEnd(h, to)
		wait := max(0, wEnd.Sub(h.Created))
		if !h.Granted.IsZero() && inPeriod(h.Granted, from, to) {
			s.Grants++
		}
		if (!h.Granted.IsZero() || !h.Ended.IsZero()) && inPeriod(wEnd, from, to) {
			waits = append(waits, ended{wEnd, wait})
		}
		if wEnd.After(to) || (h.Granted.IsZero() && h.Ended.IsZero()) {
			s.LongestWait = max(s.LongestWait, max(0, to.Sub(h.Created))) // still waiting at the period's end
		}
		if !wEnd.After(h.Created) || !wEnd.After(from) || !h.Created.Before(to) {
			continue // no wait, or none in the period
		}
		if !h.Created.After(from) {
			waiting++
		} else {
			changes = append(changes, change{h.Created, +1})
		}
		if wEnd.Before(to) {
			changes = append(changes, change{wEnd, -1})
		}
	}
	slices.SortStableFunc(waits, func(a, b ended) int { return a.at.Compare(b.at) })
	for _, w := range waits {
		s.Waits = append(s.Waits, w.wait)
		s.LongestWait = max(s.LongestWait, w.wait)
	}

	slices.SortStableFunc(changes, func(a, b change) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.delta, b.delta))
	})
	s.Queue = append(s.Queue, charts.QueuePoint{Time: from, Length: waiting})
	for i, c := range changes {
		waiting += c.delta
		if i+1 < len(changes) && changes[i+1].at.Equal(c.at) {
			continue // one point per moment
		}
		last := &s.Queue[len(s.Queue)-1]
		switch {
		case last.Length == waiting:
		case last.Time.Equal(c.at):
			last.Length = waiting
		default:
			s.Queue = append(s.Queue, charts.QueuePoint{Time: c.at, Length: waiting})
		}
	}
	return s
}

func inPeriod(t, from, to time.Time) bool { return !t.Before(from) && t.Before(to) }
