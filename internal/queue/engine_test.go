package queue_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
	"github.com/conch-dev/conch/internal/testutil"
)

// t0 is the start of every scenario: a whole second, so that creation timestamps (whole seconds) can be t0.
var t0 = time.Date(2025, time.March, 14, 9, 0, 0, 0, time.UTC)

// at is t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// rsv starts a Reservation on "staging" created at t0+created; its holder is its name.
func rsv(name string, created time.Duration) *testutil.ReservationWrapper {
	return testutil.Reservation(name).On("staging").Created(at(created))
}

// ended gives w the status of a Reservation that reached state at endedAt, having held from grantedAt to
// expiresAt (zero: never held).
func ended(w *testutil.ReservationWrapper, state conchv1.ReservationState, grantedAt, expiresAt, endedAt time.Time) *testutil.ReservationWrapper {
	w.State(state)
	if !grantedAt.IsZero() {
		g, e := metav1.NewMicroTime(grantedAt), metav1.NewMicroTime(expiresAt)
		w.Status.GrantedAt, w.Status.ExpiresAt = &g, &e
	}
	w.Status.EndedAt = &metav1.Time{Time: endedAt}
	return w
}

// heartbeat gives w a heartbeatTimeout and, unless renewed is zero, a renewTime.
func heartbeat(w *testutil.ReservationWrapper, timeout time.Duration, renewed time.Time) *testutil.ReservationWrapper {
	w.Spec.HeartbeatTimeout = &metav1.Duration{Duration: timeout}
	if !renewed.IsZero() {
		rt := metav1.NewMicroTime(renewed)
		w.Spec.RenewTime = &rt
	}
	return w
}

func objs(ws ...*testutil.ReservationWrapper) []*conchv1.Reservation {
	out := make([]*conchv1.Reservation, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.Obj())
	}
	return out
}

// Expected outcomes. out is a Reservation named name that asked for d and was given d; the other helpers move it
// into a state.

func out(name string, d time.Duration) queue.Outcome {
	return queue.Outcome{Name: name, UID: types.UID("uid-" + name), Duration: d, Requested: d}
}

func grantedAt(o queue.Outcome, since time.Time) queue.Outcome {
	o.State, o.Reason = conchv1.StateGranted, conchv1.ReasonGranted
	o.GrantedAt, o.ExpiresAt = since, since.Add(o.Duration)
	return o
}

func queuedAt(o queue.Outcome, pos, waiting int32, eta time.Time) queue.Outcome {
	o.State, o.Reason = conchv1.StateQueued, conchv1.ReasonQueued
	o.Position, o.Waiting, o.EstimatedGrantTime = pos, waiting, eta
	return o
}

func endedAs(o queue.Outcome, state conchv1.ReservationState, reason string, endedAt time.Time) queue.Outcome {
	o.State, o.Reason, o.EndedAt = state, reason, endedAt
	return o
}

func granted(name string, since time.Time, d time.Duration) queue.Outcome {
	return grantedAt(out(name, d), since)
}

func queued(name string, d time.Duration, pos, waiting int32, eta time.Time) queue.Outcome {
	return queuedAt(out(name, d), pos, waiting, eta)
}

// expired is a hold from since for d that ran out, seen at now.
func expired(name string, since time.Time, d time.Duration, now time.Time) queue.Outcome {
	return endedAs(granted(name, since, d), conchv1.StateExpired, conchv1.ReasonExpired, now)
}

// defaulted marks o as having named no duration.
func defaulted(o queue.Outcome) queue.Outcome { o.Requested = 0; return o }

// clampedFrom marks o as having asked for requested and been cut to its Duration.
func clampedFrom(o queue.Outcome, requested time.Duration) queue.Outcome {
	o.Requested, o.Clamped = requested, true
	return o
}

func deleting(o queue.Outcome) queue.Outcome { o.Deleting = true; return o }

func held(name string, since, until time.Time) conchv1.ResourceHolder {
	return conchv1.ResourceHolder{
		Reservation: name, UID: "uid-" + name, Holder: name,
		Since: metav1.NewMicroTime(since), Until: metav1.NewMicroTime(until),
	}
}

func heldBy(h conchv1.ResourceHolder, holder string) conchv1.ResourceHolder {
	h.Holder = holder
	return h
}

func entry(name string, d time.Duration) conchv1.QueueEntry {
	return conchv1.QueueEntry{Reservation: name, Holder: name, Duration: metav1.Duration{Duration: d}}
}

type decideCase struct {
	res  *conchv1.Resource
	rsvs []*conchv1.Reservation
	now  time.Time
	want queue.Plan
}

func values(rsvs []*conchv1.Reservation) []conchv1.Reservation {
	out := make([]conchv1.Reservation, 0, len(rsvs))
	for _, r := range rsvs {
		out = append(out, *r.DeepCopy())
	}
	return out
}

var planOpts = cmp.Options{cmpopts.EquateEmpty()}

