package controllers

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
	"github.com/conch-dev/conch/internal/text"
)

// resourceStatus returns the status of res for the engine's plan, at time now: the ledger it decided and what a
// person reads from it. Pure, so the reconciler writes only when the result differs from what is stored.
func resourceStatus(res *conchv1.Resource, p *queue.Plan, now time.Time) conchv1.ResourceStatus {
	plan := p.Ledger
	st := *res.Status.DeepCopy()
	st.Holders, st.Queue, st.Waiting, st.NextTicket = plan.Holders, plan.Queue, plan.Waiting, plan.NextTicket
	st.RecentlyEnded = plan.RecentlyEnded
	st.Turnover, st.HookSequence = plan.Turnover, plan.HookSequence
	st.ObservedGeneration = res.Generation

	names := make([]string, 0, len(plan.Holders))
	st.NextRelease = nil
	st.NextBooking = nextBooking(p.Ledger.Queue, now)
	for _, h := range plan.Holders {
		names = append(names, h.Holder)
		// Whole seconds, rounded up, as metav1.Time stores them: a finer time would differ from the stored one at
		// every pass and cost a write that changes nothing.
		if until := ceilSecond(queue.HoldEnd(h)); st.NextRelease == nil || until.Before(st.NextRelease.Time) {
			st.NextRelease = &metav1.Time{Time: until}
		}
	}
	st.HeldBy = text.Truncate(strings.Join(names, ", "), 1024, text.Ellipsis)

	capacity := max(res.Spec.Capacity, 1)
	ready := metav1.Condition{
		Type: conchv1.ConditionReady, Status: metav1.ConditionTrue, Reason: conchv1.ReasonReconciled,
		Message:            fmt.Sprintf("%d of %d held, %d waiting", len(plan.Holders), capacity, plan.Waiting),
		ObservedGeneration: res.Generation, LastTransitionTime: metav1.NewTime(now),
	}
	if _, err := queue.LimitsLocation(res.Spec.Limits); err != nil {
		ready.Status, ready.Reason = metav1.ConditionFalse, conchv1.ReasonInvalidLimits
		ready.Message = err.Error() + "; until it is fixed, a day of maxHoldTimePerDay starts at midnight UTC"
	}
	available := metav1.Condition{
		Type: conchv1.ResourceConditionAvailable, ObservedGeneration: res.Generation,
		LastTransitionTime: metav1.NewTime(now),
	}
	free := int(capacity) - len(plan.Holders)
	switch {
	case res.Spec.Granting == conchv1.GrantingPaused:
		available.Status, available.Reason = metav1.ConditionFalse, conchv1.ReasonPaused
		available.Message = "Granting is paused; new Reservations wait in the queue"
	case meta.IsStatusConditionFalse(st.Conditions, conchv1.ResourceConditionHealthy):
		available.Status, available.Reason = metav1.ConditionFalse, string(conchv1.PhaseUnhealthy)
		available.Message = "Unhealthy: " + meta.FindStatusCondition(st.Conditions, conchv1.ResourceConditionHealthy).Message
	case st.Turnover != nil:
		available.Status, available.Reason = metav1.ConditionFalse, string(st.Turnover.Step)
		available.Message = turnoverMessage(res, st.Turnover)
	case free > 0:
		available.Status, available.Reason = metav1.ConditionTrue, conchv1.ReasonSlotFree
		available.Message = fmt.Sprintf("%d of %d free", free, capacity)
	default:
		available.Status, available.Reason = metav1.ConditionFalse, conchv1.ReasonFull
		available.Message = fmt.Sprintf("Held by %s", st.HeldBy)
		if st.NextRelease != nil {
			available.Message += fmt.Sprintf("; next release at %s", formatTime(st.NextRelease.Time))
		}
	}
	meta.SetStatusCondition(&st.Conditions, ready)
	meta.SetStatusCondition(&st.Conditions, available)
	if paused, ok := pausedCondition(res, now); ok {
		meta.SetStatusCondition(&st.Conditions, paused)
	}
	setTurnover(res, &st, now)
	return st
}

// setTurnover sets st's Turnover condition and phase, which follow from the rest of the status. A Resource that
// never had hooks gets no Turnover condition, so that no write is spent on it.
func setTurnover(res *conchv1.Resource, st *conchv1.ResourceStatus, now time.Time) {
	st.Phase = resourcePhase(res, st)
	c := metav1.Condition{
		Type: conchv1.ResourceConditionTurnover, Status: metav1.ConditionFalse, Reason: conchv1.ReasonIdle,
		Message: "No step between holders runs", ObservedGeneration: res.Generation, LastTransitionTime: metav1.NewTime(now),
	}
	switch {
	case st.Turnover != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, string(st.Turnover.Step), turnoverMessage(res, st.Turnover)
	case res.Spec.OnRelease == nil && res.Spec.HealthCheck == nil &&
		meta.FindStatusCondition(st.Conditions, conchv1.ResourceConditionTurnover) == nil:
		return
	}
	meta.SetStatusCondition(&st.Conditions, c)
}

// resourcePhase is where res is, the most urgent first: Maintenance, Unhealthy, Cleaning, Checking, Held,
// Available.
func resourcePhase(res *conchv1.Resource, st *conchv1.ResourceStatus) conchv1.ResourcePhase {
	switch {
	case res.Spec.Granting == conchv1.GrantingPaused:
		return conchv1.PhaseMaintenance
	case meta.IsStatusConditionFalse(st.Conditions, conchv1.ResourceConditionHealthy):
		return conchv1.PhaseUnhealthy
	case st.Turnover != nil && st.Turnover.Step == conchv1.StepCleaning:
		return conchv1.PhaseCleaning
	case st.Turnover != nil:
		return conchv1.PhaseChecking
	case len(st.Holders) > 0:
		return conchv1.PhaseHeld
	}
	return conchv1.PhaseAvailable
}

// turnoverMessage says which step runs, for whom, since when.
func turnoverMessage(res *conchv1.Resource, t *conchv1.Turnover) string {
	what := "Cleaning after " + t.PreviousHolder
	switch {
	case t.Step == conchv1.StepChecking && t.PreviousHolder != "":
		what = "Checking health after " + t.PreviousHolder
	case t.Step == conchv1.StepChecking:
		what = "Checking health"
	case t.PreviousHolder == "":
		what = "Cleaning"
	}
	return fmt.Sprintf("%s (step %d, since %s); the queue waits", what, t.Sequence, formatTime(t.StartedAt.Time))
}

// pausedCondition returns the Paused condition of res: True while granting is paused, False once it is open
// again. A Resource that was never paused has none (false), so that no status write is spent on it.
func pausedCondition(res *conchv1.Resource, now time.Time) (metav1.Condition, bool) {
	c := metav1.Condition{
		Type: conchv1.ResourceConditionPaused, ObservedGeneration: res.Generation, LastTransitionTime: metav1.NewTime(now),
		Status: metav1.ConditionTrue, Reason: conchv1.ReasonPaused,
		Message: "Granting is paused (spec.granting); holders keep their holds, new Reservations wait",
	}
	if res.Spec.Granting != conchv1.GrantingPaused {
		if meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionPaused) == nil {
			return c, false
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, conchv1.ReasonResumed, "Granting is open"
	}
	return c, true
}
