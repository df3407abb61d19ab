package controllers

import (
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/internal/standup"
)

// This file holds pure functions that compute a Standup's runs and what its summary says; the reconciler only
// writes and sends what they return.

// newRun builds the run of st due at scheduled, started at now, asking people (without duplicates, at most
// MaxStandupParticipants; dropped counts those left out) except those away on the run's date. Each person asked
// is recorded as prompted: the prompts are sent once this is written.
func newRun(st *conchv1.Standup, scheduled, now time.Time, trigger conchv1.RunTrigger, people []string) (*conchv1.StandupRun, int) {
	loc := standup.Location(st)
	away := schedule.Away{}
	for _, a := range st.Spec.Away {
		away[a.User] = schedule.Date(a.Until)
	}
	ask, out := away.Split(people, schedule.DateOf(scheduled, loc))
	dropped := 0
	if len(ask) > conchv1.MaxStandupParticipants {
		ask, dropped = ask[:conchv1.MaxStandupParticipants], len(ask)-conchv1.MaxStandupParticipants
	}
	if len(out) > conchv1.MaxStandupParticipants {
		out = out[:conchv1.MaxStandupParticipants]
	}
	run := &conchv1.StandupRun{
		ID:            conchv1.StandupRunID(scheduled, trigger),
		Trigger:       trigger,
		ScheduledTime: metav1.NewTime(scheduled),
		StartTime:     metav1.NewTime(now),
		// Whole seconds, rounded up: metav1.Time keeps no more, and a deadline must never read early.
		Deadline:  metav1.NewTime(ceilSecond(scheduled.Add(standupCollectFor(st)))),
		Questions: slices.Clone(st.Spec.Questions),
		Away:      out,
	}
	if ra := st.Spec.RemindAfter; ra != nil {
		// A run that starts after its reminder time (late, after an outage) sends none: the prompt is fresh.
		if at := ceilSecond(scheduled.Add(ra.Duration)); now.Before(at) && at.Before(run.Deadline.Time) {
			run.RemindAt = optTime(at)
		}
	}
	for _, u := range ask {
		run.Participants = append(run.Participants, conchv1.StandupParticipant{User: u, Prompted: true})
	}
	return run, dropped
}

// historyRecord summarises a run that ended.
func historyRecord(run *conchv1.StandupRun, outcome conchv1.RunOutcome, reason string) conchv1.StandupRunRecord {
	return conchv1.StandupRunRecord{
		ScheduledTime: run.ScheduledTime, Trigger: run.Trigger, Outcome: outcome, Reason: reason, Count: 1,
		Participants: int32(len(run.Participants)), Answered: int32(answeredCount(run)), Away: int32(len(run.Away)),
	}
}

// prependHistory adds rec as the newest entry, keeping MaxStandupHistory.
func prependHistory(history []conchv1.StandupRunRecord, rec conchv1.StandupRunRecord) []conchv1.StandupRunRecord {
	out := append([]conchv1.StandupRunRecord{rec}, history...)
	if len(out) > conchv1.MaxStandupHistory {
		out = out[:conchv1.MaxStandupHistory]
	}
	return out
}

// answeredCount counts the people of a run who answered.
func answeredCount(run *conchv1.StandupRun) int {
	n := 0
	for _, p := range run.Participants {
		if p.AnsweredAt != nil {
			n++
		}
	}
	return n
}

// runPeople returns everyone of a run: asked, then away.
func runPeople(run *conchv1.StandupRun) []string {
	out := make([]string, 0, len(run.Participants)+len(run.Away))
	for _, p := range run.Participants {
		out = append(out, p.User)
	}
	return append(out, run.Away...)
}

// standupCollectFor returns spec.collectFor, 1h when unset.
func standupCollectFor(st *conchv1.Standup) time.Duration {
	if st.Spec.CollectFor != nil && st.Spec.CollectFor.Duration > 0 {
		return st.Spec.CollectFor.Duration
	}
	return time.Hour
}

func optTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t}
}
