package controllers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
	"github.com/conch-dev/conch/internal/testutil"
)

// rsvGen is the generation of the Reservations these tests compute a status for.
const rsvGen = 2

// stateConds are Ready, Granted, Reconciling and Stalled as setStateConditions writes them at tNow.
func stateConds(reason string, m conditionMessages, ready, granted, reconciling, stalled bool) []metav1.Condition {
	return stateCondsAt(reason, m, rsvGen, tNow, ready, granted, reconciling, stalled)
}

// stateCondsAt are Ready, Granted, Reconciling and Stalled of generation gen, last changed at at.
func stateCondsAt(reason string, m conditionMessages, gen int64, at time.Time, ready, granted, reconciling, stalled bool) []metav1.Condition {
	c := func(typ string, on bool, message string) metav1.Condition {
		s := metav1.ConditionFalse
		if on {
			s = metav1.ConditionTrue
		}
		return wantCond(typ, s, reason, message, gen, at)
	}
	return []metav1.Condition{
		c(conchv1.ConditionReady, ready, m.ready), c(conchv1.ConditionGranted, granted, m.granted),
		c(conchv1.ConditionReconciling, reconciling, m.reconciling), c(conchv1.ConditionStalled, stalled, m.stalled),
	}
}

// The messages of the conditions, as a person reads them in `kubectl describe`.
const (
	holdsStill   = "Nothing stands in the way. Release it early with spec.released: true; extend it with spec.duration"
	queueMoves   = "Nothing stands in the way: the queue moves as holds end. Leave it with spec.released: true"
	stagingAgain = "Nothing failed. To hold staging again, create a new Reservation"
)

// holding are the messages of alice's hold on staging, granted at g (with the story's tail, such as " after
// waiting 5m0s") until u.
func holding(g, tail, u string) conditionMessages {
	return conditionMessages{
		ready: "alice was granted staging at " + g + tail, granted: "alice holds staging until " + u,
		reconciling: "Not in the queue: it holds staging", stalled: holdsStill,
	}
}

// ended are the messages of a Reservation for staging that ended at end, with the story ready; held is the
// Granted message ("Never granted" for one that never held).
func ended(ready, held, end string) conditionMessages {
	return conditionMessages{ready: ready, granted: held, reconciling: "Not in the queue: it ended at " + end, stalled: stagingAgain}
}

// distinctMessages fails t when two of Ready, Granted, Reconciling and Stalled say the same.
func distinctMessages(t *testing.T, conds []metav1.Condition) {
	t.Helper()
	seen := map[string]string{}
	for _, c := range conds {
		if c.Type == conchv1.ConditionDurationClamped {
			continue
		}
		if other, ok := seen[c.Message]; ok {
			t.Errorf("conditions %s and %s both say %q", other, c.Type, c.Message)
		}
		seen[c.Message] = c.Type
	}
}

// within is DurationClamped when the hold lasts what was asked.
func within(d string) metav1.Condition {
	return wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration,
		"The hold lasts "+d, rsvGen, tNow)
}

