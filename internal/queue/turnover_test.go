package queue_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
)

// TestDecideTurnover covers the steps between holders: which hold end starts a cleanup or a check, that nobody is
// granted while one runs or while the Resource is Unhealthy, and that a Resource without hooks never waits.
func TestDecideTurnover(t *testing.T) {
	clean := &conchv1.Hook{HTTP: conchv1.HTTPHook{URL: "http://staging/clean"}}
	check := &conchv1.HealthCheck{Hook: conchv1.Hook{HTTP: conchv1.HTTPHook{URL: "http://staging/healthz"}}}
	checked := &metav1.Time{Time: at(-h)}
	withHooks := func(onRelease *conchv1.Hook, hc *conchv1.HealthCheck, res *conchv1.Resource) *conchv1.Resource {
		res.Spec.OnRelease, res.Spec.HealthCheck = onRelease, hc
		if hc != nil {
			res.Status.LastCheckTime = checked
		}
		return res
	}
	unhealthy := func(res *conchv1.Resource) *conchv1.Resource {
		res.Status.Conditions = []metav1.Condition{{Type: conchv1.ResourceConditionHealthy, Status: metav1.ConditionFalse, Reason: conchv1.ReasonCheckFailed}}
		return res
	}
	running := func(step conchv1.TurnoverStep, seq int64, res *conchv1.Resource) *conchv1.Resource {
		res.Status.Turnover = &conchv1.Turnover{Step: step, Sequence: seq, StartedAt: metav1.NewTime(at(0))}
		res.Status.HookSequence = seq
		return res
	}
	expiredHold := staging().Holders(held("a", 1, at(-h), h)).Queue(entry("b", 2, h)).NextTicket(3)
	queuedB := objs(rsv("a", -2*h).For(h).State(conchv1.StateGranted), rsv("b", -h).For(h))

	cases := map[string]struct {
		res     *conchv1.Resource
		rsvs    []*conchv1.Reservation
		now     time.Time
		granted []string
		turn    *conchv1.Turnover
		seq     int64
	}{
		"no hooks: the next in line is granted when a hold expires": {
			res: expiredHold.Obj(), rsvs: queuedB, now: at(0), granted: []string{"b"},
		},
		"a cleanup: a hold that expires starts it, and the next in line waits": {
			res: withHooks(clean, nil, expiredHold.Obj()), rsvs: queuedB, now: at(0),
			turn: &conchv1.Turnover{Step: conchv1.StepCleaning, Sequence: 1, StartedAt: metav1.NewTime(at(0)),
				PreviousHolder: "a", PreviousReservation: "a", ReleaseReason: conchv1.ReasonExpired},
			seq: 1,
		},
		"a release starts the cleanup with the reason Released": {
			res:  withHooks(clean, check, staging().Holders(held("a", 1, at(-m), h)).NextTicket(2).Obj()),
			rsvs: objs(rsv("a", -2*m).For(h).State(conchv1.StateGranted).Released()), now: at(0),
			turn: &conchv1.Turnover{Step: conchv1.StepCleaning, Sequence: 1, StartedAt: metav1.NewTime(at(0)),
				PreviousHolder: "a", PreviousReservation: "a", ReleaseReason: conchv1.ReasonReleased},
			seq: 1,
		},
		"only a health check: the hold's end starts a check, numbered after the last step": {
			res: withHooks(nil, check, func() *conchv1.Resource {
				res := expiredHold.Obj()
				res.Status.HookSequence = 7
				return res
			}()),
			rsvs: queuedB, now: at(0),
			turn: &conchv1.Turnover{Step: conchv1.StepChecking, Sequence: 8, StartedAt: metav1.NewTime(at(0)),
				PreviousHolder: "a", PreviousReservation: "a", ReleaseReason: conchv1.ReasonExpired},
			seq: 8,
		},
		"a step runs: a free Resource grants nobody": {
			res:  running(conchv1.StepChecking, 3, withHooks(nil, check, staging().NextTicket(1).Obj())),
			rsvs: objs(rsv("b", 0).For(h)), now: at(10 * s),
			turn: &conchv1.Turnover{Step: conchv1.StepChecking, Sequence: 3, StartedAt: metav1.NewTime(at(0))},
			seq:  3,
		},
		"a hold that ends while a cleanup runs asks for one more (capacity 2)": {
			res: running(conchv1.StepCleaning, 2, withHooks(clean, nil,
				staging().Capacity(2).Holders(held("a", 1, at(-h), h)).NextTicket(2).Obj())),
			rsvs: objs(rsv("a", -2*h).For(h).State(conchv1.StateGranted), rsv("b", 0).For(h)), now: at(0),
			turn: &conchv1.Turnover{Step: conchv1.StepCleaning, Sequence: 2, StartedAt: metav1.NewTime(at(0)), EndedMeanwhile: 1},
			seq:  2,
		},
		"unhealthy: nobody is granted, and a hold's end starts nothing (the repair checks)": {
			res:  unhealthy(withHooks(clean, check, expiredHold.Obj())),
			rsvs: queuedB, now: at(0),
		},
		"a new Resource with a health check is checked before its first grant": {
			res: func() *conchv1.Resource {
				res := withHooks(nil, check, staging().Obj())
				res.Status.LastCheckTime = nil
				return res
			}(),
			rsvs: objs(rsv("b", 0).For(h)), now: at(10 * s),
			turn: &conchv1.Turnover{Step: conchv1.StepChecking, Sequence: 1, StartedAt: metav1.NewTime(at(10 * s))},
			seq:  1,
		},
		"a Resource checked before grants at once": {
			res:  withHooks(nil, check, staging().Obj()),
			rsvs: objs(rsv("b", 0).For(h)), now: at(10 * s), granted: []string{"b"},
		},
		"a health check added while held waits for the hold's end": {
			res: func() *conchv1.Resource {
				res := withHooks(nil, check, staging().Holders(held("a", 1, at(-m), h)).NextTicket(2).Obj())
				res.Status.LastCheckTime = nil
				return res
			}(),
			rsvs: objs(rsv("a", -2*m).For(h).State(conchv1.StateGranted)), now: at(0), granted: []string{"a"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := queue.Decide(queue.View{Resource: tc.res, Reservations: values(tc.rsvs)}, tc.now)
			var granted []string
			for _, hl := range p.Ledger.Holders {
				granted = append(granted, hl.Reservation)
			}
			if diff := cmp.Diff(tc.granted, granted); diff != "" {
				t.Errorf("holders (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.turn, p.Ledger.Turnover); diff != "" {
				t.Errorf("turnover (-want +got):\n%s", diff)
			}
			if p.Ledger.HookSequence != tc.seq {
				t.Errorf("hook sequence %d, want %d", p.Ledger.HookSequence, tc.seq)
			}
		})
	}
}

// TestEstimateUnhealthy: an Unhealthy Resource promises no time to its queue.
func TestEstimateUnhealthy(t *testing.T) {
	res := staging().Queue(entry("b", 2, h)).Obj()
	res.Status.Conditions = []metav1.Condition{{Type: conchv1.ResourceConditionHealthy, Status: metav1.ConditionFalse, Reason: conchv1.ReasonCheckFailed}}
	turns := queue.Estimate(res, queue.LedgerOf(res), at(0))
	if !turns.NextSlot.IsZero() || !turns.Turns[0].IsZero() {
		t.Errorf("estimates %v, next slot %v; want none", turns.Turns, turns.NextSlot)
	}
}
