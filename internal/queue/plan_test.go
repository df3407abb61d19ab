package queue_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
	"github.com/conch-dev/conch/internal/testutil"
)

// world plays the controller around Decide for the planning tests: it records each plan's ledger in the
// Resource's status and each outcome in its Reservation's status, as the controller writes them.
type world struct {
	t     *testing.T
	res   *conchv1.Resource
	rsvs  []*conchv1.Reservation
	usage func(string) queue.Usage
	plan  queue.Plan
}

func newWorld(t *testing.T, res *testutil.ResourceWrapper, rsvs ...*testutil.ReservationWrapper) *world {
	w := &world{t: t, res: res.Obj()}
	w.add(rsvs...)
	return w
}

func (w *world) add(rsvs ...*testutil.ReservationWrapper) {
	for _, r := range rsvs {
		w.rsvs = append(w.rsvs, r.Obj())
	}
}

func (w *world) rsv(name string) *conchv1.Reservation {
	for _, r := range w.rsvs {
		if r.Name == name {
			return r
		}
	}
	w.t.Fatalf("no Reservation %s", name)
	return nil
}

// decide runs Decide at now with every Reservation fresh, and records the plan.
func (w *world) decide(now time.Time) queue.Plan {
	w.t.Helper()
	v := queue.View{Resource: w.res, Fresh: map[types.UID]bool{}, Usage: w.usage}
	for _, r := range w.rsvs {
		v.Reservations = append(v.Reservations, *r.DeepCopy())
		v.Fresh[r.UID] = true
	}
	p := queue.Decide(v, now)
	st := &w.res.Status
	st.Holders, st.Queue, st.NextTicket, st.Waiting = p.Ledger.Holders, p.Ledger.Queue, p.Ledger.NextTicket, p.Ledger.Waiting
	st.RecentlyEnded, st.Turnover, st.HookSequence = p.Ledger.RecentlyEnded, p.Ledger.Turnover, p.Ledger.HookSequence
	for _, o := range p.Outcomes {
		r := w.rsv(o.Name)
		r.Status.State, r.Status.ResourceName, r.Status.ResourceUID = o.State, w.res.Name, string(w.res.UID)
	}
	w.plan = p
	return p
}

// outcome is the last plan's outcome for name.
func (w *world) outcome(name string) queue.Outcome {
	w.t.Helper()
	o, ok := w.plan.Outcome(name)
	if !ok {
		w.t.Fatalf("no outcome for %s in %+v", name, w.plan.Outcomes)
	}
	return o
}

// expect checks the state and reason of name's outcome in the last plan.
func (w *world) expect(name string, state conchv1.ReservationState, reason string) queue.Outcome {
	w.t.Helper()
	o := w.outcome(name)
	if o.State != state || o.Reason != reason {
		w.t.Fatalf("%s: got %s/%s, want %s/%s (%+v)", name, o.State, o.Reason, state, reason, o)
	}
	return o
}

func expectTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %s, want %s", what, got, want)
	}
}

