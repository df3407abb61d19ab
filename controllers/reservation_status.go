package controllers

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
)

// This file holds pure functions that compute a Reservation's status; the reconcilers only write what they return.

// reservationStatus returns the status of r for the engine's outcome o on Resource res, at time now.
// A final Reservation's status is returned unchanged: final states never change.
func reservationStatus(r *conchv1.Reservation, res *conchv1.Resource, o queue.Outcome, now time.Time) conchv1.ReservationStatus {
	if r.Status.State.IsFinal() {
		return r.Status
	}
	st := *r.Status.DeepCopy()
	st.State = o.State
	st.ResourceName, st.ResourceUID, st.Ticket = res.Name, string(res.UID), o.Ticket
	if o.State == conchv1.StatePending {
		st.ResourceUID, st.Ticket = "", 0
	}
	st.Position = o.Position
	st.EstimatedGrantTime = nil
	if o.State == conchv1.StateQueued && !o.EstimatedGrantTime.IsZero() {
		// Whole seconds, rounded up: an estimate, and one that only changes when the queue does.
		st.EstimatedGrantTime = &metav1.Time{Time: ceilSecond(o.EstimatedGrantTime)}
	}
	st.Duration = &metav1.Duration{Duration: o.Duration}
	st.GrantedAt, st.ExpiresAt, st.EndedAt = optMicro(o.GrantedAt), optMicro(o.ExpiresAt), nil
	if o.State.IsFinal() {
		st.EndedAt = &metav1.Time{Time: o.EndedAt}
	}
	st.Until = nil
	if u := untilOf(o); !u.IsZero() {
		st.Until = &metav1.Time{Time: u}
	}
	st.ObservedGeneration = r.Generation

	m := outcomeMessages(r, res, o)
	planningMessages(r, res, o, &m)
	setStateConditions(&st, r.Generation, now, o.State, o.Reason, m)
	clamped := metav1.Condition{
		Type: conchv1.ConditionDurationClamped, Status: metav1.ConditionFalse, Reason: conchv1.ReasonWithinMaxDuration,
		Message: fmt.Sprintf("The hold lasts %s", o.Duration), ObservedGeneration: r.Generation,
		LastTransitionTime: metav1.NewTime(now),
	}
	if o.Clamped {
		clamped.Status, clamped.Reason = metav1.ConditionTrue, conchv1.ReasonMaxDurationApplied
		clamped.Message = fmt.Sprintf("Asked for %s; %s allows holds of at most %s, so the hold lasts %s",
			o.Requested, res.Name, o.Duration, o.Duration)
	}
	meta.SetStatusCondition(&st.Conditions, clamped)
	return st
}

// untilOf is status.until for the outcome o, the UNTIL that `kubectl get` shows, in whole seconds: while Granted,
// the planned end, rounded up so that a hold never reads as ending before it does; once ended, the real end: a hold
// that ran its full term ended at its term's end (the same second as before, however late the controller noticed,
// for example after a restart), any other at endedAt, in the whole second that endedAt itself reads. Zero while
// waiting.
func untilOf(o queue.Outcome) time.Time {
	switch {
	case o.State == conchv1.StateGranted:
		return ceilSecond(o.ExpiresAt)
	case o.State == conchv1.StateExpired && o.Reason == conchv1.ReasonExpired && !o.ExpiresAt.IsZero():
		return ceilSecond(o.ExpiresAt)
	case o.State.IsFinal():
		return o.EndedAt.Truncate(time.Second)
	}
	return time.Time{}
}

