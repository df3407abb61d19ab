package controllers

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/internal/standup"
)

// This file holds pure functions that compute a Standup's status: its conditions, its runs and their history,
// and when to wake next. They read no client and send nothing; the steps in standup_phases.go call them.

// location is the Standup's time zone (UTC while it is invalid).
func (p *standupPass) location() *time.Location {
	if p.sched != nil {
		return p.sched.Location()
	}
	return standup.Location(p.Standup)
}

func (p *standupPass) collectFor() time.Duration { return standupCollectFor(p.Standup) }

// localTime writes t for people reading a condition: "Mon 23 Nov 2026 09:00 EST", in the Standup's zone.
func (p *standupPass) localTime(t time.Time) string {
	return t.In(p.location()).Format("Mon 2 Jan 2006 15:04 MST")
}

// endRun moves the current run to the history.
func (p *standupPass) endRun(outcome conchv1.RunOutcome, reason string) {
	p.Status.History = prependHistory(p.Status.History, historyRecord(p.Status.CurrentRun, outcome, reason))
	p.Status.CurrentRun = nil
}

// skipped records a run (or several in a row) that did not start: in the history and an Event, and, for
// scheduled runs, in the RunSkipped condition.
func (p *standupPass) skipped(s schedule.Skip, trigger conchv1.RunTrigger) {
	outcome := conchv1.OutcomeSkipped
	if s.Reason == schedule.ReasonMissed {
		outcome = conchv1.OutcomeMissed
	}
	p.Status.History = prependHistory(p.Status.History, conchv1.StandupRunRecord{
		ScheduledTime: metav1.NewTime(s.Time), Trigger: trigger, Outcome: outcome,
		Reason: s.Reason, Count: int32(s.Count),
	})
	when := "The run of " + p.localTime(s.Time)
	if s.Count > 1 {
		when = fmt.Sprintf("%d runs from %s on", s.Count, p.localTime(s.Time))
	}
	var msg string
	switch s.Reason {
	case schedule.ReasonHoliday:
		msg = fmt.Sprintf("%s was skipped: %s is in skipDates", when, schedule.DateOf(s.Time, p.location()))
	case schedule.ReasonSuspended:
		msg = when + " did not start: the Standup is suspended"
	case schedule.ReasonMissed:
		msg = fmt.Sprintf("%s missed: the manager was not running while answers could be collected (collectFor %s)", when, p.collectFor())
		if s.Count == 1 {
			msg = strings.Replace(msg, " missed:", " was missed:", 1)
		}
	case schedule.ReasonOverlap:
		msg = when + " did not start: the previous run was still collecting answers"
	case conchv1.StandupReasonNobodyToAsk:
		msg = when + " did not start: nobody to ask (everyone is away, or participants and the user group are empty)"
	}
	if trigger == conchv1.TriggerSchedule {
		p.setRunSkipped(true, s.Reason, msg)
	}
	typ := "Normal"
	if s.Reason == schedule.ReasonMissed {
		typ = "Warning"
	}
	p.event(typ, "RunSkipped", "Skip", "%s", msg)
}

// setRunSkipped sets the RunSkipped condition.
func (p *standupPass) setRunSkipped(skipped bool, reason, message string) {
	status := metav1.ConditionFalse
	if skipped {
		status = metav1.ConditionTrue
	}
	p.setCondition(conchv1.StandupConditionRunSkipped, status, reason, message)
}

func (p *standupPass) setCondition(typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message,
		ObservedGeneration: p.Generation, LastTransitionTime: metav1.NewTime(p.now),
	})
}

// setConditions sets Ready, Stalled and Running, and observedGeneration; an invalid spec clears nextRunTime.
func (p *standupPass) setConditions(slackOn bool) {
	p.Status.ObservedGeneration = p.Generation
	ready, stalled := metav1.ConditionTrue, metav1.ConditionFalse
	var reason, msg string
	switch {
	case errors.Is(p.specErr, schedule.ErrTimeZone):
		ready, stalled, reason = metav1.ConditionFalse, metav1.ConditionTrue, conchv1.ReasonInvalidTimeZone
		msg = fmt.Sprintf("spec.timeZone: %s; no run starts until it is fixed", strings.TrimPrefix(p.specErr.Error(), schedule.ErrTimeZone.Error()+": "))
	case p.specErr != nil:
		ready, stalled, reason = metav1.ConditionFalse, metav1.ConditionTrue, conchv1.ReasonInvalidSchedule
		msg = fmt.Sprintf("spec.schedule %s; no run starts until it is fixed", strings.TrimPrefix(p.specErr.Error(), schedule.ErrSchedule.Error()+": "))
	case !slackOn:
		ready, reason = metav1.ConditionFalse, conchv1.ReasonSlackDisabled
		msg = "Slack is off in this manager (no tokens), so no run starts; stand-ups happen in Slack"
	case p.Spec.Suspend:
		reason, msg = conchv1.ReasonSuspended, "Suspended: no run starts until spec.suspend is false"
	default:
		reason, msg = conchv1.ReasonScheduled, "Scheduled"
		if p.Status.NextRunTime != nil {
			msg = fmt.Sprintf("Next run %s", p.localTime(p.Status.NextRunTime.Time))
		}
	}
	if p.specErr != nil {
		p.Status.NextRunTime = nil
	}
	if !slackOn && p.sched != nil {
		// Kept current for people reading `kubectl get`, although nothing will run.
		p.Status.NextRunTime = optTime(p.sched.Next(p.now))
	}
	p.setCondition(conchv1.ConditionReady, ready, reason, msg)
	p.setCondition(conchv1.ConditionStalled, stalled, reason, msg)

	if run := p.Status.CurrentRun; run != nil {
		p.setCondition(conchv1.StandupConditionRunning, metav1.ConditionTrue, conchv1.ReasonCollecting,
			fmt.Sprintf("Collecting answers until %s: %d of %d answered", p.localTime(run.Deadline.Time), answeredCount(run), len(run.Participants)))
	} else {
		p.setCondition(conchv1.StandupConditionRunning, metav1.ConditionFalse, conchv1.ReasonIdle, "No run is collecting answers")
	}
}

// requeue wakes the reconciler at the earliest of the next run, the reminder and the deadline; never early, since
// the work queue never fires early and every step re-checks the time.
func (p *standupPass) requeue() ctrl.Result {
	var next time.Time
	consider := func(t *metav1.Time) {
		if t != nil && (next.IsZero() || t.Before(&metav1.Time{Time: next})) {
			next = t.Time
		}
	}
	if p.specErr == nil {
		consider(p.Status.NextRunTime)
	}
	if run := p.Status.CurrentRun; run != nil {
		if !run.Reminded {
			consider(run.RemindAt)
		}
		consider(&run.Deadline)
	}
	if next.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(next.Sub(p.now), time.Millisecond)}
}

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