func TestBookings(t *testing.T) {
	t.Run("a booking is granted exactly at its start, not a microsecond before, until its end", func(t *testing.T) {
		w := newWorld(t, staging(), rsv("bob", 0).At(at(2*h)).For(h))
		w.decide(at(0))
		o := w.expect("bob", conchv1.StateQueued, conchv1.ReasonBooked)
		expectTime(t, "estimate", o.EstimatedGrantTime, at(2*h))
		expectTime(t, "next change", w.plan.NextChange, at(2*h))
		if o.Position != 0 || w.plan.Ledger.Waiting != 0 {
			t.Fatalf("a booking has no place in the walk-in queue: position %d, waiting %d", o.Position, w.plan.Ledger.Waiting)
		}
		w.decide(at(2*h - us))
		w.expect("bob", conchv1.StateQueued, conchv1.ReasonBooked)
		w.decide(at(2 * h))
		o = w.expect("bob", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "until", o.ExpiresAt, at(3*h))
	})
	t.Run("a walk-in whose term runs into a booking is shortened to end at it, and says so", func(t *testing.T) {
		w := newWorld(t, staging(), rsv("bob", 0).At(at(h)).For(h), rsv("alice", s).For(2*h))
		w.decide(at(2 * s))
		o := w.expect("alice", conchv1.StateGranted, conchv1.ReasonShortenedForBooking)
		expectTime(t, "until", o.ExpiresAt, at(h))
		if !strings.Contains(o.ShortenedFor, "bob's booking") {
			t.Fatalf("ShortenedFor %q does not name bob's booking", o.ShortenedFor)
		}
		w.decide(at(h))
		w.expect("alice", conchv1.StateExpired, conchv1.ReasonExpired)
		w.expect("bob", conchv1.StateGranted, conchv1.ReasonGranted)
	})
	t.Run("under walkIns Wait a long walk-in waits and a short one behind it is backfilled before the booking", func(t *testing.T) {
		w := newWorld(t, staging().WalkIns(conchv1.WalkInWait),
			rsv("bob", 0).At(at(h)).For(h), rsv("alice", s).For(2*h), rsv("carol", 2*s).For(30*m))
		w.decide(at(3 * s))
		a := w.expect("alice", conchv1.StateQueued, conchv1.ReasonWaitingForBooking)
		w.expect("carol", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "alice's estimate: after bob's booking", a.EstimatedGrantTime, at(2*h))
		w.decide(at(2 * h))
		w.expect("alice", conchv1.StateGranted, conchv1.ReasonGranted)
	})
	t.Run("a booking that cannot fit beside another is rejected with the conflict and the next free slot", func(t *testing.T) {
		w := newWorld(t, staging(), rsv("bob", 0).At(at(h)).For(h), rsv("dave", s).At(at(90*m)).For(h))
		w.decide(at(2 * s))
		w.expect("bob", conchv1.StateQueued, conchv1.ReasonBooked)
		o := w.expect("dave", conchv1.StateRejected, conchv1.ReasonBookingConflict)
		if !strings.Contains(o.Conflict, "bob's booking") {
			t.Fatalf("conflict %q does not name bob's booking", o.Conflict)
		}
		expectTime(t, "next free", o.NextFree, at(2*h))
	})
	t.Run("capacity 2 takes two overlapping bookings and rejects a third", func(t *testing.T) {
		w := newWorld(t, staging().Capacity(2),
			rsv("a", 0).At(at(h)).For(h), rsv("b", s).At(at(90*m)).For(h), rsv("c", 2*s).At(at(100*m)).For(10*m))
		w.decide(at(3 * s))
		w.expect("a", conchv1.StateQueued, conchv1.ReasonBooked)
		w.expect("b", conchv1.StateQueued, conchv1.ReasonBooked)
		w.expect("c", conchv1.StateRejected, conchv1.ReasonBookingConflict)
	})
	t.Run("a booking that conflicts with a promised hold is rejected: the hold's term is never cut", func(t *testing.T) {
		w := newWorld(t, staging(), rsv("alice", 0).For(2*h))
		w.decide(at(s))
		w.add(rsv("bob", 2*s).At(at(h)).For(h))
		w.decide(at(3 * s))
		o := w.expect("bob", conchv1.StateRejected, conchv1.ReasonBookingConflict)
		expectTime(t, "next free", o.NextFree, at(s+2*h))
	})
	t.Run("a booking wholly in the past is rejected; one that started is held now until its end", func(t *testing.T) {
		w := newWorld(t, staging().Capacity(2), rsv("old", 0).At(at(-2*h)).For(h), rsv("late", 0).At(at(-30*m)).For(h))
		w.decide(at(s))
		w.expect("old", conchv1.StateRejected, conchv1.ReasonBookingInPast)
		o := w.expect("late", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "until", o.ExpiresAt, at(30*m))
	})
	t.Run("a booking held from after its start still ends at startTime + duration when its duration is edited", func(t *testing.T) {
		// Found by TestLedgerProperties (seed 464): an extension counted the new duration from the grant, so a booking
		// granted after its startTime was held past startTime + duration.
		w := newWorld(t, staging(), rsv("late", 0).At(at(-30*m)).For(h))
		w.decide(at(s))
		o := w.expect("late", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "until", o.ExpiresAt, at(30*m))
		w.rsv("late").Spec.Duration.Duration = 2 * h
		w.decide(at(m))
		o = w.expect("late", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "extended until", o.ExpiresAt, at(90*m))
		w.rsv("late").Spec.Duration.Duration = 45 * m
		w.decide(at(2 * m))
		o = w.expect("late", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "shortened until", o.ExpiresAt, at(15*m))
	})
	t.Run("a booking on a paused Resource waits, and ends unheld once its whole term passed", func(t *testing.T) {
		w := newWorld(t, staging().Paused(), rsv("bob", 0).At(at(h)).For(h))
		w.decide(at(s))
		w.decide(at(h))
		w.expect("bob", conchv1.StateQueued, conchv1.ReasonBooked)
		w.decide(at(2 * h))
		w.expect("bob", conchv1.StateExpired, conchv1.ReasonBookingMissed)
	})
	t.Run("a booking whose time came waits on a paused Resource without asking to decide again at once", func(t *testing.T) {
		// Found by TestLedgerProperties (seed 3): the next change was the booking's start, now, so the controller
		// decided again every millisecond for as long as the booking waited.
		w := newWorld(t, staging().Paused(), rsv("bob", 0).At(at(h)).For(h))
		w.decide(at(s))
		w.decide(at(h + m))
		w.expect("bob", conchv1.StateQueued, conchv1.ReasonBooked)
		expectTime(t, "next change: the booking's end", w.plan.NextChange, at(2*h))
	})
	t.Run("a booking whose time comes while its slot is held waits for the holder and keeps its end", func(t *testing.T) {
		// A hold granted before bookings were planned (or under a larger capacity) runs past the booking's start.
		res := staging().Holders(held("alice", 1, at(0), 2*h)).
			Queue(withStart(entry("bob", 2, h), at(h))).NextTicket(3)
		w := newWorld(t, res, rsv("alice", 0).For(2*h), rsv("bob", s).At(at(h)).For(h))
		w.rsv("alice").Status.State = conchv1.StateGranted
		w.decide(at(h))
		o := w.expect("bob", conchv1.StateQueued, conchv1.ReasonBooked)
		if !strings.Contains(o.WaitingFor, "alice until") {
			t.Fatalf("WaitingFor %q does not say who holds the slot", o.WaitingFor)
		}
		w.decide(at(90 * m)) // alice releases early
		w.rsv("alice").Spec.Released = true
		w.decide(at(90 * m))
		o = w.expect("bob", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "until", o.ExpiresAt, at(2*h))
	})
	t.Run("a booking moves when its new time is free, and keeps its slot when it is not", func(t *testing.T) {
		w := newWorld(t, staging(), rsv("bob", 0).At(at(h)).For(h), rsv("carol", s).At(at(3*h)).For(h))
		w.decide(at(2 * s))
		w.rsv("bob").Spec.StartTime.Time = at(5 * h)
		w.decide(at(3 * s))
		expectTime(t, "moved", w.outcome("bob").BookedStart, at(5*h))
		w.rsv("bob").Spec.StartTime.Time = at(3*h + 30*m)
		w.decide(at(4 * s))
		o := w.expect("bob", conchv1.StateQueued, conchv1.ReasonBooked)
		expectTime(t, "kept", o.BookedStart, at(5*h))
		if !strings.Contains(o.Conflict, "cannot move") || !strings.Contains(o.Conflict, "carol's booking") {
			t.Fatalf("conflict %q", o.Conflict)
		}
	})
	t.Run("a move seen in a view that may be stale waits for a read: it never undoes the ledger's booking", func(t *testing.T) {
		// Found by TestLedgerProperties (seed 2867): a cache that showed bob's Reservation from before he booked
		// turned his booking back into a walk-in, granted at once, long before its startTime.
		res := staging().Queue(withStart(entry("bob", 1, 30*m), at(h))).NextTicket(2)
		stale := rsv("bob", 0).For(30 * m).Obj() // before spec.startTime was set
		v := queue.View{Resource: res.Obj(), Reservations: []conchv1.Reservation{*stale}}
		p := queue.Decide(v, at(m))
		if len(p.Confirm) != 1 || p.Confirm[0] != "bob" {
			t.Fatalf("confirm %v, want [bob]", p.Confirm)
		}
		if len(p.Ledger.Holders) != 0 || len(p.Ledger.Queue) != 1 || p.Ledger.Queue[0].StartTime == nil ||
			!p.Ledger.Queue[0].StartTime.Time.Equal(at(h)) {
			t.Fatalf("the booking must stay as recorded until the read: %+v", p.Ledger)
		}
		// Read from the API server, the same spec is the person's: the booking became a walk-in.
		v.Fresh = map[types.UID]bool{stale.UID: true}
		p = queue.Decide(v, at(m))
		if len(p.Confirm) != 0 || len(p.Ledger.Holders) != 1 {
			t.Fatalf("a fresh view moves it: confirm %v, ledger %+v", p.Confirm, p.Ledger)
		}
	})
	t.Run("an extension stops where a booking needs the slot, and never shortens the term", func(t *testing.T) {
		w := newWorld(t, staging(), rsv("alice", 0).For(30*m), rsv("bob", s).At(at(h)).For(h))
		w.decide(at(2 * s))
		w.rsv("alice").Spec.Duration.Duration = 3 * h
		w.decide(at(10 * m))
		o := w.expect("alice", conchv1.StateGranted, conchv1.ReasonShortenedForBooking)
		expectTime(t, "until", o.ExpiresAt, at(h))
	})
	t.Run("a booking shortened within its own slot is shortened, even where capacity was lowered under it", func(t *testing.T) {
		// Seed 41557 of -ledger.schedules=100000: the shorter term was checked against the other bookings like a
		// move, conflicted with one that capacity, lowered, no longer had room for, and the booking kept and was
		// granted its longer term.
		w := newWorld(t, staging().Capacity(2), rsv("a", 0).At(at(h)).For(2*h), rsv("b", s).At(at(h)).For(h))
		w.decide(at(2 * s))
		w.res.Spec.Capacity = 1
		w.rsv("a").Spec.Duration.Duration = 30 * m
		w.decide(at(3 * s))
		o := w.expect("a", conchv1.StateQueued, conchv1.ReasonBooked)
		expectTime(t, "a's booked end", o.BookedEnd, at(90*m))
		if o.Conflict != "" {
			t.Fatalf("a shortening is no move: conflict %q", o.Conflict)
		}
	})
	t.Run("a walk-in whose booking does not fit waits as a walk-in for the duration it asks for", func(t *testing.T) {
		// Seed 120459 of -ledger.schedules=300000: the failed move put back the walk-in's old duration in the
		// queue, so its estimates (and the ledger) counted a term it no longer asked for.
		w := newWorld(t, staging(), rsv("alice", 0).For(3*h), rsv("bob", s).For(h), rsv("carol", 2*s).At(at(4*h)).For(h))
		w.decide(at(3 * s))
		w.rsv("bob").Spec.Duration.Duration = 2 * h
		w.rsv("bob").Spec.StartTime = &metav1.Time{Time: at(4 * h)} // carol's
		w.decide(at(4 * s))
		o := w.expect("bob", conchv1.StateQueued, conchv1.ReasonQueued)
		if o.Conflict == "" || w.plan.Ledger.Queue[0].StartTime != nil {
			t.Fatalf("bob's move does not fit: conflict %q, entry %+v", o.Conflict, w.plan.Ledger.Queue[0])
		}
		if got := w.plan.Ledger.Queue[0].Duration.Duration; got != 2*h {
			t.Fatalf("bob waits for %v, want the 2h he asks for", got)
		}
	})
	t.Run("two extensions in one decision each fit beside the other's new term and the bookings", func(t *testing.T) {
		// Found by TestLedgerProperties (seed 12711 of -ledger.schedules=100000): each extension was checked against
		// the other holds' terms as read, so two holds extended at once both ran into a booking that had room for
		// one of them.
		w := newWorld(t, staging().Capacity(2), rsv("alice", 0).For(30*m), rsv("bob", s).For(10*m), rsv("carol", 2*s).At(at(40*m)).For(10*m))
		w.decide(at(3 * s))
		w.expect("carol", conchv1.StateQueued, conchv1.ReasonBooked)
		w.rsv("alice").Spec.Duration.Duration = h
		w.rsv("bob").Spec.Duration.Duration = h
		w.decide(at(5 * m))
		a := w.expect("alice", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "alice, extended first, until", a.ExpiresAt, at(3*s+h))
		b := w.expect("bob", conchv1.StateGranted, conchv1.ReasonShortenedForBooking)
		expectTime(t, "bob's extension stops at carol's booking", b.ExpiresAt, at(40*m))
	})
	t.Run("a booking across the night Europe/Berlin springs forward lasts its duration in real time", func(t *testing.T) {
		berlin, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			t.Skip(err)
		}
		start := time.Date(2026, time.March, 29, 1, 30, 0, 0, berlin) // 02:00–03:00 does not exist that night
		w := newWorld(t, staging(), testutil.Reservation("bob").On("staging").Created(start.Add(-h)).At(start).For(2*h))
		w.decide(start.Add(-h))
		w.decide(start)
		o := w.expect("bob", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "until", o.ExpiresAt, start.Add(2*h))
		if got := o.ExpiresAt.In(berlin).Format("15:04"); got != "04:30" {
			t.Fatalf("ends at %s Berlin time, want 04:30", got)
		}
	})
}

