package queue_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
)

var (
	ledgerSeed      = flag.Uint64("ledger.seed", 0, "run only TestLedgerProperties' schedule with this seed, and log it")
	ledgerSchedules = flag.Int("ledger.schedules", 10000, "how many schedules TestLedgerProperties runs")
	ledgerSteps     = flag.Int("ledger.steps", 60, "how many steps each schedule of TestLedgerProperties takes")
	ledgerNameGone  = flag.Bool("ledger.namegone", false, "derive Gone at every pass from the names read, as "+
		"ResourceReconciler.view does, instead of from the ledger entries under a name when it was read")
)

// TestLedgerProperties checks the engine's promises against a model of what runs around it: an API server (every
// write bumps a resourceVersion; preconditions fail on a changed version), people who create, release, delete,
// extend, shorten and renew Reservations and edit the Resource, a clock, a position writer with a stale cache, and
// three deciders, each with its own stale view of the Reservations, that run the ResourceReconciler's passes
// interleaved at random against the one ledger:
//
//   - a pass reads the Resource from the API server and, for every Reservation, some earlier version of it (or
//     none) from its cache, chosen at random for each pass; those it read from the API server during this Reconcile
//     replace them (Fresh); a read that finds no Reservation, or another UID, under a name marks Gone the
//     Reservations the pass knew under that name (in the ledger it read, its view, its plan);
//   - it calls Decide; names in Confirm are read from the API server and the pass decides again (a name is read
//     again when the ledger now has under it a Reservation admitted after the read: -ledger.namegone instead
//     marks every entry under a name read as not found Gone, at every pass, as ResourceReconciler.view does,
//     which drops a Reservation re-created under that name and admitted meanwhile);
//   - it writes as the controller does: final states (precondition: the version it saw), then the ledger
//     (precondition: the Resource's version it read), then grants and Pending; a lost write reads the
//     Reservation and decides again, a written one is remembered as the API server answered it; after eight
//     passes the Reconcile gives up and a new one starts afresh.
//
// One schedule in three (independent of the cleanup hook) is planned: the Resource has priorities (preemption
// Queue or Hold, which people turn on and off, with short grace periods and aging intervals), sometimes walkIns
// Wait and limits per holder; people create Reservations with priorities, non-preemptible ones and bookings (a
// startTime ahead, or already past), and move bookings, make walk-ins bookings and bookings walk-ins.
//
// After every step it checks: never more holders in the ledger than capacity when it grants; never more
// Reservations whose true status is Granted than capacity (those the ledger holds); never an end before the term
// the ledger recorded, nor one the Reservation did not ask for, but a preemption: only at or after its endsAt, at
// least gracePeriod after the warning, on a Resource with preemption Hold, of a hold not recorded preemptible
// Never, for a walk-in that still waits with a higher priority; the queue in its order (bookings whose time came,
// walk-ins by priority with aging and ticket, bookings ahead) and grants in that order, so no starvation within
// the aging bound (a walk-in is never overtaken by one admitted more than (p − q) × agingInterval after it) but by
// bookings, or while it is over a limit or waits for a booking; a booking never granted before its startTime nor
// held past startTime + duration; at every instant the holds and bookings promised fit in capacity
// (checkPromises); a ticket is never reused and nextTicket never goes back; a ledger entry leaves only when its
// end is known; a final Reservation never changes; a plan says what its ledger says. At the end of a schedule the
// caches catch up and it checks that the ledger settles: nobody stranded, no slot left free while someone who
// could hold waits, every holder told.
//
// What the engine cannot tell from a view is counted in the log rather than failed: a Reservation that ended, seen as it was before any report of it, is admitted again ("admitted again after it
// left"), holds a slot in the ledger until a view shows its end, and is never told it holds.
//
// A failure prints the seed; rerun it alone with -ledger.seed=N -v to see its whole history.
func TestLedgerProperties(t *testing.T) {
	first, n := uint64(1), uint64(*ledgerSchedules)
	if *ledgerSeed != 0 {
		first, n = *ledgerSeed, 1
	}
	seen := map[string]int{}
	start := time.Now()
	for seed := first; seed < first+n; seed++ {
		sim := newLedgerSim(seed, *ledgerSeed != 0)
		sim.run(*ledgerSteps)
		if len(sim.errs) > 0 {
			// Schedules are deterministic: play it again, this time writing its history.
			sim = newLedgerSim(seed, true)
			sim.run(*ledgerSteps)
			hist := sim.history
			if *ledgerSeed == 0 {
				hist = hist[max(0, len(hist)-40):]
			}
			t.Fatalf("seed %d (rerun: go test ./internal/queue -run TestLedgerProperties -ledger.seed=%d -ledger.steps=%d -ledger.namegone=%v -v):\n  %s\nhistory:\n  %s",
				seed, seed, *ledgerSteps, *ledgerNameGone, strings.Join(sim.errs, "\n  "), strings.Join(hist, "\n  "))
		}
		if *ledgerSeed != 0 {
			t.Logf("history:\n  %s", strings.Join(sim.history, "\n  "))
		}
		for k, v := range sim.seen {
			seen[k] += v
		}
	}
	t.Logf("%d schedules in %s; seen %v", n, time.Since(start).Round(time.Millisecond), seen)
	if n < 1000 {
		return
	}
	// The schedules must reach the paths that matter, or they prove little.
	for _, what := range []string{
		"grant", "handover", "expired", "released", "deleted (gone)", "deleted (finalizer)", "heartbeat missed",
		"shortened", "extended", "confirm", "gone", "ledger conflict", "final report conflict", "grant report conflict",
		"position written", "stale holder kept", "rejected", "capacity lowered under holders", "paused",
		"cleanup started", "cleanup done", "cleanup failed",
		// Bookings, priorities and limits (planned schedules).
		"booked", "booking granted", "shortened for booking", "booking conflict", "booking moved", "booking not moved",
		"booking missed", "waiting for booking", "late booking extended", "over limit", "rejected over limit",
		"preempting", "preempted", "preempted without grace", "jumped", "aged past",
	} {
		if seen[what] == 0 {
			t.Errorf("no schedule saw %q; change the weights", what)
		}
	}
}

// ledgerSim is one schedule: the API server's objects, the clock, the deciders, and what the checks remember.
type ledgerSim struct {
	rng *rand.Rand
	now time.Time
	rv  int64
	// hooked: the Resource has a cleanup hook (one schedule in three), run by a model of the TurnoverReconciler
	// that clears each step, or fails it (Unhealthy) until a repair.
	hooked bool
	// planned: the Resource has priorities (preemption Queue or Hold, a short grace period and aging interval),
	// sometimes walkIns Wait and limits, and people create bookings and priorities and move bookings (one schedule
	// in three, independent of hooked). The other schedules play exactly as before planning came.
	planned bool
	// capLowered: capacity was lowered at some point, so holds and bookings may be over it.
	capLowered bool

	// res is the Resource as the API server holds it; resOld its earlier versions (for the position writer).
	res    *conchv1.Resource
	resOld []*conchv1.Resource
	// line holds every version of the Reservations of each name, in order; nil when none existed. A cache shows
	// one of them.
	line  map[string][]*conchv1.Reservation
	names []string
	seq   int
	// created numbers Reservations in order of creation (what a watch would deliver), by UID.
	created map[types.UID]uint64
	skew    map[types.UID]time.Duration

	deciders []*simDecider

	// For the checks: the UID each ticket was given to; the UIDs the ledger has let go; when each Reservation last
	// changed its renewTime (model time); the latest term the ledger recorded for each hold.
	tickets   map[int64]types.UID
	left      map[types.UID]bool
	renewedAt map[types.UID]time.Time
	until     map[types.UID]time.Time

	allowCapacity bool
	logging       bool
	history       []string
	errs          []string
	seen          map[string]int
}

// simDecider is one ResourceReconciler: the Reconcile it is in (its passes, what it read from the API server).
type simDecider struct {
	id       int
	arrivals bool // whether its watch numbers arrivals (the others order ties by name)
	active   bool
	passes   int
	live     map[string]*conchv1.Reservation // read from the API server; nil: not found
	gone     map[types.UID]bool

	// The pass under way: its next step (0: decide), what it read and decided.
	stage int
	res   *conchv1.Resource
	view  queue.View
	plan  queue.Plan
	byUID map[types.UID]*conchv1.Reservation
	now   time.Time
	// truth is every Reservation as the API server held it when the pass decided (by UID), for the checks.
	truth map[types.UID]*conchv1.Reservation
}

var simHolders = []string{"ci:deploy", "ci:test", "alice", "bob"}

// newLedgerSim starts the schedule of seed; logging keeps its history (which costs most of the time).
func newLedgerSim(seed uint64, logging bool) *ledgerSim {
	rng := rand.New(rand.NewPCG(seed, 0x1ed6e7))
	res := staging().Capacity(int32(1 + rng.IntN(3)))
	if rng.IntN(2) == 0 {
		res.Max(time.Duration(1+rng.IntN(4)) * h)
	}
	if rng.IntN(3) == 0 {
		res.Default(30 * m)
	}
	if rng.IntN(5) == 0 {
		res.Allow("ci:*", "alice")
	}
	sim := &ledgerSim{
		rng: rng, now: at(0), res: res.Obj(), line: map[string][]*conchv1.Reservation{},
		created: map[types.UID]uint64{}, skew: map[types.UID]time.Duration{},
		tickets: map[int64]types.UID{}, left: map[types.UID]bool{}, renewedAt: map[types.UID]time.Time{},
		until: map[types.UID]time.Time{}, allowCapacity: rng.IntN(4) == 0, seen: map[string]int{}, logging: logging,
	}
	if seed%3 == 0 {
		sim.hooked = true
		sim.res.Spec.OnRelease = &conchv1.Hook{HTTP: conchv1.HTTPHook{URL: "http://staging/clean"}}
	}
	if (seed/3)%3 == 1 {
		sim.plan()
	}
	sim.bumpResource()
	sim.log("staging: capacity %d, maxDuration %v, defaultDuration %v, allowedHolders %v, cleanup %v",
		sim.res.Spec.Capacity, sim.res.Spec.MaxDuration, sim.res.Spec.DefaultDuration, sim.res.Spec.AllowedHolders, sim.hooked)
	if sim.planned {
		sim.log("planned: priorities %+v, bookings %+v, limits %+v", *sim.res.Spec.Priorities, sim.res.Spec.Bookings, sim.res.Spec.Limits)
	}
	for i := range 3 {
		sim.deciders = append(sim.deciders, &simDecider{id: i, arrivals: i < 2})
	}
	return sim
}

