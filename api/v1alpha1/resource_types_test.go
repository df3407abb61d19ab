package v1alpha1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIsFree(t *testing.T) {
	available := func(status metav1.ConditionStatus) []metav1.Condition {
		return []metav1.Condition{{Type: ResourceConditionAvailable, Status: status}}
	}
	now := metav1.Now()
	cases := map[string]struct {
		res  Resource
		want bool
	}{
		"available":                 {res: Resource{Status: ResourceStatus{Conditions: available(metav1.ConditionTrue)}}, want: true},
		"full":                      {res: Resource{Status: ResourceStatus{Conditions: available(metav1.ConditionFalse)}}},
		"not seen by the ledger":    {res: Resource{}},
		"a slot free but a queue":   {res: Resource{Status: ResourceStatus{Conditions: available(metav1.ConditionTrue), Waiting: 1, Queue: []QueueEntry{{Reservation: "r"}}}}},
		"being deleted":             {res: Resource{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: ResourceStatus{Conditions: available(metav1.ConditionTrue)}}},
		"waiting counted, no queue": {res: Resource{Status: ResourceStatus{Conditions: available(metav1.ConditionTrue), Waiting: 2}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.res.IsFree(); got != tc.want {
				t.Errorf("IsFree = %v, want %v", got, tc.want)
			}
		})
	}
}
