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
func stateConds(reason, message string, ready, granted, reconciling, stalled bool) []metav1.Condition {
	c := func(typ string, on bool) metav1.Condition {
		s := metav1.ConditionFalse
		if on {
			s = metav1.ConditionTrue
		}
		return wantCond(typ, s, reason, message, rsvGen, tNow)
	}
	return []metav1.Condition{
		c(conchv1.ConditionReady, ready), c(conchv1.ConditionGranted, granted),
		c(conchv1.ConditionReconciling, reconciling), c(conchv1.ConditionStalled, stalled),
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
	grantedStatus := conchv1.ReservationStatus{
		State: conchv1.StateGranted, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
		Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(-time.Hour)), ExpiresAt: ptrMicro(at(time.Hour)),
		Notified:           &conchv1.Notified{Granted: ptrMicro(at(-time.Hour))},
		ObservedGeneration: 1,
		Conditions: []metav1.Condition{
			wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonGranted, "alice holds staging until 2026-11-23T10:00:00Z", 1, tBefore),
			wantCond(conchv1.ConditionGranted, metav1.ConditionTrue, conchv1.ReasonGranted, "alice holds staging until 2026-11-23T10:00:00Z", 1, tBefore),
			wantCond(conchv1.ConditionReconciling, metav1.ConditionFalse, conchv1.ReasonGranted, "alice holds staging until 2026-11-23T10:00:00Z", 1, tBefore),
			wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonGranted, "alice holds staging until 2026-11-23T10:00:00Z", 1, tBefore),
			wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 2h0m0s", 1, tBefore),
		},
	}
	queuedStatus := conchv1.ReservationStatus{
		State: conchv1.StateQueued, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4, Position: 1,
		EstimatedGrantTime: ptrMeta(at(time.Hour)), Duration: dur(2 * time.Hour), ObservedGeneration: 1,
	}

	cases := map[string]struct {
		r    *conchv1.Reservation
		res  *conchv1.Resource
		o    queue.Outcome
		want conchv1.ReservationStatus
		// health is what kstatus reads from the result.
		health kstatus.Status
	}{
		"granted": {
			r:   alice().Obj(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateGranted, Reason: conchv1.ReasonGranted, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, GrantedAt: at(time.Microsecond), ExpiresAt: at(2*time.Hour + time.Microsecond),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateGranted, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(time.Microsecond)),
				ExpiresAt: ptrMicro(at(2*time.Hour + time.Microsecond)), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonGranted, "alice holds staging until 2026-11-23T11:00:00Z", true, true, false, false),
					within("2h0m0s")),
			},
			health: kstatus.CurrentStatus,
		},
		"granted: the estimate and position of the queue are dropped": {
			r:   alice().Obj(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateGranted, Reason: conchv1.ReasonGranted, Ticket: 4, Duration: 2 * time.Hour,
				EstimatedGrantTime: at(time.Hour), GrantedAt: tNow, ExpiresAt: at(2 * time.Hour),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateGranted, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(tNow), ExpiresAt: ptrMicro(at(2 * time.Hour)),
				ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonGranted, "alice holds staging until 2026-11-23T11:00:00Z", true, true, false, false),
					within("2h0m0s")),
			},
			health: kstatus.CurrentStatus,
		},
		"granted again after an extension: transition times, notified and the ledger's report kept": {
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
				Notified: &conchv1.Notified{Granted: ptrMicro(at(-time.Hour))}, ObservedGeneration: rsvGen,
				Conditions: []metav1.Condition{
					wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonGranted, "alice holds staging until 2026-11-23T11:00:00Z", rsvGen, tBefore),
					wantCond(conchv1.ConditionGranted, metav1.ConditionTrue, conchv1.ReasonGranted, "alice holds staging until 2026-11-23T11:00:00Z", rsvGen, tBefore),
					wantCond(conchv1.ConditionReconciling, metav1.ConditionFalse, conchv1.ReasonGranted, "alice holds staging until 2026-11-23T11:00:00Z", rsvGen, tBefore),
					wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonGranted, "alice holds staging until 2026-11-23T11:00:00Z", rsvGen, tBefore),
					wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 3h0m0s", rsvGen, tBefore),
				},
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
				ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonGranted, "alice holds staging until 2026-11-23T10:00:00Z", true, true, false, false),
					wantCond(conchv1.ConditionDurationClamped, metav1.ConditionTrue, conchv1.ReasonMaxDurationApplied,
						"Asked for 3h0m0s; staging allows holds of at most 1h0m0s, so the hold lasts 1h0m0s", rsvGen, tNow)),
			},
			health: kstatus.CurrentStatus,
		},
		"queued: estimatedGrantTime rounded up to the whole second": {
			r:   alice().Obj(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateQueued, Reason: conchv1.ReasonQueued, Ticket: 5, Position: 2, Waiting: 3,
				EstimatedGrantTime: at(90*time.Minute + time.Millisecond), Duration: 2 * time.Hour, Requested: 2 * time.Hour,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateQueued, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 5, Position: 2,
				EstimatedGrantTime: ptrMeta(at(90*time.Minute + time.Second)), Duration: dur(2 * time.Hour),
				ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonQueued,
					"Waiting for staging, number 2 of 3 in the queue, expected around 2026-11-23T10:30:01Z", false, false, true, false),
					within("2h0m0s")),
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
				Conditions: append(stateConds(conchv1.ReasonQueued,
					"Waiting for staging, number 1 of 1 in the queue; granting is paused", false, false, true, false),
					within("2h0m0s")),
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
				Conditions: append(stateConds(conchv1.ReasonQueueFull,
					"Waiting to join the queue for staging: it is full (1000 waiting)", false, false, true, false),
					within("2h0m0s")),
			},
			health: kstatus.InProgressStatus,
		},
		"expired at the end of its term: Ready, not Granted": {
			r: func() *conchv1.Reservation {
				r := alice().Obj()
				r.Status = *grantedStatus.DeepCopy()
				return r
			}(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateExpired, Reason: conchv1.ReasonExpired, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, GrantedAt: at(-2 * time.Hour), ExpiresAt: tNow, EndedAt: at(time.Microsecond),
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateExpired, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(-2 * time.Hour)), ExpiresAt: ptrMicro(tNow),
				EndedAt: ptrMeta(at(time.Microsecond)), Notified: &conchv1.Notified{Granted: ptrMicro(at(-time.Hour))},
				ObservedGeneration: rsvGen,
				Conditions: []metav1.Condition{
					wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonExpired, "The hold on staging ended at 2026-11-23T09:00:00Z after 2h0m0s", rsvGen, tBefore),
					wantCond(conchv1.ConditionGranted, metav1.ConditionFalse, conchv1.ReasonExpired, "The hold on staging ended at 2026-11-23T09:00:00Z after 2h0m0s", rsvGen, tNow),
					wantCond(conchv1.ConditionReconciling, metav1.ConditionFalse, conchv1.ReasonExpired, "The hold on staging ended at 2026-11-23T09:00:00Z after 2h0m0s", rsvGen, tBefore),
					wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonExpired, "The hold on staging ended at 2026-11-23T09:00:00Z after 2h0m0s", rsvGen, tBefore),
					wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 2h0m0s", rsvGen, tBefore),
				},
			},
			health: kstatus.CurrentStatus,
		},
		"expired, shortened below what it had lasted": {
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
				ExpiresAt: ptrMicro(at(-15*time.Minute - 400*time.Microsecond)), EndedAt: ptrMeta(tNow),
				ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonShortened,
					"The hold on staging was shortened to 30m0s, less than it had already lasted, so it ended at 2026-11-23T09:00:00Z after 45m0s",
					true, false, false, false), within("30m0s")),
			},
			health: kstatus.CurrentStatus,
		},
		"expired, heartbeat missed: Stalled, not Ready": {
			r: func() *conchv1.Reservation {
				r := alice().Obj()
				r.Spec.HeartbeatTimeout = dur(5 * time.Minute)
				return r
			}(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateExpired, Reason: conchv1.ReasonHeartbeatMissed, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, GrantedAt: at(-time.Hour), ExpiresAt: at(time.Hour), EndedAt: tNow,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateExpired, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(-time.Hour)), ExpiresAt: ptrMicro(at(time.Hour)),
				EndedAt: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonHeartbeatMissed,
					"alice stopped renewing: no heartbeat within 5m0s, so the Reservation for staging ended",
					false, false, false, true), within("2h0m0s")),
			},
			health: kstatus.FailedStatus,
		},
		"rejected: Stalled, never ticketed": {
			r:   alice().Obj(),
			res: staging().Allow("ci:*", "slack:*").Obj(),
			o: queue.Outcome{
				State: conchv1.StateRejected, Reason: conchv1.ReasonHolderNotAllowed, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, EndedAt: tNow,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateRejected, ResourceName: "staging", ResourceUID: "uid-staging",
				Duration: dur(2 * time.Hour), EndedAt: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonHolderNotAllowed,
					"alice may not hold staging: the holder matches none of its allowedHolders [ci:* slack:*]",
					false, false, false, true), within("2h0m0s")),
			},
			health: kstatus.FailedStatus,
		},
		"released after the grant": {
			r:   alice().Released().Obj(),
			res: staging().Obj(),
			o: queue.Outcome{
				State: conchv1.StateReleased, Reason: conchv1.ReasonReleased, Ticket: 4, Duration: 2 * time.Hour,
				Requested: 2 * time.Hour, GrantedAt: at(-time.Hour), ExpiresAt: at(time.Hour), EndedAt: tNow,
			},
			want: conchv1.ReservationStatus{
				State: conchv1.StateReleased, ResourceName: "staging", ResourceUID: "uid-staging", Ticket: 4,
				Duration: dur(2 * time.Hour), GrantedAt: ptrMicro(at(-time.Hour)), ExpiresAt: ptrMicro(at(time.Hour)),
				EndedAt: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonReleased, "Released staging at 2026-11-23T09:00:00Z",
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
				Duration: dur(2 * time.Hour), EndedAt: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonReleased, "Released before it was granted; left the queue for staging",
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
				EndedAt: ptrMeta(tNow), ObservedGeneration: rsvGen,
				Conditions: append(stateConds(conchv1.ReasonDeleted, "Deleted; staging was released",
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
				Conditions: stateConds(conchv1.ReasonResourceMissing, "Resource staging does not exist; waiting for it to be created",
					false, false, true, false),
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
					wantCond(conchv1.ConditionReady, metav1.ConditionFalse, conchv1.ReasonResourceMissing, "Resource staging does not exist; waiting for it to be created", rsvGen, tBefore),
					wantCond(conchv1.ConditionReconciling, metav1.ConditionTrue, conchv1.ReasonResourceMissing, "Resource staging does not exist; waiting for it to be created", rsvGen, tBefore),
					wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 1h0m0s", 1, tBefore),
					wantCond(conchv1.ConditionGranted, metav1.ConditionFalse, conchv1.ReasonResourceMissing, "Resource staging does not exist; waiting for it to be created", rsvGen, tNow),
					wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonResourceMissing, "Resource staging does not exist; waiting for it to be created", rsvGen, tNow),
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
				Conditions: stateConds(conchv1.ReasonNoMatchingResource, "No Resource matches the selector env=qa; waiting for one",
					false, false, true, false),
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
				Conditions: stateConds(conchv1.ReasonResourceMissing, "Resource staging does not exist; waiting for it to be created",
					false, false, true, false),
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
				ExpiresAt: ptrMicro(tBefore.Add(2 * time.Hour)), EndedAt: ptrMeta(tNow),
				Notified: &conchv1.Notified{Granted: ptrMicro(tBefore)}, ObservedGeneration: rsvGen,
				Conditions: stateConds(conchv1.ReasonResourceDeleted, msg, true, false, false, false),
			},
		},
		"position and estimate cleared; endedAt is now, not rounded": {
			status: conchv1.ReservationStatus{
				State: conchv1.StateQueued, ResourceName: "staging", Position: 3, EstimatedGrantTime: ptrMeta(tNow.Add(time.Hour)),
			},
			at: tNow.Add(1500 * time.Microsecond),
			want: conchv1.ReservationStatus{
				State: conchv1.StateReleased, ResourceName: "staging", EndedAt: ptrMeta(tNow.Add(1500 * time.Microsecond)),
				ObservedGeneration: rsvGen,
				Conditions: func() []metav1.Condition {
					cs := stateConds(conchv1.ReasonResourceDeleted, msg, true, false, false, false)
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
			setStateConditions(&st, rsvGen, tNow, tc.state, tc.reason, "a message")
			want := stateConds(tc.reason, "a message", tc.ready, tc.granted, tc.reconciling, tc.stalled)
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
		setStateConditions(&st, rsvGen, tNow, conchv1.StateReleased, conchv1.ReasonReleased, "released")
		want := []metav1.Condition{
			wantCond(conchv1.ConditionDurationClamped, metav1.ConditionFalse, conchv1.ReasonWithinMaxDuration, "The hold lasts 1h0m0s", 1, tBefore),
			wantCond(conchv1.ConditionReady, metav1.ConditionTrue, conchv1.ReasonReleased, "released", rsvGen, tBefore),
			wantCond(conchv1.ConditionGranted, metav1.ConditionFalse, conchv1.ReasonReleased, "released", rsvGen, tNow),
			wantCond(conchv1.ConditionReconciling, metav1.ConditionFalse, conchv1.ReasonReleased, "released", rsvGen, tBefore),
			wantCond(conchv1.ConditionStalled, metav1.ConditionFalse, conchv1.ReasonReleased, "released", rsvGen, tBefore),
		}
		if diff := cmp.Diff(want, st.Conditions); diff != "" {
			t.Errorf("conditions (-want +got):\n%s", diff)
		}
	})
}

func TestOutcomeMessage(t *testing.T) {
	r := testutil.Reservation("r1").On("staging").Holder("slack:UALICE").Obj()
	r.Spec.HeartbeatTimeout = &metav1.Duration{Duration: 90 * time.Second}
	open := testutil.Resource("staging").Obj()
	cases := map[string]struct {
		res  *conchv1.Resource
		o    queue.Outcome
		want string
	}{
		"granted": {
			o:    queue.Outcome{State: conchv1.StateGranted, ExpiresAt: tNow.Add(time.Hour + time.Millisecond)},
			want: "slack:UALICE holds staging until 2026-11-23T10:00:00Z",
		},
		"queued, with an estimate, rounded up": {
			o:    queue.Outcome{State: conchv1.StateQueued, Position: 2, Waiting: 5, EstimatedGrantTime: tNow.Add(time.Millisecond)},
			want: "Waiting for staging, number 2 of 5 in the queue, expected around 2026-11-23T09:00:01Z",
		},
		"queued, no estimate": {
			o:    queue.Outcome{State: conchv1.StateQueued, Position: 1, Waiting: 1},
			want: "Waiting for staging, number 1 of 1 in the queue",
		},
		"queued, granting paused: paused is said even with an estimate": {
			res:  testutil.Resource("staging").Paused().Obj(),
			o:    queue.Outcome{State: conchv1.StateQueued, Position: 3, Waiting: 4, EstimatedGrantTime: tNow},
			want: "Waiting for staging, number 3 of 4 in the queue; granting is paused",
		},
		"expired at the end of its term: the term's end, not when it was noticed": {
			o: queue.Outcome{State: conchv1.StateExpired, Reason: conchv1.ReasonExpired, Duration: 2 * time.Hour,
				ExpiresAt: tNow, EndedAt: tNow.Add(time.Minute)},
			want: "The hold on staging ended at 2026-11-23T09:00:00Z after 2h0m0s",
		},
		"expired, shortened: how long it lasted, to the millisecond": {
			o: queue.Outcome{State: conchv1.StateExpired, Reason: conchv1.ReasonShortened, Requested: 10 * time.Minute,
				GrantedAt: tNow.Add(-20*time.Minute - 1400*time.Microsecond), EndedAt: tNow},
			want: "The hold on staging was shortened to 10m0s, less than it had already lasted, so it ended at 2026-11-23T09:00:00Z after 20m0.001s",
		},
		"expired, heartbeat missed": {
			o:    queue.Outcome{State: conchv1.StateExpired, Reason: conchv1.ReasonHeartbeatMissed},
			want: "slack:UALICE stopped renewing: no heartbeat within 1m30s, so the Reservation for staging ended",
		},
		"pending: the queue is full": {
			o:    queue.Outcome{State: conchv1.StatePending, Reason: conchv1.ReasonQueueFull},
			want: "Waiting to join the queue for staging: it is full (1000 waiting)",
		},
		"rejected": {
			res:  testutil.Resource("staging").Allow("ci:*").Obj(),
			o:    queue.Outcome{State: conchv1.StateRejected, Reason: conchv1.ReasonHolderNotAllowed},
			want: "slack:UALICE may not hold staging: the holder matches none of its allowedHolders [ci:*]",
		},
		"released by deletion": {
			o:    queue.Outcome{State: conchv1.StateReleased, Reason: conchv1.ReasonDeleted, GrantedAt: tBefore, EndedAt: tNow},
			want: "Deleted; staging was released",
		},
		"released before the grant": {
			o:    queue.Outcome{State: conchv1.StateReleased, Reason: conchv1.ReasonReleased, EndedAt: tNow},
			want: "Released before it was granted; left the queue for staging",
		},
		"released after the grant": {
			o:    queue.Outcome{State: conchv1.StateReleased, Reason: conchv1.ReasonReleased, GrantedAt: tBefore, EndedAt: tNow.Add(time.Millisecond)},
			want: "Released staging at 2026-11-23T09:00:00Z",
		},
		"a state it does not know: its name": {
			o:    queue.Outcome{State: "Unheard"},
			want: "Unheard",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := tc.res
			if res == nil {
				res = open
			}
			if diff := cmp.Diff(tc.want, outcomeMessage(r, res, tc.o)); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}
