package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

func TestStandupEnvironments(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 16:00 in New York, 21:00 UTC: "today" ends at 05:00 UTC tomorrow.
	now := time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)
	granted := func(name, resource, holder string, until time.Time) conchv1.Reservation {
		r := testutil.Reservation(name).On(resource).Holder(holder).State(conchv1.StateGranted).Obj()
		e := metav1.NewMicroTime(until)
		r.Status.ExpiresAt = &e
		return *r
	}
	queued := func(name, resource, holder string, pos int32) conchv1.Reservation {
		r := testutil.Reservation(name).On(resource).Holder(holder).State(conchv1.StateQueued).Obj()
		r.Status.Position = pos
		return *r
	}
	released := testutil.Reservation("old").On("qa").Holder("slack:UALICE").State(conchv1.StateReleased).Obj()
	pooled := testutil.Reservation("pool").Pool(map[string]string{"pool": "web"}).Holder("slack:UALICE").State(conchv1.StatePending).Obj()
	rsvs := []conchv1.Reservation{
		granted("a1", "staging", "slack:UALICE", now.Add(7*time.Hour)), // 04:00 UTC tomorrow, 23:00 in New York: today
		granted("a2", "perf", "slack:UALICE", now.Add(9*time.Hour)),    // 01:00 tomorrow in New York
		queued("b1", "staging", "slack:UBOB", 1),                       //
		granted("ci", "qa", "ci:e2e", now.Add(time.Hour)),              // not a participant, ends today
		granted("d1", "demo", "slack:UDAVE", now.Add(2*time.Hour)),     // not a participant, ends today
		*released, *pooled,
	}
	got := standupEnvironments(rsvs, []string{"UALICE", "UBOB", "UCAROL"}, now, ny)
	want := StandupEnvironments{
		ByUser: map[string][]Holding{
			"UALICE": {
				{Resource: "perf", Holder: "slack:UALICE", State: conchv1.StateGranted, Until: now.Add(9 * time.Hour)},
				{Resource: "staging", Holder: "slack:UALICE", State: conchv1.StateGranted, Until: now.Add(7 * time.Hour), EndsToday: true},
			},
			"UBOB": {{Resource: "staging", Holder: "slack:UBOB", State: conchv1.StateQueued, Position: 1}},
		},
		EndingToday: []Holding{
			{Resource: "qa", Holder: "ci:e2e", State: conchv1.StateGranted, Until: now.Add(time.Hour), EndsToday: true},
			{Resource: "demo", Holder: "slack:UDAVE", State: conchv1.StateGranted, Until: now.Add(2 * time.Hour), EndsToday: true},
			{Resource: "staging", Holder: "slack:UALICE", State: conchv1.StateGranted, Until: now.Add(7 * time.Hour), EndsToday: true},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environments (-want +got):\n%s", diff)
	}
}

func TestNewRun(t *testing.T) {
	scheduled := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC) // 09:00 in New York
	base := func() *conchv1.Standup {
		return &conchv1.Standup{Spec: conchv1.StandupSpec{
			TimeZone: "America/New_York", Questions: []string{"Q1", "Q2"},
			CollectFor:  &metav1.Duration{Duration: 30 * time.Minute},
			RemindAfter: &metav1.Duration{Duration: 20 * time.Minute},
			Away:        []conchv1.StandupAway{{User: "UBOB", Until: "2026-11-23"}, {User: "UCAROL", Until: "2026-11-22"}},
		}}
	}
	many := make([]string, 60)
	for i := range many {
		many[i] = fmt.Sprintf("U%03d", i)
	}
	cases := map[string]struct {
		now       time.Time
		trigger   conchv1.RunTrigger
		people    []string
		asked     []string
		away      []string
		remindAt  *time.Time
		dropped   int
		wantID    string
		collectFn func(*conchv1.Standup)
	}{
		"on time: those away through today are left out, those back are asked, duplicates once": {
			now: scheduled, trigger: conchv1.TriggerSchedule, people: []string{"UALICE", "UBOB", "UCAROL", "UALICE"},
			asked: []string{"UALICE", "UCAROL"}, away: []string{"UBOB"}, remindAt: ptrTime(scheduled.Add(20 * time.Minute)),
			wantID: "20261123T140000Z",
		},
		"late, after the reminder time: no reminder": {
			now: scheduled.Add(25 * time.Minute), trigger: conchv1.TriggerSchedule, people: []string{"UALICE"},
			asked: []string{"UALICE"}, wantID: "20261123T140000Z",
		},
		"manual": {
			now: scheduled, trigger: conchv1.TriggerManual, people: []string{"UALICE"},
			asked: []string{"UALICE"}, remindAt: ptrTime(scheduled.Add(20 * time.Minute)), wantID: "20261123T140000Zm",
		},
		"more than 50: the first 50 are asked": {
			now: scheduled, trigger: conchv1.TriggerSchedule, people: many,
			asked: many[:50], dropped: 10, remindAt: ptrTime(scheduled.Add(20 * time.Minute)), wantID: "20261123T140000Z",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			run, dropped := newRun(base(), scheduled, tc.now, tc.trigger, tc.people)
			var asked []string
			for _, p := range run.Participants {
				if !p.Prompted {
					t.Errorf("%s not recorded as prompted", p.User)
				}
				asked = append(asked, p.User)
			}
			if diff := cmp.Diff(tc.asked, asked); diff != "" {
				t.Errorf("asked (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.away, run.Away); diff != "" {
				t.Errorf("away (-want +got):\n%s", diff)
			}
			if dropped != tc.dropped {
				t.Errorf("dropped %d, want %d", dropped, tc.dropped)
			}
			if got := run.Deadline.Time; !got.Equal(scheduled.Add(30 * time.Minute)) {
				t.Errorf("deadline %s", got)
			}
			switch {
			case tc.remindAt == nil && run.RemindAt != nil:
				t.Errorf("a reminder at %s, want none", run.RemindAt)
			case tc.remindAt != nil && (run.RemindAt == nil || !run.RemindAt.Time.Equal(*tc.remindAt)):
				t.Errorf("reminder %v, want %s", run.RemindAt, tc.remindAt)
			}
			if run.ID != tc.wantID || run.Trigger != tc.trigger {
				t.Errorf("id %s trigger %s", run.ID, run.Trigger)
			}
			if diff := cmp.Diff([]string{"Q1", "Q2"}, run.Questions); diff != "" {
				t.Errorf("questions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	var h []conchv1.StandupRunRecord
	for i := range conchv1.MaxStandupHistory + 5 {
		h = prependHistory(h, conchv1.StandupRunRecord{Count: int32(i)})
	}
	if len(h) != conchv1.MaxStandupHistory || h[0].Count != conchv1.MaxStandupHistory+4 {
		t.Errorf("history has %d entries, newest %d", len(h), h[0].Count)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
