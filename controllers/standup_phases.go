package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/internal/standup"
)

// This file holds the steps of a Standup's reconcile, in the order Reconcile takes them. Each works on a
// standupPass: it changes the copy's status and records the messages and Events to send once that status is
// written; only the reconciler's reads (Reservations, the user group) reach outside it.

// standupPass is one reconcile of a Standup: the copy whose status is being computed, copies of its active and
// last StandupRuns being changed, and the messages and Events that the new statuses record, to send once they
// are written.
type standupPass struct {
	*conchv1.Standup
	now time.Time
	// sched is the parsed schedule; nil when specErr says why it cannot be.
	sched   *schedule.Schedule
	specErr error

	// active is the run status.activeRun points to (or pointed to, if it ended in this pass), and activeBase
	// that run as read; nil when there is none.
	active, activeBase *conchv1.StandupRun
	// last is status.lastRun's run when an edited answer asks for its summary to be updated, and lastBase as read.
	last, lastBase *conchv1.StandupRun
	// started is the run created in this pass.
	started *conchv1.StandupRun

	// sends are recorded in the runs' statuses written at the end of the pass; startSends (the prompts of the
	// started run) in that run's status, written when it was created: they go out even if a later write fails.
	sends, startSends []func(standup.Messenger)
	// standupSends are recorded in the Standup's status only (the digest): they go out only once it is written.
	standupSends []func(standup.Messenger)
	events       []standupEvent
}

type standupEvent struct{ typ, reason, action, note string }

func (p *standupPass) send(f func(standup.Messenger)) { p.sends = append(p.sends, f) }

func (p *standupPass) event(typ, reason, action, format string, args ...any) {
	p.events = append(p.events, standupEvent{typ, reason, action, fmt.Sprintf(format, args...)})
}

// activeRun is the run collecting answers after this pass so far: the one started now, or the active one that
// has not ended; nil when none.
func (p *standupPass) activeRun() *conchv1.StandupRun {
	switch {
	case p.started != nil:
		return p.started
	case p.Status.ActiveRun != nil && p.active != nil:
		return p.active
	}
	return nil
}

// migrate moves the run an earlier version kept in status.currentRun into its StandupRun object (created, or
// found from an earlier attempt) and points status.activeRun to it. It writes the run; the Standup's status is
// written with the rest of the pass.
func (r *StandupReconciler) migrate(ctx context.Context, p *standupPass) error {
	if p.Status.CurrentRun == nil {
		return nil
	}
	run := legacyRun(p.Standup, p.now)
	if p.Status.ActiveRun == nil {
		if err := r.createRun(ctx, run); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("moving status.currentRun into a StandupRun: %w", err)
		}
		p.Status.ActiveRun = runRef(run)
		p.event("Normal", "RunMigrated", "Migrate", "Moved the run of %s from status.currentRun into StandupRun %s",
			formatTime(run.Spec.ScheduledTime.Time), run.Name)
	}
	p.Status.CurrentRun = nil
	return nil
}

