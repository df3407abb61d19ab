package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
	"github.com/conch-dev/conch/internal/testutil"
)

func TestResourceStatus(t *testing.T) {
	const gen = 3
	at := tNow.Add
	ready := func(msg string) metav1.Condition {
		return wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonReconciled, msg, gen, tNow)
	}
	available := func(status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return wantCond(conchv1.ResourceConditionAvailable, status, reason, msg, gen, tNow)
	}

	// Two holders whose names, joined with ", ", make exactly 1024 characters; one more character is cut. A hundred
	// holders of two-byte characters make 2198 characters (4396 bytes): heldBy counts characters, not bytes.
	a, b := strings.Repeat("a", 511), strings.Repeat("b", 511)
	exact := []conchv1.ResourceHolder{ledgerHolder("r1", a, at(time.Hour)), ledgerHolder("r2", b, at(time.Hour))}
	over := []conchv1.ResourceHolder{ledgerHolder("r1", a, at(time.Hour)), ledgerHolder("r2", b+"c", at(time.Hour))}
	var long []conchv1.ResourceHolder
	for i := range 100 {
		long = append(long, ledgerHolder(fmt.Sprintf("r%d", i), strings.Repeat("é", 20), at(time.Hour)))
	}
	longJoined := strings.TrimSuffix(strings.Repeat(strings.Repeat("é", 20)+", ", 100), ", ")
	longHeldBy := string([]rune(longJoined)[:1023]) + "…"

	cases := map[string]struct {
		res  *conchv1.Resource
		plan queue.Ledger
		want conchv1.ResourceStatus
	}{
		"free: nobody holds it": {
			res:  testutil.Resource("staging").Obj(),
			plan: queue.Ledger{NextTicket: 5},
			want: conchv1.ResourceStatus{
				NextTicket: 5, ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("0 of 1 held, 0 waiting"),
					available(metav1.ConditionTrue, conchv1.ReasonSlotFree, "1 of 1 free"),
				},
			},
		},
		"a booking ahead: the next one is in status, and the Resource is free until it starts": {
			res:  testutil.Resource("staging").Obj(),
			plan: queue.Ledger{Queue: []conchv1.QueueEntry{booking("r3", 3, at(2*time.Hour)), booking("r2", 2, at(time.Hour))}, NextTicket: 4},
			want: conchv1.ResourceStatus{
				Queue:      []conchv1.QueueEntry{booking("r3", 3, at(2*time.Hour)), booking("r2", 2, at(time.Hour))},
				NextTicket: 4, ObservedGeneration: gen,
				NextBooking: &conchv1.NextBooking{Reservation: "r2", Holder: "holder-r2",
					StartTime: metav1.NewTime(at(time.Hour)), EndTime: metav1.NewTime(at(90 * time.Minute))},
				Conditions: []metav1.Condition{
					ready("0 of 1 held, 0 waiting"),
					available(metav1.ConditionTrue, conchv1.ReasonSlotFree, "1 of 1 free"),
				},
			},
		},
		"limits in a time zone that does not exist: not Ready, and says so": {
			res:  testutil.Resource("staging").Limits(conchv1.Limits{MaxHoldsPerHolder: 2, TimeZone: "Mars/Olympus_Mons"}).Obj(),
			plan: queue.Ledger{},
			want: conchv1.ResourceStatus{
				ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					wantCond(conchv1.ConditionReady, metav1.ConditionFalse, conchv1.ReasonInvalidLimits,
						`spec.limits.timeZone "Mars/Olympus_Mons" is not an IANA time zone name; until it is fixed, a day of maxHoldTimePerDay starts at midnight UTC`, gen, tNow),
					available(metav1.ConditionTrue, conchv1.ReasonSlotFree, "1 of 1 free"),
				},
			},
		},
		"a slot free of two": {
			res:  testutil.Resource("staging").Capacity(2).Obj(),
			plan: queue.Ledger{Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(30*time.Minute))}, NextTicket: 2},
			want: conchv1.ResourceStatus{
				Holders:    []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(30*time.Minute))},
				NextTicket: 2, HeldBy: "alice", NextRelease: ptrMeta(at(30 * time.Minute)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("1 of 2 held, 0 waiting"),
					available(metav1.ConditionTrue, conchv1.ReasonSlotFree, "1 of 2 free"),
				},
			},
		},
		"full, with a queue": {
			res: testutil.Resource("staging").Obj(),
			plan: queue.Ledger{
				Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(30*time.Minute))},
				Queue:   []conchv1.QueueEntry{ledgerWaiter("r2", 2), ledgerWaiter("r3", 3)}, NextTicket: 4, Waiting: 2,
			},
			want: conchv1.ResourceStatus{
				Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(30*time.Minute))},
				Queue:   []conchv1.QueueEntry{ledgerWaiter("r2", 2), ledgerWaiter("r3", 3)}, NextTicket: 4, Waiting: 2,
				HeldBy: "alice", NextRelease: ptrMeta(at(30 * time.Minute)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("1 of 1 held, 2 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonFull, "Held by alice; next release at 2026-11-23T09:30:00Z"),
				},
			},
		},
		"full of two: heldBy in ledger order, nextRelease the earliest end": {
			res: testutil.Resource("staging").Capacity(2).Obj(),
			plan: queue.Ledger{Holders: []conchv1.ResourceHolder{
				ledgerHolder("r1", "alice", at(2*time.Hour)), ledgerHolder("r2", "ci:deploy", at(20*time.Minute)),
			}, NextTicket: 3},
			want: conchv1.ResourceStatus{
				Holders: []conchv1.ResourceHolder{
					ledgerHolder("r1", "alice", at(2*time.Hour)), ledgerHolder("r2", "ci:deploy", at(20*time.Minute)),
				},
				NextTicket: 3, HeldBy: "alice, ci:deploy", NextRelease: ptrMeta(at(20 * time.Minute)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("2 of 2 held, 0 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonFull, "Held by alice, ci:deploy; next release at 2026-11-23T09:20:00Z"),
				},
			},
		},
		"one holder with two holds is named twice": {
			res: testutil.Resource("staging").Capacity(2).Obj(),
			plan: queue.Ledger{Holders: []conchv1.ResourceHolder{
				ledgerHolder("r1", "alice", at(time.Hour)), ledgerHolder("r2", "alice", at(time.Hour)),
			}},
			want: conchv1.ResourceStatus{
				Holders: []conchv1.ResourceHolder{
					ledgerHolder("r1", "alice", at(time.Hour)), ledgerHolder("r2", "alice", at(time.Hour)),
				},
				HeldBy: "alice, alice", NextRelease: ptrMeta(at(time.Hour)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("2 of 2 held, 0 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonFull, "Held by alice, alice; next release at 2026-11-23T10:00:00Z"),
				},
			},
		},
		"paused with a slot free: not Available": {
			res:  testutil.Resource("staging").Capacity(2).Paused().Obj(),
			plan: queue.Ledger{Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(time.Hour))}},
			want: conchv1.ResourceStatus{
				Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(time.Hour))},
				HeldBy:  "alice", NextRelease: ptrMeta(at(time.Hour)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("1 of 2 held, 0 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonPaused, "Granting is paused; new Reservations wait in the queue"),
					wantCond(conchv1.ResourceConditionPaused, metav1.ConditionTrue, conchv1.ReasonPaused,
						"Granting is paused (spec.granting); holders keep their holds, new Reservations wait", gen, tNow),
				},
			},
		},
		"paused and full: Paused, not Full": {
			res: testutil.Resource("staging").Paused().Obj(),
			plan: queue.Ledger{
				Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(time.Hour))},
				Queue:   []conchv1.QueueEntry{ledgerWaiter("r2", 2)}, NextTicket: 3, Waiting: 1,
			},
			want: conchv1.ResourceStatus{
				Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(time.Hour))},
				Queue:   []conchv1.QueueEntry{ledgerWaiter("r2", 2)}, NextTicket: 3, Waiting: 1,
				HeldBy: "alice", NextRelease: ptrMeta(at(time.Hour)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("1 of 1 held, 1 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonPaused, "Granting is paused; new Reservations wait in the queue"),
					wantCond(conchv1.ResourceConditionPaused, metav1.ConditionTrue, conchv1.ReasonPaused,
						"Granting is paused (spec.granting); holders keep their holds, new Reservations wait", gen, tNow),
				},
			},
		},
		"open again after a pause: Paused False, Resumed": {
			res: func() *conchv1.Resource {
				r := testutil.Resource("staging").Obj()
				r.Status.Conditions = []metav1.Condition{wantCond(conchv1.ResourceConditionPaused, metav1.ConditionTrue,
					conchv1.ReasonPaused, "Granting is paused (spec.granting); holders keep their holds, new Reservations wait", gen, tBefore)}
				return r
			}(),
			plan: queue.Ledger{},
			want: conchv1.ResourceStatus{
				ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					wantCond(conchv1.ResourceConditionPaused, metav1.ConditionFalse, conchv1.ReasonResumed, "Granting is open", gen, tNow),
					ready("0 of 1 held, 0 waiting"),
					available(metav1.ConditionTrue, conchv1.ReasonSlotFree, "1 of 1 free"),
				},
			},
		},
		"over capacity (capacity lowered under its holders): Full, and every holder counted": {
			res: testutil.Resource("staging").Obj(),
			plan: queue.Ledger{Holders: []conchv1.ResourceHolder{
				ledgerHolder("r1", "alice", at(time.Hour)), ledgerHolder("r2", "bob", at(2*time.Hour)),
				ledgerHolder("r3", "carol", at(3*time.Hour)),
			}},
			want: conchv1.ResourceStatus{
				Holders: []conchv1.ResourceHolder{
					ledgerHolder("r1", "alice", at(time.Hour)), ledgerHolder("r2", "bob", at(2*time.Hour)),
					ledgerHolder("r3", "carol", at(3*time.Hour)),
				},
				HeldBy: "alice, bob, carol", NextRelease: ptrMeta(at(time.Hour)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("3 of 1 held, 0 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonFull, "Held by alice, bob, carol; next release at 2026-11-23T10:00:00Z"),
				},
			},
		},
		"capacity 0 reads as 1": {
			res:  testutil.Resource("staging").Capacity(0).Obj(),
			plan: queue.Ledger{},
			want: conchv1.ResourceStatus{
				ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("0 of 1 held, 0 waiting"),
					available(metav1.ConditionTrue, conchv1.ReasonSlotFree, "1 of 1 free"),
				},
			},
		},
		"nextRelease rounds up to the whole second, in the message too": {
			res:  testutil.Resource("staging").Obj(),
			plan: queue.Ledger{Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(30*time.Minute+time.Microsecond))}},
			want: conchv1.ResourceStatus{
				Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(30*time.Minute+time.Microsecond))},
				HeldBy:  "alice", NextRelease: ptrMeta(at(30*time.Minute + time.Second)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("1 of 1 held, 0 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonFull, "Held by alice; next release at 2026-11-23T09:30:01Z"),
				},
			},
		},
		"heldBy of exactly 1024 characters is kept whole": {
			res:  testutil.Resource("staging").Capacity(2).Obj(),
			plan: queue.Ledger{Holders: exact},
			want: conchv1.ResourceStatus{
				Holders: exact, HeldBy: a + ", " + b, NextRelease: ptrMeta(at(time.Hour)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("2 of 2 held, 0 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonFull, "Held by "+a+", "+b+"; next release at 2026-11-23T10:00:00Z"),
				},
			},
		},
		"heldBy of 1025 characters is cut to 1023 and an ellipsis": {
			res:  testutil.Resource("staging").Capacity(2).Obj(),
			plan: queue.Ledger{Holders: over},
			want: conchv1.ResourceStatus{
				Holders: over, HeldBy: a + ", " + b[1:] + "…", NextRelease: ptrMeta(at(time.Hour)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("2 of 2 held, 0 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonFull, "Held by "+a+", "+b[1:]+"…; next release at 2026-11-23T10:00:00Z"),
				},
			},
		},
		"heldBy of 2198 two-byte characters is cut to 1024 characters, in the message too": {
			res:  testutil.Resource("staging").Capacity(100).Obj(),
			plan: queue.Ledger{Holders: long},
			want: conchv1.ResourceStatus{
				Holders: long, HeldBy: longHeldBy, NextRelease: ptrMeta(at(time.Hour)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("100 of 100 held, 0 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonFull, "Held by "+longHeldBy+"; next release at 2026-11-23T10:00:00Z"),
				},
			},
		},
		"the ledger comes from the plan: what the stored status said is replaced, nextRelease cleared": {
			res: func() *conchv1.Resource {
				res := testutil.Resource("staging").Holding("old", "zed", tBefore, at(time.Hour)).Obj()
				res.Status.Queue = []conchv1.QueueEntry{ledgerWaiter("gone", 7)}
				res.Status.NextTicket, res.Status.Waiting, res.Status.HeldBy = 8, 1, "zed"
				res.Status.NextRelease = ptrMeta(at(time.Hour))
				return res
			}(),
			plan: queue.Ledger{NextTicket: 8},
			want: conchv1.ResourceStatus{
				NextTicket: 8, ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					ready("0 of 1 held, 0 waiting"),
					available(metav1.ConditionTrue, conchv1.ReasonSlotFree, "1 of 1 free"),
				},
			},
		},
		"cleaning after a hold: not available, the turnover says who was cleaned up after": {
			res: testutil.Resource("staging").Obj(),
			plan: queue.Ledger{NextTicket: 3, HookSequence: 4, Turnover: &conchv1.Turnover{
				Step: conchv1.StepCleaning, Sequence: 4, StartedAt: metav1.NewTime(tNow), PreviousHolder: "alice",
			}},
			want: conchv1.ResourceStatus{
				NextTicket: 3, ObservedGeneration: gen, Phase: conchv1.PhaseCleaning, HookSequence: 4,
				Turnover: &conchv1.Turnover{Step: conchv1.StepCleaning, Sequence: 4, StartedAt: metav1.NewTime(tNow), PreviousHolder: "alice"},
				Conditions: []metav1.Condition{
					ready("0 of 1 held, 0 waiting"),
					available(metav1.ConditionFalse, "Cleaning", "Cleaning after alice (step 4, since 2026-11-23T09:00:00Z); the queue waits"),
					wantCond(conchv1.ResourceConditionTurnover, metav1.ConditionTrue, "Cleaning", "Cleaning after alice (step 4, since 2026-11-23T09:00:00Z); the queue waits", gen, tNow),
				},
			},
		},
		"unhealthy: not available, with the check's message; a Resource with hooks says no step runs": {
			res: func() *conchv1.Resource {
				res := testutil.Resource("staging").Obj()
				res.Spec.HealthCheck = &conchv1.HealthCheck{Hook: conchv1.Hook{HTTP: conchv1.HTTPHook{URL: "http://staging/healthz"}}}
				res.Status.Conditions = []metav1.Condition{wantCond(conchv1.ResourceConditionHealthy, metav1.ConditionFalse, conchv1.ReasonCheckFailed, "GET answered 503", 1, tBefore)}
				return res
			}(),
			plan: queue.Ledger{HookSequence: 2},
			want: conchv1.ResourceStatus{
				ObservedGeneration: gen, Phase: conchv1.PhaseUnhealthy, HookSequence: 2,
				Conditions: []metav1.Condition{
					wantCond(conchv1.ResourceConditionHealthy, metav1.ConditionFalse, conchv1.ReasonCheckFailed, "GET answered 503", 1, tBefore),
					ready("0 of 1 held, 0 waiting"),
					available(metav1.ConditionFalse, "Unhealthy", "Unhealthy: GET answered 503"),
					wantCond(conchv1.ResourceConditionTurnover, metav1.ConditionFalse, conchv1.ReasonIdle, "No step between holders runs", gen, tNow),
				},
			},
		},
		"paused while unhealthy: maintenance comes first": {
			res: func() *conchv1.Resource {
				res := testutil.Resource("staging").Obj()
				res.Spec.Granting = conchv1.GrantingPaused
				res.Status.Conditions = []metav1.Condition{wantCond(conchv1.ResourceConditionHealthy, metav1.ConditionFalse, conchv1.ReasonCheckFailed, "down", 1, tBefore)}
				return res
			}(),
			want: conchv1.ResourceStatus{
				ObservedGeneration: gen, Phase: conchv1.PhaseMaintenance,
				Conditions: []metav1.Condition{
					wantCond(conchv1.ResourceConditionHealthy, metav1.ConditionFalse, conchv1.ReasonCheckFailed, "down", 1, tBefore),
					ready("0 of 1 held, 0 waiting"),
					available(metav1.ConditionFalse, conchv1.ReasonPaused, "Granting is paused; new Reservations wait in the queue"),
					wantCond(conchv1.ResourceConditionPaused, metav1.ConditionTrue, conchv1.ReasonPaused, "Granting is paused (spec.granting); holders keep their holds, new Reservations wait", gen, tNow),
				},
			},
		},
		"conditions: a status that stays keeps its transition time, one that changes moves it, others are kept": {
			res: func() *conchv1.Resource {
				res := testutil.Resource("staging").Obj()
				res.Status.Conditions = []metav1.Condition{
					wantCond("Other", metav1.ConditionTrue, "Kept", "not ours", 1, tBefore),
					wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonReconciled, "0 of 1 held, 0 waiting", 2, tBefore),
					wantCond(conchv1.ResourceConditionAvailable, metav1.ConditionTrue, conchv1.ReasonSlotFree, "1 of 1 free", 2, tBefore),
				}
				return res
			}(),
			plan: queue.Ledger{Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(time.Hour))}},
			want: conchv1.ResourceStatus{
				Holders: []conchv1.ResourceHolder{ledgerHolder("r1", "alice", at(time.Hour))},
				HeldBy:  "alice", NextRelease: ptrMeta(at(time.Hour)), ObservedGeneration: gen,
				Conditions: []metav1.Condition{
					wantCond("Other", metav1.ConditionTrue, "Kept", "not ours", 1, tBefore),
					wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonReconciled, "1 of 1 held, 0 waiting", gen, tBefore),
					available(metav1.ConditionFalse, conchv1.ReasonFull, "Held by alice; next release at 2026-11-23T10:00:00Z"),
				},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.want.Phase == "" {
				// The cases above are about the ledger: held or not (the phases of hooks are cases of their own).
				tc.want.Phase = conchv1.PhaseAvailable
				switch {
				case tc.res.Spec.Granting == conchv1.GrantingPaused:
					tc.want.Phase = conchv1.PhaseMaintenance
				case len(tc.want.Holders) > 0:
					tc.want.Phase = conchv1.PhaseHeld
				}
			}
			tc.res.Generation = gen
			stored := tc.res.DeepCopy()
			got := resourceStatus(tc.res, &queue.Plan{Ledger: tc.plan}, tNow)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if n := utf8.RuneCountInString(got.HeldBy); n > 1024 {
				t.Errorf("heldBy has %d characters", n)
			}
			if diff := cmp.Diff(stored, tc.res); diff != "" {
				t.Errorf("the Resource was changed (-before +after):\n%s", diff)
			}
		})
	}
}

// booking is a queue entry of a 30-minute booking from start.
func booking(name string, ticket int64, start time.Time) conchv1.QueueEntry {
	q := conchv1.QueueEntry{Reservation: name, UID: "uid-" + name, Holder: "holder-" + name, Ticket: ticket,
		Duration: metav1.Duration{Duration: 30 * time.Minute}}
	q.StartTime = &metav1.Time{Time: start}
	return q
}
