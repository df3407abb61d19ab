package schedule

import (
	"time"
)

// Reasons a scheduled run did not start.
const (
	// ReasonHoliday: its date is one of the skip dates.
	ReasonHoliday = "Holiday"
	// ReasonSuspended: the Standup was suspended when it came due.
	ReasonSuspended = "Suspended"
	// ReasonMissed: it came due while nothing was running (the manager was down) and its collection window had
	// closed by the time the manager looked.
	ReasonMissed = "Missed"
	// ReasonOverlap: it came due while the previous run was still collecting answers.
	ReasonOverlap = "Overlap"
)

// Input is what Decide needs to know about a Standup and the time.
type Input struct {
	Schedule *Schedule
	// Cursor is the earliest scheduled run not handled yet (a Standup's status.nextRunTime). Zero for a new
	// Standup: runs are counted from Now, never from before it existed.
	Cursor time.Time
	// Now is the time of the decision.
	Now time.Time
	// CollectFor is how long a run collects answers; a run may still start this long after its scheduled time.
	CollectFor time.Duration
	// SkipDates are the dates (in the schedule's time zone) on which no run starts.
	SkipDates []Date
	// Suspend stops runs from starting.
	Suspend bool
	// Busy is true while a run collects answers: a run that comes due meanwhile does not start.
	Busy bool
	// Zones are the time zones of the people asked, when each is asked on their own wall clock (timing
	// Participant): a run then starts when its wall-clock time comes in the first of them, collects until
	// CollectFor after it comes in the last, and its date (for SkipDates) is its wall-clock date. Empty: the
	// schedule's zone only.
	Zones []*time.Location
}

// Skip is a scheduled run that did not start, or several alike in a row.
type Skip struct {
	// Time is the scheduled time of the run (of the first, when Count > 1).
	Time time.Time
	// Reason is ReasonHoliday, ReasonSuspended, ReasonMissed or ReasonOverlap.
	Reason string
	// Count is how many runs in a row this stands for; runs missed or suspended in a row are counted together.
	Count int
}

// Plan is what to do now.
type Plan struct {
	// Start is the scheduled time of the run to start now; zero for none. It collects answers until
	// Start + CollectFor, however late it starts.
	Start time.Time
	// Skipped lists the runs that came due and do not start, oldest first.
	Skipped []Skip
	// Next is the earliest scheduled time after Now: the new cursor, and when to look again. Zero when the
	// schedule never fires again.
	Next time.Time
}

// maxWalk bounds the runs Decide looks at one by one after a long outage ("* * * * *" for two months); older
// ones are counted as missed without looking at their dates.
const maxWalk = 100_000

// Decide returns what to do about the scheduled runs that came due between the cursor and now.
//
// The policy: a run starts when it comes due, unless its date is a skip date (Holiday), the Standup is suspended
// (Suspended) or a run is still collecting answers (Overlap). Runs that came due while the manager was down start
// late if their collection window is still open, the latest of them only; the others are Missed. Nothing starts
// before its time: the cursor is reached only when Now is at or after it.
func Decide(in Input) Plan {
	s, now := timetable{s: in.Schedule, zones: in.Zones}, in.Now
	if in.Cursor.IsZero() || now.Before(in.Cursor) {
		// Nothing is due. Computing the cursor from now (rather than keeping the old one) follows schedule edits;
		// with the schedule unchanged it gives the same time, since no run lies between.
		return Plan{Next: s.next(now)}
	}
	skip := make(map[Date]bool, len(in.SkipDates))
	for _, d := range in.SkipDates {
		skip[d] = true
	}
	var p Plan
	add := func(t time.Time, reason string, count int) {
		if n := len(p.Skipped); n > 0 && reason != ReasonHoliday && p.Skipped[n-1].Reason == reason {
			p.Skipped[n-1].Count += count
			return
		}
		p.Skipped = append(p.Skipped, Skip{Time: t, Reason: reason, Count: count})
	}

	windowOpen := func(t time.Time) bool { return now.Before(s.windowEnd(t, in.CollectFor)) }
	t := in.Cursor
	for n := 0; !t.IsZero() && !t.After(now); n++ {
		next := s.next(t)
		if n == maxWalk {
			// Too many to look at: count the rest as missed, up to the collection window.
			rest := s.next(now.Add(-in.CollectFor))
			add(t, ReasonMissed, 1)
			t, next = rest, s.next(rest)
			if t.IsZero() || t.After(now) {
				break
			}
		}
		latest := next.IsZero() || next.After(now)
		switch {
		case skip[WallDate(s.occurrence(t))]:
			add(t, ReasonHoliday, 1)
		case in.Suspend:
			add(t, ReasonSuspended, 1)
		case !latest || !windowOpen(t):
			add(t, ReasonMissed, 1)
		case in.Busy:
			add(t, ReasonOverlap, 1)
		default:
			p.Start = t
		}
		t = next
	}
	p.Next = s.next(now)
	return p
}