// plan gives the Resource priorities (preemption Queue or Hold, short grace periods and aging intervals so that
// schedules of an hour or two see them act), sometimes walkIns Wait and limits per holder.
func (sim *ledgerSim) plan() {
	sim.planned = true
	spec := &sim.res.Spec
	spec.Priorities = &conchv1.Priorities{
		Preemption:    []conchv1.PreemptionPolicy{conchv1.PreemptionQueue, conchv1.PreemptionHold, conchv1.PreemptionHold}[sim.rng.IntN(3)],
		GracePeriod:   &metav1.Duration{Duration: []time.Duration{0, 5 * m, 20 * m}[sim.rng.IntN(3)]},
		AgingInterval: &metav1.Duration{Duration: []time.Duration{m, 5 * m, 10 * m}[sim.rng.IntN(3)]},
	}
	if sim.rng.IntN(3) == 0 {
		spec.Bookings = &conchv1.Bookings{WalkIns: conchv1.WalkInWait}
	}
	switch sim.rng.IntN(6) {
	case 0:
		spec.Limits = &conchv1.Limits{MaxHoldsPerHolder: 1}
	case 1:
		spec.Limits = &conchv1.Limits{MaxHoldsPerHolder: 1, WhenOver: conchv1.LimitReject}
	case 2:
		spec.Limits = &conchv1.Limits{MaxHoldTimePerDay: &metav1.Duration{Duration: 3 * h}}
	}
}

func (sim *ledgerSim) fail(format string, args ...any) {
	sim.errs = append(sim.errs, fmt.Sprintf(format, args...))
}

func (sim *ledgerSim) log(format string, args ...any) {
	if !sim.logging {
		return
	}
	sim.history = append(sim.history, fmt.Sprintf("%s @%s ", fmt.Sprintf(format, args...), sim.now.Sub(t0)))
}

// run plays steps random steps, checking after each, then lets the caches catch up and checks the ledger settles.
func (sim *ledgerSim) run(steps int) {
	for range steps {
		sim.step()
		sim.checkWorld()
		if len(sim.errs) > 0 {
			return
		}
	}
	sim.settle()
}

// The API server.

func (sim *ledgerSim) version() string {
	sim.rv++
	return strconv.FormatInt(sim.rv, 10)
}

func (sim *ledgerSim) bumpResource() {
	if sim.res.ResourceVersion != "" {
		sim.resOld = append(sim.resOld, sim.res)
	}
	sim.res = sim.res.DeepCopy()
	sim.res.ResourceVersion = sim.version()
}

// cur is the Reservation named name as the API server holds it, or nil.
func (sim *ledgerSim) cur(name string) *conchv1.Reservation {
	l := sim.line[name]
	if len(l) == 0 {
		return nil
	}
	return l[len(l)-1]
}

// put stores r (a new object, never changed afterwards) as the newest version of its name.
func (sim *ledgerSim) put(r *conchv1.Reservation) {
	r.ResourceVersion = sim.version()
	sim.line[r.Name] = append(sim.line[r.Name], r)
}

func (sim *ledgerSim) remove(name string) { sim.line[name] = append(sim.line[name], nil) }

// byUID is the Reservation with uid as the API server holds it, or nil.
func (sim *ledgerSim) byUID(name string, uid types.UID) *conchv1.Reservation {
	if c := sim.cur(name); c != nil && c.UID == uid {
		return c
	}
	return nil
}

// pick returns the name of a random existing Reservation for which ok holds, or "".
func (sim *ledgerSim) pick(ok func(*conchv1.Reservation) bool) string {
	var names []string
	for _, name := range sim.names {
		if c := sim.cur(name); c != nil && ok(c) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return names[sim.rng.IntN(len(names))]
}

func (sim *ledgerSim) randDuration() *metav1.Duration {
	ds := []time.Duration{time.Minute, 10 * m, 30 * m, h, 90 * m, 2 * h, 5 * h, h + 500*time.Nanosecond}
	if sim.rng.IntN(8) == 0 {
		return nil
	}
	return &metav1.Duration{Duration: ds[sim.rng.IntN(len(ds))]}
}

// step does one thing: a decider's pass, a person's edit, the position writer, or time passing.
func (sim *ledgerSim) step() {
	switch n := sim.rng.IntN(100); {
	case n < 42:
		d := sim.deciders[sim.rng.IntN(len(sim.deciders))]
		sim.pass(d)
	case n < 54:
		sim.create()
	case n < 58:
		if name := sim.pick(func(r *conchv1.Reservation) bool { return !r.Spec.Released }); name != "" {
			r := sim.cur(name).DeepCopy()
			r.Spec.Released = true
			sim.put(r)
			sim.log("release %s", name)
		}
	case n < 62:
		if name := sim.pick(func(r *conchv1.Reservation) bool { return r.DeletionTimestamp == nil }); name != "" {
			if sim.rng.IntN(4) == 0 {
				// A Reservation from before v0.2 carries Conch's finalizer: it stays, being deleted, until the
				// controller lets go of it.
				r := sim.cur(name).DeepCopy()
				dt := metav1.NewTime(sim.now.Truncate(time.Second))
				r.DeletionTimestamp, r.Finalizers = &dt, []string{conchv1.ReservationFinalizer}
				sim.put(r)
				sim.log("delete %s (finalizer)", name)
			} else {
				sim.remove(name)
				sim.log("delete %s", name)
			}
		}
	case n < 69 && sim.planned && sim.rng.IntN(2) == 0:
		sim.moveBooking()
	case n < 69:
		if name := sim.pick(func(*conchv1.Reservation) bool { return true }); name != "" {
			r := sim.cur(name).DeepCopy()
			r.Spec.Duration = sim.randDuration()
			sim.put(r)
			sim.log("set duration of %s to %v", name, r.Spec.Duration)
		}
	case n < 77:
		if name := sim.pick(func(r *conchv1.Reservation) bool { return r.Spec.HeartbeatTimeout != nil }); name != "" {
			sim.renew(name)
		}
	case n < 90:
		sim.advance()
	case n < 95:
		sim.positions()
	case n < 98 && sim.hooked:
		sim.runHook(sim.rng.IntN(4) == 0)
	default:
		sim.editResource()
	}
}

// runHook plays the TurnoverReconciler: the step that runs ends (fails when fail: the Resource is Unhealthy), or
// an Unhealthy Resource is repaired. Each is a status write of its own.
func (sim *ledgerSim) runHook(fail bool) {
	cur := sim.res.Status
	unhealthy := meta.IsStatusConditionFalse(cur.Conditions, conchv1.ResourceConditionHealthy)
	if cur.Turnover == nil && !unhealthy {
		return
	}
	sim.bumpResource() // a new version: take its status after
	st := &sim.res.Status
	switch {
	case st.Turnover != nil && fail:
		st.Turnover = nil
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: conchv1.ResourceConditionHealthy, Status: metav1.ConditionFalse, Reason: conchv1.ReasonCleanupFailed})
		sim.seen["cleanup failed"]++
		sim.log("cleanup fails: unhealthy")
	case st.Turnover != nil:
		if st.Turnover.EndedMeanwhile > 0 {
			st.HookSequence++
			st.Turnover = &conchv1.Turnover{Step: conchv1.StepCleaning, Sequence: st.HookSequence, StartedAt: metav1.NewTime(sim.now)}
			sim.log("cleanup done; one more for the holds that ended meanwhile")
		} else {
			st.Turnover = nil
			sim.log("cleanup done")
		}
		sim.seen["cleanup done"]++
	default:
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: conchv1.ResourceConditionHealthy, Status: metav1.ConditionTrue, Reason: conchv1.ReasonRepaired})
		sim.log("repaired")
	}
}

func (sim *ledgerSim) create() {
	live := 0
	for _, name := range sim.names {
		if sim.cur(name) != nil {
			live++
		}
	}
	if live >= 8 {
		return
	}
	var name string
	if sim.rng.IntN(6) == 0 {
		// A name used before whose Reservation is gone: a new request under an old name.
		for _, n := range sim.names {
			if sim.cur(n) == nil {
				name = n
				break
			}
		}
	}
	if name == "" {
		name = fmt.Sprintf("r%02d", len(sim.names))
		sim.names = append(sim.names, name)
		sim.line[name] = []*conchv1.Reservation{nil} // a cache may not have seen it yet
	}
	sim.seq++
	uid := types.UID(fmt.Sprintf("u%d", sim.seq))
	w := rsv(name, 0).UID(string(uid)).Holder(simHolders[sim.rng.IntN(len(simHolders))]).
		Created(sim.now.Truncate(time.Second))
	w.Spec.Duration = sim.randDuration()
	if sim.rng.IntN(4) == 0 {
		timeouts := []time.Duration{20 * s, m, 5 * m}
		skews := []time.Duration{0, -40 * s, 365 * 24 * h}
		sim.skew[uid] = skews[sim.rng.IntN(len(skews))]
		w.Heartbeat(timeouts[sim.rng.IntN(len(timeouts))], sim.now.Add(sim.skew[uid]))
	}
	if sim.planned {
		if sim.rng.IntN(2) == 0 {
			w.Priority(int32(1+sim.rng.IntN(3)), "INC-"+strconv.Itoa(sim.seq))
		}
		if sim.rng.IntN(5) == 0 {
			w.NotPreemptible()
		}
		if sim.rng.IntN(3) == 0 {
			w.At(sim.bookingTime())
		}
	}
	sim.created[uid] = uint64(sim.seq)
	sim.renewedAt[uid] = sim.now
	sim.put(w.Obj())
	sim.log("create %s (%s, %s, %v, priority %v, start %v, %s)", name, uid, w.Spec.Holder, w.Spec.Duration,
		ptrText(w.Spec.Priority), ptrText(w.Spec.StartTime), w.Spec.Preemptible)
}

// bookingTime is a startTime for a booking: a little ahead mostly, sometimes already begun or long past (whole
// seconds, as metav1.Time keeps them).
func (sim *ledgerSim) bookingTime() time.Time {
	ahead := []time.Duration{-2 * h, -30 * m, -1 * m, 0, 5 * m, 20 * m, 45 * m, h, 2 * h, 3 * h}
	return sim.now.Add(ahead[sim.rng.IntN(len(ahead))]).Truncate(time.Second)
}

