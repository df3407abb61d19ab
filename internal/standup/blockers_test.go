package standup

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

func TestIsBlocker(t *testing.T) {
	cases := map[string]bool{
		"": false, "  ": false, "None": false, "none.": false, "No!": false, "n/a": false, "-": false,
		"Nothing blocking": false, "no blockers so far.": false,
		"Waiting on the DBA": true, "No access to staging": true, "none of the tests pass": true,
	}
	for answer, want := range cases {
		t.Run(answer, func(t *testing.T) {
			if got := IsBlocker(answer); got != want {
				t.Errorf("IsBlocker(%q) = %v, want %v", answer, got, want)
			}
		})
	}
}

// TestUpdateStreaks runs the blocker streaks through sequences of runs: answers with and without blockers,
// people who skip a run or are away, runs that never happened, and escalation on the escalateAfter-th run.
func TestUpdateStreaks(t *testing.T) {
	day0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	q := int32(1)
	// run builds the run of day d; answers maps a user to their blocker answer, "·" for asked without an
	// answer; away are not asked.
	run := func(d int, answers map[string]string, away ...string) *conchv1.StandupRun {
		at := day0.AddDate(0, 0, d)
		r := &conchv1.StandupRun{Spec: conchv1.StandupRunSpec{ID: conchv1.StandupRunID(at, conchv1.TriggerSchedule), ScheduledTime: metav1.NewTime(at)}}
		r.Status.Away = away
		for _, u := range []string{"UALICE", "UBOB", "UCAROL"} {
			a, ok := answers[u]
			switch {
			case !ok:
				continue
			case a == "·":
				r.Status.Participants = append(r.Status.Participants, conchv1.StandupParticipant{User: u, Prompted: true})
			default:
				answered := metav1.NewTime(at.Add(time.Minute))
				r.Status.Participants = append(r.Status.Participants, conchv1.StandupParticipant{
					User: u, Prompted: true, AnsweredAt: &answered, Answers: []string{"work", a},
				})
			}
		}
		return r
	}
	type step struct {
		run      *conchv1.StandupRun
		runs     map[string]int32 // open streaks after the run: user → runs
		escalate []string
		closed   int
	}
	cases := map[string]struct {
		escalateAfter int
		steps         []step
	}{
		"three runs in a row: counted, escalated on the third, once": {
			escalateAfter: 3,
			steps: []step{
				{run: run(0, map[string]string{"UALICE": "Waiting on the DBA", "UBOB": "none"}), runs: map[string]int32{"UALICE": 1}},
				{run: run(1, map[string]string{"UALICE": "Still the DBA", "UBOB": "-"}), runs: map[string]int32{"UALICE": 2}},
				{run: run(2, map[string]string{"UALICE": "DBA!", "UBOB": ""}), runs: map[string]int32{"UALICE": 3}, escalate: []string{"UALICE"}},
				{run: run(3, map[string]string{"UALICE": "DBA, day 4"}), runs: map[string]int32{"UALICE": 4}},
			},
		},
		"a run skipped by the person (no answer) neither counts nor ends the streak": {
			escalateAfter: 3,
			steps: []step{
				{run: run(0, map[string]string{"UALICE": "Blocked"}), runs: map[string]int32{"UALICE": 1}},
				{run: run(1, map[string]string{"UALICE": "·"}), runs: map[string]int32{"UALICE": 1}},
				{run: run(2, map[string]string{"UALICE": "Blocked"}), runs: map[string]int32{"UALICE": 2}},
			},
		},
		"away, and runs that never happened (a holiday: no run at all), keep the streak": {
			escalateAfter: 2,
			steps: []step{
				{run: run(0, map[string]string{"UALICE": "Blocked", "UBOB": "Blocked too"}), runs: map[string]int32{"UALICE": 1, "UBOB": 1}},
				{run: run(1, map[string]string{"UBOB": "Still"}, "UALICE"), runs: map[string]int32{"UALICE": 1, "UBOB": 2}, escalate: []string{"UBOB"}},
				// day 2 was a holiday; day 3:
				{run: run(3, map[string]string{"UALICE": "Blocked", "UBOB": "Still"}), runs: map[string]int32{"UALICE": 2, "UBOB": 3}, escalate: []string{"UALICE"}},
			},
		},
		"an answer without a blocker ends the streak; a new one starts from 1 and may escalate again": {
			escalateAfter: 2,
			steps: []step{
				{run: run(0, map[string]string{"UCAROL": "Blocked"}), runs: map[string]int32{"UCAROL": 1}},
				{run: run(1, map[string]string{"UCAROL": "Blocked"}), runs: map[string]int32{"UCAROL": 2}, escalate: []string{"UCAROL"}},
				{run: run(2, map[string]string{"UCAROL": "Nothing"}), runs: map[string]int32{}, closed: 1},
				{run: run(3, map[string]string{"UCAROL": "Blocked again"}), runs: map[string]int32{"UCAROL": 1}},
				{run: run(4, map[string]string{"UCAROL": "Blocked again"}), runs: map[string]int32{"UCAROL": 2}, escalate: []string{"UCAROL"}},
			},
		},
		"the same run counted twice changes nothing": {
			escalateAfter: 0,
			steps: []step{
				{run: run(0, map[string]string{"UALICE": "Blocked"}), runs: map[string]int32{"UALICE": 1}},
				{run: run(0, map[string]string{"UALICE": "Blocked"}), runs: map[string]int32{"UALICE": 1}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var open []conchv1.StandupBlocker
			for i, s := range tc.steps {
				got := UpdateStreaks(open, s.run, &q, tc.escalateAfter)
				open = got.Open
				runs := map[string]int32{}
				for _, b := range open {
					runs[b.User] = b.Runs
				}
				if diff := cmp.Diff(s.runs, runs); diff != "" {
					t.Errorf("step %d: streaks (-want +got):\n%s", i, diff)
				}
				var escalated []string
				for _, b := range got.Escalate {
					escalated = append(escalated, b.User)
				}
				if diff := cmp.Diff(s.escalate, escalated); diff != "" {
					t.Errorf("step %d: escalated (-want +got):\n%s", i, diff)
				}
				if got.Closed != s.closed {
					t.Errorf("step %d: closed %d, want %d", i, got.Closed, s.closed)
				}
			}
		})
	}
}

func TestUpdateStreaksSinceAndText(t *testing.T) {
	q := int32(0)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	answered := metav1.NewTime(at)
	mk := func(d int, a string) *conchv1.StandupRun {
		return &conchv1.StandupRun{
			Spec: conchv1.StandupRunSpec{ID: conchv1.StandupRunID(at.AddDate(0, 0, d), conchv1.TriggerSchedule), ScheduledTime: metav1.NewTime(at.AddDate(0, 0, d))},
			Status: conchv1.StandupRunStatus{Participants: []conchv1.StandupParticipant{
				{User: "UALICE", AnsweredAt: &answered, Answers: []string{a}},
			}},
		}
	}
	got := UpdateStreaks(nil, mk(0, "first"), &q, 0)
	got = UpdateStreaks(got.Open, mk(1, "second"), &q, 0)
	want := []conchv1.StandupBlocker{{User: "UALICE", Since: metav1.NewTime(at), Runs: 2, LastRun: "20261124T090000Z", Text: "second"}}
	if diff := cmp.Diff(want, got.Open); diff != "" {
		t.Errorf("streak (-want +got):\n%s", diff)
	}
	if none := UpdateStreaks(nil, mk(0, "blocked"), nil, 1); len(none.Open) != 0 {
		t.Errorf("no blocker question, yet streaks %v", none.Open)
	}
}
