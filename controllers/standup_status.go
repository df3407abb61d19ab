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

// endRun ends the active run: its state, completion time and conditions, the Standup's pointers, and the
// history.
func (p *standupPass) endRun(outcome conchv1.RunOutcome, reason string) {
	run := p.active
	run.Status.State = conchv1.RunCompleted
	if outcome == conchv1.OutcomeCancelled {
		run.Status.State = conchv1.RunCancelled
	}
	run.Status.CompletionTime = optTime(p.now)
	setRunStatus(run, p.now)
	p.Status.History = prependHistory(p.Status.History, historyRecord(run, outcome, reason))
	p.Status.ActiveRun = nil
	p.Status.LastRun = runRef(run)
	if outcome == conchv1.OutcomeCompleted {
		p.countBlockers(run, true)
	}
}

// countBlockers counts a completed run into the blocker streaks and, when send is true, records the streaks
// that reach spec.escalateAfter for escalation (marked escalated first, so that none is escalated twice).
func (p *standupPass) countBlockers(run *conchv1.StandupRun, send bool) {
	after := 0
	if p.Spec.Escalation != nil {
		after = int(p.Spec.EscalateAfter)
	}
	s := standup.UpdateStreaks(p.Status.Blockers, run, p.Spec.BlockerQuestion, after)
	p.Status.Blockers = s.Open
	p.Status.BlockersClosed += int32(s.Closed)
	if len(s.Escalate) == 0 || !send {
		return
	}
	p.send(func(m standup.Messenger) { m.Escalate(p.Standup, s.Escalate) })
	for _, b := range s.Escalate {
		p.event("Normal", "BlockerEscalated", "Escalate", "%s has been blocked for %d runs in a row; escalated", b.User, b.Runs)
	}
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
	case errors.Is(p.specErr, errInvalidLinks):
		ready, stalled, reason = metav1.ConditionFalse, metav1.ConditionTrue, conchv1.ReasonInvalidLinks
		msg = strings.TrimPrefix(p.specErr.Error(), errInvalidLinks.Error()+": ") + "; no run starts until it is fixed"
	case errors.Is(p.specErr, errInvalidDigest):
		ready, stalled, reason = metav1.ConditionFalse, metav1.ConditionTrue, conchv1.ReasonInvalidSchedule
		msg = fmt.Sprintf("spec.digest.schedule %s; no run starts until it is fixed",
			strings.TrimPrefix(strings.TrimPrefix(p.specErr.Error(), errInvalidDigest.Error()+": "), schedule.ErrSchedule.Error()+": "))
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

	if run := p.activeRun(); run != nil {
		p.setCondition(conchv1.StandupConditionRunning, metav1.ConditionTrue, conchv1.ReasonCollecting,
			fmt.Sprintf("Collecting answers until %s: %d of %d answered", p.localTime(run.Spec.Deadline.Time), answeredCount(run), len(run.Status.Participants)))
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
		consider(p.Status.NextDigestTime)
	}
	if run := p.activeRun(); run != nil {
		if !run.Status.Reminded {
			consider(run.Spec.RemindAt)
		}
		consider(&run.Spec.Deadline)
		for _, pp := range run.Status.Participants {
			if !pp.Prompted && pp.PromptAt != nil && (pp.Deadline == nil || p.now.Before(pp.Deadline.Time)) {
				consider(pp.PromptAt)
			}
			if pp.Prompted && !pp.Reminded && pp.AnsweredAt == nil {
				consider(pp.RemindAt)
			}
		}
	}
	if next.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(next.Sub(p.now), time.Millisecond)}
}

// newRun builds the StandupRun of st due at scheduled, started at now, asking people (without duplicates, at
// most MaxStandupParticipants; dropped counts those left out) except those away on the run's date. Each person
// asked is recorded as prompted: the prompts are sent once this is written. The run is owned by st and labelled
// with its name.
func newRun(st *conchv1.Standup, scheduled, now time.Time, trigger conchv1.RunTrigger, people []string, date schedule.Date) (*conchv1.StandupRun, int) {
	away := schedule.Away{}
	for _, a := range st.Spec.Away {
		away[a.User] = schedule.Date(a.Until)
	}
	ask, out := away.Split(people, date)
	dropped := 0
	if len(ask) > conchv1.MaxStandupParticipants {
		ask, dropped = ask[:conchv1.MaxStandupParticipants], len(ask)-conchv1.MaxStandupParticipants
	}
	if len(out) > conchv1.MaxStandupParticipants {
		out = out[:conchv1.MaxStandupParticipants]
	}
	id := conchv1.StandupRunID(scheduled, trigger)
	run := runObject(st, conchv1.StandupRunSpec{
		StandupName:   st.Name,
		ID:            id,
		Trigger:       trigger,
		ScheduledTime: metav1.NewTime(scheduled),
		// Whole seconds, rounded up: metav1.Time keeps no more, and a deadline must never read early.
		Deadline:  metav1.NewTime(ceilSecond(scheduled.Add(standupCollectFor(st)))),
		Questions: slices.Clone(st.Spec.Questions),
	})
	if ra := st.Spec.RemindAfter; ra != nil {
		// A run that starts after its reminder time (late, after an outage) sends none: the prompt is fresh.
		if at := ceilSecond(scheduled.Add(ra.Duration)); now.Before(at) && at.Before(run.Spec.Deadline.Time) {
			run.Spec.RemindAt = optTime(at)
		}
	}
	run.Status = conchv1.StandupRunStatus{State: conchv1.RunCollecting, StartTime: optTime(now), Away: out}
	for _, u := range ask {
		run.Status.Participants = append(run.Status.Participants, conchv1.StandupParticipant{User: u, Prompted: true})
	}
	setRunStatus(run, now)
	return run, dropped
}