func withStart(q conchv1.QueueEntry, start time.Time) conchv1.QueueEntry {
	st := metavTime(start)
	q.StartTime = &st
	return q
}

func TestPriorities(t *testing.T) {
	t.Run("a higher priority goes ahead of earlier arrivals, and the grant counts whom it passed", func(t *testing.T) {
		w := newWorld(t, staging(), rsv("alice", 0))
		w.decide(at(s))
		w.add(rsv("bob", s), rsv("carol", 2*s), rsv("hotfix", 3*s).Priority(5, "INC-42"))
		w.decide(at(4 * s))
		w.expect("hotfix", conchv1.StateQueued, conchv1.ReasonQueued)
		if p := w.outcome("hotfix").Position; p != 1 {
			t.Fatalf("hotfix at position %d, want 1", p)
		}
		w.rsv("alice").Spec.Released = true
		w.decide(at(5 * s))
		if o := w.expect("hotfix", conchv1.StateGranted, conchv1.ReasonGranted); o.Jumped != 2 {
			t.Fatalf("hotfix passed %d, want 2 (bob and carol)", o.Jumped)
		}
	})
	t.Run("under preemption Never the queue is first come, first served whatever the priority", func(t *testing.T) {
		w := newWorld(t, staging().Preemption(conchv1.PreemptionNever, 0, 0), rsv("alice", 0), rsv("bob", s), rsv("hotfix", 2*s).Priority(5, "INC-42"))
		w.decide(at(3 * s))
		if p := w.outcome("hotfix").Position; p != 2 {
			t.Fatalf("hotfix at position %d, want 2", p)
		}
	})
	t.Run("aging: after (p − q) × agingInterval a low priority is ahead of any newcomer", func(t *testing.T) {
		w := newWorld(t, staging().Preemption(conchv1.PreemptionQueue, 0, 10*m), rsv("alice", 0).For(10*h), rsv("low", s))
		w.decide(at(2 * s))
		// Newcomers of priority 3 pass low until it waited 3 × 10m; then low is first.
		w.add(rsv("p3-early", 29*m).Priority(3, "urgent"))
		w.decide(at(29 * m))
		if p := w.outcome("low").Position; p != 2 {
			t.Fatalf("low at %d before its bound, want 2", p)
		}
		w.add(rsv("p3-late", 31*m).Priority(3, "urgent"))
		w.decide(at(31 * m))
		if p := w.outcome("low").Position; p != 1 {
			t.Fatalf("low at %d, want 1: aged to 3, it ties with both and arrived first", p)
		}
		if p := w.outcome("p3-late").Position; p != 3 {
			t.Fatalf("p3-late at %d, want 3", p)
		}
	})
	t.Run("preemption Hold warns the holder, keeps the grace period, then ends the hold as Preempted", func(t *testing.T) {
		w := newWorld(t, staging().Preemption(conchv1.PreemptionHold, 5*m, 0), rsv("alice", 0).For(2*h))
		w.decide(at(s))
		w.add(rsv("hotfix", 10*m).Priority(5, "INC-42 prod down"))
		w.decide(at(10 * m))
		o := w.expect("alice", conchv1.StateGranted, conchv1.ReasonPreempting)
		expectTime(t, "alice's new end", o.ExpiresAt, at(15*m))
		if o.Preemption == nil || o.Preemption.Holder != "hotfix" || o.Preemption.Reason != "INC-42 prod down" {
			t.Fatalf("preemption %+v", o.Preemption)
		}
		expectTime(t, "next change", w.plan.NextChange, at(15*m))
		w.decide(at(15*m - us))
		w.expect("alice", conchv1.StateGranted, conchv1.ReasonPreempting)
		w.decide(at(15 * m))
		w.expect("alice", conchv1.StateReleased, conchv1.ReasonPreempted)
		w.expect("hotfix", conchv1.StateGranted, conchv1.ReasonGranted)
	})
	t.Run("a preemption is called off when the one it was for leaves the queue", func(t *testing.T) {
		w := newWorld(t, staging().Preemption(conchv1.PreemptionHold, 5*m, 0), rsv("alice", 0).For(2*h))
		w.decide(at(s))
		w.add(rsv("hotfix", s).Priority(5, "x"))
		w.decide(at(2 * s))
		w.expect("alice", conchv1.StateGranted, conchv1.ReasonPreempting)
		w.rsv("hotfix").Spec.Released = true
		w.decide(at(m))
		o := w.expect("alice", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "alice's end is hers again", o.ExpiresAt, at(s+2*h))
	})
	t.Run("a preemption decided on only after its grace period is carried out only if it still stands", func(t *testing.T) {
		// Found by TestLedgerProperties (seeds 1164, 2057): a hold whose grace period had run out ended as Preempted
		// at the next decision although preemption had been turned off, or the one it was for had left (released,
		// its heartbeat missed) meanwhile.
		for name, change := range map[string]func(w *world){
			"preemption turned off": func(w *world) {
				w.res.Spec.Priorities.Preemption = conchv1.PreemptionQueue
			},
			"the one it was for left": func(w *world) { w.rsv("hotfix").Spec.Released = true },
		} {
			t.Run(name, func(t *testing.T) {
				w := newWorld(t, staging().Preemption(conchv1.PreemptionHold, 5*m, 0), rsv("alice", 0).For(2*h))
				w.decide(at(s))
				w.add(rsv("hotfix", 10*m).Priority(5, "INC-42"))
				w.decide(at(10 * m))
				w.expect("alice", conchv1.StateGranted, conchv1.ReasonPreempting)
				change(w)
				w.decide(at(20 * m))
				o := w.expect("alice", conchv1.StateGranted, conchv1.ReasonGranted)
				expectTime(t, "alice's end is hers again", o.ExpiresAt, at(s+2*h))
			})
		}
	})
	t.Run("a preemption stands when the one it was for asks to move to a booking that does not fit", func(t *testing.T) {
		// Seed 36787 of -ledger.schedules=100000: counting such a move as leaving called the preemption off and
		// preempt warned the holder again, at every decision, and the hold never ended.
		w := newWorld(t, staging().Preemption(conchv1.PreemptionHold, 5*m, 0), rsv("alice", 0).For(2*h),
			rsv("bob", s).At(at(3*h)).For(h))
		w.decide(at(2 * s))
		w.add(rsv("hotfix", 10*m).Priority(5, "INC-42"))
		w.decide(at(10 * m))
		w.expect("alice", conchv1.StateGranted, conchv1.ReasonPreempting)
		w.rsv("hotfix").Spec.StartTime = &metav1.Time{Time: at(3 * h)} // bob's
		w.decide(at(15 * m))
		w.expect("alice", conchv1.StateReleased, conchv1.ReasonPreempted)
		w.expect("hotfix", conchv1.StateGranted, conchv1.ReasonGranted)
	})
	t.Run("nobody is preempted for a Reservation over a limit, also when every slot is held", func(t *testing.T) {
		// Seed 49692 of -ledger.schedules=100000: with the slots full the limit was not looked at, so bob's second
		// Reservation preempted alice, could not take the slot (bob already holds one), and every walk-in granted
		// after her was preempted in turn. Only a hold of bob's own could make room for it.
		w := newWorld(t, staging().Capacity(2).Preemption(conchv1.PreemptionHold, 5*m, 0).Limits(conchv1.Limits{MaxHoldsPerHolder: 1}),
			rsv("b1", 0).Holder("bob").For(2*h).NotPreemptible(), rsv("a1", s).Holder("alice").For(2*h))
		w.decide(at(2 * s))
		w.add(rsv("b2", m).Holder("bob").Priority(5, "INC-42"))
		w.decide(at(m))
		w.expect("a1", conchv1.StateGranted, conchv1.ReasonGranted)
		w.expect("b1", conchv1.StateGranted, conchv1.ReasonGranted)
	})
	t.Run("what is planned beside a hold being preempted fits its whole term: the preemption may be called off", func(t *testing.T) {
		// Found by TestLedgerProperties (seed 166, with -ledger.schedules=10000 once preemptions were more common): a
		// booking admitted beside the end of a preemption that the same plan called off overlapped the hold's term
		// given back, one slot promised twice.
		w := newWorld(t, staging().Preemption(conchv1.PreemptionHold, 20*m, 0), rsv("alice", 0).For(2*h))
		w.decide(at(s))
		w.add(rsv("hotfix", m).Priority(5, "INC-42"))
		w.decide(at(m))
		w.expect("alice", conchv1.StateGranted, conchv1.ReasonPreempting)
		w.rsv("hotfix").Spec.Released = true
		w.add(rsv("bob", 2*m).At(at(h)).For(30 * m))
		w.decide(at(2 * m))
		o := w.expect("alice", conchv1.StateGranted, conchv1.ReasonGranted)
		expectTime(t, "alice's end is hers again", o.ExpiresAt, at(s+2*h))
		w.expect("bob", conchv1.StateRejected, conchv1.ReasonBookingConflict)
	})
	t.Run("a non-preemptible hold, and any hold under preemption Queue, keeps its term", func(t *testing.T) {
		for name, res := range map[string]*testutil.ResourceWrapper{
			"Queue": staging().Preemption(conchv1.PreemptionQueue, 0, 0),
			"Never": staging().Preemption(conchv1.PreemptionHold, 0, 0),
		} {
			alice := rsv("alice", 0).For(2 * h)
			if name == "Never" {
				alice.NotPreemptible()
			}
			w := newWorld(t, res, alice)
			w.decide(at(s))
			w.add(rsv("hotfix", s).Priority(5, "x"))
			w.decide(at(2 * s))
			o := w.expect("alice", conchv1.StateGranted, conchv1.ReasonGranted)
			expectTime(t, name+": alice's end", o.ExpiresAt, at(s+2*h))
		}
	})
	t.Run("preemption takes the lowest priority, latest granted hold, one per waiting Reservation", func(t *testing.T) {
		w := newWorld(t, staging().Capacity(3).Preemption(conchv1.PreemptionHold, 5*m, 0),
			rsv("a", 0).Priority(2, "x").For(2*h), rsv("b", s).For(2*h))
		w.decide(at(3 * s))
		w.add(rsv("c", 4*s).For(2 * h))
		w.decide(at(5 * s))
		w.add(rsv("hotfix", m).Priority(5, "y"))
		w.decide(at(m))
		w.expect("a", conchv1.StateGranted, conchv1.ReasonGranted)
		w.expect("b", conchv1.StateGranted, conchv1.ReasonGranted)
		w.expect("c", conchv1.StateGranted, conchv1.ReasonPreempting)
	})
}

