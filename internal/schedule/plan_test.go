package schedule_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/conch-dev/conch/internal/schedule"
)

func TestDecide(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	weekdays := mustParse(t, "0 9 * * 1-5", "America/New_York")
	// Monday 2026-11-23, 09:00 in New York.
	mon9 := time.Date(2026, 11, 23, 9, 0, 0, 0, ny)
	tue9, wed9, thu9 := mon9.AddDate(0, 0, 1), mon9.AddDate(0, 0, 2), mon9.AddDate(0, 0, 3)
	hour := time.Hour

	cases := map[string]struct {
		in   schedule.Input
		want schedule.Plan
	}{
		"a new Standup counts from now, even just after a scheduled time": {
			in:   schedule.Input{Now: mon9.Add(time.Minute), CollectFor: hour},
			want: schedule.Plan{Next: tue9},
		},
		"never early: a nanosecond before the run nothing starts": {
			in:   schedule.Input{Cursor: mon9, Now: mon9.Add(-time.Nanosecond), CollectFor: hour},
			want: schedule.Plan{Next: mon9},
		},
		"at the run time, it starts": {
			in:   schedule.Input{Cursor: mon9, Now: mon9, CollectFor: hour},
			want: schedule.Plan{Start: mon9, Next: tue9},
		},
		"a wake-up a little late starts it with its own scheduled time": {
			in:   schedule.Input{Cursor: mon9, Now: mon9.Add(30 * time.Millisecond), CollectFor: hour},
			want: schedule.Plan{Start: mon9, Next: tue9},
		},
		"a schedule edited before the run moves the cursor": {
			in: schedule.Input{
				Schedule: mustParse(t, "30 10 * * 1-5", "America/New_York"),
				Cursor:   mon9, Now: mon9.Add(-hour), CollectFor: hour,
			},
			want: schedule.Plan{Next: mon9.Add(90 * time.Minute)},
		},
		"down over the run, back within its window: it starts late": {
			in:   schedule.Input{Cursor: mon9, Now: mon9.Add(40 * time.Minute), CollectFor: hour},
			want: schedule.Plan{Start: mon9, Next: tue9},
		},
		"down over the run, back after its window: missed": {
			in: schedule.Input{Cursor: mon9, Now: mon9.Add(hour), CollectFor: hour},
			want: schedule.Plan{
				Skipped: []schedule.Skip{{Time: mon9, Reason: schedule.ReasonMissed, Count: 1}},
				Next:    tue9,
			},
		},
		"down for days: the older runs are missed together, the latest starts in its window": {
			in: schedule.Input{Cursor: mon9, Now: wed9.Add(10 * time.Minute), CollectFor: hour},
			want: schedule.Plan{
				Start:   wed9,
				Skipped: []schedule.Skip{{Time: mon9, Reason: schedule.ReasonMissed, Count: 2}},
				Next:    thu9,
			},
		},
		"a skip date: holiday": {
			in: schedule.Input{Cursor: mon9, Now: mon9, CollectFor: hour, SkipDates: []schedule.Date{"2026-11-23"}},
			want: schedule.Plan{
				Skipped: []schedule.Skip{{Time: mon9, Reason: schedule.ReasonHoliday, Count: 1}},
				Next:    tue9,
			},
		},
		"skip dates are dates in the Standup's zone, not UTC": {
			// 21:00 in New York on Monday is Tuesday in UTC.
			in: schedule.Input{
				Schedule: mustParse(t, "0 21 * * *", "America/New_York"),
				Cursor:   mon9.Add(12 * hour), Now: mon9.Add(12 * hour), CollectFor: hour,
				SkipDates: []schedule.Date{"2026-11-24"},
			},
			want: schedule.Plan{Start: mon9.Add(12 * hour), Next: tue9.Add(12 * hour)},
		},
		"a holiday missed while down is a holiday, not a miss": {
			in: schedule.Input{Cursor: mon9, Now: tue9.Add(5 * time.Minute), CollectFor: hour, SkipDates: []schedule.Date{"2026-11-23"}},
			want: schedule.Plan{
				Start:   tue9,
				Skipped: []schedule.Skip{{Time: mon9, Reason: schedule.ReasonHoliday, Count: 1}},
				Next:    wed9,
			},
		},
		"suspended": {
			in: schedule.Input{Cursor: mon9, Now: mon9, CollectFor: hour, Suspend: true},
			want: schedule.Plan{
				Skipped: []schedule.Skip{{Time: mon9, Reason: schedule.ReasonSuspended, Count: 1}},
				Next:    tue9,
			},
		},
		"suspended over several runs: counted together": {
			in: schedule.Input{Cursor: mon9, Now: wed9, CollectFor: hour, Suspend: true},
			want: schedule.Plan{
				Skipped: []schedule.Skip{{Time: mon9, Reason: schedule.ReasonSuspended, Count: 3}},
				Next:    thu9,
			},
		},
		"the previous run still collects: overlap": {
			in: schedule.Input{Cursor: mon9, Now: mon9, CollectFor: hour, Busy: true},
			want: schedule.Plan{
				Skipped: []schedule.Skip{{Time: mon9, Reason: schedule.ReasonOverlap, Count: 1}},
				Next:    tue9,
			},
		},
		"after a long outage of a schedule every minute, the misses are counted and the walk ends": {
			in: schedule.Input{
				Schedule: mustParse(t, "* * * * *", "UTC"),
				Cursor:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Now: time.Date(2026, 4, 1, 0, 0, 30, 0, time.UTC),
				CollectFor: 10 * time.Minute,
			},
			want: schedule.Plan{
				Start:   time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
				Skipped: []schedule.Skip{{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Reason: schedule.ReasonMissed, Count: 100_010}},
				Next:    time.Date(2026, 4, 1, 0, 1, 0, 0, time.UTC),
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.in.Schedule == nil {
				tc.in.Schedule = weekdays
			}
			got := schedule.Decide(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideAcrossDST steps a daily stand-up at 09:00 in New York through both transitions of 2026, deciding at
// each wake-up as the controller does, and checks that exactly one run starts each day at 09:00 local.
func TestDecideAcrossDST(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	s := mustParse(t, "0 9 * * *", "America/New_York")
	for _, from := range []time.Time{time.Date(2026, 3, 5, 12, 0, 0, 0, ny), time.Date(2026, 10, 29, 12, 0, 0, 0, ny)} {
		cursor := schedule.Decide(schedule.Input{Schedule: s, Now: from, CollectFor: time.Hour}).Next
		var started []string
		for range 6 {
			p := schedule.Decide(schedule.Input{Schedule: s, Cursor: cursor, Now: cursor, CollectFor: time.Hour})
			if len(p.Skipped) > 0 {
				t.Fatalf("skipped %v", p.Skipped)
			}
			started = append(started, p.Start.In(ny).Format("01-02 15:04 MST"))
			cursor = p.Next
		}
		t.Logf("%v", started)
		for _, s := range started {
			if s[6:11] != "09:00" {
				t.Errorf("a run at %s, not 09:00", s)
			}
		}
	}
}
