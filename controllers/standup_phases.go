package controllers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/internal/standup"
)

// standupPass is one reconcile of a Standup: the copy whose status is being computed, and the messages and
// Events that the new status records, to send once it is written.
type standupPass struct {
	*conchv1.Standup
	now time.Time
	// sched is the parsed schedule; nil when specErr says why it cannot be.
	sched   *schedule.Schedule
	specErr error

	sends  []func(standup.Messenger)
	events []standupEvent
}

type standupEvent struct{ typ, reason, action, note string }

func (p *standupPass) send(f func(standup.Messenger)) { p.sends = append(p.sends, f) }

func (p *standupPass) event(typ, reason, action, format string, args ...any) {
	p.events = append(p.events, standupEvent{typ, reason, action, fmt.Sprintf(format, args...)})
}

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

// remind records a reminder for each person who has not answered, once the run's reminder time has come.
func (p *standupPass) remind() {
	run := p.Status.CurrentRun
	if run == nil || run.RemindAt == nil || run.Reminded || p.now.Before(run.RemindAt.Time) {
		return
	}
	run.Reminded = true
	var users []string
	for i := range run.Participants {
		if pp := &run.Participants[i]; pp.AnsweredAt == nil && !pp.Reminded {
			pp.Reminded = true
			users = append(users, pp.User)
		}
	}
	if len(users) == 0 {
		return
	}
	snapshot := run.DeepCopy()
	for _, u := range users {
		p.send(func(m standup.Messenger) { m.Remind(p.Standup, snapshot, u) })
	}
	p.event("Normal", "Reminded", "Remind", "Reminded %d of %d people who had not answered", len(users), len(run.Participants))
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
