package testutil

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// Builders for bookings, priorities and limits (docs/planning.md).

// At books the Reservation from t (spec.startTime).
func (w *ReservationWrapper) At(t time.Time) *ReservationWrapper {
	w.Spec.StartTime = &metav1.Time{Time: t}
	return w
}

// Priority sets spec.priority and the reason a priority needs.
func (w *ReservationWrapper) Priority(p int32, reason string) *ReservationWrapper {
	w.Spec.Priority, w.Spec.Reason = &p, reason
	return w
}

// NotPreemptible sets spec.preemptible: Never.
func (w *ReservationWrapper) NotPreemptible() *ReservationWrapper {
	w.Spec.Preemptible = conchv1.PreemptibleNever
	return w
}

// WalkIns sets spec.bookings.walkIns.
func (w *ResourceWrapper) WalkIns(p conchv1.WalkInPolicy) *ResourceWrapper {
	w.Spec.Bookings = &conchv1.Bookings{WalkIns: p}
	return w
}

// Preemption sets spec.priorities: the policy and, when not zero, the grace period and aging interval.
func (w *ResourceWrapper) Preemption(p conchv1.PreemptionPolicy, grace, aging time.Duration) *ResourceWrapper {
	w.Spec.Priorities = &conchv1.Priorities{Preemption: p}
	if grace != 0 {
		w.Spec.Priorities.GracePeriod = &metav1.Duration{Duration: grace}
	}
	if aging != 0 {
		w.Spec.Priorities.AgingInterval = &metav1.Duration{Duration: aging}
	}
	return w
}

// Limits sets spec.limits.
func (w *ResourceWrapper) Limits(l conchv1.Limits) *ResourceWrapper {
	w.Spec.Limits = &l
	return w
}

// Zone loads the IANA time zone name, failing the test when this machine does not know it.
func Zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}