// pendingStatus returns the status of a Reservation that waits for a Resource to exist (reason
// ResourceMissing) or for a pool to have a member (NoMatchingResource); story says so for the Ready condition.
func pendingStatus(r *conchv1.Reservation, reason, story string, now time.Time) conchv1.ReservationStatus {
	st := *r.Status.DeepCopy()
	st.State = conchv1.StatePending
	st.ResourceName = r.Spec.ResourceName
	st.ResourceUID, st.Ticket = "", 0
	st.Position, st.EstimatedGrantTime, st.Until = 0, nil, nil
	st.ObservedGeneration = r.Generation
	m := conditionMessages{
		ready:       story,
		granted:     "Not granted yet",
		reconciling: "Not in a queue yet, so no position or expected time",
		stalled: fmt.Sprintf("Nothing to fix if Resource %s is on its way; otherwise create it, or create a new "+
			"Reservation for a Resource that exists", r.Spec.ResourceName),
	}
	if reason == conchv1.ReasonNoMatchingResource {
		m.stalled = "Nothing to fix if a Resource of the pool is on its way; otherwise create one that matches the " +
			"selector and allows this holder"
	}
	setStateConditions(&st, r.Generation, now, conchv1.StatePending, reason, m)
	return st
}

// endedStatus returns the status of a Reservation that ended without its Resource deciding it: its Resource was
// deleted under it. story says so for the Ready condition.
func endedStatus(r *conchv1.Reservation, story string, now time.Time) conchv1.ReservationStatus {
	st := *r.Status.DeepCopy()
	st.State = conchv1.StateReleased
	st.Position, st.EstimatedGrantTime = 0, nil
	st.EndedAt = &metav1.Time{Time: now}
	st.Until = &metav1.Time{Time: now.Truncate(time.Second)}
	st.ObservedGeneration = r.Generation
	o := queue.Outcome{State: conchv1.StateReleased, Reason: conchv1.ReasonResourceDeleted, EndedAt: now}
	if r.Status.GrantedAt != nil {
		o.GrantedAt = r.Status.GrantedAt.Time
	}
	m := endedMessages(r.Spec.Holder, r.Status.ResourceName, o)
	m.ready = story
	setStateConditions(&st, r.Generation, now, conchv1.StateReleased, conchv1.ReasonResourceDeleted, m)
	return st
}

// conditionMessages are the messages of a Reservation's Ready, Granted, Reconciling and Stalled conditions. Each
// answers its own question, so that `kubectl describe` reads as a short story rather than one sentence four
// times: Ready, what became of the Reservation so far (the sentence Events, Slack and the plugin repeat); Granted,
// whether it holds and until when; Reconciling, where it stands in the queue and when its turn is expected;
// Stalled, what stands in its way and what to do about it.
type conditionMessages struct {
	ready, granted, reconciling, stalled string
}

// setStateConditions sets Ready, Granted, Reconciling and Stalled for a state, as kstatus (and so Flux and
// kubectl) reads them: Granted is True only while the hold is held (wait for it with kubectl wait); Ready is True
// once the Reservation is settled as asked — holding, or ended normally — so that a Reservation that ended reads
// Current rather than forever InProgress; Reconciling is True while it waits; Stalled is True when it failed:
// rejected, or ended because its holder stopped renewing. All four carry the same reason.
func setStateConditions(st *conchv1.ReservationStatus, gen int64, now time.Time, state conchv1.ReservationState, reason string, m conditionMessages) {
	set := func(typ string, status bool, message string) {
		s := metav1.ConditionFalse
		if status {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: s, Reason: reason, Message: message,
			ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(now),
		})
	}
	granted := state == conchv1.StateGranted
	failed := state == conchv1.StateRejected || reason == conchv1.ReasonHeartbeatMissed
	set(conchv1.ConditionReady, granted || (state.IsFinal() && !failed), m.ready)
	set(conchv1.ConditionGranted, granted, m.granted)
	set(conchv1.ConditionReconciling, state == conchv1.StatePending || state == conchv1.StateQueued, m.reconciling)
	set(conchv1.ConditionStalled, failed, m.stalled)
}