func TestDecide(t *testing.T) {
	const h, m, s = time.Hour, time.Minute, time.Second
	staging := func() *testutil.ResourceWrapper { return testutil.Resource("staging") }

	cases := map[string]decideCase{
		"no reservations: nothing held, a newcomer would start now": {
			res:  staging().Obj(),
			now:  at(0),
			want: queue.Plan{NextSlot: at(0)},
		},
		"single reservation is granted at once": {
			res:  staging().Obj(),
			rsvs: objs(rsv("a", 0).For(2 * h)),
			now:  at(m),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(m), at(2*h+m))},
				Outcomes:   []queue.Outcome{granted("a", at(m), 2*h)},
				NextChange: at(2*h + m),
				NextSlot:   at(2*h + m),
			},
		},
		"three on capacity 1 are served in creation order, whatever the input order": {
			res:  staging().Obj(),
			rsvs: objs(rsv("b", 2*s).For(2*h), rsv("c", 0).For(h), rsv("a", s).For(30*m)),
			now:  at(5 * s),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("c", at(5*s), at(h+5*s))},
				Queue:   []conchv1.QueueEntry{entry("a", 30*m), entry("b", 2*h)},
				Waiting: 2,
				Outcomes: []queue.Outcome{
					granted("c", at(5*s), h),
					queued("a", 30*m, 1, 2, at(h+5*s)),
					queued("b", 2*h, 2, 2, at(h+30*m+5*s)),
				},
				NextChange: at(h + 5*s),
				NextSlot:   at(3*h + 30*m + 5*s),
			},
		},
		"same creation second is tie-broken by name": {
			res:  staging().Obj(),
			rsvs: objs(rsv("b", 0).For(h), rsv("a", 0).For(h)),
			now:  at(0),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:      []conchv1.QueueEntry{entry("b", h)},
				Waiting:    1,
				Outcomes:   []queue.Outcome{granted("a", at(0), h), queued("b", h, 1, 1, at(h))},
				NextChange: at(h),
				NextSlot:   at(2 * h),
			},
		},
		"capacity 2 grants two and queues the third for the first slot to free": {
			res:  staging().Capacity(2).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", s).For(2*h), rsv("c", 2*s).For(30*m)),
			now:  at(10 * s),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(10*s), at(h+10*s)), held("b", at(10*s), at(2*h+10*s))},
				Queue:   []conchv1.QueueEntry{entry("c", 30*m)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					granted("a", at(10*s), h),
					granted("b", at(10*s), 2*h),
					queued("c", 30*m, 1, 1, at(h+10*s)),
				},
				NextChange: at(h + 10*s),
				NextSlot:   at(h + 30*m + 10*s),
			},
		},
		"capacity 3 fills the free slots next to a current hold": {
			res: staging().Capacity(3).Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h).Granted(at(0)), rsv("b", m).For(h), rsv("c", 2*m).For(h),
				rsv("d", 3*m).For(h)),
			now: at(10 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{
					held("a", at(0), at(h)), held("b", at(10*m), at(h+10*m)), held("c", at(10*m), at(h+10*m)),
				},
				Queue:   []conchv1.QueueEntry{entry("d", h)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					granted("b", at(10*m), h),
					granted("c", at(10*m), h),
					queued("d", h, 1, 1, at(h)),
				},
				NextChange: at(h),
				NextSlot:   at(h + 10*m),
			},
		},
		"duration defaults to the Resource's defaultDuration": {
			res:  staging().Default(30 * m).Obj(),
			rsvs: objs(rsv("a", 0), rsv("b", s)),
			now:  at(0),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(30*m))},
				Queue:      []conchv1.QueueEntry{entry("b", 30*m)},
				Waiting:    1,
				Outcomes:   []queue.Outcome{defaulted(granted("a", at(0), 30*m)), defaulted(queued("b", 30*m, 1, 1, at(30*m)))},
				NextChange: at(30 * m),
				NextSlot:   at(h),
			},
		},
		"duration defaults to one hour when the Resource names none": {
			res:  staging().Obj(),
			rsvs: objs(rsv("a", 0)),
			now:  at(0),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Outcomes:   []queue.Outcome{defaulted(granted("a", at(0), h))},
				NextChange: at(h),
				NextSlot:   at(h),
			},
		},
		"duration longer than maxDuration is clamped, for the holder and in the queue": {
			res:  staging().Max(4 * h).Obj(),
			rsvs: objs(rsv("a", 0).For(8*h), rsv("b", s).For(6*h)),
			now:  at(0),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(4*h))},
				Queue:   []conchv1.QueueEntry{entry("b", 4*h)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					clampedFrom(granted("a", at(0), 4*h), 8*h),
					clampedFrom(queued("b", 4*h, 1, 1, at(4*h)), 6*h),
				},
				NextChange: at(4 * h),
				NextSlot:   at(8 * h),
			},
		},
		"duration equal to maxDuration is not clamped": {
			res:  staging().Max(4 * h).Obj(),
			rsvs: objs(rsv("a", 0).For(4 * h)),
			now:  at(0),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(4*h))},
				Outcomes:   []queue.Outcome{granted("a", at(0), 4*h)},
				NextChange: at(4 * h),
				NextSlot:   at(4 * h),
			},
		},
		// The API rejects defaultDuration > maxDuration; the engine still never grants longer than maxDuration.
		// Nothing the Reservation asked for was cut, so Clamped stays false.
		"defaultDuration above maxDuration is clamped to maxDuration": {
			res:  staging().Default(8 * h).Max(2 * h).Obj(),
			rsvs: objs(rsv("a", 0)),
			now:  at(0),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(2*h))},
				Outcomes:   []queue.Outcome{defaulted(granted("a", at(0), 2*h))},
				NextChange: at(2 * h),
				NextSlot:   at(2 * h),
			},
		},
		"hold ends exactly at its expiry time": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h).Granted(at(0))),
			now:  at(h),
			want: queue.Plan{
				Holders:  []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Outcomes: []queue.Outcome{expired("a", at(0), h, at(h))},
				NextSlot: at(h),
			},
		},
		"hold is kept a microsecond before its expiry time": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h).Granted(at(0))),
			now:  at(h - time.Microsecond),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Outcomes:   []queue.Outcome{granted("a", at(0), h)},
				NextChange: at(h),
				NextSlot:   at(h),
			},
		},
		"expired holder keeps its slot until its end is recorded": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h).Granted(at(0)), rsv("b", 10*m).For(30*m)),
			now:  at(h + 5*s),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:   []conchv1.QueueEntry{entry("b", 30*m)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					expired("a", at(0), h, at(h+5*s)),
					queued("b", 30*m, 1, 1, at(h+5*s)),
				},
				NextSlot: at(h + 30*m + 5*s),
			},
		},
		"expired holder observed final is dropped and the next is granted": {
			res: staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(ended(rsv("a", 0).For(h), conchv1.StateExpired, at(0), at(h), at(h)),
				rsv("b", 10*m).For(30*m)),
			now: at(h + 5*s),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("b", at(h+5*s), at(h+30*m+5*s))},
				Outcomes: []queue.Outcome{
					expired("a", at(0), h, at(h)),
					granted("b", at(h+5*s), 30*m),
				},
				NextChange: at(h + 30*m + 5*s),
				NextSlot:   at(h + 30*m + 5*s),
			},
		},
		"extending a hold moves its expiry later": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(3*h).Granted(at(0)), rsv("b", 10*m).For(h)),
			now:  at(30 * m),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(3*h))},
				Queue:      []conchv1.QueueEntry{entry("b", h)},
				Waiting:    1,
				Outcomes:   []queue.Outcome{granted("a", at(0), 3*h), queued("b", h, 1, 1, at(3*h))},
				NextChange: at(3 * h),
				NextSlot:   at(4 * h),
			},
		},
		"shortening a hold moves its expiry earlier": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(45*m).Granted(at(0)), rsv("b", 10*m).For(h)),
			now:  at(30 * m),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(45*m))},
				Queue:      []conchv1.QueueEntry{entry("b", h)},
				Waiting:    1,
				Outcomes:   []queue.Outcome{granted("a", at(0), 45*m), queued("b", h, 1, 1, at(45*m))},
				NextChange: at(45 * m),
				NextSlot:   at(h + 45*m),
			},
		},
		"shortening a hold below the time already held expires it now": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(20*m).Granted(at(0)), rsv("b", 10*m).For(h)),
			now:  at(30 * m),
			want: queue.Plan{
				Holders:  []conchv1.ResourceHolder{held("a", at(0), at(20*m))},
				Queue:    []conchv1.QueueEntry{entry("b", h)},
				Waiting:  1,
				Outcomes: []queue.Outcome{expired("a", at(0), 20*m, at(30*m)), queued("b", h, 1, 1, at(30*m))},
				NextSlot: at(h + 30*m),
			},
		},
		"releasing the holder hands the slot over in the same plan": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h).Granted(at(0)).Released(), rsv("b", 10*m).For(30*m)),
			now:  at(20 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("b", at(20*m), at(50*m))},
				Outcomes: []queue.Outcome{
					endedAs(granted("a", at(0), h), conchv1.StateReleased, conchv1.ReasonReleased, at(20*m)),
					granted("b", at(20*m), 30*m),
				},
				NextChange: at(50 * m),
				NextSlot:   at(50 * m),
			},
		},
		"releasing a queued reservation moves those behind it up": {
			res: staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", m).For(30*m), rsv("c", 2*m).For(h).Released(),
				rsv("d", 3*m).For(15*m)),
			now: at(10 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:   []conchv1.QueueEntry{entry("b", 30*m), entry("d", 15*m)},
				Waiting: 2,
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					queued("b", 30*m, 1, 2, at(h)),
					endedAs(out("c", h), conchv1.StateReleased, conchv1.ReasonReleased, at(10*m)),
					queued("d", 15*m, 2, 2, at(h+30*m)),
				},
				NextChange: at(h),
				NextSlot:   at(h + 45*m),
			},
		},
		"deleting the holder releases it, marks it Deleting and hands over": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h).Granted(at(0)).Deleting(at(20*m)), rsv("b", 10*m).For(30*m)),
			now:  at(20 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("b", at(20*m), at(50*m))},
				Outcomes: []queue.Outcome{
					deleting(endedAs(granted("a", at(0), h), conchv1.StateReleased, conchv1.ReasonDeleted, at(20*m))),
					granted("b", at(20*m), 30*m),
				},
				NextChange: at(50 * m),
				NextSlot:   at(50 * m),
			},
		},
		"deleting a queued reservation takes it out of the queue": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", m).For(30*m).Deleting(at(5*m)), rsv("c", 2*m).For(h)),
			now:  at(10 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:   []conchv1.QueueEntry{entry("c", h)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					deleting(endedAs(out("b", 30*m), conchv1.StateReleased, conchv1.ReasonDeleted, at(10*m))),
					queued("c", h, 1, 1, at(h)),
				},
				NextChange: at(h),
				NextSlot:   at(2 * h),
			},
		},
		"final reservations keep their state, reason and times and are never granted again": {
			res: staging().Obj(),
			rsvs: func() []*conchv1.Reservation {
				r1 := ended(rsv("r1", 0).For(h), conchv1.StateReleased, at(m), at(h+m), at(5*m)).Deleting(at(6 * m))
				r1.Status.Conditions = []metav1.Condition{{
					Type: conchv1.ConditionReady, Status: metav1.ConditionFalse, Reason: conchv1.ReasonResourceDeleted,
				}}
				r2 := ended(rsv("r2", s), conchv1.StateRejected, time.Time{}, time.Time{}, at(s))
				// Expired with grantedAt in its status, which is no reason to adopt it as a holder.
				r3 := ended(rsv("r3", 2*s).For(h), conchv1.StateExpired, at(2*s), at(h+2*s), at(h+2*s))
				return objs(r1, r2, r3, rsv("q", 3*s).For(h))
			}(),
			now: at(2 * h),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("q", at(2*h), at(3*h))},
				Outcomes: []queue.Outcome{
					deleting(endedAs(granted("r1", at(m), h), conchv1.StateReleased, conchv1.ReasonResourceDeleted, at(5*m))),
					defaulted(endedAs(out("r2", h), conchv1.StateRejected, conchv1.ReasonHolderNotAllowed, at(s))),
					expired("r3", at(2*s), h, at(h+2*s)),
					granted("q", at(2*h), h),
				},
				NextChange: at(3 * h),
				NextSlot:   at(3 * h),
			},
		},
		"a hold the Resource lost is re-adopted from the Reservation's status": {
			// The Resource was deleted and re-created: its status is empty. b was created first but a held.
			res:  staging().Obj(),
			rsvs: objs(rsv("b", 0).For(h), rsv("a", s).For(h).Granted(at(5*s))),
			now:  at(10 * m),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(5*s), at(h+5*s))},
				Queue:      []conchv1.QueueEntry{entry("b", h)},
				Waiting:    1,
				Outcomes:   []queue.Outcome{queued("b", h, 1, 1, at(h+5*s)), granted("a", at(5*s), h)},
				NextChange: at(h + 5*s),
				NextSlot:   at(2*h + 5*s),
			},
		},
		// A pool Reservation joins a Resource's list only when it is bound, and it takes its place by creation
		// time: ahead of younger ones already waiting.
		"a pool Reservation bound late waits ahead of younger ones": {
			res: staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", 10*m).For(30*m),
				testutil.Reservation("p").Pool(map[string]string{"pool": "web"}).BoundTo("staging").Created(at(5*m)).For(h)),
			now: at(20 * m),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:      []conchv1.QueueEntry{entry("p", h), entry("b", 30*m)},
				Waiting:    2,
				Outcomes:   []queue.Outcome{granted("a", at(0), h), queued("p", h, 1, 2, at(h)), queued("b", 30*m, 2, 2, at(2*h))},
				NextChange: at(h),
				NextSlot:   at(2*h + 30*m),
			},
		},
		"a holder whose Reservation is gone is dropped and its slot granted": {
			res:  staging().Holding("gone", "gone", at(0), at(h)).Obj(),
			rsvs: objs(rsv("b", 10*m).For(30 * m)),
			now:  at(20 * m),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("b", at(20*m), at(50*m))},
				Outcomes:   []queue.Outcome{granted("b", at(20*m), 30*m)},
				NextChange: at(50 * m),
				NextSlot:   at(50 * m),
			},
		},
		"a Reservation re-created under the holder's name is a new request, not the holder": {
			res: staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("b", 10*m).For(h),
				testutil.Reservation("a").On("staging").UID("uid-a-2").Created(at(20*m)).For(h)),
			now: at(30 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("b", at(30*m), at(h+30*m))},
				Queue:   []conchv1.QueueEntry{entry("a", h)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					granted("b", at(30*m), h),
					func() queue.Outcome { o := queued("a", h, 1, 1, at(h+30*m)); o.UID = "uid-a-2"; return o }(),
				},
				NextChange: at(h + 30*m),
				NextSlot:   at(2*h + 30*m),
			},
		},
		"holders matching no allowedHolders pattern are rejected": {
			res: staging().Allow("ci:*", "alice@example.com").Obj(),
			rsvs: objs(rsv("x", 0).Holder("ci:deploy-web").For(h), rsv("y", s).Holder("bob@example.com").For(h),
				rsv("z", 2*s).Holder("alice@example.com").For(30*m)),
			now: at(m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{heldBy(held("x", at(m), at(h+m)), "ci:deploy-web")},
				Queue:   []conchv1.QueueEntry{{Reservation: "z", Holder: "alice@example.com", Duration: metav1.Duration{Duration: 30 * m}}},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					granted("x", at(m), h),
					endedAs(out("y", h), conchv1.StateRejected, conchv1.ReasonHolderNotAllowed, at(m)),
					queued("z", 30*m, 1, 1, at(h+m)),
				},
				NextChange: at(h + m),
				NextSlot:   at(h + 30*m + m),
			},
		},
		"a holder that allowedHolders no longer matches keeps its hold": {
			res:  staging().Allow("ci:*").Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", s).For(h)),
			now:  at(m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					endedAs(out("b", h), conchv1.StateRejected, conchv1.ReasonHolderNotAllowed, at(m)),
				},
				NextChange: at(h),
				NextSlot:   at(h),
			},
		},
		"paused Resource keeps its holders and queues everyone, with no estimates": {
			res:  staging().Capacity(2).Paused().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", m).For(30*m), rsv("c", 2*m).For(h)),
			now:  at(10 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:   []conchv1.QueueEntry{entry("b", 30*m), entry("c", h)},
				Waiting: 2,
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					queued("b", 30*m, 1, 2, time.Time{}),
					queued("c", h, 2, 2, time.Time{}),
				},
				NextChange: at(h),
			},
		},
		"paused Resource lets a hold end but grants its slot to no one": {
			res: staging().Paused().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(ended(rsv("a", 0).For(h), conchv1.StateExpired, at(0), at(h), at(h)),
				rsv("b", m).For(h)),
			now: at(h + m),
			want: queue.Plan{
				Queue:    []conchv1.QueueEntry{entry("b", h)},
				Waiting:  1,
				Outcomes: []queue.Outcome{expired("a", at(0), h, at(h)), queued("b", h, 1, 1, time.Time{})},
			},
		},
		"capacity lowered below its holders keeps them and blocks the queue until all have ended": {
			res:  staging().Holding("a", "a", at(0), at(h)).Holding("b", "b", at(10*m), at(2*h+10*m)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", s).For(2*h), rsv("c", 2*s).For(30*m)),
			now:  at(30 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h)), held("b", at(10*m), at(2*h+10*m))},
				Queue:   []conchv1.QueueEntry{entry("c", 30*m)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					granted("b", at(10*m), 2*h),
					queued("c", 30*m, 1, 1, at(2*h+10*m)),
				},
				NextChange: at(h),
				NextSlot:   at(2*h + 40*m),
			},
		},
		"capacity lowered from three to two frees a slot when the second of three holds ends": {
			res: staging().Capacity(2).Holding("a", "a", at(0), at(h)).
				Holding("b", "b", at(10*m), at(2*h+10*m)).Holding("c", "c", at(20*m), at(3*h+20*m)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", s).For(2*h), rsv("c", 2*s).For(3*h), rsv("d", m).For(30*m)),
			now:  at(30 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{
					held("a", at(0), at(h)), held("b", at(10*m), at(2*h+10*m)), held("c", at(20*m), at(3*h+20*m)),
				},
				Queue:   []conchv1.QueueEntry{entry("d", 30*m)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					granted("b", at(10*m), 2*h),
					granted("c", at(20*m), 3*h),
					queued("d", 30*m, 1, 1, at(2*h+10*m)),
				},
				NextChange: at(h),
				NextSlot:   at(2*h + 40*m),
			},
		},
		"estimates on capacity 1 add up the durations ahead": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", m).For(30*m), rsv("c", 2*m).For(2*h), rsv("d", 3*m).For(15*m)),
			now:  at(10 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:   []conchv1.QueueEntry{entry("b", 30*m), entry("c", 2*h), entry("d", 15*m)},
				Waiting: 3,
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					queued("b", 30*m, 1, 3, at(h)),
					queued("c", 2*h, 2, 3, at(h+30*m)),
					queued("d", 15*m, 3, 3, at(3*h+30*m)),
				},
				NextChange: at(h),
				NextSlot:   at(3*h + 45*m),
			},
		},
		"estimates on capacity 2 take whichever slot frees first": {
			res:  staging().Capacity(2).Holding("a", "a", at(0), at(h)).Holding("b", "b", at(0), at(3*h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", s).For(3*h), rsv("c", m).For(h), rsv("d", 2*m).For(30*m), rsv("e", 3*m).For(2*h)),
			now:  at(10 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h)), held("b", at(0), at(3*h))},
				Queue:   []conchv1.QueueEntry{entry("c", h), entry("d", 30*m), entry("e", 2*h)},
				Waiting: 3,
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					granted("b", at(0), 3*h),
					queued("c", h, 1, 3, at(h)),
					queued("d", 30*m, 2, 3, at(2*h)),
					queued("e", 2*h, 3, 3, at(2*h+30*m)),
				},
				NextChange: at(h),
				NextSlot:   at(3 * h),
			},
		},
		"queue is bounded to 50 entries while all 60 waiting are counted": sixtyWaiting(),
		"next change is the earliest expiry, and holders are listed oldest first": {
			res: staging().Capacity(3).Holding("c", "c", at(20*m), at(2*h+20*m)).Holding("a", "a", at(0), at(3*h)).
				Holding("b", "b", at(10*m), at(h+10*m)).Obj(),
			rsvs: objs(rsv("a", 0).For(3*h), rsv("b", s).For(h), rsv("c", 2*s).For(2*h)),
			now:  at(30 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{
					held("a", at(0), at(3*h)), held("b", at(10*m), at(h+10*m)), held("c", at(20*m), at(2*h+20*m)),
				},
				Outcomes:   []queue.Outcome{granted("a", at(0), 3*h), granted("b", at(10*m), h), granted("c", at(20*m), 2*h)},
				NextChange: at(h + 10*m),
				NextSlot:   at(h + 10*m),
			},
		},
		// A pool Reservation waits unbound (Pending) and joins a Resource's list when it is bound: it can be older
		// than the holder it joins.
		"holders are listed in grant order, not creation order": {
			res: staging().Capacity(3).Holding("p", "p", at(20*m), at(h+20*m)).
				Holding("a", "a", at(10*m), at(h+10*m)).Obj(),
			rsvs: objs(rsv("a", m).For(h), rsv("p", 0).For(h), rsv("b", 2*m).For(h)),
			now:  at(30 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{
					held("a", at(10*m), at(h+10*m)), held("p", at(20*m), at(h+20*m)), held("b", at(30*m), at(h+30*m)),
				},
				Outcomes:   []queue.Outcome{granted("p", at(20*m), h), granted("a", at(10*m), h), granted("b", at(30*m), h)},
				NextChange: at(h + 10*m),
				NextSlot:   at(h + 10*m),
			},
		},
		"sub-microsecond now is rounded up for the grant": {
			res:  staging().Obj(),
			rsvs: objs(rsv("a", 0).For(h)),
			now:  at(1500 * time.Nanosecond),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(2*time.Microsecond), at(h+2*time.Microsecond))},
				Outcomes:   []queue.Outcome{granted("a", at(2*time.Microsecond), h)},
				NextChange: at(h + 2*time.Microsecond),
				NextSlot:   at(h + 2*time.Microsecond),
			},
		},
		"sub-microsecond duration rounds the expiry up, never down, for a current and a new hold": {
			res:  staging().Capacity(2).Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h+500*time.Nanosecond), rsv("b", s).For(h+500*time.Nanosecond)),
			now:  at(m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{
					held("a", at(0), at(h+time.Microsecond)), held("b", at(m), at(h+m+time.Microsecond)),
				},
				Outcomes: []queue.Outcome{
					func() queue.Outcome {
						o := granted("a", at(0), h+500*time.Nanosecond)
						o.ExpiresAt = at(h + time.Microsecond)
						return o
					}(),
					func() queue.Outcome {
						o := granted("b", at(m), h+500*time.Nanosecond)
						o.ExpiresAt = at(h + m + time.Microsecond)
						return o
					}(),
				},
				NextChange: at(h + time.Microsecond),
				NextSlot:   at(h + time.Microsecond),
			},
		},
		// Times are kept to the microsecond and now is rounded up, so a now within the microsecond before the
		// expiry counts as the expiry (and EndedAt says so).
		"now within the microsecond before the expiry counts as the expiry": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h)),
			now:  at(h - 500*time.Nanosecond),
			want: queue.Plan{
				Holders:  []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Outcomes: []queue.Outcome{expired("a", at(0), h, at(h))},
				NextSlot: at(h),
			},
		},
		"capacity zero counts as one": {
			res:  staging().Capacity(0).Obj(),
			rsvs: objs(rsv("a", 0).For(h), rsv("b", s).For(h)),
			now:  at(0),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:      []conchv1.QueueEntry{entry("b", h)},
				Waiting:    1,
				Outcomes:   []queue.Outcome{granted("a", at(0), h), queued("b", h, 1, 1, at(h))},
				NextChange: at(h),
				NextSlot:   at(2 * h),
			},
		},
		"holder that missed its heartbeat ends but keeps its slot this pass": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(heartbeat(rsv("a", 0).For(h), m, at(5*m)), rsv("b", s).For(h)),
			now:  at(6 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:   []conchv1.QueueEntry{entry("b", h)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					endedAs(granted("a", at(0), h), conchv1.StateExpired, conchv1.ReasonHeartbeatMissed, at(6*m)),
					queued("b", h, 1, 1, at(6*m)),
				},
				NextSlot: at(h + 6*m),
			},
		},
		"renewed holder's heartbeat deadline is the next change": {
			res:  staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(heartbeat(rsv("a", 0).For(h), m, at(5*m))),
			now:  at(5*m + 30*s),
			want: queue.Plan{
				Holders:    []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Outcomes:   []queue.Outcome{granted("a", at(0), h)},
				NextChange: at(6 * m),
				NextSlot:   at(h),
			},
		},
		"queued reservation that missed its heartbeat leaves the queue; a waiting one's deadline is the next change": {
			res: staging().Holding("a", "a", at(0), at(h)).Obj(),
			rsvs: objs(rsv("a", 0).For(h), heartbeat(rsv("b", m).For(h), m, time.Time{}),
				heartbeat(rsv("c", 9*m+30*s).For(h), m, time.Time{})),
			now: at(10 * m),
			want: queue.Plan{
				Holders: []conchv1.ResourceHolder{held("a", at(0), at(h))},
				Queue:   []conchv1.QueueEntry{entry("c", h)},
				Waiting: 1,
				Outcomes: []queue.Outcome{
					granted("a", at(0), h),
					endedAs(out("b", h), conchv1.StateExpired, conchv1.ReasonHeartbeatMissed, at(10*m)),
					queued("c", h, 1, 1, at(h)),
				},
				NextChange: at(10*m + 30*s),
				NextSlot:   at(2 * h),
			},
		},
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resBefore := tc.res.DeepCopy()
			in := values(tc.rsvs)
			inBefore := values(tc.rsvs)

			got := queue.Decide(tc.res, in, tc.now)
			if diff := cmp.Diff(tc.want, got, planOpts); diff != "" {
				t.Errorf("Decide() mismatch (-want +got):\n%s", diff)
			}

			// Decide is pure: it changes neither the Resource nor the Reservations it is given.
			if diff := cmp.Diff(resBefore, tc.res); diff != "" {
				t.Errorf("Decide() changed the Resource (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(inBefore, in); diff != "" {
				t.Errorf("Decide() changed the Reservations (-before +after):\n%s", diff)
			}

			// The order of the input does not matter.
			rng := rand.New(rand.NewPCG(uint64(len(name)), 7))
			for range 5 {
				rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
				if diff := cmp.Diff(got, queue.Decide(tc.res, in, tc.now), planOpts); diff != "" {
					t.Fatalf("Decide() of shuffled input differs (-sorted +shuffled):\n%s", diff)
				}
			}
		})
	}
}

