package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/internal/standup"
)

// This file holds the steps of a Standup's reconcile, in the order Reconcile takes them. Each works on a
// standupPass: it changes the copy's status and records the messages and Events to send once that status is
// written; only the reconciler's reads (Reservations, the user group) reach outside it.

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

// finishRun ends the current run when its deadline has come (Completed, with a summary) or when its date has
// become a skip date while it ran (Cancelled). The summary lists the Reservations of the people asked, read now.
func (r *StandupReconciler) finishRun(ctx context.Context, p *standupPass) error {
	run := p.Status.CurrentRun
	if run == nil {
		return nil
	}
	switch {
	case !p.now.Before(run.Deadline.Time):
		var rsvs conchv1.ReservationList
		if err := r.List(ctx, &rsvs, client.InNamespace(p.Namespace)); err != nil {
			return err
		}
		envs := standup.EnvironmentsOf(rsvs.Items, runPeople(run), p.now, p.location())
		p.endRun(conchv1.OutcomeCompleted, conchv1.StandupReasonCompleted)
		p.send(func(m standup.Messenger) { m.Summary(p.Standup, run, envs) })
		answered, asked := answeredCount(run), len(run.Participants)
		p.event("Normal", "SummaryPosted", "Summarise", "Posted the summary of the run of %s in %s: %d of %d answered",
			formatTime(run.ScheduledTime.Time), p.Spec.Channel, answered, asked)
	case run.Trigger == conchv1.TriggerSchedule && slices.Contains(p.Spec.SkipDates, string(schedule.DateOf(run.ScheduledTime.Time, p.location()))):
		p.endRun(conchv1.OutcomeCancelled, conchv1.StandupReasonCancelled)
		p.send(func(m standup.Messenger) { m.Cancelled(p.Standup, run) })
		p.event("Normal", "RunCancelled", "Cancel", "Cancelled the run of %s: its date is in skipDates", formatTime(run.ScheduledTime.Time))
	}
	return nil
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

// requestedRun starts a run when the run-requested-at annotation has a value not acted on yet, unless a run is
// collecting answers; either way the value is recorded as handled.
func (r *StandupReconciler) requestedRun(ctx context.Context, p *standupPass) error {
	value := p.Annotations[conchv1.AnnotationRunRequested]
	key := conchv1.RunRequestKey(value)
	if value == "" || key == p.Status.LastRunRequest {
		return nil
	}
	if run := p.Status.CurrentRun; run != nil {
		p.Status.LastRunRequest = key
		p.event("Normal", "RunAlreadyCollecting", "Start", "A run was requested, but the run of %s collects answers until %s",
			formatTime(run.ScheduledTime.Time), formatTime(run.Deadline.Time))
		return nil
	}
	if err := r.startRun(ctx, p, p.now.Truncate(time.Second), conchv1.TriggerManual); err != nil {
		return err
	}
	p.Status.LastRunRequest = key
	return nil
}

// scheduledRuns decides, with internal/schedule, what to do about the scheduled runs due since status.nextRunTime:
// start the latest (if its window is open and nothing prevents it), record the others as skipped or missed.
func (r *StandupReconciler) scheduledRuns(ctx context.Context, p *standupPass) error {
	var cursor time.Time
	if p.Status.NextRunTime != nil {
		cursor = p.Status.NextRunTime.Time
	}
	skip := make([]schedule.Date, 0, len(p.Spec.SkipDates))
	for _, d := range p.Spec.SkipDates {
		skip = append(skip, schedule.Date(d))
	}
	plan := schedule.Decide(schedule.Input{
		Schedule: p.sched, Cursor: cursor, Now: p.now, CollectFor: p.collectFor(),
		SkipDates: skip, Suspend: p.Spec.Suspend, Busy: p.Status.CurrentRun != nil,
	})
	for _, s := range plan.Skipped {
		p.skipped(s, conchv1.TriggerSchedule)
	}
	if !plan.Start.IsZero() {
		if err := r.startRun(ctx, p, plan.Start, conchv1.TriggerSchedule); err != nil {
			return err
		}
	}
	p.Status.NextRunTime = optTime(plan.Next)
	return nil
}

// startRun starts a run due at scheduled: it resolves the participants (the user group is read now), leaves out
// those away, and records a prompt for each person asked. With nobody to ask, the run is skipped instead.
func (r *StandupReconciler) startRun(ctx context.Context, p *standupPass, scheduled time.Time, trigger conchv1.RunTrigger) error {
	people := p.Spec.Participants
	if g := p.Spec.UserGroup; g != "" {
		members, err := r.Messenger.UserGroupMembers(ctx, g)
		switch {
		case errors.Is(err, standup.ErrUserGroupUnavailable):
			p.event("Warning", "UserGroupUnavailable", "Start", "Cannot read user group %s (%v); asking the participants listed only", g, err)
		case err != nil:
			return fmt.Errorf("reading user group %s: %w", g, err)
		}
		people = append(append([]string(nil), people...), members...)
	}
	run, dropped := newRun(p.Standup, scheduled, p.now, trigger, people)
	if dropped > 0 {
		p.event("Warning", "TooManyParticipants", "Start", "%d people are not asked: a run asks at most %d", dropped, conchv1.MaxStandupParticipants)
	}
	if len(run.Participants) == 0 {
		p.skipped(schedule.Skip{Time: scheduled, Reason: conchv1.StandupReasonNobodyToAsk, Count: 1}, trigger)
		return nil
	}
	p.Status.CurrentRun = run
	p.Status.LastRunTime = optTime(scheduled)
	if trigger == conchv1.TriggerSchedule {
		p.setRunSkipped(false, conchv1.ReasonRan, fmt.Sprintf("The run of %s started", p.localTime(scheduled)))
	}
	for _, u := range run.Participants {
		p.send(func(m standup.Messenger) { m.Prompt(p.Standup, run, u.User) })
	}
	p.event("Normal", "RunStarted", "Start", "Started the %s run of %s: asked %d, %d away, answers until %s",
		trigger, formatTime(scheduled), len(run.Participants), len(run.Away), formatTime(run.Deadline.Time))
	return nil
}