func TestLimits(t *testing.T) {
	three := conchv1.Limits{MaxHoldsPerHolder: 3}
	t.Run("a fourth hold at once waits, without holding up the others, and names the limit", func(t *testing.T) {
		w := newWorld(t, staging().Capacity(5).Limits(three), rsv("a1", 0).Holder("alice"), rsv("a2", s).Holder("alice"),
			rsv("a3", 2*s).Holder("alice"), rsv("a4", 3*s).Holder("alice"), rsv("bob", 4*s))
		w.decide(at(5 * s))
		o := w.expect("a4", conchv1.StateQueued, conchv1.ReasonOverLimit)
		if !strings.Contains(o.Limit, "3 of at most 3") {
			t.Fatalf("limit %q", o.Limit)
		}
		w.expect("bob", conchv1.StateGranted, conchv1.ReasonGranted)
		w.rsv("a1").Spec.Released = true
		w.decide(at(6 * s))
		w.expect("a4", conchv1.StateGranted, conchv1.ReasonGranted)
	})
	t.Run("holds on the other Resources of the scope count, and Reject rejects", func(t *testing.T) {
		l := three
		l.WhenOver = conchv1.LimitReject
		w := newWorld(t, staging().Limits(l), rsv("a4", 0).Holder("alice"))
		w.usage = func(holder string) queue.Usage {
			if holder == "alice" {
				return queue.Usage{Holds: 3}
			}
			return queue.Usage{}
		}
		w.decide(at(s))
		w.expect("a4", conchv1.StateRejected, conchv1.ReasonOverLimit)
	})
	t.Run("time per day: over it waits until midnight in the limits' time zone, on a DST day too", func(t *testing.T) {
		la, err := time.LoadLocation("America/Los_Angeles")
		if err != nil {
			t.Skip(err)
		}
		// 8 March 2026 has 23 hours in Los Angeles; its midnight after is 9 March 00:00 PDT (07:00 UTC).
		now := time.Date(2026, time.March, 8, 20, 0, 0, 0, la)
		eight := metavDuration(8 * h)
		w := newWorld(t, staging().Limits(conchv1.Limits{MaxHoldTimePerDay: &eight, TimeZone: "America/Los_Angeles"}),
			testutil.Reservation("a").On("staging").Holder("alice").Created(now.Add(-s)).For(2*h))
		w.usage = func(string) queue.Usage { return queue.Usage{HeldToday: 7 * h} }
		w.decide(now)
		o := w.expect("a", conchv1.StateQueued, conchv1.ReasonOverLimit)
		if !strings.Contains(o.Limit, "8h0m0s a day") {
			t.Fatalf("limit %q", o.Limit)
		}
		expectTime(t, "next change", w.plan.NextChange, time.Date(2026, time.March, 9, 0, 0, 0, 0, la))
		w.usage = func(string) queue.Usage { return queue.Usage{} } // a new day
		w.decide(time.Date(2026, time.March, 9, 0, 0, 0, 0, la))
		w.expect("a", conchv1.StateGranted, conchv1.ReasonGranted)
	})
}

