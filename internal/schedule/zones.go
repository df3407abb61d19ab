package schedule

import (
	"time"
)

// Per-person time zones. A Standup with timing Participant asks each person at the schedule's wall-clock time in
// their own zone: the run of Monday 09:00 starts when it is 09:00 on Monday somewhere among its people (the
// furthest east), and each person is prompted when it is 09:00 on Monday where they are. An occurrence is such a
// wall-clock time: a match of the cron expression, with no zone, written as a time in UTC ("naive").

// NextWall returns the first occurrence that comes, in every one of zones, strictly after after; zero if there is
// none within five years (or no zones). Its start (when it comes first) is Span's first.
func (s *Schedule) NextWall(after time.Time, zones []*time.Location) time.Time {
	var w time.Time
	for _, z := range zones {
		at := (&Schedule{spec: s.spec, loc: z}).Next(after)
		if at.IsZero() {
			return time.Time{}
		}
		// The occurrences after after in z are those from zw on; in every zone, those from the latest of them.
		if zw := wall(at.In(z)); zw.After(w) {
			w = zw
		}
	}
	return w
}

// At returns the instant the wall-clock time w (naive, in UTC) comes in loc: the first, when clocks go back and it
// comes twice; the end of the gap, when clocks go forward over it.
func At(w time.Time, loc *time.Location) time.Time { return instant(w, loc) }

// Wall returns t's wall-clock reading in loc as a naive time in UTC.
func Wall(t time.Time, loc *time.Location) time.Time { return wall(t.In(loc)) }

// Span returns when the occurrence w comes first and last among zones.
func Span(w time.Time, zones []*time.Location) (first, last time.Time) {
	for _, z := range zones {
		at := instant(w, z)
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	return first, last
}

// WallDate is the calendar date of an occurrence.
func WallDate(w time.Time) Date { return Date(w.Format(DateLayout)) }

// timetable is what Decide walks: the starts of the runs, and their dates.
type timetable struct {
	s     *Schedule
	zones []*time.Location
}

// next returns the start of the first run that starts strictly after t.
func (tt timetable) next(t time.Time) time.Time {
	if len(tt.zones) == 0 {
		return tt.s.Next(t)
	}
	first, _ := Span(tt.s.NextWall(t, tt.zones), tt.zones)
	return first
}

// occurrence returns the wall-clock time of the run that starts at start.
func (tt timetable) occurrence(start time.Time) time.Time {
	if len(tt.zones) == 0 {
		return wall(start.In(tt.s.loc))
	}
	return tt.s.NextWall(start.Add(-time.Nanosecond), tt.zones)
}

// windowEnd returns when the run that starts at start stops collecting answers: collectFor after it comes in the
// last zone.
func (tt timetable) windowEnd(start time.Time, collectFor time.Duration) time.Time {
	if len(tt.zones) == 0 {
		return start.Add(collectFor)
	}
	_, last := Span(tt.occurrence(start), tt.zones)
	return last.Add(collectFor)
}