// moveBooking edits a Reservation's startTime: a booking moves earlier or later, or becomes a walk-in, or a
// walk-in becomes a booking.
func (sim *ledgerSim) moveBooking() {
	name := sim.pick(func(r *conchv1.Reservation) bool { return !r.Spec.Released && r.DeletionTimestamp == nil })
	if name == "" {
		return
	}
	r := sim.cur(name).DeepCopy()
	switch k := sim.rng.IntN(8); {
	case r.Spec.StartTime == nil || k == 0:
		st := metav1.NewTime(sim.bookingTime())
		r.Spec.StartTime = &st
	case k == 1:
		r.Spec.StartTime = nil
	default:
		by := []time.Duration{-h, -30 * m, -10 * m, 10 * m, 30 * m, h, 2 * h}[sim.rng.IntN(7)]
		st := metav1.NewTime(r.Spec.StartTime.Add(by))
		r.Spec.StartTime = &st
	}
	sim.put(r)
	sim.log("move %s to start %v", name, ptrText(r.Spec.StartTime))
}

// renew writes a new renewTime, by the client's (skewed) clock.
func (sim *ledgerSim) renew(name string) {
	r := sim.cur(name).DeepCopy()
	rt := metav1.NewMicroTime(sim.now.Add(sim.skew[r.UID]))
	if r.Spec.RenewTime != nil && !rt.After(r.Spec.RenewTime.Time) {
		rt = metav1.NewMicroTime(r.Spec.RenewTime.Add(us))
	}
	r.Spec.RenewTime = &rt
	sim.put(r)
	sim.renewedAt[r.UID] = sim.now
	sim.log("renew %s", name)
}

// advance moves the clock: a little, a lot, or exactly to (or just before) a time the ledger names.
func (sim *ledgerSim) advance() {
	var due []time.Time
	for _, hl := range sim.res.Status.Holders {
		due = append(due, hl.Until.Time)
		if queue.HoldEnd(hl).Before(hl.Until.Time) {
			due = append(due, queue.HoldEnd(hl))
		}
		if hl.Heartbeat != nil {
			if r := sim.byUID(hl.Reservation, types.UID(hl.UID)); r != nil && r.Spec.HeartbeatTimeout != nil {
				due = append(due, hl.Heartbeat.ObservedAt.Add(r.Spec.HeartbeatTimeout.Duration))
			}
		}
	}
	for _, q := range sim.res.Status.Queue {
		if q.StartTime != nil && q.StartTime.After(sim.now) {
			due = append(due, q.StartTime.Time)
		}
	}
	var d time.Duration
	switch k := sim.rng.IntN(6); {
	case k == 0:
		d = us
	case k == 1:
		d = time.Duration(1+sim.rng.IntN(90)) * s
	case k == 2:
		d = time.Duration(1+sim.rng.IntN(120)) * m
	case len(due) > 0:
		t := due[sim.rng.IntN(len(due))]
		if k == 3 {
			t = t.Add(-us)
		}
		d = t.Sub(sim.now)
	default:
		d = time.Duration(1+sim.rng.IntN(20)) * m
	}
	if d > 0 {
		sim.now = sim.now.Add(d)
		sim.log("advance %s", d)
	}
}

// editResource changes the Resource's spec: maxDuration, pause, allowedHolders or (in some schedules) capacity.
func (sim *ledgerSim) editResource() {
	sim.bumpResource()
	spec := &sim.res.Spec
	if sim.planned && sim.rng.IntN(4) == 0 {
		// Preemption turned on or off (to Queue), with holds being preempted or not.
		p := spec.Priorities.DeepCopy()
		p.Preemption = conchv1.PreemptionHold
		if spec.Priorities.Preemption == conchv1.PreemptionHold {
			p.Preemption = conchv1.PreemptionQueue
		}
		spec.Priorities = p
		sim.log("set preemption %s", p.Preemption)
		return
	}
	switch k := sim.rng.IntN(4); {
	case k == 0 && sim.allowCapacity:
		c := int32(1 + sim.rng.IntN(3))
		if c < max(1, spec.Capacity) {
			sim.capLowered = true
		}
		spec.Capacity = c
		if int(spec.Capacity) < len(sim.res.Status.Holders) {
			sim.seen["capacity lowered under holders"]++
		}
		sim.log("set capacity %d", spec.Capacity)
	case k <= 1:
		spec.MaxDuration = nil
		if sim.rng.IntN(3) > 0 {
			spec.MaxDuration = &metav1.Duration{Duration: time.Duration(1+sim.rng.IntN(4)) * h}
		}
		sim.log("set maxDuration %v", spec.MaxDuration)
	case k == 2:
		if spec.Granting == conchv1.GrantingPaused {
			spec.Granting = conchv1.GrantingOpen
		} else {
			spec.Granting = conchv1.GrantingPaused
			sim.seen["paused"]++
		}
		sim.log("set granting %s", spec.Granting)
	default:
		if spec.AllowedHolders == nil {
			spec.AllowedHolders = []string{"ci:*", "alice"}
		} else {
			spec.AllowedHolders = nil
		}
		sim.log("set allowedHolders %v", spec.AllowedHolders)
	}
}

// positions is the PositionReconciler: from a stale Resource and stale Reservations, it writes Queued, the ticket
// and the position of those waiting, with a precondition on the version it read.
func (sim *ledgerSim) positions() {
	all := append(slices.Clone(sim.resOld), sim.res)
	res := all[max(0, len(all)-1-sim.rng.IntN(4))]
	position := int32(0)
	for _, q := range res.Status.Queue {
		if q.StartTime == nil {
			position++ // a booking has no place among the walk-ins
		}
		r := sim.cached(q.Reservation)
		if r == nil || string(r.UID) != q.UID || r.DeletionTimestamp != nil || r.Status.State.IsFinal() ||
			r.Status.State == conchv1.StateGranted {
			continue
		}
		st := *r.Status.DeepCopy()
		st.State, st.ResourceName, st.ResourceUID, st.Ticket = conchv1.StateQueued, res.Name, string(res.UID), q.Ticket
		st.Position = position
		if q.StartTime != nil {
			st.Position = 0
		}
		if reflect.DeepEqual(st, r.Status) {
			continue
		}
		c := sim.cur(r.Name)
		if c == nil || c.UID != r.UID || c.ResourceVersion != r.ResourceVersion {
			continue // lost to another write; redone from a later look
		}
		nw := c.DeepCopy()
		nw.Status = st
		sim.checkStatusWrite(c, nw.Status, queue.Outcome{State: conchv1.StateQueued}, res, nil, sim.now)
		sim.put(nw)
		sim.seen["position written"]++
		sim.log("position: %s Queued at %d", r.Name, st.Position)
	}
}

// cached is some version of the Reservation named name, as a cache that may lag shows it: the newest half of
// the time, else any earlier one (nil: it had not seen it, or it was gone).
func (sim *ledgerSim) cached(name string) *conchv1.Reservation {
	l := sim.line[name]
	if len(l) == 0 {
		return nil
	}
	if sim.rng.IntN(2) == 0 {
		return l[len(l)-1]
	}
	return l[sim.rng.IntN(len(l))]
}

// A decider's pass, as ResourceReconciler.pass does it, in four steps that other steps may come between: decide
// (read the Resource, the cache and what this Reconcile read from the API server), write final states, write the
// ledger, write grants.

// pass runs d's next step; a Reconcile that decided simMaxPasses times gives up, and the next starts afresh.
func (sim *ledgerSim) pass(d *simDecider) {
	if !d.active {
		d.active, d.passes, d.stage = true, 0, 0
		d.live, d.gone = map[string]*conchv1.Reservation{}, map[types.UID]bool{}
	}
	if d.stage == 0 {
		d.passes++
	}
	switch sim.stepPass(d, sim.cached) {
	case passAgain:
		d.stage = 0
		if d.passes >= simMaxPasses {
			d.active = false
		}
	case passDone:
		d.active, d.stage = false, 0
	}
}

// simMaxPasses is ResourceReconciler's maxPasses: how often one Reconcile decides again before it gives up.
const simMaxPasses = 8

type passResult int

const (
	passGoesOn passResult = iota // more steps of this pass to come
	passAgain                    // the pass ended to decide again
	passDone                     // the pass, and the Reconcile, ended
)

// stepPass runs the next step of d's pass, its cache showing the Reservations cache returns.
func (sim *ledgerSim) stepPass(d *simDecider, cache func(string) *conchv1.Reservation) passResult {
	switch d.stage {
	case 0:
		if sim.decide(d, cache) {
			return passAgain
		}
		d.stage = 1
	case 1:
		// Final states first.
		for _, o := range d.plan.Outcomes {
			if o.State.IsFinal() && sim.report(d, o) {
				sim.seen["final report conflict"]++
				return passAgain
			}
		}
		d.stage = 2
	case 2:
		// The ledger, with a precondition on the Resource's version read.
		res, plan := d.res, d.plan
		next := res.Status.DeepCopy()
		next.Holders, next.Queue, next.NextTicket, next.Waiting = plan.Ledger.Holders, plan.Ledger.Queue,
			plan.Ledger.NextTicket, plan.Ledger.Waiting
		next.Turnover, next.HookSequence = plan.Ledger.Turnover, plan.Ledger.HookSequence
		if !sameLedger(*next, res.Status) {
			if sim.res.ResourceVersion != res.ResourceVersion {
				sim.seen["ledger conflict"]++
				sim.log("d%d loses the ledger write", d.id)
				return passAgain
			}
			sim.checkLedgerWrite(d, *next)
			sim.bumpResource()
			sim.res.Status = *next.DeepCopy()
			sim.log("d%d writes the ledger: %s", d.id, ledgerText(sim.res.Status))
		}
		d.stage = 3
	default:
		// Then grants and Pending; a lost write decides again once the others are written.
		again := false
		for _, o := range d.plan.Outcomes {
			if (o.State == conchv1.StateGranted || o.State == conchv1.StatePending) && sim.report(d, o) {
				sim.seen["grant report conflict"]++
				again = true
			}
		}
		if again {
			return passAgain
		}
		// Let go of Reservations from before v0.2 being deleted.
		for _, o := range d.plan.Outcomes {
			if r := d.byUID[o.UID]; o.Deleting && !o.Gone && r != nil {
				if c := sim.byUID(r.Name, r.UID); c != nil && c.DeletionTimestamp != nil {
					sim.remove(r.Name)
					sim.seen["deleted (finalizer)"]++
					sim.log("d%d removes the finalizer of %s", d.id, r.Name)
				}
			}
		}
		return passDone
	}
	return passGoesOn
}