func metavTime(t time.Time) metav1.Time { return metav1.Time{Time: t} }

func metavDuration(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }

func TestAPooledBookingThatDoesNotFitIsLeftToTheOtherMembers(t *testing.T) {
	w := newWorld(t, staging(), rsv("alice", 0).For(3*h))
	w.decide(at(s))
	w.add(pooled("bob", s).At(at(h)).For(h))
	w.decide(at(2 * s))
	if o, ok := w.plan.Outcome("bob"); ok {
		t.Fatalf("a pooled booking that does not fit here got %s/%s: another member may have room", o.State, o.Reason)
	}
	if len(w.plan.Ledger.Queue) != 0 {
		t.Fatalf("queue %+v", w.plan.Ledger.Queue)
	}
}

func TestAHoldShortenedForABookingIsNotClampedByMaxDuration(t *testing.T) {
	w := newWorld(t, staging(), rsv("bob", 0).At(at(h)).For(h), rsv("alice", s).For(2*h))
	w.decide(at(2 * s))
	if o := w.expect("alice", conchv1.StateGranted, conchv1.ReasonShortenedForBooking); o.Clamped {
		t.Fatalf("granted: Clamped, though staging has no maxDuration: %+v", o)
	}
	w.decide(at(m))
	if o := w.expect("alice", conchv1.StateGranted, conchv1.ReasonShortenedForBooking); o.Clamped {
		t.Fatalf("held: Clamped, though staging has no maxDuration: %+v", o)
	}
	// Under a maxDuration, a hold both clamped and shortened says it was clamped.
	w = newWorld(t, staging().Max(90*m), rsv("bob", 0).At(at(h)).For(h), rsv("alice", s).For(2*h))
	w.decide(at(2 * s))
	w.decide(at(m))
	if o := w.outcome("alice"); !o.Clamped {
		t.Fatalf("asked for 2h under a maxDuration of 90m: not Clamped: %+v", o)
	}
}
