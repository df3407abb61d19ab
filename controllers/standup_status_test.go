package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/internal/standup"
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
			st := base()
			st.Name, st.Namespace = "team", "web"
			run, dropped := newRun(st, scheduled, tc.now, tc.trigger, tc.people, schedule.DateOf(scheduled, standup.Location(st)))
			var asked []string
			for _, p := range run.Status.Participants {
				if !p.Prompted {
					t.Errorf("%s not recorded as prompted", p.User)
				}
				asked = append(asked, p.User)
			}
			if diff := cmp.Diff(tc.asked, asked); diff != "" {
				t.Errorf("asked (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.away, run.Status.Away); diff != "" {
				t.Errorf("away (-want +got):\n%s", diff)
			}
			if dropped != tc.dropped {
				t.Errorf("dropped %d, want %d", dropped, tc.dropped)
			}
			if got := run.Spec.Deadline.Time; !got.Equal(scheduled.Add(30 * time.Minute)) {
				t.Errorf("deadline %s", got)
			}
			switch {
			case tc.remindAt == nil && run.Spec.RemindAt != nil:
				t.Errorf("a reminder at %s, want none", run.Spec.RemindAt)
			case tc.remindAt != nil && (run.Spec.RemindAt == nil || !run.Spec.RemindAt.Time.Equal(*tc.remindAt)):
				t.Errorf("reminder %v, want %s", run.Spec.RemindAt, tc.remindAt)
			}
			if run.Spec.ID != tc.wantID || run.Spec.Trigger != tc.trigger {
				t.Errorf("id %s trigger %s", run.Spec.ID, run.Spec.Trigger)
			}
			if want := conchv1.StandupRunName("team", tc.wantID); run.Name != want || run.Namespace != "web" || run.Labels[conchv1.LabelStandup] != "team" {
				t.Errorf("name %s/%s labels %v, want web/%s", run.Namespace, run.Name, run.Labels, want)
			}
			if len(run.OwnerReferences) != 1 || run.OwnerReferences[0].Kind != "Standup" || run.OwnerReferences[0].Name != "team" {
				t.Errorf("owner references %+v", run.OwnerReferences)
			}
			if run.Status.State != conchv1.RunCollecting || run.Status.Progress != fmt.Sprintf("0/%d", len(tc.asked)) {
				t.Errorf("state %s progress %s", run.Status.State, run.Status.Progress)
			}
			if diff := cmp.Diff([]string{"Q1", "Q2"}, run.Spec.Questions); diff != "" {
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

func TestStandupSetConditions(t *testing.T) {
	const gen = 4
	nextRun := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC) // 09:00 in New York, the first run after tNow
	c := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return wantCond(typ, status, reason, msg, gen, tNow)
	}
	idle := c(conchv1.StandupConditionRunning, metav1.ConditionFalse, conchv1.ReasonIdle, "No run is collecting answers")
	readyStalled := func(ready, stalled metav1.ConditionStatus, reason, msg string) []metav1.Condition {
		return []metav1.Condition{c(conchv1.ConditionReady, ready, reason, msg), c(conchv1.ConditionStalled, stalled, reason, msg)}
	}
	collectingRun := &conchv1.StandupRun{
		ObjectMeta: metav1.ObjectMeta{Name: "team-20261122-140000z"},
		Spec: conchv1.StandupRunSpec{
			ID: "20261122T140000Z", ScheduledTime: metav1.NewTime(nextRun.Add(-24 * time.Hour)),
			Deadline: metav1.NewTime(time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)),
		},
		Status: conchv1.StandupRunStatus{Participants: []conchv1.StandupParticipant{
			{User: "UALICE", Prompted: true, AnsweredAt: ptrMeta(tBefore)}, {User: "UBOB", Prompted: true}, {User: "UCAROL", Prompted: true},
		}},
	}
	collecting := runRef(collectingRun)
	const badZone = `spec.timeZone: "Mars/Olympus" is not an IANA time zone name (such as Europe/Paris or America/New_York); no run starts until it is fixed`
	const badSchedule = `spec.schedule "0 9 * *" has 4 fields; a schedule has five: minute hour day-of-month month day-of-week; no run starts until it is fixed`

	cases := map[string]struct {
		spec    func(*conchv1.StandupSpec)
		status  conchv1.StandupStatus
		active  *conchv1.StandupRun
		slackOn bool
		want    conchv1.StandupStatus
	}{
		"scheduled: Ready, the next run in the Standup's zone": {
			status: conchv1.StandupStatus{NextRunTime: ptrMeta(nextRun)}, slackOn: true,
			want: conchv1.StandupStatus{
				NextRunTime: ptrMeta(nextRun), ObservedGeneration: gen,
				Conditions: append(readyStalled(metav1.ConditionTrue, metav1.ConditionFalse, conchv1.ReasonScheduled, "Next run Mon 23 Nov 2026 09:00 EST"), idle),
			},
		},
		"scheduled, no next run recorded": {
			slackOn: true,
			want: conchv1.StandupStatus{
				ObservedGeneration: gen,
				Conditions:         append(readyStalled(metav1.ConditionTrue, metav1.ConditionFalse, conchv1.ReasonScheduled, "Scheduled"), idle),
			},
		},
		"suspended: still Ready": {
			spec:   func(s *conchv1.StandupSpec) { s.Suspend = true },
			status: conchv1.StandupStatus{NextRunTime: ptrMeta(nextRun)}, slackOn: true,
			want: conchv1.StandupStatus{
				NextRunTime: ptrMeta(nextRun), ObservedGeneration: gen,
				Conditions: append(readyStalled(metav1.ConditionTrue, metav1.ConditionFalse, conchv1.ReasonSuspended,
					"Suspended: no run starts until spec.suspend is false"), idle),
			},
		},
		"Slack off: not Ready, not Stalled, nextRunTime kept current for kubectl": {
			status: conchv1.StandupStatus{NextRunTime: ptrMeta(nextRun.Add(-24 * time.Hour))},
			want: conchv1.StandupStatus{
				NextRunTime: ptrMeta(nextRun), ObservedGeneration: gen,
				Conditions: append(readyStalled(metav1.ConditionFalse, metav1.ConditionFalse, conchv1.ReasonSlackDisabled,
					"Slack is off in this manager (no tokens), so no run starts; stand-ups happen in Slack"), idle),
			},
		},
		"Slack off and suspended: Slack off is said": {
			spec: func(s *conchv1.StandupSpec) { s.Suspend = true },
			want: conchv1.StandupStatus{
				NextRunTime: ptrMeta(nextRun), ObservedGeneration: gen,
				Conditions: append(readyStalled(metav1.ConditionFalse, metav1.ConditionFalse, conchv1.ReasonSlackDisabled,
					"Slack is off in this manager (no tokens), so no run starts; stand-ups happen in Slack"), idle),
			},
		},
		"invalid time zone: Stalled, nextRunTime cleared": {
			spec:   func(s *conchv1.StandupSpec) { s.TimeZone = "Mars/Olympus" },
			status: conchv1.StandupStatus{NextRunTime: ptrMeta(nextRun)}, slackOn: true,
			want: conchv1.StandupStatus{
				ObservedGeneration: gen,
				Conditions:         append(readyStalled(metav1.ConditionFalse, metav1.ConditionTrue, conchv1.ReasonInvalidTimeZone, badZone), idle),
			},
		},
		"invalid schedule: Stalled, nextRunTime cleared": {
			spec:   func(s *conchv1.StandupSpec) { s.Schedule = "0 9 * *" },
			status: conchv1.StandupStatus{NextRunTime: ptrMeta(nextRun)}, slackOn: true,
			want: conchv1.StandupStatus{
				ObservedGeneration: gen,
				Conditions:         append(readyStalled(metav1.ConditionFalse, metav1.ConditionTrue, conchv1.ReasonInvalidSchedule, badSchedule), idle),
			},
		},
		"invalid schedule with Slack off: the spec's error is said, no nextRunTime": {
			spec:   func(s *conchv1.StandupSpec) { s.Schedule = "0 9 * *" },
			status: conchv1.StandupStatus{NextRunTime: ptrMeta(nextRun)},
			want: conchv1.StandupStatus{
				ObservedGeneration: gen,
				Conditions:         append(readyStalled(metav1.ConditionFalse, metav1.ConditionTrue, conchv1.ReasonInvalidSchedule, badSchedule), idle),
			},
		},
		"a run collecting answers: Running, its deadline in the Standup's zone": {
			status: conchv1.StandupStatus{NextRunTime: ptrMeta(nextRun), ActiveRun: collecting}, active: collectingRun, slackOn: true,
			want: conchv1.StandupStatus{
				NextRunTime: ptrMeta(nextRun), ActiveRun: collecting, ObservedGeneration: gen,
				Conditions: append(readyStalled(metav1.ConditionTrue, metav1.ConditionFalse, conchv1.ReasonScheduled, "Next run Mon 23 Nov 2026 09:00 EST"),
					c(conchv1.StandupConditionRunning, metav1.ConditionTrue, conchv1.ReasonCollecting,
						"Collecting answers until Mon 23 Nov 2026 10:00 EST: 1 of 3 answered")),
			},
		},
		"a run collecting while the time zone is invalid: still Running, its deadline in UTC": {
			spec:   func(s *conchv1.StandupSpec) { s.TimeZone = "Mars/Olympus" },
			status: conchv1.StandupStatus{ActiveRun: collecting}, active: collectingRun, slackOn: true,
			want: conchv1.StandupStatus{
				ActiveRun: collecting, ObservedGeneration: gen,
				Conditions: append(readyStalled(metav1.ConditionFalse, metav1.ConditionTrue, conchv1.ReasonInvalidTimeZone, badZone),
					c(conchv1.StandupConditionRunning, metav1.ConditionTrue, conchv1.ReasonCollecting,
						"Collecting answers until Mon 23 Nov 2026 15:00 UTC: 1 of 3 answered")),
			},
		},
		"stored conditions: a status that stays keeps its transition time, one that flips moves it": {
			status: conchv1.StandupStatus{NextRunTime: ptrMeta(nextRun), Conditions: []metav1.Condition{
				wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonScheduled, "Next run Fri 20 Nov 2026 09:00 EST", 3, tBefore),
				wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonScheduled, "Next run Fri 20 Nov 2026 09:00 EST", 3, tBefore),
				wantCond(conchv1.StandupConditionRunning, metav1.ConditionTrue, conchv1.ReasonCollecting, "Collecting", 3, tBefore),
				wantCond(conchv1.StandupConditionRunSkipped, metav1.ConditionFalse, conchv1.ReasonRan, "The run of … started", 3, tBefore),
			}}, slackOn: true,
			want: conchv1.StandupStatus{
				NextRunTime: ptrMeta(nextRun), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonScheduled, "Next run Mon 23 Nov 2026 09:00 EST", gen, tBefore),
					wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonScheduled, "Next run Mon 23 Nov 2026 09:00 EST", gen, tBefore),
					idle,
					wantCond(conchv1.StandupConditionRunSkipped, metav1.ConditionFalse, conchv1.ReasonRan, "The run of … started", 3, tBefore),
				},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := &conchv1.Standup{Spec: conchv1.StandupSpec{Schedule: "0 9 * * 1-5", TimeZone: "America/New_York"}}
			st.Generation = gen
			if tc.spec != nil {
				tc.spec(&st.Spec)
			}
			st.Status = *tc.status.DeepCopy()
			p := &standupPass{Standup: st, now: tNow, active: tc.active}
			p.sched, p.specErr = schedule.Parse(st.Spec.Schedule, st.Spec.TimeZone)
			p.setConditions(tc.slackOn)
			if diff := cmp.Diff(tc.want, p.Status); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStandupSkipped(t *testing.T) {
	at := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC) // Monday 09:00 in New York
	older := conchv1.StandupRunRecord{ScheduledTime: metav1.NewTime(at.Add(-24 * time.Hour)), Outcome: conchv1.OutcomeCompleted, Count: 1}
	record := func(trigger conchv1.RunTrigger, outcome conchv1.RunOutcome, reason string, count int32) []conchv1.StandupRunRecord {
		return []conchv1.StandupRunRecord{
			{ScheduledTime: metav1.NewTime(at), Trigger: trigger, Outcome: outcome, Reason: reason, Count: count}, older,
		}
	}
	cases := map[string]struct {
		skip    schedule.Skip
		trigger conchv1.RunTrigger
		history []conchv1.StandupRunRecord
		// message is the RunSkipped condition's and the Event's; the condition is set for scheduled runs only.
		message   string
		eventType string
	}{
		"a holiday": {
			skip: schedule.Skip{Time: at, Reason: schedule.ReasonHoliday, Count: 1}, trigger: conchv1.TriggerSchedule,
			history:   record(conchv1.TriggerSchedule, conchv1.OutcomeSkipped, schedule.ReasonHoliday, 1),
			message:   "The run of Mon 23 Nov 2026 09:00 EST was skipped: 2026-11-23 is in skipDates",
			eventType: "Normal",
		},
		"suspended, three runs in a row": {
			skip: schedule.Skip{Time: at, Reason: schedule.ReasonSuspended, Count: 3}, trigger: conchv1.TriggerSchedule,
			history:   record(conchv1.TriggerSchedule, conchv1.OutcomeSkipped, schedule.ReasonSuspended, 3),
			message:   "3 runs from Mon 23 Nov 2026 09:00 EST on did not start: the Standup is suspended",
			eventType: "Normal",
		},
		"missed, one run: outcome Missed, a Warning": {
			skip: schedule.Skip{Time: at, Reason: schedule.ReasonMissed, Count: 1}, trigger: conchv1.TriggerSchedule,
			history:   record(conchv1.TriggerSchedule, conchv1.OutcomeMissed, schedule.ReasonMissed, 1),
			message:   "The run of Mon 23 Nov 2026 09:00 EST was missed: the manager was not running while answers could be collected (collectFor 30m0s)",
			eventType: "Warning",
		},
		"missed, four runs": {
			skip: schedule.Skip{Time: at, Reason: schedule.ReasonMissed, Count: 4}, trigger: conchv1.TriggerSchedule,
			history:   record(conchv1.TriggerSchedule, conchv1.OutcomeMissed, schedule.ReasonMissed, 4),
			message:   "4 runs from Mon 23 Nov 2026 09:00 EST on missed: the manager was not running while answers could be collected (collectFor 30m0s)",
			eventType: "Warning",
		},
		"the previous run still collecting": {
			skip: schedule.Skip{Time: at, Reason: schedule.ReasonOverlap, Count: 1}, trigger: conchv1.TriggerSchedule,
			history:   record(conchv1.TriggerSchedule, conchv1.OutcomeSkipped, schedule.ReasonOverlap, 1),
			message:   "The run of Mon 23 Nov 2026 09:00 EST did not start: the previous run was still collecting answers",
			eventType: "Normal",
		},
		"nobody to ask": {
			skip: schedule.Skip{Time: at, Reason: conchv1.StandupReasonNobodyToAsk, Count: 1}, trigger: conchv1.TriggerSchedule,
			history:   record(conchv1.TriggerSchedule, conchv1.OutcomeSkipped, conchv1.StandupReasonNobodyToAsk, 1),
			message:   "The run of Mon 23 Nov 2026 09:00 EST did not start: nobody to ask (everyone is away, or participants and the user group are empty)",
			eventType: "Normal",
		},
		"a manual run with nobody to ask: history and Event, no RunSkipped condition": {
			skip: schedule.Skip{Time: at, Reason: conchv1.StandupReasonNobodyToAsk, Count: 1}, trigger: conchv1.TriggerManual,
			history:   record(conchv1.TriggerManual, conchv1.OutcomeSkipped, conchv1.StandupReasonNobodyToAsk, 1),
			message:   "The run of Mon 23 Nov 2026 09:00 EST did not start: nobody to ask (everyone is away, or participants and the user group are empty)",
			eventType: "Normal",
		},
		// The switch has no default: a reason it does not know gets an empty message.
		"a reason it does not know: an empty message": {
			skip: schedule.Skip{Time: at, Reason: "Solstice", Count: 1}, trigger: conchv1.TriggerSchedule,
			history:   record(conchv1.TriggerSchedule, conchv1.OutcomeSkipped, "Solstice", 1),
			message:   "",
			eventType: "Normal",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := &conchv1.Standup{Spec: conchv1.StandupSpec{
				Schedule: "0 9 * * 1-5", TimeZone: "America/New_York", CollectFor: &metav1.Duration{Duration: 30 * time.Minute},
			}}
			st.Generation = 4
			st.Status.History = []conchv1.StandupRunRecord{older}
			p := &standupPass{Standup: st, now: tNow}
			p.sched, p.specErr = schedule.Parse(st.Spec.Schedule, st.Spec.TimeZone)
			p.skipped(tc.skip, tc.trigger)

			if diff := cmp.Diff(tc.history, p.Status.History); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			var want []metav1.Condition
			if tc.trigger == conchv1.TriggerSchedule {
				want = []metav1.Condition{wantCond(conchv1.StandupConditionRunSkipped, metav1.ConditionTrue, tc.skip.Reason, tc.message, 4, tNow)}
			}
			if diff := cmp.Diff(want, p.Status.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]standupEvent{{tc.eventType, "RunSkipped", "Skip", tc.message}}, p.events, cmp.AllowUnexported(standupEvent{})); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStandupSetRunSkipped(t *testing.T) {
	cases := map[string]struct {
		stored  []metav1.Condition
		skipped bool
		want    metav1.Condition
	}{
		"skipped": {
			skipped: true,
			want:    wantCond(conchv1.StandupConditionRunSkipped, metav1.ConditionTrue, "Holiday", "m", 4, tNow),
		},
		"ran": {
			want: wantCond(conchv1.StandupConditionRunSkipped, metav1.ConditionFalse, "Holiday", "m", 4, tNow),
		},
		"skipped again: the transition time stays": {
			stored:  []metav1.Condition{wantCond(conchv1.StandupConditionRunSkipped, metav1.ConditionTrue, "Missed", "old", 3, tBefore)},
			skipped: true,
			want:    wantCond(conchv1.StandupConditionRunSkipped, metav1.ConditionTrue, "Holiday", "m", 4, tBefore),
		},
		"ran after a skip: the transition time moves": {
			stored: []metav1.Condition{wantCond(conchv1.StandupConditionRunSkipped, metav1.ConditionTrue, "Missed", "old", 3, tBefore)},
			want:   wantCond(conchv1.StandupConditionRunSkipped, metav1.ConditionFalse, "Holiday", "m", 4, tNow),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := &conchv1.Standup{}
			st.Generation, st.Status.Conditions = 4, tc.stored
			p := &standupPass{Standup: st, now: tNow}
			p.setRunSkipped(tc.skipped, "Holiday", "m")
			if diff := cmp.Diff([]metav1.Condition{tc.want}, p.Status.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunsToPrune(t *testing.T) {
	day := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	run := func(name string, daysAgo int, state conchv1.StandupRunState) conchv1.StandupRun {
		return conchv1.StandupRun{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       conchv1.StandupRunSpec{ScheduledTime: metav1.NewTime(day.AddDate(0, 0, -daysAgo))},
			Status:     conchv1.StandupRunStatus{State: state},
		}
	}
	cases := map[string]struct {
		runs               []conchv1.StandupRun
		successful, failed int
		want               []string
	}{
		"within the limits: nothing": {
			runs:       []conchv1.StandupRun{run("d1", 1, conchv1.RunCompleted), run("d2", 2, conchv1.RunCancelled)},
			successful: 3, failed: 1,
		},
		"completed beyond the limit: the oldest go, oldest first, whatever the list's order": {
			runs: []conchv1.StandupRun{
				run("d2", 2, conchv1.RunCompleted), run("d5", 5, conchv1.RunCompleted), run("d1", 1, conchv1.RunCompleted),
				run("d4", 4, conchv1.RunCompleted), run("d3", 3, conchv1.RunCompleted),
			},
			successful: 2, failed: 1, want: []string{"d5", "d4", "d3"},
		},
		"cancelled and completed counted apart": {
			runs: []conchv1.StandupRun{
				run("d1", 1, conchv1.RunCancelled), run("d2", 2, conchv1.RunCompleted), run("d3", 3, conchv1.RunCancelled),
				run("d4", 4, conchv1.RunCompleted),
			},
			successful: 2, failed: 1, want: []string{"d3"},
		},
		"a run collecting answers is never pruned, nor one not started": {
			runs:       []conchv1.StandupRun{run("now", 0, conchv1.RunCollecting), run("new", 0, ""), run("d1", 1, conchv1.RunCompleted)},
			successful: 0, failed: 0, want: []string{"d1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, runsToPrune(tc.runs, tc.successful, tc.failed)); diff != "" {
				t.Errorf("pruned (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHistoryLimits(t *testing.T) {
	st := &conchv1.Standup{}
	if s, f := historyLimits(st); s != 10 || f != 3 {
		t.Errorf("defaults %d, %d; want 10, 3", s, f)
	}
	one, zero := int32(1), int32(0)
	st.Spec.SuccessfulRunsHistoryLimit, st.Spec.FailedRunsHistoryLimit = &one, &zero
	if s, f := historyLimits(st); s != 1 || f != 0 {
		t.Errorf("set %d, %d; want 1, 0", s, f)
	}
}

// TestLegacyRun: the run an earlier version kept in status.currentRun becomes a StandupRun with the same ID (so the
// Answer buttons already sent still find it), answers, reminders and all.
func TestLegacyRun(t *testing.T) {
	at := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	answered := metav1.NewTime(at.Add(5 * time.Minute))
	legacy := &conchv1.StandupLegacyRun{
		ID: "20261123T140000Z", Trigger: conchv1.TriggerSchedule, ScheduledTime: metav1.NewTime(at),
		StartTime: metav1.NewTime(at.Add(time.Second)), Deadline: metav1.NewTime(at.Add(time.Hour)),
		RemindAt: ptrMeta(at.Add(20 * time.Minute)), Reminded: true, Questions: []string{"Q1", "Q2"},
		Participants: []conchv1.StandupParticipant{
			{User: "UALICE", Prompted: true, AnsweredAt: &answered, Answers: []string{"a1", "a2"}},
			{User: "UBOB", Prompted: true, Reminded: true},
		},
		Away: []string{"UCAROL"},
	}
	st := &conchv1.Standup{ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "web", UID: "uid-1"}}
	st.Status.CurrentRun = legacy
	run := legacyRun(st, at.Add(10*time.Minute))

	want := conchv1.StandupRunSpec{
		StandupName: "team", ID: legacy.ID, Trigger: conchv1.TriggerSchedule, ScheduledTime: legacy.ScheduledTime,
		Deadline: legacy.Deadline, RemindAt: legacy.RemindAt, Questions: []string{"Q1", "Q2"},
	}
	if diff := cmp.Diff(want, run.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if run.Name != "team-20261123-140000z" || run.Namespace != "web" || run.OwnerReferences[0].UID != "uid-1" {
		t.Errorf("object %s/%s owned by %+v", run.Namespace, run.Name, run.OwnerReferences)
	}
	if diff := cmp.Diff(legacy.Participants, run.Status.Participants); diff != "" {
		t.Errorf("participants (-want +got):\n%s", diff)
	}
	if run.Status.State != conchv1.RunCollecting || !run.Status.Reminded || run.Status.Progress != "1/2" ||
		!run.Status.StartTime.Equal(&legacy.StartTime) || len(run.Status.Away) != 1 {
		t.Errorf("status %+v", run.Status)
	}
}

// TestPersonalTimes: with timing Participant, each person's prompt, reminder and window follow their own clock, and
// the summary comes when the last window closes, or at summaryTime on the team's clock (closing later windows, and
// leaving unasked anyone whose morning comes after it).
func TestPersonalTimes(t *testing.T) {
	load := func(name string) *time.Location { loc, _ := time.LoadLocation(name); return loc }
	zoneOf := map[string]*time.Location{
		"ULA": load("America/Los_Angeles"), "UKOLKATA": load("Asia/Kolkata"), "UAUCKLAND": load("Pacific/Auckland"),
	}
	w := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) // Monday 09:00 on every clock; Los Angeles is on PST (UTC−8)
	utc := func(s string) time.Time { tt, _ := time.Parse("2006-01-02 15:04", s); return tt }
	start := utc("2026-11-01 20:00") // Auckland's 09:00
	type person struct {
		prompt, remind, deadline string
		prompted                 bool
	}
	cases := map[string]struct {
		summaryTime string
		now         time.Time
		want        map[string]person
		runDeadline string
	}{
		"the summary when Los Angeles' window closes": {
			now: start,
			want: map[string]person{
				"UAUCKLAND": {"2026-11-01 20:00", "2026-11-01 20:20", "2026-11-01 21:00", true},
				"UKOLKATA":  {"2026-11-02 03:30", "2026-11-02 03:50", "2026-11-02 04:30", false},
				"ULA":       {"2026-11-02 17:00", "2026-11-02 17:20", "2026-11-02 18:00", false},
			},
			runDeadline: "2026-11-02 18:00",
		},
		"the manager back late, after Kolkata's 09:00: Kolkata is asked at once, with no reminder in the past": {
			now: utc("2026-11-02 04:00"),
			want: map[string]person{
				"UAUCKLAND": {"2026-11-01 20:00", "", "2026-11-01 21:00", false},
				"UKOLKATA":  {"2026-11-02 03:30", "", "2026-11-02 04:30", true},
				"ULA":       {"2026-11-02 17:00", "2026-11-02 17:20", "2026-11-02 18:00", false},
			},
			runDeadline: "2026-11-02 18:00",
		},
		"summaryTime 12:00 in Paris: Los Angeles' window would open after it": {
			summaryTime: "12:00", now: start,
			want: map[string]person{
				"UAUCKLAND": {"2026-11-01 20:00", "2026-11-01 20:20", "2026-11-01 21:00", true},
				"UKOLKATA":  {"2026-11-02 03:30", "2026-11-02 03:50", "2026-11-02 04:30", false},
				"ULA":       {"2026-11-02 17:00", "", "2026-11-02 11:00", false},
			},
			runDeadline: "2026-11-02 11:00",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := &conchv1.Standup{Spec: conchv1.StandupSpec{
				TimeZone: "Europe/Paris", Questions: []string{"Q"}, Timing: conchv1.TimingParticipant, SummaryTime: tc.summaryTime,
				CollectFor: &metav1.Duration{Duration: time.Hour}, RemindAfter: &metav1.Duration{Duration: 20 * time.Minute},
			}}
			st.Name = "team"
			run, _ := newRun(st, start, tc.now, conchv1.TriggerSchedule, []string{"ULA", "UKOLKATA", "UAUCKLAND"}, "2026-11-02")
			personalTimes(st, run, w, tc.now, zoneOf)
			f := func(tm *metav1.Time) string {
				if tm == nil {
					return ""
				}
				return tm.UTC().Format("2006-01-02 15:04")
			}
			got := map[string]person{}
			for _, p := range run.Status.Participants {
				got[p.User] = person{f(p.PromptAt), f(p.RemindAt), f(p.Deadline), p.Prompted}
				if p.TimeZone != zoneOf[p.User].String() {
					t.Errorf("%s's zone %q", p.User, p.TimeZone)
				}
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(person{})); diff != "" {
				t.Errorf("personal times (-want +got):\n%s", diff)
			}
			if d := f(&run.Spec.Deadline); d != tc.runDeadline || run.Spec.RemindAt != nil {
				t.Errorf("run deadline %s (want %s), run reminder %v (want none)", d, tc.runDeadline, run.Spec.RemindAt)
			}
		})
	}
}