// sixtyWaiting is one holder and sixty waiting, ten minutes each: the Resource's status lists the first fifty.
func sixtyWaiting() decideCase {
	const n = 60
	tc := decideCase{
		res:  testutil.Resource("staging").Holding("a", "a", at(0), at(time.Hour)).Obj(),
		rsvs: objs(rsv("a", 0).For(time.Hour)),
		now:  at(30 * time.Minute),
		want: queue.Plan{
			Holders:    []conchv1.ResourceHolder{held("a", at(0), at(time.Hour))},
			Waiting:    n,
			Outcomes:   []queue.Outcome{granted("a", at(0), time.Hour)},
			NextChange: at(time.Hour),
			NextSlot:   at(time.Hour + n*10*time.Minute),
		},
	}
	for i := range n {
		name := fmt.Sprintf("q%02d", i)
		tc.rsvs = append(tc.rsvs, rsv(name, time.Minute+time.Duration(i)*time.Second).For(10*time.Minute).Obj())
		tc.want.Outcomes = append(tc.want.Outcomes,
			queued(name, 10*time.Minute, int32(i+1), n, at(time.Hour+time.Duration(i)*10*time.Minute)))
		if i < conchv1.MaxQueueEntries {
			tc.want.Queue = append(tc.want.Queue, entry(name, 10*time.Minute))
		}
	}
	return tc
}