// decide reads the Resource from the API server and the Reservations from d's cache (those read from the API
// server in this Reconcile instead) and calls Decide. It reports whether the engine asked for reads first: then
// they are read and the pass ends to decide again.
func (sim *ledgerSim) decide(d *simDecider, cache func(string) *conchv1.Reservation) bool {
	res := sim.res.DeepCopy()
	v := queue.View{Resource: res, Fresh: map[types.UID]bool{}, Gone: d.gone}
	if d.arrivals {
		v.Arrival = func(uid types.UID) (uint64, bool) { n, ok := sim.created[uid]; return n, ok }
	}
	seen := map[string]bool{}
	add := func(r *conchv1.Reservation) {
		if seen[r.Name] {
			return
		}
		seen[r.Name] = true
		if live, ok := d.live[r.Name]; ok {
			if live == nil {
				return
			}
			r = live
			v.Fresh[r.UID] = true
		}
		v.Reservations = append(v.Reservations, *r)
	}
	cached := map[string]*conchv1.Reservation{}
	for _, name := range sim.names {
		if c := cache(name); c != nil {
			cached[name] = c
			add(c)
		}
	}
	named := func(name string) {
		if seen[name] {
			return
		}
		if c := cached[name]; c != nil {
			add(c)
		} else if live := d.live[name]; live != nil {
			add(live)
		}
	}
	for _, hl := range res.Status.Holders {
		named(hl.Reservation)
	}
	for _, q := range res.Status.Queue {
		named(q.Reservation)
	}
	if *ledgerNameGone {
		for name, live := range d.live {
			sim.markGone(d, ledgerUIDsOf(res, name), live)
		}
	}

	plan := queue.Decide(v, sim.now)
	sim.log("d%d decides on %d Reservations (%d fresh)", d.id, len(v.Reservations), len(v.Fresh))
	for _, hl := range res.Status.Holders {
		if !slices.ContainsFunc(v.Reservations, func(r conchv1.Reservation) bool { return string(r.UID) == hl.UID }) &&
			slices.ContainsFunc(plan.Ledger.Holders, func(n conchv1.ResourceHolder) bool { return n.UID == hl.UID }) {
			sim.seen["stale holder kept"]++
		}
	}
	var unread []string
	for _, name := range plan.Confirm {
		live, ok := d.live[name]
		if !ok {
			unread = append(unread, name)
			continue
		}
		// A name read before a new Reservation under it was admitted: read it again.
		for _, uid := range ledgerUIDsOf(res, name) {
			if !*ledgerNameGone && !d.gone[uid] && (live == nil || live.UID != uid) {
				unread = append(unread, name)
				sim.seen["read again"]++
				break
			}
		}
	}
	if len(unread) > 0 {
		d.view = v
		for _, name := range unread {
			sim.learn(d, res, nil, name)
		}
		sim.seen["confirm"]++
		sim.log("d%d confirms %v", d.id, unread)
		return true
	}
	for _, o := range plan.Outcomes {
		if o.Bind {
			sim.fail("d%d: %s is to be bound, but no Reservation here is pooled", d.id, o.Name)
		}
		if o.Gone {
			sim.seen["gone"]++
		}
	}
	sim.checkPlan(d, v, plan)
	d.res, d.view, d.plan, d.now = res, v, plan, queue.CeilMicro(sim.now)
	d.truth = nil
	if sim.planned {
		d.truth = map[types.UID]*conchv1.Reservation{}
		for _, name := range sim.names {
			if c := sim.cur(name); c != nil {
				d.truth[c.UID] = c
			}
		}
	}
	d.byUID = make(map[types.UID]*conchv1.Reservation, len(v.Reservations))
	for i := range v.Reservations {
		d.byUID[v.Reservations[i].UID] = &v.Reservations[i]
	}
	return false
}

// learn reads the Reservation named name from the API server for d's Reconcile: every Reservation d knew under
// that name when it read (in the ledger it read, in its view, in the ledger it decided), other than the one read,
// is gone. Not one admitted later under the same name.
func (sim *ledgerSim) learn(d *simDecider, res *conchv1.Resource, plan *queue.Plan, name string) {
	c := sim.cur(name)
	d.live[name] = c
	if *ledgerNameGone {
		return
	}
	known := ledgerUIDsOf(res, name)
	for _, r := range d.view.Reservations {
		if r.Name == name {
			known = append(known, r.UID)
		}
	}
	if plan != nil {
		known = append(known, ledgerUIDsOf(&conchv1.Resource{Status: conchv1.ResourceStatus{
			Holders: plan.Ledger.Holders, Queue: plan.Ledger.Queue}}, name)...)
	}
	sim.markGone(d, known, c)
}

// markGone marks gone the UIDs in known that are not live.
func (sim *ledgerSim) markGone(d *simDecider, known []types.UID, live *conchv1.Reservation) {
	for _, uid := range known {
		if live == nil || live.UID != uid {
			d.gone[uid] = true
		}
	}
}

// report writes the status that o gives r (the version d decided on), with a precondition on that version; it
// reports whether the write lost (then d reads the Reservation from the API server).
func (sim *ledgerSim) report(d *simDecider, o queue.Outcome) bool {
	res, r := d.res, d.byUID[o.UID]
	if o.Deleting || r == nil || r.Status.State.IsFinal() {
		return false
	}
	st := *r.Status.DeepCopy()
	st.State = o.State
	st.ResourceName, st.ResourceUID, st.Ticket = res.Name, string(res.UID), o.Ticket
	if o.State == conchv1.StatePending {
		st.ResourceUID, st.Ticket = "", 0
	}
	st.Position = o.Position
	st.Duration = &metav1.Duration{Duration: o.Duration}
	st.GrantedAt, st.ExpiresAt, st.EndedAt = optMicro(o.GrantedAt), optMicro(o.ExpiresAt), nil
	if o.State.IsFinal() {
		st.EndedAt = &metav1.Time{Time: o.EndedAt}
	}
	if reflect.DeepEqual(st, r.Status) {
		return false
	}
	c := sim.cur(r.Name)
	if c == nil || c.UID != r.UID || c.ResourceVersion != r.ResourceVersion {
		sim.learn(d, res, &d.plan, r.Name)
		sim.log("d%d loses the write of %s %s", d.id, r.Name, o.State)
		return true
	}
	sim.checkStatusWrite(c, st, o, res, d.view.Fresh, d.now)
	if o.Reason == conchv1.ReasonPreempted && o.Preemption != nil {
		// The one it was for still waits: this plan does not end it by what its Reservation says. A rule of the
		// Resource may reject it in the same plan (a limit, allowedHolders), or a move make it a booking already
		// missed, which is counted.
		for _, p := range d.plan.Outcomes {
			switch {
			case p.Name != o.Preemption.Reservation || !p.State.IsFinal() || p.Gone:
			case p.Reason == conchv1.ReasonOverLimit || p.Reason == conchv1.ReasonHolderNotAllowed || p.Reason == conchv1.ReasonBookingMissed:
				sim.seen["preempted for one rejected meanwhile"]++
			default:
				sim.fail("d%d: %s preempted for %s, which this plan ends (%s)", d.id, r.Name, p.Name, p.Reason)
			}
		}
	}
	nw := c.DeepCopy()
	nw.Status = st
	sim.put(nw)
	d.live[nw.Name] = nw // the API server's answer: a later pass of this Reconcile starts from it
	sim.log("d%d reports %s %s (%s)", d.id, r.Name, o.State, o.Reason)
	return false
}

// The checks.

// checkStatusWrite checks a write of status st over c (the API server's version), for outcome o decided at now on
// the ledger of res.
func (sim *ledgerSim) checkStatusWrite(c *conchv1.Reservation, st conchv1.ReservationStatus, o queue.Outcome, res *conchv1.Resource, fresh map[types.UID]bool, now time.Time) {
	if c.Status.State.IsFinal() {
		sim.fail("%s was %s (final) and is written %s", c.Name, c.Status.State, st.State)
		return
	}
	var held *conchv1.ResourceHolder
	for i := range res.Status.Holders {
		if res.Status.Holders[i].UID == string(c.UID) {
			held = &res.Status.Holders[i]
		}
	}
	switch {
	case st.State == conchv1.StateGranted:
		i := slices.IndexFunc(sim.res.Status.Holders, func(hl conchv1.ResourceHolder) bool { return hl.UID == string(c.UID) })
		if i < 0 {
			sim.fail("%s reported Granted, but the ledger does not hold it: %s", c.Name, ledgerString(sim.res.Status))
		} else if !sim.res.Status.Holders[i].Since.Time.Equal(o.GrantedAt) {
			sim.fail("%s reported granted at %v, the ledger says since %v", c.Name, o.GrantedAt, sim.res.Status.Holders[i].Since)
		}
	case !st.State.IsFinal():
	case st.State == conchv1.StateExpired && o.Reason == conchv1.ReasonExpired:
		sim.seen["expired"]++
		switch {
		case held == nil:
			sim.fail("%s expired, but the ledger did not hold it", c.Name)
		case now.Before(held.Until.Time):
			sim.fail("%s expired at %v, before the until %v the ledger recorded", c.Name, now, held.Until)
		}
		if u, ok := sim.until[c.UID]; ok && now.Before(u) {
			// The ledger's latest term came from a view older than the Reservation's spec now (a shortening
			// undone by a stale cache): the end follows what the Reservation asks for.
			sim.seen["ended before a stale extension"]++
		}
	case st.State == conchv1.StateExpired && o.Reason == conchv1.ReasonShortened:
		sim.seen["shortened"]++
		switch {
		case held == nil:
			sim.fail("%s shortened, but the ledger did not hold it", c.Name)
		case !now.Before(held.Until.Time):
			sim.fail("%s ended as Shortened after its recorded term had run out: that is Expired", c.Name)
		case !fresh[c.UID]:
			sim.fail("%s shortened on a view not read from the API server", c.Name)
		case durOf(held.Requested) == durOf(c.Spec.Duration):
			sim.fail("%s ended as Shortened, but it asks for what the ledger recorded (%v)", c.Name, durOf(c.Spec.Duration))
		default:
			sim.checkShortenedTerm(c, held, res, now)
		}
	case st.State == conchv1.StateExpired && o.Reason == conchv1.ReasonHeartbeatMissed:
		sim.seen["heartbeat missed"]++
		switch {
		case c.Spec.HeartbeatTimeout == nil:
			sim.fail("%s missed a heartbeat it was never asked for", c.Name)
		case now.Before(sim.renewedAt[c.UID].Add(c.Spec.HeartbeatTimeout.Duration)):
			sim.fail("%s's heartbeat missed at %v, but it renewed at %v (timeout %s)",
				c.Name, now, sim.renewedAt[c.UID], c.Spec.HeartbeatTimeout.Duration)
		case held != nil && now.Before(held.Since.Add(c.Spec.HeartbeatTimeout.Duration)):
			sim.fail("%s's heartbeat missed at %v, within its timeout of its grant at %v", c.Name, now, held.Since)
		case !fresh[c.UID]:
			sim.fail("%s's heartbeat missed on a view not read from the API server", c.Name)
		}
	case st.State == conchv1.StateReleased && o.Reason == conchv1.ReasonReleased:
		sim.seen["released"]++
		if !c.Spec.Released && c.DeletionTimestamp == nil {
			sim.fail("%s released, but it was neither released nor deleted", c.Name)
		}
	case st.State == conchv1.StateReleased && o.Reason == conchv1.ReasonPreempted:
		sim.seen["preempted"]++
		sim.checkPreempted(c, held, res, now)
	case st.State == conchv1.StateExpired && o.Reason == conchv1.ReasonBookingMissed:
		sim.seen["booking missed"]++
		sim.checkBookingMissed(c, held, res, now)
	case st.State == conchv1.StateRejected:
		sim.seen["rejected"]++
		sim.checkRejected(c, held, o, res, fresh)
	default:
		sim.fail("%s ends as %s (%s), which nothing here should write", c.Name, st.State, o.Reason)
	}
}