// health is what kstatus (kubectl wait, Flux) says of a Reservation with status st.
func health(t *testing.T, st conchv1.ReservationStatus) kstatus.Status {
	t.Helper()
	r := testutil.Reservation("r1").Obj()
	r.APIVersion, r.Kind = conchv1.GroupVersion.String(), "Reservation"
	r.Generation, r.Status = rsvGen, st
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := kstatus.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func TestReservationStatus(t *testing.T) {
	at := tNow.Add
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	staging := func() *testutil.ResourceWrapper { return testutil.Resource("staging") } // UID uid-staging, set below
	alice := func() *testutil.ReservationWrapper {
		return testutil.Reservation("r1").On("staging").Holder("alice").For(2 * time.Hour)
	}
	// grantedStatus is how an earlier version of Conch left a hold: one sentence in every condition, no until.
	const oldMessage = "alice holds staging until 2026-11-23T10:00:00Z"
	grantedStatus := conchv1.ReservationStatus{
		State: conchv1.StateGranted, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
		Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(-time.Hour)), ExpiresAt: ptrMicro(at(time.Hour)),
		Notified:           &conchv1.Notified{Granted: ptrMicro(at(-time.Hour))},
		ObservedGeneration: 1,
		Conditions: append(stateCondsAt(conchv1.ReasonGranted,
			conditionMessages{ready: oldMessage, granted: oldMessage, reconciling: oldMessage, stalled: oldMessage},
			1, tBefore, true, true, false, false),
			wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 2h0m0s", 1, tBefore)),
	}
	queuedStatus := conchv1.ReservationStatus{
		State: conchv1.StateQueued, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4, Position: 1,
		EstimatedGrantTime: ptrMeta(at(time.Hour)), Duration: dur(2 * time.Hour), ObservedGeneration: 1,
	}
	// after a grant, the four state conditions keep their transition times except Granted's, which flips.
	afterGrant := func(reason string, m conditionMessages, ready, stalled bool) []metav1.Condition {
		cs := stateCondsAt(reason, m, rsvGen, tBefore, ready, false, false, stalled)
		cs[1].LastTransitionTime = metav1.NewTime(tNow)
		if !ready {
			cs[0].LastTransitionTime = metav1.NewTime(tNow)
		}
		if stalled {
			cs[3].LastTransitionTime = metav1.NewTime(tNow)
		}
		return append(cs, wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 2h0m0s", rsvGen, tBefore))
	}

	cases := map[string]struct {
		r    *conchv1.Reservation
		res  *conchv1.Resource
		o    queue.Outcome
		want conchv1.ReservationStatus
		// health is what kstatus reads from the result.
		health kstatus.Status
	}{
		"granted: until rounded up to the whole second, in status and message": {
			r:   alice().Obj(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateGranted, Reason: conchv1.ReasonGranted, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, GrantedAt: at(time.Microsecond), ExpiresAt: at(2*time.Hour + time.Microsecond),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateGranted, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(time.Microsecond)),
				ExpiresAt: ptrMicro(at(2*time.Hour + time.Microsecond)), Until: ptrMeta(at(2*time.Hour + time.Second)),
				ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonGranted,
					holding("2026-11-23T09:00:00Z", "", "2026-11-23T11:00:01Z"), true, true, false, false),
					within("2h0m0s")),
			},
			health: kstatus.CurrentStatus,
		},
		"granted after waiting: the wait told; the estimate and position of the queue are dropped": {
			r:   alice().Created(at(-5*time.Minute - 400*time.Millisecond)).Obj(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateGranted, Reason: conchv1.ReasonGranted, Ticket: 4, Duration: 2 * time.Hour,
				EstimatedGrantTime: at(time.Hour), GrantedAt: tNow, ExpiresAt: at(2 * time.Hour),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateGranted, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(tNow), ExpiresAt: ptrMicro(at(2 * time.Hour)),
				Until: ptrMeta(at(2 * time.Hour)), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonGranted,
					holding("2026-11-23T09:00:00Z", " after waiting 5m0s", "2026-11-23T11:00:00Z"), true, true, false, false),
					within("2h0m0s")),
			},
			health: kstatus.CurrentStatus,
		},
		"granted again after an extension: until moves; transition times, notified and the ledger's report kept": {
			r: func() *conchv1.Reservation {
				r := alice().Obj()
				r.Status = *grantedStatus.DeepCopy()
				return r
			}(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateGranted, Reason: conchv1.ReasonGranted, Ticket: 4, Duration: 3 * time.Hour,
				Requested: 3 * time.Hour, GrantedAt: at(-time.Hour), ExpiresAt: at(2 * time.Hour),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateGranted, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(3 * time.Hour), GrantedAt: ptrMicro(at(-time.Hour)), ExpiresAt: ptrMicro(at(2 * time.Hour)),
				Until:    ptrMeta(at(2 * time.Hour)),
				Notified: &conchv1.Notified{Granted: ptrMicro(at(-time.Hour))}, ObservedGeneration: rsvGen,
				Conditions: append(stateCondsAt(conchv1.ReasonGranted,
					holding("2026-11-23T08:00:00Z", "", "2026-11-23T11:00:00Z"), rsvGen, tBefore, true, true, false, false),
					wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 3h0m0s", rsvGen, tBefore)),
			},
			health: kstatus.CurrentStatus,
		},
		"granted for less than asked: DurationClamped": {
			r:   alice().For(3 * time.Hour).Obj(),
			res: staging().Max(time.Hour).Obj(),
			o: queue.Outcome{
				State: conchv1.StateGranted, Reason: conchv1.ReasonGranted, Ticket: 1, Duration: time.Hour,
				Requested: 3 * time.Hour, Clamped: true, GrantedAt: tNow, ExpiresAt: at(time.Hour),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateGranted, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 1,
				Duration: dur(time.Hour), GrantedAt: ptrMicro(tNow), ExpiresAt: ptrMicro(at(time.Hour)),
				Until: ptrMeta(at(time.Hour)), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonGranted,
					holding("2026-11-23T09:00:00Z", "", "2026-11-23T10:00:00Z"), true, true, false, false),
					wantCond(conchv1.ConditionDurationClamped, metav1.ConditionTrue, conchv1.ReasonMaxDurationApplied,
						"Asked for 3h0m0s; staging allows holds of at most 1h0m0s, so the hold lasts 1h0m0s", rsvGen, tNow)),
			},
			health: kstatus.CurrentStatus,
		},
		"queued: who holds it until when; the place in line without the queue's length; estimate rounded up": {
			r: alice().Obj(),
			res: func() *conchv1.Resource {
				res := staging().Obj()
				res.Status.HeldBy, res.Status.NextRelease = "bob, carol", ptrMeta(at(30*time.Minute))
				return res
			}(),
			o: queue.Outcome{
				State: conchv1.StateQueued, Reason: conchv1.ReasonQueued, Ticket: 5, Position: 2, Waiting: 3,
				EstimatedGrantTime: at(90*time.Minute + time.Millisecond), Duration: 2 * time.Hour, Requested: 2 * time.Hour,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateQueued, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 5, Position: 2,
				EstimatedGrantTime: ptrMeta(at(90*time.Minute + time.Second)), Duration: dur(2 * time.Hour),
				ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonQueued, conditionMessages{
					ready:       "Waiting for staging (held by bob, carol; next release at 2026-11-23T09:30:00Z)",
					granted:     "Not granted yet",
					reconciling: "Number 2 in line for staging, expected around 2026-11-23T10:30:01Z",
					stalled:     queueMoves,
				}, false, false, true, false), within("2h0m0s")),
			},
			health: kstatus.InProgressStatus,
		},
		"queued while granting is paused: no estimate, the old one cleared": {
			r: func() *conchv1.Reservation {
				r := alice().Obj()
				r.Status = *queuedStatus.DeepCopy()
				return r
			}(),
			res: staging().Paused().Obj(),
			o: queue.Outcome{
				State: conchv1.StateQueued, Reason: conchv1.ReasonQueued, Ticket: 4, Position: 1, Waiting: 1,
				Duration: 2 * time.Hour, Requested: 2 * time.Hour,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateQueued, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4, Position: 1,
				Duration: dur(2 * time.Hour), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonQueued, conditionMessages{
					ready:       "Waiting for staging; granting is paused",
					granted:     "Not granted yet",
					reconciling: "Number 1 in line for staging; granting is paused, so no time is expected",
					stalled:     "Nothing to fix: granting of staging is paused (spec.granting) for maintenance; the queue moves once it is open again",
				}, false, false, true, false), within("2h0m0s")),
			},
			health: kstatus.InProgressStatus,
		},
		"pending, the queue full: ticket and resourceUID cleared, resourceName set": {
			r: func() *conchv1.Reservation {
				r := alice().Obj()
				r.Status = *queuedStatus.DeepCopy()
				return r
			}(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StatePending, Reason: conchv1.ReasonQueueFull, Ticket: 9, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, EstimatedGrantTime: at(time.Hour),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StatePending, ResourceName: "staging", Duration: dur(2 * time.Hour), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonQueueFull, conditionMessages{
					ready:       "Waiting to join the queue for staging: it is full (1000 waiting)",
					granted:     "Not granted yet",
					reconciling: "Not in the queue yet, so no position or expected time",
					stalled:     "Nothing to fix: it joins the queue when there is room",
				}, false, false, true, false), within("2h0m0s")),
			},
			health: kstatus.InProgressStatus,
		},
		"expired at the end of its term, noticed late: Ready, not Granted; until is the term's end": {
			r: func() *conchv1.Reservation {
				r := alice().Obj()
				r.Status = *grantedStatus.DeepCopy()
				return r
			}(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateExpired, Reason: conchv1.ReasonExpired, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, GrantedAt: at(-2 * time.Hour), ExpiresAt: tNow, EndedAt: at(time.Minute + time.Microsecond),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateExpired, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(-2 * time.Hour)), ExpiresAt: ptrMicro(tNow),
				EndedAt: ptrMeta(at(time.Minute + time.Microsecond)), Until: ptrMeta(tNow),
				Notified: &conchv1.Notified{Granted: ptrMicro(at(-time.Hour))}, ObservedGeneration: rsvGen,
				Conditions: afterGrant(conchv1.ReasonExpired, ended(
					"The hold on staging ran its full 2h0m0s and ended at 2026-11-23T09:00:00Z",
					"alice held staging from 2026-11-23T07:00:00Z until 2026-11-23T09:00:00Z", "2026-11-23T09:00:00Z"), true, false),
			},
			health: kstatus.CurrentStatus,
		},
		"expired, shortened below what it had lasted: until is when it ended": {
			r:   alice().For(30 * time.Minute).Obj(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateExpired, Reason: conchv1.ReasonShortened, Ticket: 4, Duration: 30 * time.Minute,
				Requested: 30 * time.Minute, GrantedAt: at(-45*time.Minute - 400*time.Microsecond),
				ExpiresAt: at(-15*time.Minute - 400*time.Microsecond), EndedAt: tNow,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateExpired, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(30 * time.Minute), GrantedAt: ptrMicro(at(-45*time.Minute - 400*time.Microsecond)),
				ExpiresAt: ptrMicro(at(-15*time.Minute - 400*time.Microsecond)), EndedAt: ptrMeta(tNow), Until: ptrMeta(tNow),
				ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonShortened, ended(
					"The hold on staging was shortened to 30m0s, less than it had already lasted, so it ended at 2026-11-23T09:00:00Z after 45m0s",
					"alice held staging from 2026-11-23T08:14:59Z until 2026-11-23T09:00:00Z", "2026-11-23T09:00:00Z"),
					true, false, false, false), within("30m0s")),
			},
			health: kstatus.CurrentStatus,
		},
		"expired, heartbeat missed: Stalled, not Ready; Stalled says what to do; until the second endedAt reads": {
			r: func() *conchv1.Reservation {
				r := alice().Obj()
				r.Spec.HeartbeatTimeout = dur(5 * time.Minute)
				return r
			}(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateExpired, Reason: conchv1.ReasonHeartbeatMissed, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, GrantedAt: at(-time.Hour), ExpiresAt: at(time.Hour), EndedAt: at(time.Millisecond),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateExpired, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(-time.Hour)), ExpiresAt: ptrMicro(at(time.Hour)),
				EndedAt: ptrMeta(at(time.Millisecond)), Until: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonHeartbeatMissed, conditionMessages{
					ready:       "alice stopped renewing: no heartbeat within 5m0s, so the Reservation for staging ended at 2026-11-23T09:00:00Z",
					granted:     "alice held staging from 2026-11-23T08:00:00Z until 2026-11-23T09:00:00Z",
					reconciling: "Not in the queue: it ended at 2026-11-23T09:00:00Z",
					stalled:     "No heartbeat within 5m0s (spec.heartbeatTimeout): renew spec.renewTime more often, and create a new Reservation to take another turn",
				}, false, false, false, true), within("2h0m0s")),
			},
			health: kstatus.FailedStatus,
		},
		"rejected: Stalled, never ticketed; Stalled says what to do": {
			r:   alice().Obj(),
			res: staging().Allow("ci:*", "slack:*").Obj(),
			o: queue.Outcome{
				State: conchv1.StateRejected, Reason: conchv1.ReasonHolderNotAllowed, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, EndedAt: tNow,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateRejected, ResourceName: "staging", ResourceUID: "uid-staging",
				Duration: dur(2 * time.Hour), EndedAt: ptrMeta(tNow), Until: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonHolderNotAllowed, conditionMessages{
					ready:       "alice may not hold staging: the holder matches none of its allowedHolders [ci:* slack:*]",
					granted:     "Never granted",
					reconciling: "Not in the queue: it ended at 2026-11-23T09:00:00Z",
					stalled:     "alice is not among the allowedHolders of staging: ask whoever manages it to allow the holder, or reserve another Resource with a new Reservation",
				}, false, false, false, true), within("2h0m0s")),
			},
			health: kstatus.FailedStatus,
		},
		"released after the grant: until is the release, before expiresAt": {
			r:   alice().Released().Obj(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateReleased, Reason: conchv1.ReasonReleased, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, GrantedAt: at(-time.Hour), ExpiresAt: at(time.Hour), EndedAt: tNow,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateReleased, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(-time.Hour)), ExpiresAt: ptrMicro(at(time.Hour)),
				EndedAt: ptrMeta(tNow), Until: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonReleased, ended(
					"Released staging at 2026-11-23T09:00:00Z after holding it for 1h0m0s",
					"alice held staging from 2026-11-23T08:00:00Z until 2026-11-23T09:00:00Z", "2026-11-23T09:00:00Z"),
					true, false, false, false), within("2h0m0s")),
			},
			health: kstatus.CurrentStatus,
		},
		"released before the grant: left the queue": {
			r: func() *conchv1.Reservation {
				r := alice().Released().Obj()
				r.Status = *queuedStatus.DeepCopy()
				return r
			}(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateReleased, Reason: conchv1.ReasonReleased, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, EndedAt: tNow,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateReleased, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), EndedAt: ptrMeta(tNow), Until: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonReleased, ended(
					"Released before it was granted; left the queue for staging at 2026-11-23T09:00:00Z",
					"Never granted", "2026-11-23T09:00:00Z"),
					true, false, false, false), within("2h0m0s")),
			},
			health: kstatus.CurrentStatus,
		},
		"deleted while held": {
			r:   alice().Deleting(tNow).Obj(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateReleased, Reason: conchv1.ReasonDeleted, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, GrantedAt: at(-time.Hour), ExpiresAt: at(time.Hour), EndedAt: tNow,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateReleased, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(-time.Hour)), ExpiresAt: ptrMicro(at(time.Hour)),
				EndedAt: ptrMeta(tNow), Until: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonDeleted, ended("Deleted; staging was released",
					"alice held staging from 2026-11-23T08:00:00Z until 2026-11-23T09:00:00Z", "2026-11-23T09:00:00Z"),
					true, false, false, false), within("2h0m0s")),
			},
			health: kstatus.CurrentStatus,
		},
		"final stays final: an expired Reservation is not granted again": {
			r: func() *conchv1.Reservation {
				r := alice().Obj()
				r.Status = *grantedStatus.DeepCopy()
				r.Status.State, r.Status.EndedAt = conchv1.StateExpired, ptrMeta(at(-time.Minute))
				return r
			}(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateGranted, Reason: conchv1.ReasonGranted, Ticket: 7, Duration: time.Hour,
				GrantedAt: tNow, ExpiresAt: at(time.Hour),
			},
			want: func() conchv1.ReservationStatus {
				st := *grantedStatus.DeepCopy()
				st.State, st.EndedAt = conchv1.StateExpired, ptrMeta(at(-time.Minute))
				return st
			}(),
			// Its conditions say Granted, as the stored status did: kstatus reads generation 1 of 2.
			health: kstatus.InProgressStatus,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.r.Generation, tc.res.UID = rsvGen, "uid-staging"
			stored := tc.r.DeepCopy()
			got := reservationStatus(tc.r, tc.res, tc.o, tNow)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if h := health(t, got); h != tc.health {
				t.Errorf("kstatus reads %s, want %s", h, tc.health)
			}
			if diff := cmp.Diff(stored, tc.r); diff != "" {
				t.Errorf("the Reservation was changed (-before +after):\n%s", diff)
			}
			if !stored.Status.State.IsFinal() {
				distinctMessages(t, got.Conditions)
			}
			if got.Until != nil && !got.Until.Time.Equal(got.Until.Time.Truncate(time.Second)) {
				t.Errorf("until %s is not a whole second", got.Until.Time)
			}
		})
	}
}

