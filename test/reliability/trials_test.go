package reliability

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestRandomizedTrials runs trials of random concurrent use (create, extend, release, delete) of two Resources of
// capacity 1 and 2, while two manager replicas run under leader election, the leader is killed at random points
// and replaced, and 5% of the managers' writes fail with an injected 409 Conflict. A watch records every change;
// the history of each trial is then checked:
//   - never more holders than capacity, in the Resource's record and in what the Reservations say;
//   - grants in first-come-first-served order;
//   - every Reservation ends in a final state (holds are short), none is lost;
//   - timed releases are never early, and late by at most the time without a leader plus a bound.
//
// CONCH_TRIALS sets the number of trials (default 4 in CI, about a minute; 500 on demand). CONCH_TRIAL_SEED
// replays a run.
func TestRandomizedTrials(t *testing.T) {
	trials := envInt("CONCH_TRIALS", 8)
	parallel := envInt("CONCH_TRIAL_PARALLEL", 4)
	seed := uint64(envInt("CONCH_TRIAL_SEED", int(time.Now().UnixNano()%1_000_000)))
	t.Logf("%d trials, %d at a time, seed %d (replay with CONCH_TRIAL_SEED=%d)", trials, parallel, seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	rec := newRecorder(t)
	cl := newCluster(t)
	defer cl.stopAll()

	for first := 0; first < trials; first += parallel {
		batch := min(parallel, trials-first)
		t.Run(fmt.Sprintf("trials-%03d-%03d", first, first+batch-1), func(t *testing.T) {
			namespaces := make([]string, batch)
			var wg sync.WaitGroup
			for i := range batch {
				namespaces[i] = namespace(t)
				trng := rand.New(rand.NewPCG(rng.Uint64(), uint64(first+i)))
				wg.Go(func() { runTrial(t, namespaces[i], trng) })
			}
			// Chaos, shared by the batch: kill the leader once or twice.
			for range 1 + rng.IntN(2) {
				time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond) // a random moment, not a wait for the cluster
				cl.killLeader(t)
			}
			wg.Wait()
			for _, ns := range namespaces {
				waitAllEnded(t, ns)
				rec.check(t, ns, cl.downtime())
			}
		})
	}
	t.Logf("%d conflicts injected into the managers' writes", cl.injected())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// runTrial creates two Resources and lets eight users use them at random.
func runTrial(t *testing.T, ns string, rng *rand.Rand) {
	for name, capacity := range map[string]int32{"one": 1, "two": 2} {
		if err := k8s.Create(ctx, testutil.Resource(name).Namespace(ns).Capacity(capacity).Obj()); err != nil {
			t.Error(err)
			return
		}
	}
	var wg sync.WaitGroup
	for c := range 8 {
		crng := rand.New(rand.NewPCG(rng.Uint64(), uint64(c)))
		wg.Go(func() { user(t, ns, c, crng) })
	}
	wg.Wait()
}

// waitAllEnded waits for every Reservation of ns to end: every hold is at most 3 s long.
func waitAllEnded(t *testing.T, ns string) {
	NewWithT(t).Eventually(func() []string {
		var list conchv1.ReservationList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return []string{err.Error()}
		}
		var open []string
		for _, r := range list.Items {
			if !r.Status.State.IsFinal() {
				open = append(open, fmt.Sprintf("%s:%s", r.Name, r.Status.State))
			}
		}
		return open
	}).WithTimeout(45*time.Second).WithPolling(100*time.Millisecond).Should(BeEmpty(), "namespace %s", ns)
}