// checkShortenedTerm checks that c, ended as Shortened at now, held what it asks for now (from its startTime for a
// booking held from after it).
func (sim *ledgerSim) checkShortenedTerm(c *conchv1.Reservation, held *conchv1.ResourceHolder, res *conchv1.Resource, now time.Time) {
	dur, requested, _ := queue.Term(res, c)
	asked := dur
	if requested != 0 {
		asked = requested
	}
	// A booking held from after its startTime asks for its term from its startTime.
	from := held.Since.Time
	if c.Spec.StartTime != nil && c.Spec.StartTime.Time.Before(from) {
		from = c.Spec.StartTime.Time
	}
	if now.Before(from.Add(asked)) {
		sim.fail("%s ended as Shortened at %v, %s after its grant, but it asks for %s",
			c.Name, now, now.Sub(held.Since.Time), asked)
	}
}

// checkBookingMissed checks the end of c's booking as missed at now, on the ledger of res.
func (sim *ledgerSim) checkBookingMissed(c *conchv1.Reservation, held *conchv1.ResourceHolder, res *conchv1.Resource, now time.Time) {
	// Missed: its whole term passed unheld, the term the ledger recorded or the one the person asks for now (c
	// is the version the decider saw: the write's precondition held). A walk-in given a startTime long past, or
	// a booking moved there, is missed at once.
	i := slices.IndexFunc(res.Status.Queue, func(q conchv1.QueueEntry) bool { return q.UID == string(c.UID) })
	recorded := i >= 0 && res.Status.Queue[i].StartTime != nil &&
		!now.Before(res.Status.Queue[i].StartTime.Add(res.Status.Queue[i].Duration.Duration))
	dur, _, _ := queue.Term(res, c)
	asked := c.Spec.StartTime != nil && !now.Before(c.Spec.StartTime.Add(dur))
	switch {
	case held != nil:
		sim.fail("%s's booking missed while it holds", c.Name)
	case !recorded && !asked:
		sim.fail("%s's booking missed at %v, but neither its recorded term (%s) nor the one it asks for (%v from %v) passed",
			c.Name, now, ledgerString(res.Status), dur, ptrText(c.Spec.StartTime))
	}
}

// checkRejected checks the rejection of c (outcome o) on the ledger of res: for a booking that does not fit or
// lies in the past, over a limit whose whenOver is Reject, or for a holder the Resource does not allow.
func (sim *ledgerSim) checkRejected(c *conchv1.Reservation, held *conchv1.ResourceHolder, o queue.Outcome, res *conchv1.Resource, fresh map[types.UID]bool) {
	switch o.Reason {
	case conchv1.ReasonBookingConflict, conchv1.ReasonBookingInPast:
		if o.Reason == conchv1.ReasonBookingConflict {
			sim.seen["booking conflict"]++
		}
		if c.Spec.StartTime == nil && fresh[c.UID] {
			sim.fail("%s rejected as %s, but it has no startTime", c.Name, o.Reason)
		}
	case conchv1.ReasonOverLimit:
		sim.seen["rejected over limit"]++
		if l := res.Spec.Limits; l == nil || l.WhenOver != conchv1.LimitReject {
			sim.fail("%s rejected over a limit, but %s's limits are %+v", c.Name, res.Name, l)
		}
	default:
		if queue.Allows(res, c.Spec.Holder) {
			sim.fail("%s rejected (%s), but %s allows %s", c.Name, o.Reason, res.Name, c.Spec.Holder)
		}
	}
	if held != nil {
		sim.fail("%s rejected while it holds", c.Name)
	}
}

// checkPreempted checks the end of c's hold as Preempted at now, on the ledger of res: never an early end of a
// promised term but this one, and this one only as the preemption recorded said, at or after its endsAt, which
// is at least gracePeriod after the warning (or the hold's own until); only on a Resource with preemption Hold,
// never for a hold recorded preemptible Never, and only for a walk-in that still waits with a higher
// spec.priority than the hold's.
func (sim *ledgerSim) checkPreempted(c *conchv1.Reservation, held *conchv1.ResourceHolder, res *conchv1.Resource, now time.Time) {
	if held == nil {
		sim.fail("%s preempted, but the ledger did not hold it", c.Name)
		return
	}
	p, pr := held.Preemption, prioritiesOf(res)
	if p == nil {
		sim.fail("%s preempted, but the ledger recorded no preemption of its hold", c.Name)
		return
	}
	i := slices.IndexFunc(res.Status.Queue, func(q conchv1.QueueEntry) bool { return q.Reservation == p.Reservation })
	switch {
	case now.Before(p.EndsAt.Time):
		sim.fail("%s preempted at %v, before the end of its grace period %v", c.Name, now, p.EndsAt)
	case p.EndsAt.Before(&p.Since) || (p.EndsAt.Before(&held.Until) && p.EndsAt.Time.Before(p.Since.Add(pr.grace))):
		sim.fail("%s preempted with a grace period from %v to %v, shorter than %v (until %v)", c.Name, p.Since, p.EndsAt, pr.grace, held.Until)
	case pr.policy != conchv1.PreemptionHold:
		sim.fail("%s preempted on a Resource with preemption %s", c.Name, pr.policy)
	case held.Preemptible == conchv1.PreemptibleNever:
		sim.fail("%s preempted, but its hold is preemptible Never", c.Name)
	case i < 0 || res.Status.Queue[i].StartTime != nil:
		sim.fail("%s preempted for %s, which no longer waits as a walk-in: %s", c.Name, p.Reservation, ledgerString(res.Status))
	case res.Status.Queue[i].Priority <= held.Priority:
		sim.fail("%s (priority %d) preempted for %s of priority %d", c.Name, held.Priority, p.Reservation, res.Status.Queue[i].Priority)
	}
}

// checkPlan checks that a plan without anything to confirm says what its ledger says: each holder seen is Granted
// for its term, each entry seen is Queued at its place, and the next change is after now and no later than the
// first until.
func (sim *ledgerSim) checkPlan(d *simDecider, v queue.View, plan queue.Plan) {
	now := queue.CeilMicro(sim.now)
	inView := map[types.UID]bool{}
	for _, r := range v.Reservations {
		inView[r.UID] = true
	}
	outcomes := map[types.UID]queue.Outcome{}
	for _, o := range plan.Outcomes {
		if _, dup := outcomes[o.UID]; dup {
			sim.fail("d%d: two outcomes for %s", d.id, o.Name)
		}
		outcomes[o.UID] = o
	}
	// A preemption with a grace period of 0 warns the holder in this plan and ends the hold at the next decision,
	// at once: the one plan whose next change may be now.
	graceless := false
	for _, hl := range plan.Ledger.Holders {
		o, ok := outcomes[types.UID(hl.UID)]
		// A hold being preempted ends at the end of its grace period (queue.HoldEnd), and its holder is told so.
		end := queue.HoldEnd(hl)
		if p := hl.Preemption; p != nil && p.Since.Time.Equal(now) && p.EndsAt.Time.Equal(now) {
			graceless = true
			sim.seen["preempted without grace"]++
			continue
		}
		switch {
		case !inView[types.UID(hl.UID)]:
		case !ok || o.State != conchv1.StateGranted || !o.GrantedAt.Equal(hl.Since.Time) || !o.ExpiresAt.Equal(end):
			sim.fail("d%d: %s holds %v..%v in the ledger, but its outcome is %+v", d.id, hl.Reservation, hl.Since, end, o)
		case (hl.Preemption != nil && end.Before(hl.Until.Time)) != (o.Reason == conchv1.ReasonPreempting):
			sim.fail("d%d: %s's preemption is %+v in the ledger, but its outcome says %s", d.id, hl.Reservation, hl.Preemption, o.Reason)
		case !now.Before(end):
			sim.fail("d%d: %s still holds at %v, its end %v", d.id, hl.Reservation, now, end)
		case plan.NextChange.IsZero() || plan.NextChange.After(end):
			sim.fail("d%d: next change %v is after %s's end %v", d.id, plan.NextChange, hl.Reservation, end)
		}
	}
	// Walk-ins wait at their place among the walk-ins; a booking waits for its startTime, with no place.
	position := int32(0)
	for _, q := range plan.Ledger.Queue {
		want, reason := int32(0), conchv1.ReasonBooked
		if q.StartTime == nil {
			position++
			want, reason = position, ""
		}
		o, ok := outcomes[types.UID(q.UID)]
		switch {
		case !inView[types.UID(q.UID)]:
		case !ok || o.State != conchv1.StateQueued || o.Position != want || o.Ticket != q.Ticket:
			sim.fail("d%d: %s waits at %d with ticket %d, but its outcome is %+v", d.id, q.Reservation, want, q.Ticket, o)
		case reason != "" && o.Reason != reason:
			sim.fail("d%d: %s is booked from %v, but its outcome says %s", d.id, q.Reservation, q.StartTime, o.Reason)
		case q.StartTime != nil && q.StartTime.After(now) && (plan.NextChange.IsZero() || plan.NextChange.After(q.StartTime.Time)):
			sim.fail("d%d: next change %v is after %s's booked start %v", d.id, plan.NextChange, q.Reservation, q.StartTime)
		case o.Reason == conchv1.ReasonOverLimit:
			sim.seen["over limit"]++
		case o.Reason == conchv1.ReasonWaitingForBooking:
			sim.seen["waiting for booking"]++
		case o.Conflict != "":
			sim.seen["booking not moved"]++
		}
	}
	if len(plan.Confirm) > 0 {
		// The controller writes a plan whose Confirm names only Reservations it has read already; the model
		// always marks what those reads found gone, so nothing is left to confirm.
		sim.fail("d%d: a plan still asks to confirm %v after reading them", d.id, plan.Confirm)
	}
	if !plan.NextChange.IsZero() && !plan.NextChange.After(now) && (!graceless || !plan.NextChange.Equal(now)) {
		sim.fail("d%d: next change %v is not after now %v: %+v\nledger read: %s", d.id, plan.NextChange, now, plan, ledgerText(v.Resource.Status))
	}
}