// createRun creates run and writes its status (the create does not). A status already written (by an earlier
// pass that created the run) is kept: AlreadyExists is returned then, and nothing is sent twice.
func (r *StandupReconciler) createRun(ctx context.Context, run *conchv1.StandupRun) error {
	status := run.Status
	if err := r.Create(ctx, run); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		existing := &conchv1.StandupRun{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(run), existing); err != nil {
			return err
		}
		*run = *existing
		if existing.Status.State != "" {
			return err // the AlreadyExists error: started before, prompts sent then
		}
	}
	base := run.DeepCopy()
	run.Status = status
	run.Status.ObservedGeneration = run.Generation
	return r.Status().Patch(ctx, run, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// loadRuns reads the run status.activeRun points to (from the cache, then the API server: a run created in the
// last pass may not be cached yet) and, when its edited answers are not in its posted summary yet, status.lastRun's.
// An active run that no longer exists (deleted by hand) is recorded as cancelled.
func (r *StandupReconciler) loadRuns(ctx context.Context, p *standupPass) error {
	if ref := p.Status.ActiveRun; ref != nil {
		run, err := r.getRun(ctx, p.Namespace, ref.Name)
		switch {
		case apierrors.IsNotFound(err):
			p.Status.History = prependHistory(p.Status.History, conchv1.StandupRunRecord{
				ScheduledTime: ref.ScheduledTime, Outcome: conchv1.OutcomeCancelled, Reason: conchv1.StandupReasonRunDeleted, Count: 1,
			})
			p.Status.ActiveRun = nil
			p.event("Warning", "RunDeleted", "Cancel", "StandupRun %s was deleted while it collected answers; there is no summary", ref.Name)
		case err != nil:
			return err
		default:
			p.active, p.activeBase = run.DeepCopy(), run
			if run.Status.State != conchv1.RunCollecting && run.Status.State != "" {
				// It ended in a pass whose Standup status write did not happen: finish the Standup's side only.
				p.Status.History = prependHistory(p.Status.History, historyRecord(run, outcomeOf(run.Status.State), string(outcomeOf(run.Status.State))))
				p.Status.ActiveRun, p.Status.LastRun = nil, runRef(run)
				p.active = nil
				if run.Status.State == conchv1.RunCompleted {
					// Escalations were sent by that pass, if any: count without sending them again.
					p.countBlockers(run, false)
				}
				if err := r.zonesForNextRun(ctx, p); err != nil {
					return err
				}
			}
		}
	}
	if ref := p.Status.LastRun; ref != nil {
		run := &conchv1.StandupRun{}
		err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: ref.Name}, run)
		if err != nil {
			return client.IgnoreNotFound(err)
		}
		if run.Status.State == conchv1.RunCompleted && run.Status.AnswersRevision > run.Status.SummaryRevision && run.Status.Summary != nil {
			p.last, p.lastBase = run.DeepCopy(), run
		}
	}
	return nil
}

// getRun reads a StandupRun from the cache, and from the API server when the cache does not have it.
func (r *StandupReconciler) getRun(ctx context.Context, ns, name string) (*conchv1.StandupRun, error) {
	run := &conchv1.StandupRun{}
	key := client.ObjectKey{Namespace: ns, Name: name}
	err := r.Get(ctx, key, run)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, run)
	}
	return run, err
}

// finishRun ends the active run when its deadline has come (Completed, with a summary) or when its date has
// become a skip date while it ran (Cancelled). The summary lists the Reservations of the people asked, read now.
func (r *StandupReconciler) finishRun(ctx context.Context, p *standupPass) error {
	run := p.active
	if run == nil || p.Status.ActiveRun == nil {
		return nil
	}
	switch {
	case !p.now.Before(run.Spec.Deadline.Time):
		envs, err := r.environments(ctx, p, run)
		if err != nil {
			return err
		}
		p.endRun(conchv1.OutcomeCompleted, conchv1.StandupReasonCompleted)
		if err := r.zonesForNextRun(ctx, p); err != nil {
			return err
		}
		p.send(func(m standup.Messenger) { m.Summary(p.Standup, run, envs) })
		answered, asked := answeredCount(run), len(run.Status.Participants)
		p.event("Normal", "SummaryPosted", "Summarise", "Posted the summary of the run of %s in %s: %d of %d answered",
			formatTime(run.Spec.ScheduledTime.Time), p.Spec.Channel, answered, asked)
	case run.Spec.Trigger == conchv1.TriggerSchedule && slices.Contains(p.Spec.SkipDates, string(schedule.DateOf(run.Spec.ScheduledTime.Time, p.location()))):
		p.endRun(conchv1.OutcomeCancelled, conchv1.StandupReasonCancelled)
		p.send(func(m standup.Messenger) { m.Cancelled(p.Standup, run) })
		p.event("Normal", "RunCancelled", "Cancel", "Cancelled the run of %s: its date is in skipDates", formatTime(run.Spec.ScheduledTime.Time))
	default:
		setRunStatus(run, p.now)
	}
	return nil
}

// updateSummary rewrites the posted summary of the last run when answers were edited after it was posted.
func (r *StandupReconciler) updateSummary(ctx context.Context, p *standupPass) error {
	run := p.last
	if run == nil {
		return nil
	}
	envs, err := r.environments(ctx, p, run)
	if err != nil {
		return err
	}
	run.Status.SummaryRevision = run.Status.AnswersRevision
	setRunStatus(run, p.now)
	p.send(func(m standup.Messenger) { m.UpdateSummary(p.Standup, run, envs) })
	p.event("Normal", "SummaryUpdated", "Summarise", "Updated the summary of the run of %s: an answer was edited",
		formatTime(run.Spec.ScheduledTime.Time))
	return nil
}