func TestMatchHolder(t *testing.T) {
	cases := map[string]struct {
		pattern, holder string
		want            bool
	}{
		"exact match":                                    {"alice@example.com", "alice@example.com", true},
		"exact mismatch":                                 {"alice@example.com", "bob@example.com", false},
		"case matters":                                   {"Alice", "alice", false},
		"literal pattern is not a prefix match":          {"ci", "ci:deploy", false},
		"star alone matches anyone":                      {"*", "slack:U0123ABC", true},
		"star alone matches the empty string":            {"*", "", true},
		"prefix":                                         {"ci:*", "ci:deploy-web", true},
		"prefix with nothing after it":                   {"ci:*", "ci:", true},
		"prefix mismatch":                                {"ci:*", "cd:deploy-web", false},
		"prefix is anchored at the start":                {"ci:*", "xci:deploy", false},
		"prefix does not match the empty string":         {"ci:*", "", false},
		"suffix":                                         {"*@example.com", "alice@example.com", true},
		"suffix is anchored at the end":                  {"*@example.com", "alice@example.com.evil", false},
		"infix":                                          {"team-*-bot", "team-web-bot", true},
		"prefix and suffix may not overlap":              {"ab*ba", "aba", false},
		"prefix and suffix meet":                         {"ab*ba", "abba", true},
		"two stars in order":                             {"ci:*:deploy-*", "ci:web:deploy-prod", true},
		"two stars with the middle missing":              {"ci:*:deploy-*", "ci:deploy-web", false},
		"middle part found leftmost leaves room":         {"a*b*b", "abxbb", true},
		"middle part and suffix need their own room":     {"a*bb*b", "abb", false},
		"adjacent stars are one star":                    {"a**b", "ab", true},
		"dot is literal":                                 {"ci.*", "cix", false},
		"question mark is literal":                       {"ci?", "cix", false},
		"regexp characters are literal":                  {"a+b*", "aab", false},
		"regexp characters match themselves":             {"a+b*", "a+bc", true},
		"multi-byte characters match":                    {"jürgen@*", "jürgen@example.com", true},
		"star does not make the prefix case-insensitive": {"CI:*", "ci:deploy", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := queue.MatchHolder(tc.pattern, tc.holder); got != tc.want {
				t.Errorf("MatchHolder(%q, %q) = %v, want %v", tc.pattern, tc.holder, got, tc.want)
			}
		})
	}
}