// checkLedgerWrite checks the ledger next that d is about to write over the one it read (the API server's, as the
// precondition held).
// checkTurnover checks a ledger write between holders: nobody is granted while a step runs or the Resource is
// Unhealthy, and a hold that ends on a Resource with a cleanup records one in the same write.
func (sim *ledgerSim) checkTurnover(d *simDecider, prev, next conchv1.ResourceStatus) {
	unhealthy := meta.IsStatusConditionFalse(prev.Conditions, conchv1.ResourceConditionHealthy)
	held := map[string]bool{}
	for _, hl := range prev.Holders {
		held[hl.UID] = true
	}
	for _, hl := range next.Holders {
		if !held[hl.UID] && (prev.Turnover != nil || unhealthy) {
			sim.fail("d%d grants %s while a step runs (%v) or the Resource is Unhealthy (%v)", d.id, hl.Reservation, prev.Turnover, unhealthy)
		}
		delete(held, hl.UID)
	}
	if sim.hooked && !unhealthy && len(held) > 0 {
		switch {
		case next.Turnover == nil:
			sim.fail("d%d: %d holds end on a Resource with a cleanup and no step is recorded", d.id, len(held))
		case prev.Turnover == nil && next.HookSequence != prev.HookSequence+1:
			sim.fail("d%d: a new step numbered %d after %d", d.id, next.HookSequence, prev.HookSequence)
		default:
			sim.seen["cleanup started"]++
		}
	}
}

func (sim *ledgerSim) checkLedgerWrite(d *simDecider, next conchv1.ResourceStatus) {
	res, v, now := d.res, d.view, d.now
	prev := res.Status
	capacity := max(1, int(res.Spec.Capacity))
	sim.checkTurnover(d, prev, next)
	if next.NextTicket < prev.NextTicket {
		sim.fail("d%d: nextTicket goes back from %d to %d", d.id, prev.NextTicket, next.NextTicket)
	}
	before := map[types.UID]int64{}
	wasHolder := map[types.UID]conchv1.ResourceHolder{}
	for _, hl := range prev.Holders {
		before[types.UID(hl.UID)] = hl.Ticket
		wasHolder[types.UID(hl.UID)] = hl
	}
	for _, q := range prev.Queue {
		before[types.UID(q.UID)] = q.Ticket
	}
	after := map[types.UID]bool{}
	entry := func(name string, uid types.UID, ticket int64) {
		if after[uid] {
			sim.fail("d%d: %s is in the ledger twice", d.id, name)
		}
		after[uid] = true
		if owner, ok := sim.tickets[ticket]; ok && owner != uid {
			sim.fail("d%d: ticket %d, given to %s, is given again to %s (%s)", d.id, ticket, owner, name, uid)
		}
		if t, ok := before[uid]; ok && t != ticket {
			sim.fail("d%d: %s's ticket changes from %d to %d", d.id, name, t, ticket)
		}
		if _, ok := before[uid]; !ok {
			if ticket < prev.NextTicket || ticket >= next.NextTicket {
				sim.fail("d%d: %s admitted with ticket %d, outside [%d, %d)", d.id, name, ticket, prev.NextTicket, next.NextTicket)
			}
			if sim.left[uid] {
				sim.seen["admitted again after it left"]++
			}
		}
		sim.tickets[ticket] = uid
	}
	pr := prioritiesOf(res)
	waited := map[types.UID]conchv1.QueueEntry{}
	for _, q := range prev.Queue {
		waited[types.UID(q.UID)] = q
	}
	for i, q := range next.Queue {
		entry(q.Reservation, types.UID(q.UID), q.Ticket)
		if i > 0 && !pr.inOrder(next.Queue[i-1], q, now) {
			sim.fail("d%d: queue not in order (bookings due, walk-ins by priority with aging and ticket, bookings ahead) at %v: %s",
				d.id, now, ledgerString(next))
		}
		sim.countBooking(waited, q)
	}
	granted := false
	for _, hl := range next.Holders {
		uid := types.UID(hl.UID)
		entry(hl.Reservation, uid, hl.Ticket)
		old, held := wasHolder[uid]
		if !held {
			granted = true
			sim.seen["grant"]++
			if len(prev.Holders) > 0 {
				sim.seen["handover"]++
			}
			if !hl.Since.Time.Equal(now) || hl.Until.Time.Before(now) {
				sim.fail("d%d: %s granted since %v until %v, at %v", d.id, hl.Reservation, hl.Since, hl.Until, now)
			}
			if res.Spec.Granting == conchv1.GrantingPaused {
				sim.fail("d%d: %s granted while granting is paused", d.id, hl.Reservation)
			}
			sim.checkPlannedGrant(d, hl, waited, next)
			continue
		}
		sim.checkKeptPlanned(d, old, hl, next)
		if !hl.Since.Equal(&old.Since) {
			sim.fail("d%d: %s's hold moves from since %v to %v", d.id, hl.Reservation, old.Since, hl.Since)
		}
		if durOf(old.Requested) == durOf(hl.Requested) &&
			(!hl.Until.Equal(&old.Until) || !reflect.DeepEqual(old.Duration, hl.Duration)) {
			sim.fail("d%d: %s's term changes from %v (%v) to %v (%v) with no new request (%v)",
				d.id, hl.Reservation, old.Until, old.Duration, hl.Until, hl.Duration, durOf(hl.Requested))
		}
		switch {
		case hl.Until.Before(&old.Until):
			if !v.Fresh[uid] {
				sim.fail("d%d: %s's until moves earlier, from %v to %v, on a view not read from the API server",
					d.id, hl.Reservation, old.Until, hl.Until)
			}
		case old.Until.Before(&hl.Until):
			sim.seen["extended"]++
		}
	}
	if granted && len(next.Holders) > capacity {
		sim.fail("d%d: grants to %d holders, capacity %d: %s", d.id, len(next.Holders), capacity, ledgerString(next))
	}
	sim.checkPromises(d, prev, next, capacity)
	// An entry leaves the ledger only once its end is known: its final state written, or its Reservation gone.
	for _, hl := range prev.Holders {
		sim.leaves(d, hl.Reservation, types.UID(hl.UID), after)
	}
	for _, q := range prev.Queue {
		sim.leaves(d, q.Reservation, types.UID(q.UID), after)
	}
	for _, hl := range next.Holders {
		sim.until[types.UID(hl.UID)] = hl.Until.Time
	}
}

// countBooking counts what became of q, an entry of a queue written over the one read (waited, by UID).
func (sim *ledgerSim) countBooking(waited map[types.UID]conchv1.QueueEntry, q conchv1.QueueEntry) {
	old, ok := waited[types.UID(q.UID)]
	switch {
	case q.StartTime == nil:
	case !ok || old.StartTime == nil:
		sim.seen["booked"]++
	case !old.StartTime.Equal(q.StartTime):
		sim.seen["booking moved"]++
	}
}

// checkPlannedGrant checks the grant of hl written in next over the queue read (waited, by UID): as a walk-in or
// as a booking, and the preemption it may get in the same write.
func (sim *ledgerSim) checkPlannedGrant(d *simDecider, hl conchv1.ResourceHolder, waited map[types.UID]conchv1.QueueEntry, next conchv1.ResourceStatus) {
	o := outcomeOf(d.plan, types.UID(hl.UID))
	if o.BookedStart.IsZero() {
		sim.checkWalkInGrant(d, hl, o, waited, next)
	} else {
		sim.checkBookingGrant(d, hl, waited)
	}
	if hl.Preemption != nil {
		sim.checkPreemption(d, hl, next)
	}
}

// checkKeptPlanned checks what a write does to the planned parts of a hold it keeps (old as read, hl as written):
// a preemption starts as checkPreemption says, is called off, or stays as it was; a booking held from after its
// startTime ends by its startTime plus what it asks for.
func (sim *ledgerSim) checkKeptPlanned(d *simDecider, old, hl conchv1.ResourceHolder, next conchv1.ResourceStatus) {
	uid, res := types.UID(hl.UID), d.res
	switch {
	case hl.Preemption == nil && old.Preemption != nil:
		sim.seen["preemption called off"]++
	case hl.Preemption == nil:
	case old.Preemption == nil || !old.Preemption.Since.Equal(&hl.Preemption.Since) ||
		old.Preemption.Reservation != hl.Preemption.Reservation:
		// A new preemption (the one before called off in this write, when there was one).
		sim.checkPreemption(d, hl, next)
	case !reflect.DeepEqual(old.Preemption, hl.Preemption):
		sim.fail("d%d: %s's preemption changes from %+v to %+v", d.id, hl.Reservation, *old.Preemption, *hl.Preemption)
	}
	if r := d.byUID[uid]; r != nil && r.Spec.StartTime != nil && r.Spec.StartTime.Time.Before(hl.Since.Time) && !hl.Until.Equal(&old.Until) {
		// A booking held from after its startTime, extended or shortened: it still ends by its startTime plus
		// what it asks for now (clamped by maxDuration for an extension; a shortening keeps what was asked).
		dur, requested, _ := queue.Term(res, r)
		dur = max(dur, requested)
		if end := queue.CeilMicro(r.Spec.StartTime.Add(dur)); hl.Until.After(end) {
			sim.fail("d%d: %s, booked from %v, is held until %v, after its start plus the %v it asks for (%v)",
				d.id, hl.Reservation, r.Spec.StartTime, hl.Until, dur, end)
		}
		sim.seen["late booking extended"]++
	}
}

// priorityRules are the rules of spec.priorities a decider applied, with the defaults the API documents.
type priorityRules struct {
	policy       conchv1.PreemptionPolicy
	aging, grace time.Duration
}

func prioritiesOf(res *conchv1.Resource) priorityRules {
	pr := priorityRules{policy: conchv1.PreemptionQueue, aging: queue.DefaultAgingInterval, grace: queue.DefaultGracePeriod}
	if p := res.Spec.Priorities; p != nil {
		if p.Preemption != "" {
			pr.policy = p.Preemption
		}
		if p.AgingInterval != nil && p.AgingInterval.Duration > 0 {
			pr.aging = p.AgingInterval.Duration
		}
		if p.GracePeriod != nil {
			pr.grace = p.GracePeriod.Duration
		}
	}
	return pr
}

