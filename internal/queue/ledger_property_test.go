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
// After every step it checks: never more holders in the ledger than capacity when it grants; never more
// Reservations whose true status is Granted than capacity (those the ledger holds); never an end before the term
// the ledger recorded, nor one the Reservation did not ask for; grants in ticket order; a ticket is never reused
// and nextTicket never goes back; a ledger entry leaves only when its end is known; a final Reservation never
// changes; a plan says what its ledger says. At the end of a schedule the caches catch up and it checks that the
// ledger settles: nobody stranded, no slot left free while someone waits, every holder told.
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
	sim.bumpResource()
	sim.log("staging: capacity %d, maxDuration %v, defaultDuration %v, allowedHolders %v, cleanup %v",
		sim.res.Spec.Capacity, sim.res.Spec.MaxDuration, sim.res.Spec.DefaultDuration, sim.res.Spec.AllowedHolders, sim.hooked)
	for i := range 3 {
		sim.deciders = append(sim.deciders, &simDecider{id: i, arrivals: i < 2})
	}
	return sim
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
	sim.created[uid] = uint64(sim.seq)
	sim.renewedAt[uid] = sim.now
	sim.put(w.Obj())
	sim.log("create %s (%s, %s, %v)", name, uid, w.Spec.Holder, w.Spec.Duration)
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
		if hl.Heartbeat != nil {
			if r := sim.byUID(hl.Reservation, types.UID(hl.UID)); r != nil && r.Spec.HeartbeatTimeout != nil {
				due = append(due, hl.Heartbeat.ObservedAt.Add(r.Spec.HeartbeatTimeout.Duration))
			}
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
	switch k := sim.rng.IntN(4); {
	case k == 0 && sim.allowCapacity:
		spec.Capacity = int32(1 + sim.rng.IntN(3))
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
	for i, q := range res.Status.Queue {
		r := sim.cached(q.Reservation)
		if r == nil || string(r.UID) != q.UID || r.DeletionTimestamp != nil || r.Status.State.IsFinal() ||
			r.Status.State == conchv1.StateGranted {
			continue
		}
		st := *r.Status.DeepCopy()
		st.State, st.ResourceName, st.ResourceUID, st.Ticket = conchv1.StateQueued, res.Name, string(res.UID), q.Ticket
		st.Position = int32(i + 1)
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
		sim.log("position: %s Queued at %d", r.Name, i+1)
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
			dur, requested, _ := queue.Term(res, c)
			asked := dur
			if requested != 0 {
				asked = requested
			}
			switch {
			case !now.Before(held.Since.Add(asked)):
			default:
				sim.fail("%s ended as Shortened at %v, %s after its grant, but it asks for %s",
					c.Name, now, now.Sub(held.Since.Time), asked)
			}
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
	case st.State == conchv1.StateRejected:
		sim.seen["rejected"]++
		if queue.Allows(res, c.Spec.Holder) {
			sim.fail("%s rejected, but %s allows %s", c.Name, res.Name, c.Spec.Holder)
		}
		if held != nil {
			sim.fail("%s rejected while it holds", c.Name)
		}
	default:
		sim.fail("%s ends as %s (%s), which nothing here should write", c.Name, st.State, o.Reason)
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
	for _, hl := range plan.Ledger.Holders {
		o, ok := outcomes[types.UID(hl.UID)]
		switch {
		case !inView[types.UID(hl.UID)]:
		case !ok || o.State != conchv1.StateGranted || !o.GrantedAt.Equal(hl.Since.Time) || !o.ExpiresAt.Equal(hl.Until.Time):
			sim.fail("d%d: %s holds %v..%v in the ledger, but its outcome is %+v", d.id, hl.Reservation, hl.Since, hl.Until, o)
		case !now.Before(hl.Until.Time):
			sim.fail("d%d: %s still holds at %v, its until %v", d.id, hl.Reservation, now, hl.Until)
		case plan.NextChange.IsZero() || plan.NextChange.After(hl.Until.Time):
			sim.fail("d%d: next change %v is after %s's until %v", d.id, plan.NextChange, hl.Reservation, hl.Until)
		}
	}
	for i, q := range plan.Ledger.Queue {
		o, ok := outcomes[types.UID(q.UID)]
		if inView[types.UID(q.UID)] && (!ok || o.State != conchv1.StateQueued || o.Position != int32(i+1) || o.Ticket != q.Ticket) {
			sim.fail("d%d: %s waits at %d with ticket %d, but its outcome is %+v", d.id, q.Reservation, i+1, q.Ticket, o)
		}
	}
	if len(plan.Confirm) > 0 {
		// The controller writes a plan whose Confirm names only Reservations it has read already; the model
		// always marks what those reads found gone, so nothing is left to confirm.
		sim.fail("d%d: a plan still asks to confirm %v after reading them", d.id, plan.Confirm)
	}
	if !plan.NextChange.IsZero() && !plan.NextChange.After(now) {
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
	for i, q := range next.Queue {
		entry(q.Reservation, types.UID(q.UID), q.Ticket)
		if i > 0 && q.Ticket <= next.Queue[i-1].Ticket {
			sim.fail("d%d: queue not in ticket order: %s", d.id, ledgerString(next))
		}
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
			for _, q := range next.Queue {
				if q.Ticket < hl.Ticket {
					sim.fail("d%d: %s (ticket %d) granted while %s (ticket %d) waits", d.id, hl.Reservation, hl.Ticket, q.Reservation, q.Ticket)
				}
			}
			continue
		}
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
		case !sim.now.Before(hl.Until.Time):
			sim.fail("settled ledger holds %s past its until %v", hl.Reservation, hl.Until)
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
	capacity := max(1, int(sim.res.Spec.Capacity))
	if sim.res.Spec.Granting != conchv1.GrantingPaused && len(st.Queue) > 0 && len(st.Holders) < capacity {
		sim.fail("settled ledger leaves %d of %d slots free while %d wait", capacity-len(st.Holders), capacity, len(st.Queue))
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
	}
	b.WriteString("] queue [")
	for i, q := range st.Queue {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s#%d(%s)", q.Reservation, q.Ticket, q.UID)
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