// outcomeMessages says what o means for the person who made r, one sentence per condition.
func outcomeMessages(r *conchv1.Reservation, res *conchv1.Resource, o queue.Outcome) conditionMessages {
	switch o.State {
	case conchv1.StateGranted:
		ready := fmt.Sprintf("%s was granted %s at %s", r.Spec.Holder, res.Name, formatTime(o.GrantedAt))
		if created := r.CreationTimestamp.Time; !created.IsZero() && o.GrantedAt.Sub(created) >= time.Second {
			ready += fmt.Sprintf(" after waiting %s", o.GrantedAt.Sub(created).Round(time.Second))
		}
		return conditionMessages{
			ready:       ready,
			granted:     fmt.Sprintf("%s holds %s until %s", r.Spec.Holder, res.Name, formatTime(untilOf(o))),
			reconciling: fmt.Sprintf("Not in the queue: it holds %s", res.Name),
			stalled:     "Nothing stands in the way. Release it early with spec.released: true; extend it with spec.duration",
		}
	case conchv1.StateQueued:
		m := conditionMessages{
			ready:   "Waiting for " + res.Name,
			granted: "Not granted yet",
			reconciling: fmt.Sprintf("Number %d in line for %s, expected around %s",
				o.Position, res.Name, formatTime(ceilSecond(o.EstimatedGrantTime))),
			stalled: "Nothing stands in the way: the queue moves as holds end. Leave it with spec.released: true",
		}
		if res.Status.HeldBy != "" && res.Status.NextRelease != nil {
			m.ready += fmt.Sprintf(" (held by %s; next release at %s)", res.Status.HeldBy, formatTime(res.Status.NextRelease.Time))
		}
		switch {
		case res.Spec.Granting == conchv1.GrantingPaused:
			m.ready += "; granting is paused"
			m.reconciling = fmt.Sprintf("Number %d in line for %s; granting is paused, so no time is expected", o.Position, res.Name)
			m.stalled = fmt.Sprintf("Nothing to fix: granting of %s is paused (spec.granting) for maintenance; the "+
				"queue moves once it is open again", res.Name)
		case meta.IsStatusConditionFalse(res.Status.Conditions, conchv1.ResourceConditionHealthy):
			h := meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionHealthy)
			m.ready += "; it is unhealthy"
			m.reconciling = fmt.Sprintf("Number %d in line for %s; it is unhealthy, so no time is expected", o.Position, res.Name)
			m.stalled = fmt.Sprintf("%s failed its cleanup or health check (%s: %s); the queue moves once it passes a "+
				"check or an admin repairs it (kubectl conch repair %s)", res.Name, h.Reason, h.Message, res.Name)
		case res.Status.Turnover != nil:
			m.ready += "; " + strings.ToLower(turnoverMessage(res, res.Status.Turnover)[:1]) + turnoverMessage(res, res.Status.Turnover)[1:]
			if o.EstimatedGrantTime.IsZero() {
				m.reconciling = fmt.Sprintf("Number %d in line for %s", o.Position, res.Name)
			}
		case o.EstimatedGrantTime.IsZero():
			m.reconciling = fmt.Sprintf("Number %d in line for %s", o.Position, res.Name)
		}
		return m
	case conchv1.StatePending:
		return conditionMessages{
			ready:       fmt.Sprintf("Waiting to join the queue for %s: it is full (%d waiting)", res.Name, conchv1.MaxQueueEntries),
			granted:     "Not granted yet",
			reconciling: "Not in the queue yet, so no position or expected time",
			stalled:     "Nothing to fix: it joins the queue when there is room",
		}
	case conchv1.StateExpired, conchv1.StateReleased, conchv1.StateRejected:
		m := endedMessages(r.Spec.Holder, res.Name, o)
		m.ready = endStory(r, res, o)
		if o.State == conchv1.StateRejected {
			m.stalled = fmt.Sprintf("%s is not among the allowedHolders of %s: ask whoever manages it to allow the holder, "+
				"or reserve another Resource with a new Reservation", r.Spec.Holder, res.Name)
		}
		if o.Reason == conchv1.ReasonHeartbeatMissed {
			m.stalled = fmt.Sprintf("No heartbeat within %s (spec.heartbeatTimeout): renew spec.renewTime more often, "+
				"and create a new Reservation to take another turn", heartbeatTimeout(r))
		}
		return m
	}
	s := string(o.State)
	return conditionMessages{ready: s, granted: s, reconciling: s, stalled: s}
}

