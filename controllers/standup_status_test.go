package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

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
