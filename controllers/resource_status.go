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
	st.ObservedGeneration = res.Generation

	names := make([]string, 0, len(plan.Holders))
	st.NextRelease = nil
	for _, h := range plan.Holders {
		names = append(names, h.Holder)
		// Whole seconds, rounded up, as metav1.Time stores them: a finer time would differ from the stored one at
		// every pass and cost a write that changes nothing.
		if until := ceilSecond(h.Until.Time); st.NextRelease == nil || until.Before(st.NextRelease.Time) {
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
	available := metav1.Condition{
		Type: conchv1.ResourceConditionAvailable, ObservedGeneration: res.Generation,
		LastTransitionTime: metav1.NewTime(now),
	}
	free := int(capacity) - len(plan.Holders)
	switch {
	case res.Spec.Granting == conchv1.GrantingPaused:
		available.Status, available.Reason = metav1.ConditionFalse, conchv1.ReasonPaused
		available.Message = "Granting is paused; new Reservations wait in the queue"
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
	return st
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