func TestCeilMicro(t *testing.T) {
	cases := map[string]struct {
		in, want time.Time
	}{
		"zero stays zero":                     {time.Time{}, time.Time{}},
		"whole microsecond is kept":           {at(time.Microsecond), at(time.Microsecond)},
		"one nanosecond rounds up":            {at(time.Nanosecond), at(time.Microsecond)},
		"999 nanoseconds round up":            {at(999 * time.Nanosecond), at(time.Microsecond)},
		"1001 nanoseconds round up to two µs": {at(1001 * time.Nanosecond), at(2 * time.Microsecond)},
		"before 1970 rounds up too": {
			time.Date(1969, time.July, 20, 20, 17, 0, 1, time.UTC),
			time.Date(1969, time.July, 20, 20, 17, 0, 1000, time.UTC),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := queue.CeilMicro(tc.in)
			if !got.Equal(tc.want) {
				t.Errorf("CeilMicro(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// TestDecideNewcomer checks what the pool binding relies on: the controller appends a new Reservation to each
// candidate Resource's list and reads its outcome, and that must be what Plan.NextSlot promised a newcomer.
func TestDecideNewcomer(t *testing.T) {
	const h, m = time.Hour, time.Minute
	now := at(30 * m)
	type result struct {
		State    conchv1.ReservationState
		Position int32
		ETA      time.Time
	}
	cases := map[string]struct {
		res  *conchv1.Resource
		rsvs []*conchv1.Reservation
		want result
		// wantSlot is the NextSlot of the plan without the newcomer.
		wantSlot time.Time
	}{
		"free Resource grants the newcomer now": {
			res:      testutil.Resource("staging").Obj(),
			want:     result{State: conchv1.StateGranted},
			wantSlot: now,
		},
		"free slot next to a holder grants the newcomer now": {
			res:      testutil.Resource("staging").Capacity(2).Holding("a", "a", at(0), at(h)).Obj(),
			rsvs:     objs(rsv("a", 0).For(h)),
			want:     result{State: conchv1.StateGranted},
			wantSlot: now,
		},
		"full Resource without a queue: the newcomer waits for the hold to end": {
			res:      testutil.Resource("staging").Holding("a", "a", at(0), at(h)).Obj(),
			rsvs:     objs(rsv("a", 0).For(h)),
			want:     result{State: conchv1.StateQueued, Position: 1, ETA: at(h)},
			wantSlot: at(h),
		},
		"full Resource with a queue: the newcomer waits behind it": {
			res:      testutil.Resource("staging").Holding("a", "a", at(0), at(h)).Obj(),
			rsvs:     objs(rsv("a", 0).For(h), rsv("b", m).For(30*m), rsv("c", 2*m).For(2*h)),
			want:     result{State: conchv1.StateQueued, Position: 3, ETA: at(3*h + 30*m)},
			wantSlot: at(3*h + 30*m),
		},
		"full Resource of capacity 2: the newcomer takes the first slot left free": {
			res: testutil.Resource("staging").Capacity(2).Holding("a", "a", at(0), at(h)).
				Holding("b", "b", at(0), at(3*h)).Obj(),
			rsvs:     objs(rsv("a", 0).For(h), rsv("b", 0).For(3*h), rsv("c", m).For(90*m)),
			want:     result{State: conchv1.StateQueued, Position: 2, ETA: at(2*h + 30*m)},
			wantSlot: at(2*h + 30*m),
		},
		"expired holder not yet recorded: the newcomer waits for the next pass": {
			res:      testutil.Resource("staging").Holding("a", "a", at(0), at(20*m)).Obj(),
			rsvs:     objs(rsv("a", 0).For(20 * m)),
			want:     result{State: conchv1.StateQueued, Position: 1, ETA: now},
			wantSlot: now,
		},
		"capacity lowered: the newcomer waits for enough holds to end": {
			res: testutil.Resource("staging").Holding("a", "a", at(0), at(h)).
				Holding("b", "b", at(0), at(2*h)).Obj(),
			rsvs:     objs(rsv("a", 0).For(h), rsv("b", 0).For(2*h)),
			want:     result{State: conchv1.StateQueued, Position: 1, ETA: at(2 * h)},
			wantSlot: at(2 * h),
		},
		"paused Resource gives no estimate": {
			res:  testutil.Resource("staging").Paused().Obj(),
			want: result{State: conchv1.StateQueued, Position: 1},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := queue.Decide(tc.res, values(tc.rsvs), now)
			if !before.NextSlot.Equal(tc.wantSlot) {
				t.Errorf("NextSlot = %v, want %v", before.NextSlot, tc.wantSlot)
			}

			newcomer := testutil.Reservation("new").Pool(map[string]string{"pool": "staging"}).BoundTo("staging").
				Created(now.Truncate(time.Second)).For(45 * m).Obj()
			plan := queue.Decide(tc.res, append(values(tc.rsvs), *newcomer), now)
			o, ok := plan.Outcome("new")
			if !ok {
				t.Fatalf("no outcome for the newcomer in %+v", plan.Outcomes)
			}
			got := result{State: o.State, Position: o.Position, ETA: o.EstimatedGrantTime}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("newcomer's outcome mismatch (-want +got):\n%s", diff)
			}
			// What the plan without the newcomer promised is what the newcomer gets: now when granted at once.
			start := o.EstimatedGrantTime
			if o.State == conchv1.StateGranted {
				start = o.GrantedAt
			}
			if !start.Equal(before.NextSlot) {
				t.Errorf("newcomer starts at %v, but the plan without it said NextSlot %v", start, before.NextSlot)
			}
			// The others' outcomes do not change when a newcomer joins at the end.
			for _, b := range before.Outcomes {
				a, _ := plan.Outcome(b.Name)
				b.Waiting, a.Waiting = 0, 0
				if diff := cmp.Diff(b, a); diff != "" {
					t.Errorf("outcome of %s changed when a newcomer joined (-before +after):\n%s", b.Name, diff)
				}
			}
		})
	}
}

// TestDecideIsIndependentOfInputOrder shuffles a list full of ties (same creation second, holders granted at the
// same time, finals, released and deleted ones) and expects the very same plan every time.
func TestDecideIsIndependentOfInputOrder(t *testing.T) {
	const h, m = time.Hour, time.Minute
	res := testutil.Resource("staging").Capacity(3).Max(2*h).
		Holding("h2", "h2", at(0), at(h)).Holding("h1", "h1", at(0), at(h)).Obj()
	var rsvs []*conchv1.Reservation
	rsvs = append(rsvs, objs(
		rsv("h1", 0).For(h), rsv("h2", 0).For(h),
		ended(rsv("f1", 0).For(h), conchv1.StateExpired, at(0), at(h), at(h)),
		rsv("rel", 0).For(h).Released(),
		rsv("del", 0).For(h).Deleting(at(m)),
	)...)
	for i := range 20 {
		// Many in the same second; names in an order unlike their creation.
		rsvs = append(rsvs, rsv(fmt.Sprintf("w%02d", (i*7)%20), time.Duration(i/4)*time.Second).For(time.Duration(i+1)*10*m).Obj())
	}
	in := values(rsvs)
	want := queue.Decide(res, in, at(10*m))
	if len(want.Holders) != 3 || want.Waiting != 19 {
		t.Fatalf("unexpected base plan: %d holders, %d waiting", len(want.Holders), want.Waiting)
	}
	rng := rand.New(rand.NewPCG(42, 42))
	for i := range 200 {
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		if diff := samePlan(want, queue.Decide(res, in, at(10*m))); diff != "" {
			t.Fatalf("shuffle %d: plan differs (-first +shuffled):\n%s", i, diff)
		}
	}
}

// TestDecideEstimatesComeTrue runs queues to the end with nothing changing but time, recording each end as the
// controller does (the Resource's holders, then the Reservations' statuses), and expects every Reservation to be
// granted exactly when its first estimate said.
func TestDecideEstimatesComeTrue(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			res := testutil.Resource("staging").Capacity(int32(1 + rng.IntN(3))).Obj()
			w := &world{res: res, now: at(0)}
			// Some holds carried over, possibly more than the capacity (it was lowered).
			for i := range rng.IntN(5) {
				name := fmt.Sprintf("h%d", i)
				d := time.Duration(1+rng.IntN(120)) * time.Minute
				since := at(-time.Duration(rng.IntN(30)) * time.Minute)
				w.rsvs = append(w.rsvs, *rsv(name, -time.Hour).For(d).Granted(since).Obj())
				w.res.Status.Holders = append(w.res.Status.Holders, conchv1.ResourceHolder{
					Reservation: name, UID: "uid-" + name, Holder: name,
					Since: metav1.NewMicroTime(since), Until: metav1.NewMicroTime(since.Add(d)),
				})
			}
			for i := range 3 + rng.IntN(10) {
				w.rsvs = append(w.rsvs, *rsv(fmt.Sprintf("q%02d", i), time.Duration(i)*time.Second).
					For(time.Duration(1+rng.IntN(180)) * time.Minute).Obj())
			}
			w.now = at(time.Minute)
			plan := w.decide()
			w.observe(plan, func() bool { return true })
			eta := map[string]time.Time{}
			for _, o := range plan.Outcomes {
				if o.State == conchv1.StateQueued {
					eta[o.Name] = o.EstimatedGrantTime
				}
			}
			if len(eta) == 0 {
				t.Fatal("nobody waits; the test needs a queue")
			}
			for range 100 {
				if plan.Waiting == 0 {
					break
				}
				if plan.NextChange.IsZero() {
					t.Fatalf("%d wait but nothing is timed", plan.Waiting)
				}
				w.now = plan.NextChange
				plan = w.decide() // holds end
				w.observe(plan, func() bool { return true })
				plan = w.decide() // their ends are recorded: slots are granted
				w.observe(plan, func() bool { return true })
				for _, o := range plan.Outcomes {
					if want, ok := eta[o.Name]; ok && o.State == conchv1.StateGranted {
						if !o.GrantedAt.Equal(want) {
							t.Errorf("%s granted at %v, estimated %v", o.Name, o.GrantedAt, want)
						}
						delete(eta, o.Name)
					}
				}
			}
			if len(eta) > 0 {
				t.Errorf("never granted: %v", eta)
			}
		})
	}
}

