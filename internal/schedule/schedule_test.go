package schedule_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/conch-dev/conch/internal/schedule"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustParse(t *testing.T, expr, tz string) *schedule.Schedule {
	t.Helper()
	s, err := schedule.Parse(expr, tz)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runs returns the first n run times after from, in the schedule's zone, as "2006-01-02 15:04 MST".
func runs(s *schedule.Schedule, from time.Time, n int) []string {
	var out []string
	t := from
	for range n {
		t = s.Next(t)
		if t.IsZero() {
			return append(out, "never")
		}
		out = append(out, t.In(s.Location()).Format("2006-01-02 15:04 MST"))
	}
	return out
}

func TestNext(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	paris := mustLoad(t, "Europe/Paris")
	cases := map[string]struct {
		expr, tz string
		from     time.Time
		want     []string
	}{
		"weekdays at nine, over a weekend": {
			expr: "0 9 * * 1-5", tz: "Europe/Paris", from: time.Date(2026, 11, 20, 9, 0, 0, 0, paris), // a Friday, at the run
			want: []string{"2026-11-23 09:00 CET", "2026-11-24 09:00 CET"},
		},
		"strictly after: from the run time itself gives the next one": {
			expr: "30 9 * * *", tz: "UTC", from: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC),
			want: []string{"2026-05-02 09:30 UTC"},
		},
		"a nanosecond before the run gives the run": {
			expr: "30 9 * * *", tz: "UTC", from: time.Date(2026, 5, 1, 9, 29, 59, 999999999, time.UTC),
			want: []string{"2026-05-01 09:30 UTC"},
		},
		"time zone: nine in New York is 14:00 UTC in winter, 13:00 in summer": {
			expr: "0 9 * * *", tz: "America/New_York", from: time.Date(2026, 3, 6, 12, 0, 0, 0, ny),
			want: []string{"2026-03-07 09:00 EST", "2026-03-08 09:00 EDT", "2026-03-09 09:00 EDT"},
		},
		"spring forward in New York (2026-03-08): 02:30 does not exist and runs once at 03:00": {
			expr: "30 2 * * *", tz: "America/New_York", from: time.Date(2026, 3, 7, 12, 0, 0, 0, ny),
			want: []string{"2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"},
		},
		"spring forward: every half hour, the two times in the gap and 03:00 run once": {
			expr: "*/30 * * * *", tz: "America/New_York", from: time.Date(2026, 3, 8, 1, 0, 0, 0, ny),
			want: []string{"2026-03-08 01:30 EST", "2026-03-08 03:00 EDT", "2026-03-08 03:30 EDT"},
		},
		"fall back in New York (2026-11-01): 01:30 happens twice and runs once, at the first": {
			expr: "30 1 * * *", tz: "America/New_York", from: time.Date(2026, 10, 31, 12, 0, 0, 0, ny),
			want: []string{"2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"},
		},
		"fall back: hourly runs once per wall-clock hour": {
			expr: "0 * * * *", tz: "America/New_York", from: time.Date(2026, 11, 1, 0, 30, 0, 0, ny),
			want: []string{"2026-11-01 01:00 EDT", "2026-11-01 02:00 EST", "2026-11-01 03:00 EST"},
		},
		"fall back: from inside the repeated hour, the repeated times are not run again": {
			expr: "* * * * *", tz: "America/New_York",
			from: time.Date(2026, 11, 1, 6, 15, 0, 0, time.UTC), // 01:15 EST, the second 01:15
			want: []string{"2026-11-01 02:00 EST"},
		},
		"fall back: a daily stand-up at nine is at nine on both sides": {
			expr: "0 9 * * *", tz: "America/New_York", from: time.Date(2026, 10, 31, 10, 0, 0, 0, ny),
			want: []string{"2026-11-01 09:00 EST", "2026-11-02 09:00 EST"},
		},
		"Paris spring forward (2026-03-29) at 02:15 runs at 03:00": {
			expr: "15 2 * * *", tz: "Europe/Paris", from: time.Date(2026, 3, 28, 12, 0, 0, 0, paris),
			want: []string{"2026-03-29 03:00 CEST", "2026-03-30 02:15 CEST"},
		},
		"month and weekday names": {
			expr: "0 10 * JAN MON", tz: "UTC", from: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			want: []string{"2026-01-05 10:00 UTC", "2026-01-12 10:00 UTC"},
		},
		"empty time zone is UTC": {
			expr: "0 9 * * *", tz: "", from: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			want: []string{"2026-01-01 09:00 UTC"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, tc.expr, tc.tz)
			if diff := cmp.Diff(tc.want, runs(s, tc.from, len(tc.want))); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNextIsNeverEarlyAndIncreases walks two years of several schedules in zones with daylight saving and checks
// that every run is strictly after the previous one and reads, on the wall clock, a time the expression names
// (or the end of a gap).
func TestNextIsNeverEarlyAndIncreases(t *testing.T) {
	for _, tc := range []struct{ expr, tz string }{
		{"*/15 * * * *", "America/New_York"}, {"30 1,2 * * *", "Europe/Paris"}, {"0 0 * * *", "America/Santiago"},
		{"45 23 * * 0", "Australia/Lord_Howe"}, {"0 9 * * 1-5", "Asia/Kolkata"},
	} {
		s := mustParse(t, tc.expr, tc.tz)
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		prev := from
		for i := 0; prev.Before(from.AddDate(2, 0, 0)); i++ {
			next := s.Next(prev)
			if !next.After(prev) {
				t.Fatalf("%s in %s: Next(%s) = %s, not after", tc.expr, tc.tz, prev, next)
			}
			if again := s.Next(next.Add(-time.Nanosecond)); !again.Equal(next) {
				t.Fatalf("%s in %s: Next just before %s is %s", tc.expr, tc.tz, next, again)
			}
			prev = next
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]struct {
		expr, tz string
		is       error
		want     string
	}{
		"minute out of range":    {"61 * * * *", "UTC", schedule.ErrSchedule, `"61 * * * *": end of range (61) above maximum (59)`},
		"four fields":            {"0 9 * *", "UTC", schedule.ErrSchedule, "has 4 fields; a schedule has five"},
		"six fields (seconds)":   {"0 0 9 * * *", "UTC", schedule.ErrSchedule, "has 6 fields"},
		"descriptor":             {"@daily", "UTC", schedule.ErrSchedule, "has 1 fields"},
		"CRON_TZ prefix":         {"CRON_TZ=UTC 0 9 * * *", "UTC", schedule.ErrSchedule, "set timeZone instead"},
		"weekday 7":              {"0 9 * * 7", "UTC", schedule.ErrSchedule, "above maximum (6)"},
		"never: 30 February":     {"0 9 30 2 *", "UTC", schedule.ErrSchedule, "matches no date (such as 30 February), so it would never run"},
		"garbage":                {"every day at nine x", "UTC", schedule.ErrSchedule, "failed to parse"},
		"unknown zone":           {"0 9 * * *", "Mars/Olympus_Mons", schedule.ErrTimeZone, `"Mars/Olympus_Mons" is not an IANA time zone name`},
		"the manager's own zone": {"0 9 * * *", "Local", schedule.ErrTimeZone, "the manager's local zone"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := schedule.Parse(tc.expr, tc.tz)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestDays(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	cases := map[string]struct {
		t          time.Time
		loc        *time.Location
		date       schedule.Date
		start, end time.Time
	}{
		"late evening in New York is the next day in UTC": {
			t: time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC), loc: ny, date: "2026-05-31",
			start: time.Date(2026, 5, 31, 4, 0, 0, 0, time.UTC), end: time.Date(2026, 6, 1, 4, 0, 0, 0, time.UTC),
		},
		"the day clocks go forward has 23 hours": {
			t: time.Date(2026, 3, 8, 12, 0, 0, 0, ny), loc: ny, date: "2026-03-08",
			start: time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC), end: time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC),
		},
		"the day clocks go back has 25 hours": {
			t: time.Date(2026, 11, 1, 12, 0, 0, 0, ny), loc: ny, date: "2026-11-01",
			start: time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC), end: time.Date(2026, 11, 2, 5, 0, 0, 0, time.UTC),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := schedule.DateOf(tc.t, tc.loc); got != tc.date {
				t.Errorf("DateOf = %s, want %s", got, tc.date)
			}
			start, end := schedule.Day(tc.t, tc.loc)
			if !start.Equal(tc.start) || !end.Equal(tc.end) {
				t.Errorf("Day = %s – %s, want %s – %s", start.UTC(), end.UTC(), tc.start, tc.end)
			}
			if got := tc.date.Time(tc.loc); !got.Equal(tc.start) {
				t.Errorf("Date.Time = %s, want %s", got.UTC(), tc.start)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2026-12-24": "", "2026-02-30": "is not a date", "24/12/2026": "is not a date", "2026-1-5": "is not a date",
	} {
		_, err := schedule.ParseDate(in)
		switch {
		case want == "" && err != nil:
			t.Errorf("ParseDate(%q): %v", in, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("ParseDate(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}

func TestAway(t *testing.T) {
	away := schedule.Away{"UBOB": "2026-12-01", "UCAROL": "2026-11-20"}
	cases := map[string]struct {
		day            schedule.Date
		ask, awayUsers []string
	}{
		"before the end of Bob's time away": {day: "2026-11-23", ask: []string{"UALICE", "UCAROL"}, awayUsers: []string{"UBOB"}},
		"the last day away is still away":   {day: "2026-12-01", ask: []string{"UALICE", "UCAROL"}, awayUsers: []string{"UBOB"}},
		"the day after, back":               {day: "2026-12-02", ask: []string{"UALICE", "UBOB", "UCAROL"}},
		"both away, duplicates ignored":     {day: "2026-11-20", ask: []string{"UALICE"}, awayUsers: []string{"UBOB", "UCAROL"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ask, aw := away.Split([]string{"UALICE", "UBOB", "UCAROL", "UBOB"}, tc.day)
			if diff := cmp.Diff(tc.ask, ask); diff != "" {
				t.Errorf("ask (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.awayUsers, aw); diff != "" {
				t.Errorf("away (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadLocation(t *testing.T) {
	cases := map[string]struct {
		zone    string
		want    string
		wantErr string
	}{
		"empty is UTC":           {zone: "", want: "UTC"},
		"an IANA zone":           {zone: "Europe/Paris", want: "Europe/Paris"},
		"unknown zone":           {zone: "Mars/Olympus_Mons", wantErr: `"Mars/Olympus_Mons" is not an IANA time zone name`},
		"the manager's own zone": {zone: "Local", wantErr: "the manager's local zone"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			loc, err := schedule.LoadLocation(tc.zone)
			if tc.wantErr != "" {
				if !errors.Is(err, schedule.ErrTimeZone) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want ErrTimeZone saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || loc.String() != tc.want {
				t.Fatalf("LoadLocation(%q) = %v, %v; want %s", tc.zone, loc, err, tc.want)
			}
		})
	}
}
