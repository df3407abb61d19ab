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
	st.ObservedGeneration = r.Generation

	setStateConditions(&st, r.Generation, now, o.State, o.Reason, outcomeMessage(r, res, o))
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

// pendingStatus returns the status of a Reservation that waits for a Resource to exist (reason
// ResourceMissing) or for a pool to have a member (NoMatchingResource).
func pendingStatus(r *conchv1.Reservation, reason, message string, now time.Time) conchv1.ReservationStatus {
	st := *r.Status.DeepCopy()
	st.State = conchv1.StatePending
	st.ResourceName = r.Spec.ResourceName
	st.ResourceUID, st.Ticket = "", 0
	st.Position, st.EstimatedGrantTime = 0, nil
	st.ObservedGeneration = r.Generation
	setStateConditions(&st, r.Generation, now, conchv1.StatePending, reason, message)
	return st
}

// endedStatus returns the status of a Reservation that ended without its Resource deciding it: its Resource was
// deleted under it.
func endedStatus(r *conchv1.Reservation, message string, now time.Time) conchv1.ReservationStatus {
	st := *r.Status.DeepCopy()
	st.State = conchv1.StateReleased
	st.Position, st.EstimatedGrantTime = 0, nil
	st.EndedAt = &metav1.Time{Time: now}
	st.ObservedGeneration = r.Generation
	setStateConditions(&st, r.Generation, now, conchv1.StateReleased, conchv1.ReasonResourceDeleted, message)
	return st
}

// setStateConditions sets Ready, Granted, Reconciling and Stalled for a state, as kstatus (and so Flux and
// kubectl) reads them: Granted is True only while the hold is held (wait for it with kubectl wait); Ready is True
// once the Reservation is settled as asked — holding, or ended normally — so that a Reservation that ended reads
// Current rather than forever InProgress; Reconciling is True while it waits; Stalled is True when it failed:
// rejected, or ended because its holder stopped renewing.
func setStateConditions(st *conchv1.ReservationStatus, gen int64, now time.Time, state conchv1.ReservationState, reason, message string) {
	set := func(typ string, status bool) {
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
	set(conchv1.ConditionReady, granted || (state.IsFinal() && !failed))
	set(conchv1.ConditionGranted, granted)
	set(conchv1.ConditionReconciling, state == conchv1.StatePending || state == conchv1.StateQueued)
	set(conchv1.ConditionStalled, failed)
}

// outcomeMessage says in a sentence what o means for the person who made r.
func outcomeMessage(r *conchv1.Reservation, res *conchv1.Resource, o queue.Outcome) string {
	switch o.State {
	case conchv1.StateGranted:
		return fmt.Sprintf("%s holds %s until %s", r.Spec.Holder, res.Name, formatTime(o.ExpiresAt))
	case conchv1.StateQueued:
		switch {
		case res.Spec.Granting == conchv1.GrantingPaused:
			return fmt.Sprintf("Waiting for %s, number %d of %d in the queue; granting is paused", res.Name, o.Position, o.Waiting)
		case o.EstimatedGrantTime.IsZero():
			return fmt.Sprintf("Waiting for %s, number %d of %d in the queue", res.Name, o.Position, o.Waiting)
		default:
			return fmt.Sprintf("Waiting for %s, number %d of %d in the queue, expected around %s",
				res.Name, o.Position, o.Waiting, formatTime(ceilSecond(o.EstimatedGrantTime)))
		}
	case conchv1.StateExpired:
		if o.Reason == conchv1.ReasonHeartbeatMissed {
			timeout := time.Duration(0)
			if r.Spec.HeartbeatTimeout != nil {
				timeout = r.Spec.HeartbeatTimeout.Duration
			}
			return fmt.Sprintf("%s stopped renewing: no heartbeat within %s, so the Reservation for %s ended",
				r.Spec.Holder, timeout, res.Name)
		}
		if o.Reason == conchv1.ReasonShortened {
			return fmt.Sprintf("The hold on %s was shortened to %s, less than it had already lasted, so it ended at %s after %s",
				res.Name, o.Requested, formatTime(o.EndedAt), o.EndedAt.Sub(o.GrantedAt).Round(time.Millisecond))
		}
		return fmt.Sprintf("The hold on %s ended at %s after %s", res.Name, formatTime(o.ExpiresAt), o.Duration)
	case conchv1.StatePending:
		return fmt.Sprintf("Waiting to join the queue for %s: it is full (%d waiting)", res.Name, conchv1.MaxQueueEntries)
	case conchv1.StateRejected:
		return fmt.Sprintf("%s may not hold %s: the holder matches none of its allowedHolders %v",
			r.Spec.Holder, res.Name, res.Spec.AllowedHolders)
	case conchv1.StateReleased:
		if o.Reason == conchv1.ReasonHolderFinished || o.Reason == conchv1.ReasonHolderDeleted {
			return holderEnded(r, res, o)
		}
		if o.Reason == conchv1.ReasonDeleted {
			return fmt.Sprintf("Deleted; %s was released", res.Name)
		}
		if o.GrantedAt.IsZero() {
			return fmt.Sprintf("Released before it was granted; left the queue for %s", res.Name)
		}
		return fmt.Sprintf("Released %s at %s", res.Name, formatTime(o.EndedAt))
	}
	return string(o.State)
}

// holderEnded says that the object holding r (spec.heldBy) finished or went away, and what that did.
func holderEnded(r *conchv1.Reservation, res *conchv1.Resource, o queue.Outcome) string {
	who := "its holder"
	if h := r.Spec.HeldBy; h != nil {
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