func TestPendingStatus(t *testing.T) {
	queued := conchv1.ReservationStatus{
		State: conchv1.StateQueued, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4, Position: 2,
		EstimatedGrantTime: ptrMeta(tNow.Add(time.Hour)), Duration: &metav1.Duration{Duration: time.Hour},
		Notified: &conchv1.Notified{Queued: true}, ObservedGeneration: 1,
		Conditions: []metav1.Condition{
			wantCond(conchv1.ConditionReady, metav1.ConditionFalse, conchv1.ReasonQueued, "Waiting", 1, tBefore),
			wantCond(conchv1.ConditionReconciling, metav1.ConditionTrue, conchv1.ReasonQueued, "Waiting", 1, tBefore),
			wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 1h0m0s", 1, tBefore),
		},
	}
	const missing = "Resource staging does not exist; waiting for it to be created"
	missingMsgs := conditionMessages{
		ready: missing, granted: "Not granted yet", reconciling: "Not in a queue yet, so no position or expected time",
		stalled: "Nothing to fix if Resource staging is on its way; otherwise create it, or create a new Reservation for a Resource that exists",
	}
	cases := map[string]struct {
		r       *conchv1.Reservation
		reason  string
		message string
		want    conchv1.ReservationStatus
	}{
		"its Resource does not exist yet": {
			r:      testutil.Reservation("r1").On("staging").Obj(),
			reason: conchv1.ReasonResourceMissing, message: "Resource staging does not exist; waiting for it to be created",
			want: conchv1.ReservationStatus{
				State: conchv1.StatePending, ResourceName: "staging", ObservedGeneration: rsvGen,
				Conditions: stateConds(conchv1.ReasonResourceMissing, missingMsgs, false, false, true, false),
			},
		},
		"was queued: ticket, resourceUID, position and estimate cleared; duration, notified, other conditions kept": {
			r: func() *conchv1.Reservation {
				r := testutil.Reservation("r1").On("staging").Obj()
				r.Status = *queued.DeepCopy()
				return r
			}(),
			reason: conchv1.ReasonResourceMissing, message: "Resource staging does not exist; waiting for it to be created",
			want: conchv1.ReservationStatus{
				State: conchv1.StatePending, ResourceName: "staging", Duration: &metav1.Duration{Duration: time.Hour},
				Notified: &conchv1.Notified{Queued: true}, ObservedGeneration: rsvGen,
				Conditions: []metav1.Condition{
					wantCond(conchv1.ConditionReady, metav1.ConditionFalse, conchv1.ReasonResourceMissing, missingMsgs.ready, rsvGen, tBefore),
					wantCond(conchv1.ConditionReconciling, metav1.ConditionTrue, conchv1.ReasonResourceMissing, missingMsgs.reconciling, rsvGen, tBefore),
					wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 1h0m0s", 1, tBefore),
					wantCond(conchv1.ConditionGranted, metav1.ConditionFalse, conchv1.ReasonResourceMissing, missingMsgs.granted, rsvGen, tNow),
					wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonResourceMissing, missingMsgs.stalled, rsvGen, tNow),
				},
			},
		},
		"pooled, its pool empty: resourceName is the spec's, so a name it waited on is cleared": {
			r: func() *conchv1.Reservation {
				r := testutil.Reservation("r1").Pool(map[string]string{"env": "qa"}).Obj()
				r.Status.ResourceName = "qa-1"
				return r
			}(),
			reason: conchv1.ReasonNoMatchingResource, message: "No Resource matches the selector env=qa; waiting for one",
			want: conchv1.ReservationStatus{
				State: conchv1.StatePending, ObservedGeneration: rsvGen,
				Conditions: stateConds(conchv1.ReasonNoMatchingResource, conditionMessages{
					ready: "No Resource matches the selector env=qa; waiting for one", granted: "Not granted yet",
					reconciling: "Not in a queue yet, so no position or expected time",
					stalled:     "Nothing to fix if a Resource of the pool is on its way; otherwise create one that matches the selector and allows this holder",
				}, false, false, true, false),
			},
		},
		// pendingStatus does not guard final states as reservationStatus does: its caller, the
		// ReservationReconciler, returns before it for a final Reservation.
		"a final status is not kept: the caller must not ask": {
			r: func() *conchv1.Reservation {
				r := testutil.Reservation("r1").On("staging").Obj()
				r.Status.State, r.Status.EndedAt = conchv1.StateExpired, ptrMeta(tBefore)
				return r
			}(),
			reason: conchv1.ReasonResourceMissing, message: "Resource staging does not exist; waiting for it to be created",
			want: conchv1.ReservationStatus{
				State: conchv1.StatePending, ResourceName: "staging", EndedAt: ptrMeta(tBefore), ObservedGeneration: rsvGen,
				Conditions: stateConds(conchv1.ReasonResourceMissing, missingMsgs, false, false, true, false),
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.r.Generation = rsvGen
			stored := tc.r.DeepCopy()
			got := pendingStatus(tc.r, tc.reason, tc.message, tNow)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if h := health(t, got); h != kstatus.InProgressStatus {
				t.Errorf("kstatus reads %s, want %s", h, kstatus.InProgressStatus)
			}
			if diff := cmp.Diff(stored, tc.r); diff != "" {
				t.Errorf("the Reservation was changed (-before +after):\n%s", diff)
			}
			distinctMessages(t, got.Conditions)
		})
	}
}