// user makes six random requests with short random pauses.
func user(t *testing.T, ns string, id int, rng *rand.Rand) {
	var mine []string
	for op := range 6 {
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond) // think time
		switch k := rng.IntN(10); {
		case k < 5 || len(mine) == 0:
			name := fmt.Sprintf("c%d-%d", id, op)
			res := []string{"one", "two"}[rng.IntN(2)]
			r := testutil.Reservation(name).Namespace(ns).On(res).For(time.Duration(1000+rng.IntN(2000)) * time.Millisecond).Obj()
			r.UID = ""
			if err := k8s.Create(ctx, r); err != nil {
				t.Errorf("create %s: %v", name, err)
				continue
			}
			mine = append(mine, name)
		case k < 7:
			patchReservation(t, ns, mine[rng.IntN(len(mine))], func(r *conchv1.Reservation) {
				r.Spec.Duration = &metav1.Duration{Duration: time.Duration(1000+rng.IntN(2000)) * time.Millisecond}
			})
		case k < 9:
			patchReservation(t, ns, mine[rng.IntN(len(mine))], func(r *conchv1.Reservation) { r.Spec.Released = true })
		default:
			r := &conchv1.Reservation{}
			r.Namespace, r.Name = ns, mine[rng.IntN(len(mine))]
			if err := k8s.Delete(ctx, r); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete %s: %v", r.Name, err)
			}
		}
	}
}

func patchReservation(t *testing.T, ns, name string, mutate func(*conchv1.Reservation)) {
	r := &conchv1.Reservation{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
		return // deleted meanwhile
	}
	if r.Spec.Released || r.DeletionTimestamp != nil {
		return
	}
	patch := client.MergeFrom(r.DeepCopy())
	mutate(r)
	if err := k8s.Patch(ctx, r, patch); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("patch %s: %v", name, err)
	}
}

// cluster is two manager replicas under leader election with fast lease timings, writing through a transport
// that fails 5% of writes with a 409 Conflict.
type cluster struct {
	clk       *testutil.StepClock
	stopping  chan struct{}
	conflicts []*atomic.Int64 // injected conflicts, per replica

	mu       sync.Mutex
	replicas []*running
	// leaderless are the windows during which the leader had been killed and no new one may yet lead.
	leaderless []window
}

type window struct{ from, to time.Time }

func newCluster(t *testing.T) *cluster {
	cl := &cluster{clk: testutil.NewStepClock(), stopping: make(chan struct{})}
	cl.replicas = append(cl.replicas, cl.start(t), cl.start(t))
	go cl.supervise(t)
	return cl
}

// supervise restarts a replica that stopped by itself, as a Deployment would: a leader that misses its renew
// deadline on a loaded machine exits, and with it gone nobody might lead.
func (cl *cluster) supervise(t *testing.T) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-cl.stopping:
			return
		case <-tick.C:
		}
		cl.mu.Lock()
		for i, r := range cl.replicas {
			select {
			case <-r.done:
				died := time.Now()
				t.Logf("a replica stopped by itself (%v); starting another", r.err)
				cl.leaderless = append(cl.leaderless, window{died.Add(-fastRenew), died.Add(fastLease + fastRetry)})
				cl.replicas[i] = cl.start(t)
			default:
			}
		}
		cl.mu.Unlock()
	}
}

func (cl *cluster) start(t *testing.T) *running {
	cfg := rest.CopyConfig(env.Config)
	counter := &atomic.Int64{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &conflicts{next: rt, p: 0.05, injected: counter} })
	cl.conflicts = append(cl.conflicts, counter)
	return startFastManager(t, cfg, cl.clk)
}

func (cl *cluster) injected() int64 {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var n int64
	for _, c := range cl.conflicts {
		n += c.Load()
	}
	return n
}

// killLeader stops the replica that leads (without releasing its Lease, as a crash) and starts a new standby.
func (cl *cluster) killLeader(t *testing.T) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for i, r := range cl.replicas {
		if r.isLeader() {
			killed := time.Now()
			r.stop(t)
			// Another replica leads once the Lease expires: lease duration plus a retry period at most.
			cl.leaderless = append(cl.leaderless, window{killed, killed.Add(fastLease + fastRetry)})
			cl.replicas[i] = cl.start(t)
			return
		}
	}
}

func (cl *cluster) downtime() []window {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return slices.Clone(cl.leaderless)
}