// environments reads what the people of run hold and wait for, from the namespace's Reservations in the cache.
func (r *StandupReconciler) environments(ctx context.Context, p *standupPass, run *conchv1.StandupRun) (standup.Environments, error) {
	var rsvs conchv1.ReservationList
	if err := r.List(ctx, &rsvs, client.InNamespace(p.Namespace)); err != nil {
		return standup.Environments{}, err
	}
	return standup.EnvironmentsOf(rsvs.Items, runPeople(run), p.now, p.location()), nil
}

// remind records a reminder for each person who was prompted and has not answered, once their reminder time
// (the run's, or with timing Participant their own) has come.
func (p *standupPass) remind() {
	run := p.activeRun()
	if run == nil {
		return
	}
	teamDue := run.Spec.RemindAt != nil && !run.Status.Reminded && !p.now.Before(run.Spec.RemindAt.Time)
	if teamDue {
		run.Status.Reminded = true
	}
	var users []string
	for i := range run.Status.Participants {
		pp := &run.Status.Participants[i]
		due := teamDue || (pp.RemindAt != nil && !p.now.Before(pp.RemindAt.Time))
		if due && pp.Prompted && pp.AnsweredAt == nil && !pp.Reminded {
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
	p.event("Normal", "Reminded", "Remind", "Reminded %d of %d people who had not answered", len(users), len(run.Status.Participants))
}

// requestedRun starts a run when the run-requested-at annotation has a value not acted on yet, unless a run is
// collecting answers; either way the value is recorded as handled.
func (r *StandupReconciler) requestedRun(ctx context.Context, p *standupPass) error {
	value := p.Annotations[conchv1.AnnotationRunRequested]
	key := conchv1.RunRequestKey(value)
	if value == "" || key == p.Status.LastRunRequest {
		return nil
	}
	if run := p.Status.ActiveRun; run != nil {
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
	if p.perPerson() && len(p.Status.ParticipantTimeZones) == 0 {
		// A new Standup (or one switched to timing Participant): read its people's zones to know when to start.
		if _, err := r.refreshZones(ctx, p); err != nil {
			return err
		}
	}
	plan := schedule.Decide(schedule.Input{
		Schedule: p.sched, Cursor: cursor, Now: p.now, CollectFor: p.collectFor(),
		SkipDates: skip, Suspend: p.Spec.Suspend, Busy: p.Status.ActiveRun != nil, Zones: p.zones(),
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

// people resolves who a run asks: the participants listed and the user group's members, read now.
func (r *StandupReconciler) people(ctx context.Context, p *standupPass) ([]string, error) {
	people := p.Spec.Participants
	if g := p.Spec.UserGroup; g != "" {
		members, err := r.Messenger.UserGroupMembers(ctx, g)
		switch {
		case errors.Is(err, standup.ErrUserGroupUnavailable):
			p.event("Warning", "UserGroupUnavailable", "Start", "Cannot read user group %s (%v); asking the participants listed only", g, err)
		case err != nil:
			return nil, fmt.Errorf("reading user group %s: %w", g, err)
		}
		people = append(append([]string(nil), people...), members...)
	}
	return people, nil
}

// refreshZones reads the Slack time zone of each person (timing Participant) and records the distinct zones in
// status.participantTimeZones. A person whose zone Slack does not give (or gives unknown) is asked on the team's
// clock.
func (r *StandupReconciler) refreshZones(ctx context.Context, p *standupPass) (map[string]*time.Location, error) {
	people, err := r.people(ctx, p)
	if err != nil {
		return nil, err
	}
	zoneOf := make(map[string]*time.Location, len(people))
	var names []string
	for _, u := range people {
		if _, seen := zoneOf[u]; seen || len(zoneOf) >= conchv1.MaxStandupParticipants {
			continue
		}
		loc := p.location()
		if tz, err := r.Messenger.UserTimeZone(ctx, u); err == nil && tz != "" {
			if l, err := schedule.LoadLocation(tz); err == nil {
				loc = l
			}
		}
		zoneOf[u] = loc
		names = append(names, loc.String())
	}
	slices.Sort(names)
	p.Status.ParticipantTimeZones = slices.Compact(names)
	return zoneOf, nil
}

// digest posts the digest when spec.digest's schedule comes due: it records status.lastDigestTime and
// nextDigestTime, and sends once the Standup's status is written, so that a restart never posts it twice. A digest
// more than a day late (the manager was down) is skipped, with an Event. The digest reads the StandupRuns and
// Reservations of the cache.
func (r *StandupReconciler) digest(ctx context.Context, p *standupPass) error {
	if p.Spec.Digest == nil {
		p.Status.NextDigestTime = nil
		return nil
	}
	sched, err := schedule.Parse(p.Spec.Digest.Schedule, p.Spec.TimeZone)
	if err != nil {
		return nil // Reconcile found it and set specErr: this step does not run
	}
	if p.Status.NextDigestTime == nil || p.now.Before(p.Status.NextDigestTime.Time) {
		// Computing from now follows schedule edits; with the schedule unchanged it gives the same time.
		p.Status.NextDigestTime = optTime(sched.Next(p.now))
		return nil
	}
	due := p.Status.NextDigestTime.Time
	from := due.AddDate(0, 0, -7)
	if last := p.Status.LastDigestTime; last != nil && last.After(from) {
		from = last.Time
	}
	p.Status.LastDigestTime, p.Status.NextDigestTime = optTime(due), optTime(sched.Next(p.now))
	if p.now.Sub(due) > 24*time.Hour {
		p.event("Warning", "DigestSkipped", "Digest", "The digest of %s was not posted: the manager was not running then", formatTime(due))
		return nil
	}
	var runs conchv1.StandupRunList
	if err := r.List(ctx, &runs, client.InNamespace(p.Namespace), client.MatchingLabels{conchv1.LabelStandup: p.Name}); err != nil {
		return err
	}
	var rsvs conchv1.ReservationList
	if err := r.List(ctx, &rsvs, client.InNamespace(p.Namespace)); err != nil {
		return err
	}
	d := standup.DigestOf(from, due, runs.Items, p.Status.History, rsvs.Items, p.Spec.BlockerQuestion)
	p.standupSends = append(p.standupSends, func(m standup.Messenger) { m.Digest(p.Standup, d) })
	p.event("Normal", "DigestPosted", "Digest", "Posted the digest of %s to %s: %d runs, %d skipped",
		formatTime(from), formatTime(due), d.Runs, d.Skipped)
	return nil
}

// zonesForNextRun reads the people's zones again when a run ends (timing Participant), so that someone who moved
// is asked on their new clock from the next run on.
func (r *StandupReconciler) zonesForNextRun(ctx context.Context, p *standupPass) error {
	if !p.perPerson() || r.Messenger == nil || p.specErr != nil {
		return nil
	}
	_, err := r.refreshZones(ctx, p)
	return err
}

// startRun starts a run due at scheduled: it resolves the participants (the user group is read now), leaves out
// those away, and records a prompt for each person asked (with timing Participant, for each person at their own
// time: those whose time has come are prompted now). With nobody to ask, the run is skipped instead.
func (r *StandupReconciler) startRun(ctx context.Context, p *standupPass, scheduled time.Time, trigger conchv1.RunTrigger) error {
	var (
		people []string
		zoneOf map[string]*time.Location
		err    error
	)
	zoned := p.perPerson() && trigger == conchv1.TriggerSchedule
	if zoned {
		zoneOf, err = r.refreshZones(ctx, p)
		people = slices.Collect(maps.Keys(zoneOf))
		slices.Sort(people)
	} else {
		people, err = r.people(ctx, p)
	}
	if err != nil {
		return err
	}
	date := schedule.DateOf(scheduled, p.location())
	var occurrence time.Time
	if zoned {
		occurrence = p.sched.NextWall(scheduled.Add(-time.Nanosecond), p.zones())
		date = schedule.WallDate(occurrence)
	}
	run, dropped := newRun(p.Standup, scheduled, p.now, trigger, people, date)
	if zoned {
		personalTimes(p.Standup, run, occurrence, p.now, zoneOf)
	}
	if dropped > 0 {
		p.event("Warning", "TooManyParticipants", "Start", "%d people are not asked: a run asks at most %d", dropped, conchv1.MaxStandupParticipants)
	}
	if len(run.Status.Participants) == 0 {
		p.skipped(schedule.Skip{Time: scheduled, Reason: conchv1.StandupReasonNobodyToAsk, Count: 1}, trigger)
		return nil
	}
	// The run is created here, before the Standup's status records it: a manager that stops in between finds it
	// by name (the same scheduled time gives the same name) and does not prompt again.
	switch err := r.createRun(ctx, run); {
	case apierrors.IsAlreadyExists(err):
		ctrl.LoggerFrom(ctx).Info("StandupRun already started; adopting it", "run", klog.KObj(run))
	case err != nil:
		return fmt.Errorf("creating StandupRun %s: %w", run.Name, err)
	default:
		for _, u := range run.Status.Participants {
			if u.Prompted {
				p.startSends = append(p.startSends, func(m standup.Messenger) { m.Prompt(p.Standup, run, u.User) })
			}
		}
		p.event("Normal", "RunStarted", "Start", "Started the %s run of %s (StandupRun %s): asked %d, %d away, answers until %s",
			trigger, formatTime(scheduled), run.Name, len(run.Status.Participants), len(run.Status.Away), formatTime(run.Spec.Deadline.Time))
	}
	p.started = run
	p.Status.ActiveRun = runRef(run)
	p.Status.LastRunTime = optTime(scheduled)
	if trigger == conchv1.TriggerSchedule {
		p.setRunSkipped(false, conchv1.ReasonRan, fmt.Sprintf("The run of %s started", p.localTime(scheduled)))
	}
	return nil
}

// promptDue records a prompt for each person of the active run whose own time has come (timing Participant).
func (p *standupPass) promptDue() {
	run := p.activeRun()
	if run == nil || run == p.started {
		return
	}
	for i := range run.Status.Participants {
		pp := &run.Status.Participants[i]
		if pp.Prompted || pp.PromptAt == nil || p.now.Before(pp.PromptAt.Time) || (pp.Deadline != nil && !p.now.Before(pp.Deadline.Time)) {
			continue
		}
		pp.Prompted = true
		user := pp.User
		p.send(func(m standup.Messenger) { m.Prompt(p.Standup, run, user) })
	}
}

// writeRuns writes the status of the active run and of the last run where this pass changed them, with
// optimistic concurrency: the Slack front end writes answers into the same status.
func (r *StandupReconciler) writeRuns(ctx context.Context, p *standupPass) error {
	for _, pair := range [][2]*conchv1.StandupRun{{p.activeBase, p.active}, {p.lastBase, p.last}} {
		base, run := pair[0], pair[1]
		if run == nil || equality.Semantic.DeepEqual(base.Status, run.Status) {
			continue
		}
		if err := r.Status().Patch(ctx, run, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return err
		}
	}
	return nil
}

// prune deletes the Standup's ended runs beyond its history limits, oldest first, except status.lastRun (which
// takes edits even with a limit of 0). The cache's list may lag a run just ended; the next pass catches up.
func (r *StandupReconciler) prune(ctx context.Context, st *conchv1.Standup) error {
	var runs conchv1.StandupRunList
	if err := r.List(ctx, &runs, client.InNamespace(st.Namespace), client.MatchingLabels{conchv1.LabelStandup: st.Name}); err != nil {
		return err
	}
	var mine []conchv1.StandupRun
	for _, run := range runs.Items {
		if metav1.IsControlledBy(&run, st) {
			mine = append(mine, run)
		}
	}
	successful, failed := historyLimits(st)
	for _, name := range runsToPrune(mine, successful, failed) {
		if st.Status.LastRun != nil && st.Status.LastRun.Name == name {
			continue // its answers may still be edited, whatever the limit
		}
		run := &conchv1.StandupRun{ObjectMeta: metav1.ObjectMeta{Namespace: st.Namespace, Name: name}}
		if err := r.Delete(ctx, run); client.IgnoreNotFound(err) != nil {
			return err
		}
		r.Recorder.Eventf(st, run, "Normal", "RunPruned", "Prune", "Deleted StandupRun %s: beyond the history limits", name)
	}
	return nil
}

// outcomeOf is the history outcome of a run's end state.
func outcomeOf(state conchv1.StandupRunState) conchv1.RunOutcome {
	if state == conchv1.RunCancelled {
		return conchv1.OutcomeCancelled
	}
	return conchv1.OutcomeCompleted
}