func TestEndedStatus(t *testing.T) {
	const msg = "Resource staging was deleted while held; the hold ended"
	granted := conchv1.ReservationStatus{
		State: conchv1.StateGranted, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
		Duration: &metav1.Duration{Duration: 2 * time.Hour}, GrantedAt: ptrMicro(tBefore),
		ExpiresAt: ptrMicro(tBefore.Add(2 * time.Hour)), Notified: &conchv1.Notified{Granted: ptrMicro(tBefore)},
		ObservedGeneration: 1,
	}
	cases := map[string]struct {
		status conchv1.ReservationStatus
		at     time.Time
		want   conchv1.ReservationStatus
	}{
		"held when its Resource was deleted: Released, Ready; resourceUID, ticket and the hold's times kept": {
			status: granted,
			at:     tNow,
			want: conchv1.ReservationStatus{
				State: conchv1.StateReleased, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: &metav1.Duration{Duration: 2 * time.Hour}, GrantedAt: ptrMicro(tBefore),
				ExpiresAt: ptrMicro(tBefore.Add(2 * time.Hour)), EndedAt: ptrMeta(tNow), Until: ptrMeta(tNow),
				Notified: &conchv1.Notified{Granted: ptrMicro(tBefore)}, ObservedGeneration: rsvGen,
				Conditions: stateConds(conchv1.ReasonResourceDeleted, ended(msg,
					"alice held staging from 2026-11-23T08:00:00Z until 2026-11-23T09:00:00Z", "2026-11-23T09:00:00Z"),
					true, false, false, false),
			},
		},
		"position and estimate cleared; endedAt is now, not rounded; until the second it reads": {
			status: conchv1.ReservationStatus{
				State: conchv1.StateQueued, ResourceName: "staging", Position: 3, EstimatedGrantTime: ptrMeta(tNow.Add(time.Hour)),
			},
			at: tNow.Add(1500 * time.Microsecond),
			want: conchv1.ReservationStatus{
				State: conchv1.StateReleased, ResourceName: "staging", EndedAt: ptrMeta(tNow.Add(1500 * time.Microsecond)),
				Until: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: func() []metav1.Condition {
					cs := stateConds(conchv1.ReasonResourceDeleted, ended(msg, "Never granted", "2026-11-23T09:00:00Z"),
						true, false, false, false)
					for i := range cs {
						cs[i].LastTransitionTime = metav1.NewTime(tNow.Add(1500 * time.Microsecond))
					}
					return cs
				}(),
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := testutil.Reservation("r1").On("staging").Holder("alice").Obj()
			r.Generation, r.Status = rsvGen, *tc.status.DeepCopy()
			got := endedStatus(r, msg, tc.at)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if h := health(t, got); h != kstatus.CurrentStatus {
				t.Errorf("kstatus reads %s, want %s", h, kstatus.CurrentStatus)
			}
			if diff := cmp.Diff(tc.status, r.Status); diff != "" {
				t.Errorf("the Reservation was changed (-before +after):\n%s", diff)
			}
			distinctMessages(t, got.Conditions)
		})
	}
}

