package eventsink

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/text"
)

// This file computes an EventSink's status from what the controller found and the delivery figures. It is pure.

// validity is what the status controller found about a sink's configuration: nothing (valid), or the reason and
// message of what its owner must fix.
type validity struct {
	// url is the address shown in status.url ("" when there is none).
	url string
	// reason and message say what is wrong; reason "" when nothing is.
	reason, message string
}

// desiredStatus returns the status of s given its validity v and its figures st, keeping the figures s already
// reports where the manager has none of its own (they survive a restart), and the conditions' transition times
// where their status does not change.
func desiredStatus(s *conchv1.EventSink, v validity, st sinkStats) conchv1.EventSinkStatus {
	out := *s.Status.DeepCopy()
	out.ObservedGeneration = s.Generation
	out.URL = v.url
	if !st.lastDelivery.IsZero() {
		out.LastDeliveryTime = &metav1.Time{Time: st.lastDelivery}
	}
	if !st.lastFailure.IsZero() {
		out.LastFailureTime = &metav1.Time{Time: st.lastFailure}
		out.LastFailure = text.Truncate(st.failure, 1024, text.Ellipsis)
	}
	if st.uid != "" && (!st.lastDelivery.IsZero() || !st.lastFailure.IsZero()) {
		out.ConsecutiveFailures = st.consecutive
	}

	ready := metav1.Condition{Type: conchv1.ConditionReady, ObservedGeneration: s.Generation}
	switch {
	case v.reason != "":
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v.reason, v.message
	case out.ConsecutiveFailures > 0:
		ready.Status, ready.Reason = metav1.ConditionFalse, conchv1.EventSinkReasonDeliveryFailing
		ready.Message = fmt.Sprintf("The last %d attempts failed, the latest with: %s. Deliveries are retried.",
			out.ConsecutiveFailures, out.LastFailure)
	default:
		ready.Status, ready.Reason = metav1.ConditionTrue, conchv1.EventSinkReasonReady
		ready.Message = "Delivers to " + v.url
	}
	ready.Message = text.Truncate(ready.Message, 32768, text.Ellipsis)
	meta.SetStatusCondition(&out.Conditions, ready)
	// Stalled (kstatus: Failed) while only the sink's owner can fix it; a failing receiver is not that: it is
	// retried, and Ready=False alone shows it.
	if v.reason != "" {
		meta.SetStatusCondition(&out.Conditions, metav1.Condition{
			Type: conchv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: v.reason, Message: ready.Message,
			ObservedGeneration: s.Generation,
		})
	} else {
		meta.RemoveStatusCondition(&out.Conditions, conchv1.ConditionStalled)
	}
	return out
}

// onlyFiguresDiffer reports whether a and b differ at most in the delivery figures (and the Ready condition that
// follows from them): a change that waits for the next coalesced write.
func onlyFiguresDiffer(a, b conchv1.EventSinkStatus) bool {
	if a.ObservedGeneration != b.ObservedGeneration || a.URL != b.URL {
		return false
	}
	ra, rb := meta.FindStatusCondition(a.Conditions, conchv1.ConditionReady), meta.FindStatusCondition(b.Conditions, conchv1.ConditionReady)
	if ra == nil || rb == nil {
		return false
	}
	figure := func(reason string) bool {
		return reason == conchv1.EventSinkReasonReady || reason == conchv1.EventSinkReasonDeliveryFailing
	}
	return figure(ra.Reason) && figure(rb.Reason)
}

// nextWrite returns how long to wait before writing figures last written at written, at now: zero when they may
// be written now.
func nextWrite(written, now time.Time, every time.Duration) time.Duration {
	if written.IsZero() {
		return 0
	}
	return max(written.Add(every).Sub(now), 0)
}