// personalTimes sets each person's prompt, reminder and deadline from the occurrence (the wall-clock time the
// schedule fired) read on their own clock (timing Participant), prompts now those whose time has come, and sets
// the run's deadline (when the summary is posted): when the last window closes, or at spec.summaryTime.
func personalTimes(st *conchv1.Standup, run *conchv1.StandupRun, occurrence, now time.Time, zoneOf map[string]*time.Location) {
	team := standup.Location(st)
	collect := standupCollectFor(st)
	var summary time.Time
	if st.Spec.SummaryTime != "" {
		if hm, err := time.Parse("15:04", st.Spec.SummaryTime); err == nil {
			day := occurrence.Truncate(24 * time.Hour)
			summary = schedule.At(day.Add(time.Duration(hm.Hour())*time.Hour+time.Duration(hm.Minute())*time.Minute), team)
			if !summary.After(run.Spec.ScheduledTime.Time) {
				summary = schedule.At(day.AddDate(0, 0, 1).Add(time.Duration(hm.Hour())*time.Hour+time.Duration(hm.Minute())*time.Minute), team)
			}
		}
	}
	var last time.Time
	for i := range run.Status.Participants {
		pp := &run.Status.Participants[i]
		loc, ok := zoneOf[pp.User]
		if !ok {
			loc = team
		}
		at := schedule.At(occurrence, loc)
		deadline := ceilSecond(at.Add(collect))
		if !summary.IsZero() && summary.Before(deadline) {
			deadline = summary
		}
		pp.TimeZone, pp.PromptAt, pp.Deadline = loc.String(), optTime(at), optTime(deadline)
		if ra := st.Spec.RemindAfter; ra != nil {
			if r := ceilSecond(at.Add(ra.Duration)); now.Before(r) && r.Before(deadline) {
				pp.RemindAt = optTime(r)
			}
		}
		pp.Prompted = !now.Before(at) && now.Before(deadline)
		last = latest(last, deadline)
	}
	run.Spec.RemindAt = nil
	run.Spec.Deadline = metav1.NewTime(last)
	if !summary.IsZero() {
		run.Spec.Deadline = metav1.NewTime(summary)
	}
	setRunStatus(run, now)
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// perPerson reports whether the Standup asks each person on their own clock.
func (p *standupPass) perPerson() bool { return p.Spec.Timing == conchv1.TimingParticipant }

// zones are the time zones the schedule is read in for timing Participant (nil for Team: the Standup's zone).
func (p *standupPass) zones() []*time.Location {
	if !p.perPerson() {
		return nil
	}
	var out []*time.Location
	for _, name := range p.Status.ParticipantTimeZones {
		if loc, err := schedule.LoadLocation(name); err == nil {
			out = append(out, loc)
		}
	}
	if len(out) == 0 {
		return []*time.Location{p.location()}
	}
	return out
}

// runObject is a StandupRun of st with spec, named from its ID, owned by st and labelled with its name.
func runObject(st *conchv1.Standup, spec conchv1.StandupRunSpec) *conchv1.StandupRun {
	return &conchv1.StandupRun{
		ObjectMeta: metav1.ObjectMeta{
			Name:            conchv1.StandupRunName(st.Name, spec.ID),
			Namespace:       st.Namespace,
			Labels:          map[string]string{conchv1.LabelStandup: st.Name},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(st, conchv1.GroupVersion.WithKind("Standup"))},
		},
		Spec: spec,
	}
}