func TestSetStateConditions(t *testing.T) {
	cases := map[string]struct {
		state  conchv1.ReservationState
		reason string
		// Ready, Granted, Reconciling, Stalled.
		ready, granted, reconciling, stalled bool
	}{
		"pending, its Resource missing":       {state: conchv1.StatePending, reason: conchv1.ReasonResourceMissing, reconciling: true},
		"pending, its pool empty":             {state: conchv1.StatePending, reason: conchv1.ReasonNoMatchingResource, reconciling: true},
		"pending, the queue full":             {state: conchv1.StatePending, reason: conchv1.ReasonQueueFull, reconciling: true},
		"queued":                              {state: conchv1.StateQueued, reason: conchv1.ReasonQueued, reconciling: true},
		"granted":                             {state: conchv1.StateGranted, reason: conchv1.ReasonGranted, ready: true, granted: true},
		"released":                            {state: conchv1.StateReleased, reason: conchv1.ReasonReleased, ready: true},
		"released by deletion":                {state: conchv1.StateReleased, reason: conchv1.ReasonDeleted, ready: true},
		"released, its Resource deleted":      {state: conchv1.StateReleased, reason: conchv1.ReasonResourceDeleted, ready: true},
		"expired":                             {state: conchv1.StateExpired, reason: conchv1.ReasonExpired, ready: true},
		"expired, shortened":                  {state: conchv1.StateExpired, reason: conchv1.ReasonShortened, ready: true},
		"expired, heartbeat missed: a fail":   {state: conchv1.StateExpired, reason: conchv1.ReasonHeartbeatMissed, stalled: true},
		"rejected: a failure":                 {state: conchv1.StateRejected, reason: conchv1.ReasonHolderNotAllowed, stalled: true},
		"no state yet: every condition False": {state: "", reason: "Unknown"},
		// Failure is read from the reason whatever the state: no caller passes this pair today.
		"granted with reason HeartbeatMissed: Ready and Stalled at once": {
			state: conchv1.StateGranted, reason: conchv1.ReasonHeartbeatMissed, ready: true, granted: true, stalled: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var st conchv1.ReservationStatus
			m := conditionMessages{ready: "the story", granted: "until when", reconciling: "where in line", stalled: "what to do"}
			setStateConditions(&st, rsvGen, tNow, tc.state, tc.reason, m)
			want := stateConds(tc.reason, m, tc.ready, tc.granted, tc.reconciling, tc.stalled)
			if diff := cmp.Diff(want, st.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("stored conditions: a status that stays keeps its transition time, one that flips moves it, others kept", func(t *testing.T) {
		st := conchv1.ReservationStatus{Conditions: []metav1.Condition{
			wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 1h0m0s", 1, tBefore),
			wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonGranted, "holds", 1, tBefore),
			wantCond(conchv1.ConditionGranted, metav1.ConditionTrue, conchv1.ReasonGranted, "holds", 1, tBefore),
			wantCond(conchv1.ConditionReconciling, metav1.ConditionFalse, conchv1.ReasonGranted, "holds", 1, tBefore),
			wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonGranted, "holds", 1, tBefore),
		}}
		setStateConditions(&st, rsvGen, tNow, conchv1.StateReleased, conchv1.ReasonReleased,
			conditionMessages{ready: "released", granted: "held", reconciling: "not waiting", stalled: "nothing failed"})
		want := []metav1.Condition{
			wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 1h0m0s", 1, tBefore),
			wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonReleased, "released", rsvGen, tBefore),
			wantCond(conchv1.ConditionGranted, metav1.ConditionFalse, conchv1.ReasonReleased, "held", rsvGen, tNow),
			wantCond(conchv1.ConditionReconciling, metav1.ConditionFalse, conchv1.ReasonReleased, "not waiting", rsvGen, tBefore),
			wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonReleased, "nothing failed", rsvGen, tBefore),
		}
		if diff := cmp.Diff(want, st.Conditions); diff != "" {
			t.Errorf("conditions (-want +got):\n%s", diff)
		}
	})
}