// effective is the priority a walk-in waits with at now, as spec.priorities documents it: its own plus one for
// each agingInterval it waited since the ledger admitted it; under preemption Never, none.
func (pr priorityRules) effective(q conchv1.QueueEntry, now time.Time) int64 {
	if pr.policy == conchv1.PreemptionNever {
		return 0
	}
	p := int64(q.Priority)
	if q.Admitted != nil && now.After(q.Admitted.Time) {
		p += int64(now.Sub(q.Admitted.Time) / pr.aging)
	}
	return p
}

// inOrder reports whether a may wait before b in a queue written at now: bookings whose time came (by start),
// then the walk-ins by effective priority and ticket, then the bookings ahead (by start).
func (pr priorityRules) inOrder(a, b conchv1.QueueEntry, now time.Time) bool {
	rank := func(q conchv1.QueueEntry) int {
		switch {
		case q.StartTime == nil:
			return 1
		case !q.StartTime.After(now):
			return 0
		}
		return 2
	}
	switch ra, rb := rank(a), rank(b); {
	case ra != rb:
		return ra < rb
	case ra != 1:
		return a.StartTime.Before(b.StartTime) || (a.StartTime.Equal(b.StartTime) && a.Ticket < b.Ticket)
	}
	ea, eb := pr.effective(a, now), pr.effective(b, now)
	return ea > eb || (ea == eb && a.Ticket < b.Ticket)
}

// checkWalkInGrant checks the grant of hl, a walk-in (o its outcome), written in next over the queue the decider
// read (waited, by UID). A walk-in is granted while nothing ahead of it can be: no booking whose time came waits,
// and no walk-in still waiting is ahead of it by effective priority and ticket unless that one waits for more
// than its turn (over a limit, or for a booking to end). In particular no starvation within the aging bound: a
// walk-in of priority q is never overtaken by one of priority p admitted more than (p − q) × agingInterval after
// it (under preemption Never: admitted after it at all).
func (sim *ledgerSim) checkWalkInGrant(d *simDecider, hl conchv1.ResourceHolder, o queue.Outcome, waited map[types.UID]conchv1.QueueEntry, next conchv1.ResourceStatus) {
	now, pr := d.now, prioritiesOf(d.res)
	if o.Reason == conchv1.ReasonShortenedForBooking {
		sim.seen["shortened for booking"]++
	}
	// The walk-in as it waited: admitted now when this write admitted and granted it at once.
	h, ok := waited[types.UID(hl.UID)]
	if !ok {
		h = conchv1.QueueEntry{Reservation: hl.Reservation, UID: hl.UID, Ticket: hl.Ticket, Priority: hl.Priority, Admitted: ptrMicro(now)}
	}
	h.StartTime, h.Priority = nil, hl.Priority // a booking made a walk-in in this write waits as one; priorities as seen now
	for _, q := range next.Queue {
		if q.StartTime != nil {
			if !q.StartTime.After(now) {
				sim.fail("d%d: walk-in %s granted while %s's booking from %v waits: %s", d.id, hl.Reservation, q.Reservation, q.StartTime, ledgerString(next))
			}
			continue
		}
		why := sim.waitsForMore(d, q, next)
		if q.Ticket < h.Ticket {
			if why == "" {
				sim.seen["jumped"]++
			}
			if q.Priority > h.Priority {
				sim.seen["aged past"]++
			}
		}
		if why != "" {
			continue
		}
		if !pr.inOrder(h, q, now) {
			sim.fail("d%d: %s (ticket %d, priority %d, admitted %v) granted while %s (ticket %d, priority %d, admitted %v) waits ahead of it, at %v",
				d.id, hl.Reservation, h.Ticket, h.Priority, h.Admitted, q.Reservation, q.Ticket, q.Priority, q.Admitted, now)
		}
		if q.Admitted == nil || h.Admitted == nil {
			continue
		}
		// The starvation bound, stated as users read it.
		late := h.Admitted.Sub(q.Admitted.Time)
		bound := time.Duration(h.Priority-q.Priority) * pr.aging
		if pr.policy == conchv1.PreemptionNever {
			bound = 0
		}
		if late > 0 && late > bound {
			sim.fail("d%d: %s (priority %d) overtaken by %s (priority %d) admitted %v after it, beyond the aging bound %v",
				d.id, q.Reservation, q.Priority, hl.Reservation, h.Priority, late, bound)
		}
	}
}

// waitsForMore says why the walk-in q waits for more than its turn in the plan d wrote as next, or "": it is over
// a limit (its holder holds already), or its term would run into a booking that needs the slot.
func (sim *ledgerSim) waitsForMore(d *simDecider, q conchv1.QueueEntry, next conchv1.ResourceStatus) string {
	o := outcomeOf(d.plan, types.UID(q.UID))
	switch o.Reason {
	case conchv1.ReasonOverLimit:
		l := d.res.Spec.Limits
		switch {
		case l == nil:
			sim.fail("d%d: %s is over a limit, but the Resource has none", d.id, q.Reservation)
		case l.MaxHoldsPerHolder > 0 && !slices.ContainsFunc(next.Holders, func(hl conchv1.ResourceHolder) bool { return hl.Holder == q.Holder }):
			sim.fail("d%d: %s is over maxHoldsPerHolder, but %s holds nothing", d.id, q.Reservation, q.Holder)
		}
		return "over a limit"
	case conchv1.ReasonWaitingForBooking:
		end := d.now.Add(max(q.Duration.Duration, o.Duration))
		for _, b := range next.Queue {
			if b.StartTime != nil && b.StartTime.Time.Before(end) {
				return "waiting for a booking"
			}
		}
		sim.fail("d%d: %s waits for a booking, but no booking starts within its term: %s", d.id, q.Reservation, ledgerString(next))
		return "waiting for a booking"
	}
	return ""
}

// checkBookingGrant checks the grant of hl, a booking: never before its startTime, and never past its startTime
// plus its duration (or within the slot the ledger recorded, when a move did not fit: it keeps its slot). As the
// Reservation the decider saw says: a view older than the ledger never undoes what the
// ledger recorded (a move), and so as the person asked when the decider decided, unless the view was read from the
// API server before the person's last edit, or the ledger admitted the booking from a view older than it (the
// engine can only act on what it sees): those are counted.
func (sim *ledgerSim) checkBookingGrant(d *simDecider, hl conchv1.ResourceHolder, waited map[types.UID]conchv1.QueueEntry) {
	sim.seen["booking granted"]++
	uid := types.UID(hl.UID)
	now := d.now
	within := func(r *conchv1.Reservation) bool {
		if r == nil || r.Spec.StartTime == nil {
			return false
		}
		dur, _, _ := queue.Term(d.res, r)
		return !now.Before(r.Spec.StartTime.Time) && !hl.Until.After(queue.CeilMicro(r.Spec.StartTime.Add(dur)))
	}
	q, recorded := waited[uid]
	kept := recorded && q.StartTime != nil && outcomeOf(d.plan, uid).Conflict != "" // a move that did not fit
	if kept && !now.Before(q.StartTime.Time) && !hl.Until.After(queue.CeilMicro(q.StartTime.Add(q.Duration.Duration))) {
		sim.seen["booking granted in the slot it could not move from"]++
		return
	}
	if v := d.byUID[uid]; v == nil {
		sim.fail("d%d: %s granted, but the decider did not see it", d.id, hl.Reservation)
		return
	} else if !within(v) {
		sim.fail("d%d: %s granted as a booking from %v to %v, but it asks for %v for %v", d.id, hl.Reservation, now, hl.Until,
			ptrText(v.Spec.StartTime), ptrText(v.Spec.Duration))
		return
	}
	t := d.truth[uid]
	if t == nil || within(t) {
		return
	}
	if dur, _, _ := queue.Term(d.res, t); recorded && !d.view.Fresh[uid] && q.StartTime != nil && t.Spec.StartTime != nil &&
		q.StartTime.Equal(t.Spec.StartTime) && q.Duration.Duration == dur {
		sim.fail("d%d: %s's booking recorded from %v (as its Reservation asks) granted from a view that may be stale, for %v–%v",
			d.id, hl.Reservation, q.StartTime, now, hl.Until)
	}
	sim.seen["booking granted on a stale view"]++
}

// checkPreemption checks a preemption a write records on the hold hl: only on a Resource with preemption Hold,
// never of a hold recorded preemptible Never, only for a walk-in that still waits with a higher spec.priority
// than the hold's, and with the grace period: it ends at the warning plus gracePeriod, or at the hold's own until.
func (sim *ledgerSim) checkPreemption(d *simDecider, hl conchv1.ResourceHolder, next conchv1.ResourceStatus) {
	sim.seen["preempting"]++
	p, now, pr := hl.Preemption, d.now, prioritiesOf(d.res)
	i := slices.IndexFunc(next.Queue, func(q conchv1.QueueEntry) bool { return q.Reservation == p.Reservation })
	switch {
	case pr.policy != conchv1.PreemptionHold:
		sim.fail("d%d: %s preempted under preemption %s", d.id, hl.Reservation, pr.policy)
	case hl.Preemptible == conchv1.PreemptibleNever:
		sim.fail("d%d: %s preempted, but its hold is preemptible Never", d.id, hl.Reservation)
	case i < 0 || next.Queue[i].StartTime != nil:
		sim.fail("d%d: %s preempted for %s, which does not wait as a walk-in: %s", d.id, hl.Reservation, p.Reservation, ledgerString(next))
	case next.Queue[i].Priority <= hl.Priority:
		sim.fail("d%d: %s (priority %d) preempted for %s of priority %d", d.id, hl.Reservation, hl.Priority, p.Reservation, next.Queue[i].Priority)
	case !p.Since.Time.Equal(now):
		sim.fail("d%d: %s's preemption since %v, written at %v", d.id, hl.Reservation, p.Since, now)
	case p.EndsAt.Before(&hl.Until) && p.EndsAt.Time.Before(now.Add(pr.grace)):
		sim.fail("d%d: %s's preemption ends at %v, within the grace period %v of %v", d.id, hl.Reservation, p.EndsAt, pr.grace, now)
	}
}