// endedMessages are the Granted, Reconciling and Stalled messages of a Reservation that ended normally; the
// caller tells the story (Ready) and, for a failure, what stalled it.
func endedMessages(holder, resource string, o queue.Outcome) conditionMessages {
	end := formatTime(untilOf(o))
	m := conditionMessages{
		granted:     "Never granted",
		reconciling: fmt.Sprintf("Not in the queue: it ended at %s", end),
		stalled:     fmt.Sprintf("Nothing failed. To hold %s again, create a new Reservation", resource),
	}
	if !o.GrantedAt.IsZero() {
		m.granted = fmt.Sprintf("%s held %s from %s until %s", holder, resource, formatTime(o.GrantedAt), end)
	}
	return m
}

// endStory says in a sentence how r ended: the Ready condition's message, and the Event's.
func endStory(r *conchv1.Reservation, res *conchv1.Resource, o queue.Outcome) string {
	end := formatTime(untilOf(o))
	switch o.State {
	case conchv1.StateExpired:
		switch o.Reason {
		case conchv1.ReasonHeartbeatMissed:
			return fmt.Sprintf("%s stopped renewing: no heartbeat within %s, so the Reservation for %s ended at %s",
				r.Spec.Holder, heartbeatTimeout(r), res.Name, end)
		case conchv1.ReasonShortened:
			return fmt.Sprintf("The hold on %s was shortened to %s, less than it had already lasted, so it ended at %s after %s",
				res.Name, o.Requested, end, o.EndedAt.Sub(o.GrantedAt).Round(time.Millisecond))
		}
		return fmt.Sprintf("The hold on %s ran its full %s and ended at %s", res.Name, o.Duration, end)
	case conchv1.StateRejected:
		return fmt.Sprintf("%s may not hold %s: the holder matches none of its allowedHolders %v",
			r.Spec.Holder, res.Name, res.Spec.AllowedHolders)
	}
	// Released.
	switch {
	case o.Reason == conchv1.ReasonHolderFinished || o.Reason == conchv1.ReasonHolderDeleted:
		return holderEnded(r, res, o)
	case o.Reason == conchv1.ReasonDeleted && o.GrantedAt.IsZero():
		return fmt.Sprintf("Deleted; left the queue for %s", res.Name)
	case o.Reason == conchv1.ReasonDeleted:
		return fmt.Sprintf("Deleted; %s was released", res.Name)
	case o.GrantedAt.IsZero():
		return fmt.Sprintf("Released before it was granted; left the queue for %s at %s", res.Name, end)
	}
	return fmt.Sprintf("Released %s at %s after holding it for %s", res.Name, end, o.EndedAt.Sub(o.GrantedAt).Round(time.Second))
}

// heartbeatTimeout is r's spec.heartbeatTimeout, zero when it has none.
func heartbeatTimeout(r *conchv1.Reservation) time.Duration {
	if r.Spec.HeartbeatTimeout == nil {
		return 0
	}
	return r.Spec.HeartbeatTimeout.Duration
}

// holderEnded says that the object holding r (spec.heldBy) finished or went away, and what that did.
func holderEnded(r *conchv1.Reservation, res *conchv1.Resource, o queue.Outcome) string {
	who := "its holder"
	if h := r.Spec.HeldBy; h.IsSet() {
		who = h.Kind + " " + h.Name
	}
	_, detail, _ := strings.Cut(r.Annotations[conchv1.AnnotationReleasedBecause], ":")
	what := "finished"
	if o.Reason == conchv1.ReasonHolderDeleted {
		what = "is gone"
	}
	if detail = strings.TrimSpace(detail); detail != "" {
		what += " (" + detail + ")"
	}
	if o.GrantedAt.IsZero() {
		return fmt.Sprintf("%s %s, so the Reservation left the queue for %s", who, what, res.Name)
	}
	return fmt.Sprintf("%s %s, so %s was released at %s", who, what, res.Name, formatTime(o.EndedAt))
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func ceilSecond(t time.Time) time.Time {
	c := t.Truncate(time.Second)
	if c.Before(t) {
		c = c.Add(time.Second)
	}
	return c
}

func optMicro(t time.Time) *metav1.MicroTime {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewMicroTime(t)
	return &m
}