// TestOutcomeMessages checks the sentences of each outcome; a field left empty in want is not checked (see
// TestReservationStatus for whole statuses).
func TestOutcomeMessages(t *testing.T) {
	r := testutil.Reservation("r1").On("staging").Holder("slack:UALICE").Obj()
	r.Spec.HeartbeatTimeout = &metav1.Duration{Duration: 90 * time.Second}
	open := testutil.Resource("staging").Obj()
	cases := map[string]struct {
		res  *conchv1.Resource
		o    queue.Outcome
		want conditionMessages
	}{
		"granted: the story in Ready, until when (rounded up) in Granted": {
			o: queue.Outcome{State: conchv1.StateGranted, GrantedAt: tNow.Add(time.Millisecond), ExpiresAt: tNow.Add(time.Hour + time.Millisecond)},
			want: conditionMessages{
				ready:   "slack:UALICE was granted staging at 2026-11-23T09:00:00Z",
				granted: "slack:UALICE holds staging until 2026-11-23T10:00:01Z",
			},
		},
		"queued, with an estimate, rounded up; the queue's length is not said": {
			o: queue.Outcome{State: conchv1.StateQueued, Position: 2, Waiting: 5, EstimatedGrantTime: tNow.Add(time.Millisecond)},
			want: conditionMessages{
				ready:       "Waiting for staging",
				reconciling: "Number 2 in line for staging, expected around 2026-11-23T09:00:01Z",
			},
		},
		"queued, no estimate": {
			o:    queue.Outcome{State: conchv1.StateQueued, Position: 1, Waiting: 1},
			want: conditionMessages{reconciling: "Number 1 in line for staging"},
		},
		"queued, granting paused: paused is said even with an estimate": {
			res:  testutil.Resource("staging").Paused().Obj(),
			o:    queue.Outcome{State: conchv1.StateQueued, Position: 3, Waiting: 4, EstimatedGrantTime: tNow},
			want: conditionMessages{reconciling: "Number 3 in line for staging; granting is paused, so no time is expected"},
		},
		"queued on an Unhealthy Resource: no time, why, and how it comes back": {
			res: func() *conchv1.Resource {
				res := testutil.Resource("staging").Obj()
				res.Status.Conditions = []metav1.Condition{{Type: conchv1.ResourceConditionHealthy, Status: metav1.ConditionFalse,
					Reason: conchv1.ReasonCheckFailed, Message: "GET http://staging/healthz answered 503 Service Unavailable"}}
				return res
			}(),
			o: queue.Outcome{State: conchv1.StateQueued, Position: 1, Waiting: 1},
			want: conditionMessages{
				ready:       "Waiting for staging; it is unhealthy",
				reconciling: "Number 1 in line for staging; it is unhealthy, so no time is expected",
				stalled: "staging failed its cleanup or health check (CheckFailed: GET http://staging/healthz answered 503 " +
					"Service Unavailable); the queue moves once it passes a check or an admin repairs it (kubectl conch repair staging)",
			},
		},
		"queued while the Resource is cleaned: says after whom": {
			res: func() *conchv1.Resource {
				res := testutil.Resource("staging").Obj()
				res.Status.Turnover = &conchv1.Turnover{Step: conchv1.StepCleaning, Sequence: 3, StartedAt: metav1.NewTime(tNow), PreviousHolder: "bob"}
				return res
			}(),
			o: queue.Outcome{State: conchv1.StateQueued, Position: 1, Waiting: 1, EstimatedGrantTime: tNow},
			want: conditionMessages{
				ready: "Waiting for staging; cleaning after bob (step 3, since 2026-11-23T09:00:00Z); the queue waits",
			},
		},
		"expired at the end of its term: the term's end, not when it was noticed": {
			o: queue.Outcome{State: conchv1.StateExpired, Reason: conchv1.ReasonExpired, Duration: 2 * time.Hour,
				GrantedAt: tNow.Add(-2 * time.Hour), ExpiresAt: tNow, EndedAt: tNow.Add(time.Minute)},
			want: conditionMessages{
				ready:   "The hold on staging ran its full 2h0m0s and ended at 2026-11-23T09:00:00Z",
				granted: "slack:UALICE held staging from 2026-11-23T07:00:00Z until 2026-11-23T09:00:00Z",
			},
		},
		"expired, shortened: how long it lasted, to the millisecond": {
			o: queue.Outcome{State: conchv1.StateExpired, Reason: conchv1.ReasonShortened, Requested: 10 * time.Minute,
				GrantedAt: tNow.Add(-20*time.Minute - 1400*time.Microsecond), EndedAt: tNow},
			want: conditionMessages{
				ready: "The hold on staging was shortened to 10m0s, less than it had already lasted, so it ended at 2026-11-23T09:00:00Z after 20m0.001s",
			},
		},
		"expired, heartbeat missed while waiting: never granted; what to do": {
			o: queue.Outcome{State: conchv1.StateExpired, Reason: conchv1.ReasonHeartbeatMissed, EndedAt: tNow},
			want: conditionMessages{
				ready:   "slack:UALICE stopped renewing: no heartbeat within 1m30s, so the Reservation for staging ended at 2026-11-23T09:00:00Z",
				granted: "Never granted",
				stalled: "No heartbeat within 1m30s (spec.heartbeatTimeout): renew spec.renewTime more often, and create a new Reservation to take another turn",
			},
		},
		"pending: the queue is full": {
			o:    queue.Outcome{State: conchv1.StatePending, Reason: conchv1.ReasonQueueFull},
			want: conditionMessages{ready: "Waiting to join the queue for staging: it is full (1000 waiting)"},
		},
		"rejected": {
			res: testutil.Resource("staging").Allow("ci:*").Obj(),
			o:   queue.Outcome{State: conchv1.StateRejected, Reason: conchv1.ReasonHolderNotAllowed, EndedAt: tNow},
			want: conditionMessages{
				ready:   "slack:UALICE may not hold staging: the holder matches none of its allowedHolders [ci:*]",
				stalled: "slack:UALICE is not among the allowedHolders of staging: ask whoever manages it to allow the holder, or reserve another Resource with a new Reservation",
			},
		},
		"released by deletion": {
			o:    queue.Outcome{State: conchv1.StateReleased, Reason: conchv1.ReasonDeleted, GrantedAt: tBefore, EndedAt: tNow},
			want: conditionMessages{ready: "Deleted; staging was released"},
		},
		"deleted while waiting": {
			o:    queue.Outcome{State: conchv1.StateReleased, Reason: conchv1.ReasonDeleted, EndedAt: tNow},
			want: conditionMessages{ready: "Deleted; left the queue for staging", granted: "Never granted"},
		},
		"released before the grant": {
			o:    queue.Outcome{State: conchv1.StateReleased, Reason: conchv1.ReasonReleased, EndedAt: tNow},
			want: conditionMessages{ready: "Released before it was granted; left the queue for staging at 2026-11-23T09:00:00Z"},
		},
		"released after the grant: when, in the second endedAt reads, and after how long": {
			o: queue.Outcome{State: conchv1.StateReleased, Reason: conchv1.ReasonReleased, GrantedAt: tBefore, EndedAt: tNow.Add(999 * time.Millisecond)},
			want: conditionMessages{
				ready:       "Released staging at 2026-11-23T09:00:00Z after holding it for 1h0m1s",
				reconciling: "Not in the queue: it ended at 2026-11-23T09:00:00Z",
			},
		},
		"a state it does not know: its name": {
			o:    queue.Outcome{State: "Unheard"},
			want: conditionMessages{ready: "Unheard"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := tc.res
			if res == nil {
				res = open
			}
			got := outcomeMessages(r, res, tc.o)
			for _, f := range []struct{ name, want, got string }{
				{"Ready", tc.want.ready, got.ready}, {"Granted", tc.want.granted, got.granted},
				{"Reconciling", tc.want.reconciling, got.reconciling}, {"Stalled", tc.want.stalled, got.stalled},
			} {
				if f.want != "" && f.want != f.got {
					t.Errorf("%s message (-want +got):\n%s", f.name, cmp.Diff(f.want, f.got))
				}
			}
		})
	}
}