// legacyRun turns the run an earlier version kept in the Standup's status (status.currentRun) into its
// StandupRun, answers and all.
func legacyRun(st *conchv1.Standup, now time.Time) *conchv1.StandupRun {
	old := st.Status.CurrentRun
	id := old.ID
	if id == "" {
		id = conchv1.StandupRunID(old.ScheduledTime.Time, old.Trigger)
	}
	trigger := old.Trigger
	if trigger == "" {
		trigger = conchv1.TriggerSchedule
	}
	questions := slices.Clone(old.Questions)
	if len(questions) == 0 {
		questions = slices.Clone(st.Spec.Questions)
	}
	run := runObject(st, conchv1.StandupRunSpec{
		StandupName: st.Name, ID: id, Trigger: trigger, ScheduledTime: old.ScheduledTime,
		Deadline: old.Deadline, RemindAt: old.RemindAt, Questions: questions,
	})
	start := old.StartTime
	run.Status = conchv1.StandupRunStatus{
		State: conchv1.RunCollecting, StartTime: &start, Reminded: old.Reminded,
		Participants: slices.Clone(old.Participants), Away: slices.Clone(old.Away),
	}
	setRunStatus(run, now)
	return run
}

// setRunStatus computes a run's counts and conditions from its state and participants: Ready is True once it
// ended, Reconciling is True while it collects answers (kstatus reads a collecting run as in progress).
func setRunStatus(run *conchv1.StandupRun, now time.Time) {
	asked, answered := len(run.Status.Participants), answeredCount(run)
	run.Status.Asked, run.Status.Answered = int32(asked), int32(answered)
	run.Status.Progress = fmt.Sprintf("%d/%d", answered, asked)
	run.Status.ObservedGeneration = run.Generation
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&run.Status.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg,
			ObservedGeneration: run.Generation, LastTransitionTime: metav1.NewTime(now),
		})
	}
	switch run.Status.State {
	case conchv1.RunCompleted:
		msg := fmt.Sprintf("Summary posted: %d of %d answered", answered, asked)
		set(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonRunCompleted, msg)
		set(conchv1.ConditionReconciling, metav1.ConditionFalse, conchv1.ReasonRunCompleted, msg)
	case conchv1.RunCancelled:
		msg := "Cancelled: its date was added to skipDates while it ran"
		set(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonRunCancelled, msg)
		set(conchv1.ConditionReconciling, metav1.ConditionFalse, conchv1.ReasonRunCancelled, msg)
	default:
		msg := fmt.Sprintf("Collecting answers until %s: %d of %d answered",
			run.Spec.Deadline.UTC().Format(time.RFC3339), answered, asked)
		set(conchv1.ConditionReady, metav1.ConditionFalse, conchv1.ReasonRunCollecting, msg)
		set(conchv1.ConditionReconciling, metav1.ConditionTrue, conchv1.ReasonRunCollecting, msg)
	}
}

// runRef points to run.
func runRef(run *conchv1.StandupRun) *conchv1.StandupRunReference {
	return &conchv1.StandupRunReference{
		Name: run.Name, ID: run.Spec.ID, ScheduledTime: run.Spec.ScheduledTime, Deadline: run.Spec.Deadline,
	}
}

// historyRecord summarises a run that ended.
func historyRecord(run *conchv1.StandupRun, outcome conchv1.RunOutcome, reason string) conchv1.StandupRunRecord {
	return conchv1.StandupRunRecord{
		ScheduledTime: run.Spec.ScheduledTime, Trigger: run.Spec.Trigger, Outcome: outcome, Reason: reason, Count: 1,
		Participants: int32(len(run.Status.Participants)), Answered: int32(answeredCount(run)), Away: int32(len(run.Status.Away)),
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
	for _, p := range run.Status.Participants {
		if p.AnsweredAt != nil {
			n++
		}
	}
	return n
}

// runPeople returns everyone of a run: asked, then away.
func runPeople(run *conchv1.StandupRun) []string {
	out := make([]string, 0, len(run.Status.Participants)+len(run.Status.Away))
	for _, p := range run.Status.Participants {
		out = append(out, p.User)
	}
	return append(out, run.Status.Away...)
}

// runsToPrune returns the names of the ended runs beyond the limits, oldest first: completed runs beyond
// successful, cancelled ones beyond failed. Runs collecting answers are never pruned.
func runsToPrune(runs []conchv1.StandupRun, successful, failed int) []string {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b conchv1.StandupRun) int {
		if c := b.Spec.ScheduledTime.Compare(a.Spec.ScheduledTime.Time); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	var out []string
	kept := map[conchv1.StandupRunState]int{}
	for _, r := range sorted {
		limit := successful
		switch r.Status.State {
		case conchv1.RunCompleted:
		case conchv1.RunCancelled:
			limit = failed
		default:
			continue
		}
		if kept[r.Status.State] < limit {
			kept[r.Status.State]++
			continue
		}
		out = append(out, r.Name)
	}
	slices.Reverse(out)
	return out
}

// historyLimits returns spec.successfulRunsHistoryLimit and spec.failedRunsHistoryLimit, with their defaults.
func historyLimits(st *conchv1.Standup) (successful, failed int) {
	successful, failed = 10, 3
	if l := st.Spec.SuccessfulRunsHistoryLimit; l != nil {
		successful = int(*l)
	}
	if l := st.Spec.FailedRunsHistoryLimit; l != nil {
		failed = int(*l)
	}
	return max(successful, 0), max(failed, 0)
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
