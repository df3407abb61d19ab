package standup

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// TestDigestOf: a week of runs (Monday to Friday, plus the Friday before for context), a holiday and a missed run
// in the history, and Reservations held in and around the window.
func TestDigestOf(t *testing.T) {
	mon := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	from, to := mon, mon.AddDate(0, 0, 7)
	q := int32(0)
	// run builds a completed run of day d (0 is Monday); answers maps a user to their blocker answer ("·": asked,
	// no answer).
	run := func(d int, state conchv1.StandupRunState, answers map[string]string, away ...string) conchv1.StandupRun {
		at := mon.AddDate(0, 0, d)
		r := conchv1.StandupRun{Spec: conchv1.StandupRunSpec{ScheduledTime: metav1.NewTime(at)}, Status: conchv1.StandupRunStatus{State: state, Away: away}}
		for _, u := range []string{"UALICE", "UBOB", "UCAROL"} {
			a, ok := answers[u]
			if !ok {
				continue
			}
			p := conchv1.StandupParticipant{User: u, Prompted: true}
			if a != "·" {
				t := metav1.NewTime(at)
				p.AnsweredAt, p.Answers = &t, []string{a}
			}
			r.Status.Participants = append(r.Status.Participants, p)
		}
		return r
	}
	runs := []conchv1.StandupRun{
		run(-3, conchv1.RunCompleted, map[string]string{"UALICE": "Blocked on the DBA", "UBOB": "none"}), // before the window
		run(0, conchv1.RunCompleted, map[string]string{"UALICE": "Still the DBA", "UBOB": "none"}, "UCAROL"),
		run(1, conchv1.RunCompleted, map[string]string{"UALICE": "·", "UBOB": "Waiting for review"}, "UCAROL"),
		run(2, conchv1.RunCompleted, map[string]string{"UALICE": "none", "UBOB": "Waiting for review", "UCAROL": "-"}),
		run(4, conchv1.RunCancelled, map[string]string{"UALICE": "·", "UBOB": "·", "UCAROL": "·"}),
		run(5, conchv1.RunCollecting, map[string]string{"UALICE": "Blocked again"}), // not ended: not counted
		run(7, conchv1.RunCompleted, map[string]string{"UALICE": "x"}),              // after the window
	}
	history := []conchv1.StandupRunRecord{
		{ScheduledTime: metav1.NewTime(mon.AddDate(0, 0, 3)), Outcome: conchv1.OutcomeSkipped, Reason: conchv1.StandupReasonHoliday, Count: 1},
		{ScheduledTime: metav1.NewTime(mon.AddDate(0, 0, 6)), Outcome: conchv1.OutcomeMissed, Reason: conchv1.StandupReasonMissed, Count: 2},
		{ScheduledTime: metav1.NewTime(mon.AddDate(0, 0, -1)), Outcome: conchv1.OutcomeMissed, Reason: conchv1.StandupReasonMissed, Count: 1},
		{ScheduledTime: metav1.NewTime(mon), Outcome: conchv1.OutcomeCompleted, Count: 1},
	}
	hold := func(holder, res string, start, end time.Time) conchv1.Reservation {
		r := conchv1.Reservation{Spec: conchv1.ReservationSpec{Holder: holder, ResourceName: res}}
		r.Status.ResourceName = res
		g := metav1.NewMicroTime(start)
		r.Status.GrantedAt = &g
		if !end.IsZero() {
			e := metav1.NewTime(end)
			r.Status.EndedAt = &e
		}
		return r
	}
	rsvs := []conchv1.Reservation{
		hold("slack:UALICE", "staging", mon.Add(-2*time.Hour), mon.Add(3*time.Hour)), // 3h inside the window
		hold("slack:UALICE", "qa", mon.Add(24*time.Hour), mon.Add(25*time.Hour)),
		hold("slack:UALICE", "staging", mon.Add(48*time.Hour), mon.Add(50*time.Hour)),
		hold("slack:UBOB", "perf", to.Add(-time.Hour), time.Time{}), // still held: until the window's end
		hold("ci:e2e", "staging", mon, mon.Add(time.Hour)),          // not a person of the stand-up
		hold("slack:UDAVE", "demo", mon, mon.Add(time.Hour)),        // not in the stand-up
	}

	got := DigestOf(from, to, runs, history, rsvs, &q)
	want := Digest{
		From: from, To: to, Runs: 4, Skipped: 3,
		SkippedBy:      map[string]int{conchv1.StandupReasonHoliday: 1, conchv1.StandupReasonMissed: 2},
		BlockersOpened: 1, // Bob on Tuesday (Alice's was open from the Friday before)
		BlockersClosed: 1, // Alice on Wednesday
		People: []PersonDigest{
			{User: "UALICE", Asked: 4, Answered: 2, Blocked: 1, Held: []Held{{Resource: "staging", For: 5 * time.Hour}, {Resource: "qa", For: time.Hour}}},
			{User: "UBOB", Asked: 4, Answered: 3, Blocked: 2, Held: []Held{{Resource: "perf", For: time.Hour}}},
			{User: "UCAROL", Asked: 2, Answered: 1, Away: 2},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("digest (-want +got):\n%s", diff)
	}
}