func (cl *cluster) stopAll() {
	close(cl.stopping)
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, r := range cl.replicas {
		r.cancel()
		<-r.done
	}
}

const (
	fastLease   = 3 * time.Second
	fastRenew   = 2 * time.Second
	fastRetry   = 300 * time.Millisecond
	lateBound   = 5 * time.Second // generous: CI runs other envtest packages beside this one on 2 cores; benchmarks measure lateness itself
	fifoMinimum = 2 * time.Second
)

// startFastManager starts a replica with fast leader election, so that trials take seconds.
func startFastManager(t *testing.T, cfg *rest.Config, clk clock.WithTicker) *running {
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := manager.New(ctx, cfg, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: clk,
		LeaderElection: true, LeaderElectionNamespace: "default",
		LeaseDuration: fastLease, RenewDeadline: fastRenew, RetryPeriod: fastRetry,
		KeepLeaseOnStop: true, SeveralPerProcess: true,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{cancel: cancel, done: make(chan struct{}), elected: mgr.Elected()}
	go func() {
		r.err = mgr.Start(ctx)
		close(r.done)
	}()
	return r
}

// conflicts fails a share of write requests with 409 Conflict before they reach the API server.
type conflicts struct {
	next     http.RoundTripper
	p        float64
	injected *atomic.Int64
}

func (c *conflicts) RoundTrip(req *http.Request) (*http.Response, error) {
	if (req.Method == http.MethodPatch || req.Method == http.MethodPut) && rand.Float64() < c.p {
		c.injected.Add(1)
		body := `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409,"message":"injected conflict"}`
		return &http.Response{
			StatusCode: http.StatusConflict, Status: "409 Conflict", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": []string{"application/json"}},
			Body:   io.NopCloser(bytes.NewBufferString(body)), ContentLength: int64(len(body)), Request: req,
		}, nil
	}
	return c.next.RoundTrip(req)
}

// recorder keeps every Reservation and Resource change a watch delivers, with its arrival time.
type recorder struct {
	mu     sync.Mutex
	events []event
}

type event struct {
	at      time.Time
	deleted bool
	rsv     *conchv1.Reservation
	res     *conchv1.Resource
}

func newRecorder(t *testing.T) *recorder {
	wc := suite.Watcher
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, list := range []client.ObjectList{&conchv1.ReservationList{}, &conchv1.ResourceList{}} {
		w, err := wc.Watch(ctx, list)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer w.Stop()
			for ev := range w.ResultChan() {
				e := event{at: time.Now(), deleted: ev.Type == watch.Deleted}
				switch o := ev.Object.(type) {
				case *conchv1.Reservation:
					e.rsv = o
				case *conchv1.Resource:
					e.res = o
				default:
					continue
				}
				rec.mu.Lock()
				rec.events = append(rec.events, e)
				rec.mu.Unlock()
			}
		}()
	}
	return rec
}

// caughtUp waits until the recorder's watch has delivered what a List of ns shows now: on a loaded machine the
// watch may lag behind the List that said every Reservation ended, and the history would then end too early.
func (rec *recorder) caughtUp(t *testing.T, ns string) {
	var list conchv1.ReservationList
	if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	NewWithT(t).Eventually(func() []string {
		rec.mu.Lock()
		seen := map[string]string{}
		for _, e := range rec.events {
			if e.rsv != nil && e.rsv.Namespace == ns {
				seen[e.rsv.Name] = e.rsv.ResourceVersion
			}
		}
		rec.mu.Unlock()
		var behind []string
		for _, r := range list.Items {
			// resourceVersions are etcd revisions here (envtest): a later write has a larger one.
			have, _ := strconv.ParseUint(seen[r.Name], 10, 64)
			want, _ := strconv.ParseUint(r.ResourceVersion, 10, 64)
			if have < want {
				behind = append(behind, r.Name)
			}
		}
		return behind
	}).WithTimeout(30*time.Second).WithPolling(50*time.Millisecond).Should(BeEmpty(), "the watch of namespace %s lags", ns)
}

