// Package span holds the arithmetic of time spans that the engine, the history, the calendar and the stand-up
// digest share: the later and earlier of two times, how much of one span lies in another, and the bounds of a day
// in a time zone (23 or 25 hours long across a change of daylight saving time).
package span

import "time"

// Later returns the later of a and b.
func Later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Earlier returns the earlier of a and b.
func Earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Overlap is how much of [a, b) lies inside [lo, hi).
func Overlap(a, b, lo, hi time.Time) time.Duration {
	return max(Earlier(b, hi).Sub(Later(a, lo)), 0)
}

// Midnight is the start of t's day in loc (the first instant of that date, on a day whose midnight clocks skip).
func Midnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// NextMidnight is the start of the day after t's day in loc.
func NextMidnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}
