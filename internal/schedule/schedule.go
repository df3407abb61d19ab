// Package schedule decides when a Standup runs: a five-field cron expression read in an IANA time zone, with
// dates to skip, people who are away, and a policy for runs that came due while nobody was watching. It is pure:
// no client, no clock; every function takes the time it decides for, so that tests can cover daylight-saving
// transitions and years of calendar in microseconds.
//
// Daylight saving follows the wall clock. A time that occurs twice (the hour repeated when clocks go back) runs
// once, at its first occurrence. A time that does not exist (the hour skipped when clocks go forward) runs at the
// first instant after the gap, once, however many scheduled times fell into the gap. Runs are never early: Next
// returns a time strictly after the one it is given.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// The time zone database is embedded, so that a manager image without /usr/share/zoneinfo still knows every
	// IANA zone (about 450 KB).
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// ErrSchedule and ErrTimeZone classify the errors of Parse, so that a caller can name the field to fix.
var (
	ErrSchedule = errors.New("invalid schedule")
	ErrTimeZone = errors.New("invalid time zone")
)

// parser accepts exactly the five standard fields: no seconds, no descriptors such as @daily, no CRON_TZ= prefix
// (the time zone is a field of its own).
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Schedule is a parsed cron expression in a time zone.
type Schedule struct {
	expr string
	spec cron.Schedule
	loc  *time.Location
}

// Parse reads a five-field cron expression ("0 9 * * 1-5") and an IANA time zone name ("Europe/Paris"; empty
// means UTC). Its errors wrap ErrSchedule or ErrTimeZone and say what is wrong in words.
func Parse(expr, timeZone string) (*Schedule, error) {
	loc, err := LoadLocation(timeZone)
	if err != nil {
		return nil, err
	}
	fields := strings.Fields(expr)
	if len(fields) > 0 && (strings.HasPrefix(fields[0], "TZ=") || strings.HasPrefix(fields[0], "CRON_TZ=")) {
		return nil, fmt.Errorf("%w: %q names a time zone; set timeZone instead", ErrSchedule, expr)
	}
	if len(fields) != 5 {
		return nil, fmt.Errorf("%w: %q has %d fields; a schedule has five: minute hour day-of-month month day-of-week", ErrSchedule, expr, len(fields))
	}
	spec, err := parser.Parse(strings.Join(fields, " "))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrSchedule, expr, err)
	}
	s := &Schedule{expr: expr, spec: spec, loc: loc}
	// robfig/cron gives up after five years without a match: "0 9 30 2 *" (30 February) parses but never runs.
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("%w: %q matches no date (such as 30 February), so it would never run", ErrSchedule, expr)
	}
	return s, nil
}

// LoadLocation loads an IANA time zone name ("Europe/Paris"; empty means UTC). It refuses "Local", the manager's
// own zone, which time.LoadLocation accepts: a Standup must not depend on where the manager runs. Its errors wrap
// ErrTimeZone and say what is wrong in words.
func LoadLocation(timeZone string) (*time.Location, error) {
	if timeZone == "" {
		return time.UTC, nil
	}
	if timeZone == "Local" {
		return nil, fmt.Errorf("%w: %q is the manager's local zone; name an IANA zone such as Europe/Paris", ErrTimeZone, timeZone)
	}
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not an IANA time zone name (such as Europe/Paris or America/New_York)", ErrTimeZone, timeZone)
	}
	return loc, nil
}

// String returns the expression as given.
func (s *Schedule) String() string { return s.expr }

// Location returns the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first run time strictly after after, or the zero time if there is none within five years.
func (s *Schedule) Next(after time.Time) time.Time {
	// The cron fields are matched on the wall clock: the expression is evaluated on a "naive" clock (the local wall
	// time written as UTC, which has no daylight saving), and each match is mapped back to an instant.
	naive := wall(after.In(s.loc))
	// Matches whose first occurrence passed are skipped one by one: at most one per minute of a repeated hour.
	for range 24 * 60 {
		w := s.spec.Next(naive)
		if w.IsZero() {
			return time.Time{}
		}
		if at := instant(w, s.loc); at.After(after) {
			return at
		}
		// The match maps to an instant not after after: its first occurrence passed already (after lies in a
		// repeated hour), or it fell in a gap that ends at or before after. Look for the next one.
		naive = w
	}
	return time.Time{}
}

// wall returns t's wall-clock reading as a time in UTC.
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instant returns the first instant whose wall clock in loc reads w (a naive time, in UTC); when no instant does
// (w is in a gap where clocks jump forward), the instant the gap ends.
func instant(w time.Time, loc *time.Location) time.Time {
	// Every offset in force within a day of w: transitions are never closer together than that.
	var earliest, firstGuess time.Time
	for _, probe := range []time.Duration{-26 * time.Hour, 0, 26 * time.Hour} {
		_, off := w.Add(probe).In(loc).Zone()
		guess := w.Add(-time.Duration(off) * time.Second)
		if firstGuess.IsZero() || guess.Before(firstGuess) {
			firstGuess = guess
		}
		if wall(guess.In(loc)).Equal(w) && (earliest.IsZero() || guess.Before(earliest)) {
			earliest = guess
		}
	}
	if !earliest.IsZero() {
		return earliest
	}
	// In a gap: the earliest guess reads before the gap; its zone ends where the gap does.
	_, end := firstGuess.In(loc).ZoneBounds()
	return end
}

// Date is a calendar date, written YYYY-MM-DD as in a Standup's skipDates and away entries.
type Date string

// DateLayout is the layout of a Date.
const DateLayout = time.DateOnly

// DateOf returns the date of t in loc.
func DateOf(t time.Time, loc *time.Location) Date { return Date(t.In(loc).Format(DateLayout)) }

// ParseDate reads a YYYY-MM-DD date, refusing dates that do not exist (2026-02-30).
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return "", fmt.Errorf("%q is not a date written YYYY-MM-DD, such as 2026-12-24", s)
	}
	return Date(t.Format(DateLayout)), nil
}

// Time returns the start of the date (its first instant) in loc.
func (d Date) Time(loc *time.Location) time.Time {
	t, err := time.Parse(DateLayout, string(d))
	if err != nil {
		return time.Time{}
	}
	return instant(t, loc)
}

// Day returns the first instant of t's date in loc and the first instant of the next date: "today" in loc. Days
// are 23 or 25 hours long when clocks change.
func Day(t time.Time, loc *time.Location) (start, end time.Time) {
	l := t.In(loc)
	d := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	return instant(d, loc), instant(d.AddDate(0, 0, 1), loc)
}

// Away says who is away: person → the last date they are away, inclusive.
type Away map[string]Date

// IsAway reports whether user is away on date d.
func (a Away) IsAway(user string, d Date) bool {
	until, ok := a[user]
	return ok && d <= until // YYYY-MM-DD strings sort as dates
}

// Split divides participants into those to ask on date d and those away, each in the given order, without
// duplicates.
func (a Away) Split(participants []string, d Date) (ask, away []string) {
	seen := make(map[string]bool, len(participants))
	for _, p := range participants {
		if seen[p] {
			continue
		}
		seen[p] = true
		if a.IsAway(p, d) {
			away = append(away, p)
		} else {
			ask = append(ask, p)
		}
	}
	return ask, away
}
