package schedule_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/conch-dev/conch/internal/schedule"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestPerPersonTimesOnADSTWeekend: a stand-up at 09:00 every day, its people in Los Angeles (UTC−7, then UTC−8
// once daylight saving ends on Sunday 1 November 2026), Kolkata (UTC+5:30) and Auckland (UTC+13, summer time).
// Each is asked at 09:00 where they are; the run starts in Auckland and collects until an hour after Los Angeles'
// 09:00, which moves an hour later in UTC over the weekend.
func TestPerPersonTimesOnADSTWeekend(t *testing.T) {
	la, kolkata, auckland := zone(t, "America/Los_Angeles"), zone(t, "Asia/Kolkata"), zone(t, "Pacific/Auckland")
	people := []*time.Location{la, kolkata, auckland}
	s, err := schedule.Parse("0 9 * * *", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		after                          time.Time
		wantWall                       string
		wantLA, wantKolkata, wantAuckl string // when each is asked, UTC
	}{
		"Saturday: before Auckland's 09:00": {
			after: utc("2026-10-30 19:00"), wantWall: "2026-10-31 09:00",
			wantAuckl: "2026-10-30 20:00", wantKolkata: "2026-10-31 03:30", wantLA: "2026-10-31 16:00",
		},
		"Saturday's run started in Auckland: the next is Sunday's, although Kolkata and Los Angeles wait for Saturday's": {
			after: utc("2026-10-30 21:00"), wantWall: "2026-11-01 09:00",
			wantAuckl: "2026-10-31 20:00", wantKolkata: "2026-11-01 03:30", wantLA: "2026-11-01 17:00",
		},
		"Monday: Los Angeles on standard time, an hour later in UTC than on Saturday": {
			after: utc("2026-11-01 17:00"), wantWall: "2026-11-02 09:00",
			wantAuckl: "2026-11-01 20:00", wantKolkata: "2026-11-02 03:30", wantLA: "2026-11-02 17:00",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := s.NextWall(tc.after, people)
			if got := w.Format("2006-01-02 15:04"); got != tc.wantWall {
				t.Fatalf("occurrence %s, want %s", got, tc.wantWall)
			}
			got := map[string]string{
				"la": schedule.At(w, la).UTC().Format("2006-01-02 15:04"), "kolkata": schedule.At(w, kolkata).UTC().Format("2006-01-02 15:04"),
				"auckland": schedule.At(w, auckland).UTC().Format("2006-01-02 15:04"),
			}
			want := map[string]string{"la": tc.wantLA, "kolkata": tc.wantKolkata, "auckland": tc.wantAuckl}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("asked at (-want +got):\n%s", diff)
			}
			first, last := schedule.Span(w, people)
			if !first.Equal(utc(tc.wantAuckl)) || !last.Equal(utc(tc.wantLA)) {
				t.Errorf("span %s – %s, want %s – %s", first, last, tc.wantAuckl, tc.wantLA)
			}
		})
	}
}

// TestDecideWithZones: the run's start, window and date follow its people's zones.
func TestDecideWithZones(t *testing.T) {
	la, kolkata, auckland := zone(t, "America/Los_Angeles"), zone(t, "Asia/Kolkata"), zone(t, "Pacific/Auckland")
	people := []*time.Location{la, kolkata, auckland}
	s, _ := schedule.Parse("0 9 * * *", "UTC")
	sat, sun := utc("2026-10-30 20:00"), utc("2026-10-31 20:00") // the runs of Saturday and Sunday start in Auckland
	cases := map[string]struct {
		in   schedule.Input
		want schedule.Plan
	}{
		"a new Standup: the next run starts at Auckland's 09:00": {
			in:   schedule.Input{Now: utc("2026-10-30 12:00"), CollectFor: time.Hour, Zones: people},
			want: schedule.Plan{Next: sat},
		},
		"due in Auckland: starts, though it is the evening before in Los Angeles": {
			in:   schedule.Input{Cursor: sat, Now: sat, CollectFor: time.Hour, Zones: people},
			want: schedule.Plan{Start: sat, Next: sun},
		},
		"the manager down until Kolkata's window: still starts, Los Angeles has yet to be asked": {
			in:   schedule.Input{Cursor: sat, Now: utc("2026-10-31 04:00"), CollectFor: time.Hour, Zones: people},
			want: schedule.Plan{Start: sat, Next: sun},
		},
		"down past Los Angeles' window too: missed": {
			in:   schedule.Input{Cursor: sat, Now: utc("2026-10-31 17:30"), CollectFor: time.Hour, Zones: people},
			want: schedule.Plan{Skipped: []schedule.Skip{{Time: sat, Reason: schedule.ReasonMissed, Count: 1}}, Next: sun},
		},
		"the skip date is the run's wall-clock date, not the UTC date it starts on": {
			in:   schedule.Input{Cursor: sun, Now: sun, CollectFor: time.Hour, Zones: people, SkipDates: []schedule.Date{"2026-11-01"}},
			want: schedule.Plan{Skipped: []schedule.Skip{{Time: sun, Reason: schedule.ReasonHoliday, Count: 1}}, Next: utc("2026-11-01 20:00")},
		},
		"someone moves from Los Angeles to Auckland: the next run starts from the zones now known": {
			in:   schedule.Input{Now: utc("2026-10-30 12:00"), CollectFor: time.Hour, Zones: []*time.Location{la}},
			want: schedule.Plan{Next: utc("2026-10-30 16:00")},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.in.Schedule = s
			if diff := cmp.Diff(tc.want, schedule.Decide(tc.in)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}