// check verifies a trial's history.
func (rec *recorder) check(t *testing.T, ns string, leaderless []window) {
	rec.caughtUp(t, ns)
	rec.mu.Lock()
	events := slices.Clone(rec.events)
	rec.mu.Unlock()
	capacity := map[string]int{"one": 1, "two": 2}

	latest := map[string]*conchv1.Reservation{} // by name
	gone := map[string]bool{}
	granted := map[string]time.Time{} // when each was first seen Granted
	for _, e := range events {
		switch {
		case e.res != nil && e.res.Namespace == ns:
			if n := len(e.res.Status.Holders); n > capacity[e.res.Name] {
				t.Errorf("Resource %s records %d holders, capacity %d: %v", e.res.Name, n, capacity[e.res.Name], e.res.Status.HeldBy)
			}
		case e.rsv != nil && e.rsv.Namespace == ns:
			r := e.rsv
			latest[r.Name], gone[r.Name] = r, e.deleted
			if r.Status.State == conchv1.StateGranted && granted[r.Name].IsZero() && !e.deleted {
				granted[r.Name] = e.at
				checkFIFO(t, r, latest, gone)
			}
			// What the Reservations say: those reading Granted, not deleted, per Resource.
			holding := map[string]int{}
			for name, x := range latest {
				if x.Status.State == conchv1.StateGranted && !gone[name] && x.DeletionTimestamp == nil {
					holding[x.Status.ResourceName]++
				}
			}
			for res, n := range holding {
				if n > capacity[res] {
					t.Errorf("%d Reservations read Granted on %s (capacity %d) after %s changed", n, res, capacity[res], r.Name)
				}
			}
			if r.Status.State == conchv1.StateExpired && r.Status.ExpiresAt != nil && !e.deleted && r.Status.EndedAt != nil {
				late := e.at.Sub(r.Status.ExpiresAt.Time)
				if e.at.Before(r.Status.ExpiresAt.Time) {
					t.Errorf("%s expired %v early", r.Name, -late)
				}
				if allowed := lateBound + overlap(leaderless, r.Status.ExpiresAt.Time, e.at); late > allowed {
					t.Errorf("%s expired %v late (allowed %v)", r.Name, late, allowed)
				}
			}
		}
	}
	if len(latest) == 0 {
		t.Error("the trial recorded no Reservations")
	}
	// None lost: every Reservation not deleted ended in a final state.
	for name, r := range latest {
		if !gone[name] && !r.Status.State.IsFinal() {
			t.Errorf("%s last seen %q", name, r.Status.State)
		}
	}
}

// checkFIFO reports a grant of r while an eligible Reservation for the same Resource, created well before it,
// still waited. ("Well before": creation times have whole seconds, and a Reservation made a moment earlier may not
// have reached the controller yet.)
func checkFIFO(t *testing.T, r *conchv1.Reservation, latest map[string]*conchv1.Reservation, gone map[string]bool) {
	for name, x := range latest {
		if name == r.Name || gone[name] || x.Spec.ResourceName != r.Spec.ResourceName || x.Spec.Released || x.DeletionTimestamp != nil {
			continue
		}
		waiting := x.Status.State == conchv1.StateQueued || x.Status.State == conchv1.StatePending || x.Status.State == ""
		if waiting && x.CreationTimestamp.Add(fifoMinimum).Before(r.CreationTimestamp.Time) {
			t.Errorf("%s was granted %s while %s, created %v earlier, waited", r.Name, r.Spec.ResourceName, name,
				r.CreationTimestamp.Sub(x.CreationTimestamp.Time))
		}
	}
}

// overlap returns how much of [from, to] no leader could act in.
func overlap(ws []window, from, to time.Time) time.Duration {
	var d time.Duration
	for _, w := range ws {
		s, e := maxTime(w.from, from), minTime(w.to, to)
		if e.After(s) {
			d += e.Sub(s)
		}
	}
	return d
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