// checkPromises checks on every ledger write that what it promises fits in the Resource: at every instant from
// now, the holds (each to its end: its until, or the end of its preemption) and the bookings not yet granted
// (each from its startTime, or now, to its startTime + duration) take no more slots than capacity.
//
// Exactly: overflow(L, t) = max(0, holds of L covering t + bookings of L covering t − capacity). A write never
// makes it worse at any instant: overflow(next, t) <= overflow(prev, t), prev being the ledger the decider read,
// counted at the same now and capacity. A walk-in granted beside a booking therefore ends before the booking needs
// its slot, and a booking admitted or moved fits. The overflow that may stand is inherited: capacity lowered under
// holds or bookings, which can make a booking whose time came wait for a hold. So where capacity was never
// lowered there is none at all.
func (sim *ledgerSim) checkPromises(d *simDecider, prev, next conchv1.ResourceStatus, capacity int) {
	now := d.now
	type span struct{ from, to time.Time }
	spans := func(st conchv1.ResourceStatus) []span {
		var out []span
		for _, hl := range st.Holders {
			if end := queue.HoldEnd(hl); end.After(now) {
				out = append(out, span{now, end})
			}
		}
		for _, q := range st.Queue {
			if q.StartTime == nil {
				continue
			}
			if end := queue.CeilMicro(q.StartTime.Add(q.Duration.Duration)); end.After(now) {
				out = append(out, span{later(q.StartTime.Time, now), end})
			}
		}
		return out
	}
	ps, ns := spans(prev), spans(next)
	if len(ns) <= capacity {
		return // not enough promises to fill the slots
	}
	over := func(ss []span, t time.Time) int {
		n := 0
		for _, s := range ss {
			if !t.Before(s.from) && t.Before(s.to) {
				n++
			}
		}
		return max(0, n-capacity)
	}
	// The difference changes only where a promise of next starts or one of prev ends.
	at := make([]time.Time, 0, len(ns)+len(ps))
	for _, s := range ns {
		at = append(at, s.from)
	}
	for _, s := range ps {
		at = append(at, s.to)
	}
	for _, t := range at {
		on, op := over(ns, t), over(ps, t)
		switch {
		case on > op:
			sim.fail("d%d: at %v the ledger written promises %d slots over capacity %d, the one read %d: %s\nread: %s",
				d.id, t, on, capacity, op, ledgerString(next), ledgerString(prev))
			return
		case on > 0 && !sim.capLowered:
			sim.fail("d%d: at %v the ledger written promises %d slots over capacity %d, which was never lowered: %s",
				d.id, t, on, capacity, ledgerString(next))
			return
		}
	}
}

func ptrMicro(t time.Time) *metav1.MicroTime {
	mt := metav1.NewMicroTime(t)
	return &mt
}

func (sim *ledgerSim) leaves(d *simDecider, name string, uid types.UID, after map[types.UID]bool) {
	if after[uid] {
		return
	}
	sim.left[uid] = true
	delete(sim.until, uid)
	c := sim.byUID(name, uid)
	switch {
	case c == nil:
		sim.seen["deleted (gone)"]++
	case c.Status.State.IsFinal() || c.DeletionTimestamp != nil:
	default:
		sim.fail("d%d: %s leaves the ledger, but it is %q, neither final nor gone", d.id, name, c.Status.State)
	}
}

// checkWorld checks what must hold between any two steps: those whose true status is Granted are held by the
// ledger, so never more than its capacity (or the holds it kept when capacity was lowered).
func (sim *ledgerSim) checkWorld() {
	holders := map[types.UID]bool{}
	for _, hl := range sim.res.Status.Holders {
		holders[types.UID(hl.UID)] = true
	}
	granted := 0
	for _, name := range sim.names {
		c := sim.cur(name)
		// A Reservation being deleted is going away: the controller writes nothing to it (legacy finalizer).
		if c == nil || c.Status.State != conchv1.StateGranted || c.DeletionTimestamp != nil {
			continue
		}
		granted++
		if !holders[c.UID] {
			sim.fail("%s is Granted, but the ledger does not hold it: %s", name, ledgerString(sim.res.Status))
		}
	}
	if capacity := max(1, int(sim.res.Spec.Capacity)); granted > max(capacity, len(holders)) {
		sim.fail("%d Reservations are Granted, capacity %d", granted, capacity)
	}
}

// settle lets the caches catch up and the deciders run until the ledger settles, then checks that nobody is
// stranded: every ledger entry is a live Reservation, every live Reservation that may hold is in the ledger, no
// slot is free while someone waits, and every holder is told it holds.
func (sim *ledgerSim) settle() {
	latest := func(name string) *conchv1.Reservation { return sim.cur(name) }
	for round := range 6 {
		// The steps between holders end, and an Unhealthy Resource is repaired, so that the queue can move.
		for range 3 {
			sim.runHook(false)
		}
		for _, d := range sim.deciders {
			d.active, d.passes, d.stage = true, 0, 0
			d.live, d.gone = map[string]*conchv1.Reservation{}, map[types.UID]bool{}
			for d.passes < simMaxPasses && len(sim.errs) == 0 {
				if d.stage == 0 {
					d.passes++
				}
				r := sim.stepPass(d, latest)
				if r == passDone {
					break
				}
				if r == passAgain {
					d.stage = 0
				}
			}
			d.active, d.stage = false, 0
			sim.checkWorld()
		}
		if round == 0 {
			sim.log("settle")
		}
	}
	if len(sim.errs) > 0 {
		return
	}
	st := sim.res.Status
	inLedger := map[types.UID]bool{}
	for _, hl := range st.Holders {
		inLedger[types.UID(hl.UID)] = true
		c := sim.byUID(hl.Reservation, types.UID(hl.UID))
		switch {
		case c == nil || c.Status.State.IsFinal():
			sim.fail("settled ledger holds %s, which is gone or final", hl.Reservation)
		case c.Status.State != conchv1.StateGranted && c.DeletionTimestamp == nil:
			sim.fail("settled ledger holds %s, whose status says %q", hl.Reservation, c.Status.State)
		case !sim.now.Before(queue.HoldEnd(hl)):
			sim.fail("settled ledger holds %s past its end %v", hl.Reservation, queue.HoldEnd(hl))
		}
	}
	for _, q := range st.Queue {
		inLedger[types.UID(q.UID)] = true
		if c := sim.byUID(q.Reservation, types.UID(q.UID)); c == nil || c.Status.State.IsFinal() {
			sim.fail("settled ledger queues %s, which is gone or final", q.Reservation)
		}
	}
	for _, name := range sim.names {
		c := sim.cur(name)
		switch {
		case c != nil && c.DeletionTimestamp != nil:
			sim.fail("%s is being deleted but the settled ledger never let it go (its legacy finalizer stays)", name)
		case c == nil || c.Status.State.IsFinal() || inLedger[c.UID]:
			continue
		}
		sim.fail("%s (%s, %q) is live but not in the settled ledger: stranded", name, c.UID, c.Status.State)
	}
	// Nobody who could hold waits while a slot is free: a booking waits for its startTime, and a walk-in may wait
	// for more than its turn (over a limit, or for a booking that needs the slot within its term).
	capacity := max(1, int(sim.res.Spec.Capacity))
	if sim.res.Spec.Granting == conchv1.GrantingPaused || len(st.Holders) >= capacity {
		return
	}
	last := sim.deciders[len(sim.deciders)-1] // its last pass decided on this ledger
	for _, q := range st.Queue {
		switch {
		case q.StartTime != nil && q.StartTime.After(sim.now):
		case q.StartTime == nil && sim.waitsForMore(last, q, st) != "":
		default:
			sim.fail("settled ledger leaves %d of %d slots free while %s waits: %s", capacity-len(st.Holders), capacity, q.Reservation, ledgerString(st))
			return
		}
	}
}

// Helpers.

func ledgerUIDsOf(res *conchv1.Resource, name string) []types.UID {
	var out []types.UID
	for _, hl := range res.Status.Holders {
		if hl.Reservation == name {
			out = append(out, types.UID(hl.UID))
		}
	}
	for _, q := range res.Status.Queue {
		if q.Reservation == name && q.UID != "" {
			out = append(out, types.UID(q.UID))
		}
	}
	return out
}

func sameLedger(a, b conchv1.ResourceStatus) bool {
	return a.NextTicket == b.NextTicket && a.Waiting == b.Waiting && a.HookSequence == b.HookSequence &&
		reflect.DeepEqual(a.Turnover, b.Turnover) &&
		len(a.Holders) == len(b.Holders) && len(a.Queue) == len(b.Queue) &&
		(len(a.Holders) == 0 || reflect.DeepEqual(a.Holders, b.Holders)) &&
		(len(a.Queue) == 0 || reflect.DeepEqual(a.Queue, b.Queue))
}

// ledgerText formats a ledger only when printed.
type ledgerText conchv1.ResourceStatus

func (l ledgerText) String() string { return ledgerString(conchv1.ResourceStatus(l)) }

func ledgerString(st conchv1.ResourceStatus) string {
	var b strings.Builder
	b.WriteString("holders [")
	for i, hl := range st.Holders {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s#%d(%s) %s..%s", hl.Reservation, hl.Ticket, hl.UID, hl.Since.Sub(t0), hl.Until.Sub(t0))
		if hl.Priority != 0 || hl.Preemptible != "" {
			fmt.Fprintf(&b, " p%d%s", hl.Priority, hl.Preemptible)
		}
		if p := hl.Preemption; p != nil {
			fmt.Fprintf(&b, " preempted for %s %s..%s", p.Reservation, p.Since.Sub(t0), p.EndsAt.Sub(t0))
		}
	}
	b.WriteString("] queue [")
	for i, q := range st.Queue {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s#%d(%s)", q.Reservation, q.Ticket, q.UID)
		if q.Priority != 0 {
			fmt.Fprintf(&b, " p%d", q.Priority)
		}
		if q.Admitted != nil {
			fmt.Fprintf(&b, " adm %s", q.Admitted.Sub(t0))
		}
		if q.StartTime != nil {
			fmt.Fprintf(&b, " booked %s..%s", q.StartTime.Sub(t0), q.StartTime.Add(q.Duration.Duration).Sub(t0))
		}
	}
	fmt.Fprintf(&b, "] next %d", st.NextTicket)
	return b.String()
}

func durOf(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

func optMicro(t time.Time) *metav1.MicroTime {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewMicroTime(t)
	return &mt
}

// ptrText formats a pointer's value, or nil, only when printed.
func ptrText[T any](p *T) fmt.Stringer { return ptrString[T]{p} }

type ptrString[T any] struct{ p *T }

func (s ptrString[T]) String() string {
	if s.p == nil {
		return "nil"
	}
	return fmt.Sprint(*s.p)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// outcomeOf is the outcome plan gives the Reservation with uid (names may be reused), or none.
func outcomeOf(plan queue.Plan, uid types.UID) queue.Outcome {
	for _, o := range plan.Outcomes {
		if o.UID == uid {
			return o
		}
	}
	return queue.Outcome{}
}