// world is a Resource and its Reservations as the API server holds them, changed by Decide's plans the way the
// controller writes them.
type world struct {
	res  *conchv1.Resource
	rsvs []conchv1.Reservation
	now  time.Time
}

// decide computes the plan and applies it.
func (w *world) decide() queue.Plan {
	plan := queue.Decide(w.res, w.rsvs, w.now)
	w.apply(plan)
	return plan
}

// apply records plan as the controller does: the holders in the Resource's status (its first write), then it
// lets go of the Reservations being deleted (its last).
func (w *world) apply(plan queue.Plan) {
	w.res.Status.Holders = slices.Clone(plan.Holders)
	w.res.Status.Queue, w.res.Status.Waiting = slices.Clone(plan.Queue), plan.Waiting
	for _, o := range plan.Outcomes {
		if o.Deleting {
			w.rsvs = slices.DeleteFunc(w.rsvs, func(r conchv1.Reservation) bool { return r.UID == o.UID })
		}
	}
}

// observe writes the Reservations' statuses from plan, for those that pick selects (a write may fail), as the
// controller's reservationStatus does: final ones are never changed.
func (w *world) observe(plan queue.Plan, pick func() bool) {
	for _, o := range plan.Outcomes {
		i := slices.IndexFunc(w.rsvs, func(r conchv1.Reservation) bool { return r.UID == o.UID })
		if i < 0 || w.rsvs[i].Status.State.IsFinal() || !pick() {
			continue
		}
		st := &w.rsvs[i].Status
		st.State, st.Position = o.State, o.Position
		st.GrantedAt, st.ExpiresAt, st.EndedAt = optMicro(o.GrantedAt), optMicro(o.ExpiresAt), nil
		if o.State.IsFinal() {
			st.EndedAt = &metav1.Time{Time: o.EndedAt}
		}
	}
}

func optMicro(t time.Time) *metav1.MicroTime {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewMicroTime(t)
	return &mt
}

// TestDecideInvariants drives a Resource through a few hundred random operations per seed (create, release,
// delete, extend or shorten, advance time, observe statuses, renew, change capacity, pause, re-create the
// Resource) and checks after every Decide what must always hold.
func TestDecideInvariants(t *testing.T) {
	seenAll := map[string]int{}
	for _, seed := range []uint64{1, 2, 3, 4, 5, 6, 7, 8} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			s := newSimulation(seed)
			for step := range 400 {
				op := s.operate()
				s.history = append(s.history, fmt.Sprintf("%d %s @%s", step, op, s.w.now.Sub(t0)))
				if errs := s.decide(); len(errs) > 0 {
					t.Fatalf("after step %d (%s):\n  %s\nhistory:\n  %s", step, op, strings.Join(errs, "\n  "),
						strings.Join(s.history[max(0, len(s.history)-25):], "\n  "))
				}
			}
			t.Logf("%d Reservations at the end; seen %v", len(s.w.rsvs), s.seen)
			// Every run must exercise the common paths, or it proves little.
			for _, what := range []string{"granted", "queued", "expired", "released", "deleted", "handover"} {
				if s.seen[what] == 0 {
					t.Errorf("never saw %s; change the seed or the weights", what)
				}
			}
			for what, n := range s.seen {
				seenAll[what] += n
			}
		})
	}
	// And the runs together the rare ones.
	for _, what := range []string{"rejected", "over capacity", "expired holder blocks", "re-adopted"} {
		if seenAll[what] == 0 {
			t.Errorf("no run saw %s; change the seeds or the weights", what)
		}
	}
}

type simulation struct {
	rng     *rand.Rand
	w       world
	plan    queue.Plan
	seq     int
	history []string
	// grantedAt is when each Reservation that ever held was granted; left says that its hold ended.
	grantedAt map[types.UID]time.Time
	left      map[types.UID]bool
	seen      map[string]int
}

var simHolders = []string{"ci:deploy-web", "ci:test", "alice@example.com", "bob@example.com", "slack:U0123ABC"}

func newSimulation(seed uint64) *simulation {
	rng := rand.New(rand.NewPCG(seed, 2025))
	res := testutil.Resource("staging").Capacity(int32(1 + rng.IntN(3))).Max(4 * time.Hour)
	if rng.IntN(2) == 0 {
		res.Default(30 * time.Minute)
	}
	if rng.IntN(3) == 0 {
		res.Allow("ci:*", "alice@example.com")
	}
	s := &simulation{
		rng: rng, w: world{res: res.Obj(), now: at(0)},
		grantedAt: map[types.UID]time.Time{}, left: map[types.UID]bool{}, seen: map[string]int{},
	}
	s.plan = s.w.decide()
	return s
}

func (s *simulation) randDuration() time.Duration {
	ds := []time.Duration{
		time.Second, 30 * time.Second, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
		5 * time.Hour, time.Hour + 500*time.Nanosecond, 90*time.Minute + time.Microsecond,
	}
	return ds[s.rng.IntN(len(ds))]
}

// pick picks a Reservation for which ok is true, or returns -1.
func (s *simulation) pick(ok func(r *conchv1.Reservation) bool) int {
	var idx []int
	for i := range s.w.rsvs {
		if ok(&s.w.rsvs[i]) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	return idx[s.rng.IntN(len(idx))]
}

// live picks a Reservation that is not final and for which ok is true, or returns -1.
func (s *simulation) live(ok func(r *conchv1.Reservation) bool) int {
	return s.pick(func(r *conchv1.Reservation) bool { return !r.Status.State.IsFinal() && ok(r) })
}

// operate changes the world one way and says how.
func (s *simulation) operate() string {
	w := &s.w
	switch n := s.rng.IntN(100); {
	case n < 25:
		name := fmt.Sprintf("%c%03d", 'a'+s.rng.IntN(26), s.seq)
		s.seq++
		b := testutil.Reservation(name).On("staging").Holder(simHolders[s.rng.IntN(len(simHolders))]).
			Created(w.now.Truncate(time.Second))
		if s.rng.IntN(5) > 0 {
			b.For(s.randDuration())
		}
		if s.rng.IntN(10) == 0 {
			heartbeat(b, time.Duration(5+s.rng.IntN(300))*time.Second, w.now)
		}
		w.rsvs = append(w.rsvs, *b.Obj())
		return "create " + name
	case n < 33:
		if i := s.live(func(r *conchv1.Reservation) bool { return !r.Spec.Released }); i >= 0 {
			w.rsvs[i].Spec.Released = true
			return "release " + w.rsvs[i].Name
		}
	case n < 40:
		// Any Reservation, final ones too: people clean up old records.
		if i := s.pick(func(r *conchv1.Reservation) bool { return r.DeletionTimestamp == nil }); i >= 0 {
			dt := metav1.NewTime(w.now.Truncate(time.Second))
			w.rsvs[i].DeletionTimestamp = &dt
			w.rsvs[i].Finalizers = []string{conchv1.ReservationFinalizer}
			return "delete " + w.rsvs[i].Name
		}
	case n < 50:
		if i := s.live(func(*conchv1.Reservation) bool { return true }); i >= 0 {
			d := s.randDuration()
			w.rsvs[i].Spec.Duration = &metav1.Duration{Duration: d}
			return fmt.Sprintf("change duration of %s to %s", w.rsvs[i].Name, d)
		}
	case n < 75:
		var d time.Duration
		switch k := s.rng.IntN(6); {
		case k == 0:
			d = time.Duration(1 + s.rng.IntN(999))
		case k == 1:
			d = time.Microsecond
		case k == 2 && !s.plan.NextChange.IsZero():
			d = s.plan.NextChange.Sub(w.now) // exactly to the next expiry
		case k == 3 && !s.plan.NextChange.IsZero():
			d = s.plan.NextChange.Sub(w.now) - time.Microsecond
		case k == 4:
			d = time.Duration(1+s.rng.IntN(2*3600)) * time.Second
		default:
			d = time.Duration(1+s.rng.IntN(600)) * time.Second
		}
		if d > 0 {
			w.now = w.now.Add(d)
		}
		return fmt.Sprintf("advance %s", d)
	case n < 90:
		all := s.rng.IntN(2) == 0
		w.observe(s.plan, func() bool { return all || s.rng.IntN(4) > 0 })
		return fmt.Sprintf("observe statuses (all: %v)", all)
	case n < 93:
		for i := range w.rsvs {
			if r := &w.rsvs[i]; r.Spec.HeartbeatTimeout != nil && s.rng.IntN(2) == 0 {
				rt := metav1.NewMicroTime(w.now)
				r.Spec.RenewTime = &rt
			}
		}
		return "renew heartbeats"
	case n < 96:
		w.res.Spec.Capacity = int32(1 + s.rng.IntN(3))
		return fmt.Sprintf("set capacity %d", w.res.Spec.Capacity)
	case n < 98:
		if w.res.Spec.Granting == conchv1.GrantingPaused {
			w.res.Spec.Granting = conchv1.GrantingOpen
			return "open granting"
		}
		w.res.Spec.Granting = conchv1.GrantingPaused
		return "pause granting"
	default:
		// Deleted and re-created long after the statuses were written: the Reservations remember their holds.
		w.observe(s.plan, func() bool { return true })
		w.res.Status = conchv1.ResourceStatus{}
		return "re-create the Resource"
	}
	return "nothing"
}

// decide runs Decide on the world, checks the plan and applies it.
func (s *simulation) decide() []string {
	res, rsvs, now := s.w.res, s.w.rsvs, s.w.now
	plan := queue.Decide(res, rsvs, now)
	errs := checkPlan(res, rsvs, now, plan)

	shuffled := slices.Clone(rsvs)
	s.rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if diff := samePlan(plan, queue.Decide(res, shuffled, now)); diff != "" {
		errs = append(errs, "shuffled input gives another plan:\n"+diff)
	}

	// Across plans: a hold keeps its start while it lasts, and a Reservation holds at most once.
	holding := map[types.UID]bool{}
	for _, h := range plan.Holders {
		uid := types.UID(h.UID)
		holding[uid] = true
		if s.left[uid] {
			errs = append(errs, fmt.Sprintf("%s holds again after its hold ended", h.Reservation))
		}
		if g, ok := s.grantedAt[uid]; ok && !g.Equal(h.Since.Time) {
			errs = append(errs, fmt.Sprintf("%s's hold moved from %v to %v", h.Reservation, g, h.Since.Time))
		}
		s.grantedAt[uid] = h.Since.Time
	}
	for _, h := range s.plan.Holders {
		if !holding[types.UID(h.UID)] {
			s.left[types.UID(h.UID)] = true
		}
	}

	for _, o := range plan.Outcomes {
		switch {
		case o.State == conchv1.StateGranted && o.GrantedAt.Equal(queue.CeilMicro(now)):
			s.seen["granted"]++
		case o.State == conchv1.StateQueued:
			s.seen["queued"]++
		case o.State == conchv1.StateExpired && o.EndedAt.Equal(queue.CeilMicro(now)):
			s.seen["expired"]++
		case o.Reason == conchv1.ReasonReleased && o.EndedAt.Equal(queue.CeilMicro(now)):
			s.seen["released"]++
		case o.Reason == conchv1.ReasonDeleted && o.Deleting:
			s.seen["deleted"]++
		case o.State == conchv1.StateRejected && o.EndedAt.Equal(queue.CeilMicro(now)):
			s.seen["rejected"]++
		}
	}
	if len(plan.Holders) > max(1, int(res.Spec.Capacity)) {
		s.seen["over capacity"]++
	}
	if plan.Waiting > 0 && slices.ContainsFunc(plan.Outcomes, func(o queue.Outcome) bool {
		return o.State == conchv1.StateExpired && slices.ContainsFunc(plan.Holders, func(h conchv1.ResourceHolder) bool { return h.UID == string(o.UID) })
	}) {
		s.seen["expired holder blocks"]++
	}
	if len(res.Status.Holders) == 0 && len(plan.Holders) > 0 && plan.Holders[0].Since.Time.Before(queue.CeilMicro(now)) {
		s.seen["re-adopted"]++
	}
	for _, h := range plan.Holders {
		if h.Since.Equal(&metav1.MicroTime{Time: queue.CeilMicro(now)}) && len(s.plan.Holders) > 0 && !slices.ContainsFunc(s.plan.Holders, func(p conchv1.ResourceHolder) bool { return p.UID == h.UID }) {
			s.seen["handover"]++
		}
	}

	s.w.apply(plan)
	s.plan = plan
	return errs
}

// samePlan returns a diff between two plans, or "" when they are the same. Two plans computed from the same
// input are identical to the bit, so reflect.DeepEqual decides quickly; cmp explains.
func samePlan(a, b queue.Plan) string {
	if reflect.DeepEqual(a, b) {
		return ""
	}
	return cmp.Diff(a, b, planOpts)
}

// checkPlan checks what every plan must satisfy, from the input alone, without repeating the engine's logic.
func checkPlan(res *conchv1.Resource, rsvs []conchv1.Reservation, rawNow time.Time, plan queue.Plan) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	now := rawNow.Truncate(time.Microsecond)
	if now.Before(rawNow) {
		now = now.Add(time.Microsecond)
	}
	capacity := max(1, int(res.Spec.Capacity))
	paused := res.Spec.Granting == conchv1.GrantingPaused
	var maxDur time.Duration
	if res.Spec.MaxDuration != nil {
		maxDur = res.Spec.MaxDuration.Duration
	}

	// One outcome per Reservation, in arrival order: creation time, then name, then UID.
	arrival := slices.Clone(rsvs)
	slices.SortFunc(arrival, func(a, b conchv1.Reservation) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(string(a.UID), string(b.UID))
	})
	if len(plan.Outcomes) != len(arrival) {
		fail("%d outcomes for %d Reservations", len(plan.Outcomes), len(arrival))
		return errs
	}

	recorded := map[types.UID]bool{}
	for _, h := range res.Status.Holders {
		recorded[types.UID(h.UID)] = true
	}
	// carried are the holds that exist before this plan: recorded by the Resource or, when it lost them,
	// remembered by the Reservation; released and final ones let go.
	carried := map[types.UID]bool{}
	for _, r := range rsvs {
		if r.Status.State.IsFinal() || r.Spec.Released || r.DeletionTimestamp != nil {
			continue
		}
		if recorded[r.UID] || (r.Status.State == conchv1.StateGranted && r.Status.GrantedAt != nil) {
			carried[r.UID] = true
		}
	}

	holders := map[types.UID]conchv1.ResourceHolder{}
	for i, h := range plan.Holders {
		if _, dup := holders[types.UID(h.UID)]; dup {
			fail("%s is listed twice as a holder", h.Reservation)
		}
		holders[types.UID(h.UID)] = h
		if i > 0 && h.Since.Before(&plan.Holders[i-1].Since) {
			fail("holders not oldest first: %s since %v after %s", h.Reservation, h.Since, plan.Holders[i-1].Reservation)
		}
	}
	if limit := max(capacity, len(carried)); len(plan.Holders) > limit {
		fail("%d holders, more than capacity %d and the %d carried over", len(plan.Holders), capacity, len(carried))
	}

	newGrants, waiting := 0, 0
	firstQueued := ""
	var lastETA time.Time
	queuedNames := []string{}
	for i, o := range plan.Outcomes {
		r := &arrival[i]
		if o.UID != r.UID || o.Name != r.Name {
			fail("outcome %d is %s/%s, want %s/%s (arrival order)", i, o.Name, o.UID, r.Name, r.UID)
			continue
		}
		h, isHolder := holders[o.UID]
		if maxDur > 0 && o.Duration > maxDur {
			fail("%s holds for %s, longer than maxDuration %s", o.Name, o.Duration, maxDur)
		}
		if r.Spec.Duration != nil && o.Clamped != (maxDur > 0 && r.Spec.Duration.Duration > maxDur) {
			fail("%s asked for %s under maxDuration %s, but Clamped is %v", o.Name, r.Spec.Duration.Duration, maxDur, o.Clamped)
		}
		if isHolder && (!h.Since.Time.Equal(o.GrantedAt) || !h.Until.Time.Equal(o.ExpiresAt)) {
			fail("%s's holder entry %v..%v differs from its outcome %v..%v", o.Name, h.Since, h.Until, o.GrantedAt, o.ExpiresAt)
		}

		switch {
		case r.Status.State.IsFinal():
			if o.State != r.Status.State {
				fail("final %s changed from %s to %s", o.Name, r.Status.State, o.State)
			}
			if isHolder {
				fail("final %s (%s) still holds", o.Name, o.State)
			}
			if o.Deleting != (r.DeletionTimestamp != nil) {
				fail("final %s: Deleting is %v", o.Name, o.Deleting)
			}
			continue
		case r.Spec.Released || r.DeletionTimestamp != nil:
			if o.State != conchv1.StateReleased || isHolder {
				fail("released or deleted %s is %s (holder: %v)", o.Name, o.State, isHolder)
			}
			if o.Deleting != (r.DeletionTimestamp != nil) {
				fail("%s: Deleting is %v", o.Name, o.Deleting)
			}
			continue
		}

		switch o.State {
		case conchv1.StateGranted:
			if !isHolder {
				fail("granted %s is not among the holders", o.Name)
			}
			if !o.ExpiresAt.After(now) {
				fail("%s still holds at %v although its hold ended at %v", o.Name, now, o.ExpiresAt)
			}
			if want := o.GrantedAt.Add(o.Duration); o.ExpiresAt.Before(want) || o.ExpiresAt.Sub(want) >= time.Microsecond {
				fail("%s expires at %v, want %v rounded up to the microsecond", o.Name, o.ExpiresAt, want)
			}
			if !carried[o.UID] {
				newGrants++
				if !o.GrantedAt.Equal(now) {
					fail("%s newly granted at %v, not now (%v)", o.Name, o.GrantedAt, now)
				}
				if firstQueued != "" {
					fail("FIFO: %s granted while %s, which came first, waits", o.Name, firstQueued)
				}
				if paused {
					fail("%s granted while granting is paused", o.Name)
				}
			}
		case conchv1.StateExpired:
			if isHolder != carried[o.UID] {
				fail("expired %s: holder %v, held before %v", o.Name, isHolder, carried[o.UID])
			}
			if isHolder && o.Reason == conchv1.ReasonExpired && o.GrantedAt.Add(o.Duration).After(now) {
				fail("%s expired early: at %v, before %v + %s", o.Name, now, o.GrantedAt, o.Duration)
			}
			if !o.EndedAt.Equal(now) {
				fail("%s expired at %v, not now", o.Name, o.EndedAt)
			}
		case conchv1.StateQueued:
			if isHolder {
				fail("%s both holds and waits", o.Name)
			}
			if carried[o.UID] {
				fail("%s held and is queued again", o.Name)
			}
			waiting++
			queuedNames = append(queuedNames, o.Name)
			if firstQueued == "" {
				firstQueued = o.Name
			}
			if o.Position != int32(waiting) || o.Waiting != plan.Waiting {
				fail("%s is at %d of %d, want %d of %d", o.Name, o.Position, o.Waiting, waiting, plan.Waiting)
			}
			switch {
			case paused && !o.EstimatedGrantTime.IsZero():
				fail("%s has an estimate while granting is paused", o.Name)
			case !paused && (o.EstimatedGrantTime.Before(now) || o.EstimatedGrantTime.Before(lastETA)):
				fail("%s estimated at %v: before now (%v) or before the one ahead (%v)", o.Name, o.EstimatedGrantTime, now, lastETA)
			}
			lastETA = o.EstimatedGrantTime
		case conchv1.StateRejected:
			if isHolder || carried[o.UID] {
				fail("%s rejected while holding", o.Name)
			}
		default:
			fail("%s in unexpected state %s", o.Name, o.State)
		}
	}

	if free := max(0, capacity-len(carried)); newGrants > free {
		fail("%d granted for %d free slots", newGrants, free)
	}
	if waiting != int(plan.Waiting) {
		fail("Waiting is %d, %d are queued", plan.Waiting, waiting)
	}
	var inQueue []string
	for _, e := range plan.Queue {
		inQueue = append(inQueue, e.Reservation)
	}
	if want := queuedNames[:min(len(queuedNames), conchv1.MaxQueueEntries)]; !slices.Equal(inQueue, want) {
		fail("queue is %v, want %v", inQueue, want)
	}
	if !paused && waiting > 0 && len(plan.Holders) < capacity {
		fail("%d wait while only %d of %d slots are held", waiting, len(plan.Holders), capacity)
	}

	var firstEnd time.Time
	for _, o := range plan.Outcomes {
		if _, ok := holders[o.UID]; ok && o.State == conchv1.StateGranted && (firstEnd.IsZero() || o.ExpiresAt.Before(firstEnd)) {
			firstEnd = o.ExpiresAt
		}
	}
	switch {
	case !plan.NextChange.IsZero() && !plan.NextChange.After(now):
		fail("NextChange %v is not after now %v", plan.NextChange, now)
	case !firstEnd.IsZero() && (plan.NextChange.IsZero() || plan.NextChange.After(firstEnd)):
		fail("NextChange %v is not at or before the first hold's end %v", plan.NextChange, firstEnd)
	}
	switch {
	case paused && !plan.NextSlot.IsZero():
		fail("NextSlot %v while granting is paused", plan.NextSlot)
	case !paused && (plan.NextSlot.Before(now) || plan.NextSlot.Before(lastETA)):
		fail("NextSlot %v before now %v or the last estimate %v", plan.NextSlot, now, lastETA)
	}
	return errs
}
