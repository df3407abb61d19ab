package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

// workers is how many clients write at once where the bench loads the API server ("16 concurrent clients").
const workers = 16

// bench holds what the phases share.
type bench struct {
	env  *testenv.Environment
	opts options
	sz   sizes
	rep  *report
	// c is the bench's own client, without client-side rate limit, so that the baseline measures the API server.
	c client.WithWatch
	// counter counts the requests of the in-process manager; own counts the bench's own (to tell them apart from
	// a manager subprocess's in the API server's counts).
	counter, own *requestCounter
	mgr          *runningManager
	runID        string

	// floor is what the API server allows a grant, measured by the baseline; nil when it did not run.
	floor *floor
	// tmp holds the manager binary and the subprocesses' kubeconfig and logs; removed by cleanup.
	tmp        string
	managerBin string
	kubeconfig string
	// apiHTTP reads the API server's own /metrics as an administrator.
	apiHTTP *http.Client
	// burstNS is the namespace of the largest burst (burstResources Resources, its Reservations); the memory phase
	// measures a manager holding exactly those.
	burstNS string
	burstN  int
}

func newBench(env *testenv.Environment, o options, sz sizes, rep *report) (*bench, error) {
	own := newRequestCounter()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side limit: the API server is what is measured
	cfg.Wrap(own.wrap)
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		return nil, err
	}
	return &bench{env: env, opts: o, sz: sz, rep: rep, c: c, counter: newRequestCounter(), own: own,
		runID: fmt.Sprintf("%04d", time.Now().UnixNano()/1e6%10000)}, nil
}

// cleanup removes what the subprocess phases left in a temporary directory.
func (b *bench) cleanup() {
	if b.tmp != "" {
		_ = os.RemoveAll(b.tmp)
	}
}

// namespace creates a fresh namespace for a phase: envtest never deletes namespaces, and a fresh one means a watch
// started on it sees every object of the phase from its creation.
func (b *bench) namespace(ctx context.Context, phase string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%s-%s", phase, b.runID)}}
	if err := b.c.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("creating namespace: %w", err)
	}
	return ns.Name, nil
}

func newResource(ns, name string, capacity int32) *conchv1.Resource {
	return &conchv1.Resource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       conchv1.ResourceSpec{Capacity: capacity, Description: "benchmark Resource"},
	}
}

func newReservation(ns, name, resource string, d time.Duration) *conchv1.Reservation {
	return &conchv1.Reservation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: conchv1.ReservationSpec{
			ResourceName: resource, Holder: "bench:" + name, Duration: &metav1.Duration{Duration: d},
			Reason: "benchmark",
		},
	}
}

// parallel calls f(i) for i in [0, n) from `workers` goroutines and returns the first error; after an error the
// remaining calls are skipped.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// createResources creates n Resources named <prefix>-NNNN with the given capacity, 16 at a time, and waits until
// the manager (if one runs) has reconciled them all.
func (b *bench) createResources(ctx context.Context, ns, prefix string, n int, capacity int32, waitReady bool) error {
	if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		return b.c.Create(ctx, newResource(ns, resourceName(prefix, i), capacity))
	}); err != nil {
		return fmt.Errorf("creating Resources: %w", err)
	}
	if !waitReady {
		return nil
	}
	return b.waitResourcesReady(ctx, ns, n, time.Minute)
}

func resourceName(prefix string, i int) string { return fmt.Sprintf("%s-%04d", prefix, i) }

// waitResourcesReady polls until n Resources of ns report Ready for their current generation.
func (b *bench) waitResourcesReady(ctx context.Context, ns string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var list conchv1.ResourceList
		if err := b.c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		ready := 0
		for _, r := range list.Items {
			if c := meta.FindStatusCondition(r.Status.Conditions, conchv1.ConditionReady); c != nil &&
				c.Status == metav1.ConditionTrue && r.Status.ObservedGeneration == r.Generation {
				ready++
			}
		}
		if ready >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d Resources ready after %v", ready, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runningManager is an in-process manager.
type runningManager struct {
	cancel context.CancelFunc
	done   chan error
}

// startManager starts the real manager in this process, as the integration tests do, with its requests counted
// and the client limits cmd/manager ships with (unless -kube-api-qps says otherwise). It returns once the
// manager's caches are in sync.
func (b *bench) startManager(ctx context.Context) error {
	if b.mgr != nil {
		return errors.New("a manager is already running")
	}
	cfg := rest.CopyConfig(b.env.Config)
	cfg.Wrap(b.counter.wrap)
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, cfg, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", LeaderElection: false,
		QPS: float32(b.opts.qps), Burst: b.opts.burst,
		MaxConcurrentReconciles: b.opts.maxConcurrentReconciles,
		SeveralPerProcess:       true, // the restart phase starts a second manager in this process
	})
	if err != nil {
		cancel()
		return err
	}
	m := &runningManager{cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(mctx) }()
	syncCtx, syncCancel := context.WithTimeout(ctx, time.Minute)
	defer syncCancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		cancel()
		return errors.New("the manager's cache did not sync within a minute")
	}
	b.mgr = m
	return nil
}

// stopManager cancels the in-process manager and waits (at most 30 s) for it to stop.
func (b *bench) stopManager() error {
	if b.mgr == nil {
		return nil
	}
	m := b.mgr
	b.mgr = nil
	m.cancel()
	select {
	case err := <-m.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("the manager did not stop within 30 s")
	}
}

// warmup makes sure the controllers run (caches synced, workers started, event sink up) before anything is
// measured: 20 Reservations granted one after the other.
func (b *bench) warmup(ctx context.Context) error {
	ns, err := b.namespace(ctx, "warmup")
	if err != nil {
		return err
	}
	if err := b.createResources(ctx, ns, "warm", 1, 100, true); err != nil {
		return err
	}
	tr, err := track(ctx, b.c, ns)
	if err != nil {
		return err
	}
	defer tr.stop()
	for i := range 20 {
		name := fmt.Sprintf("w-%02d", i)
		if err := b.c.Create(ctx, newReservation(ns, name, resourceName("warm", 0), time.Hour)); err != nil {
			return err
		}
		if err := tr.wait(ctx, 30*time.Second, name+" granted", func(t *tracker) bool {
			return !t.firstLocked(name, conchv1.StateGranted).IsZero()
		}); err != nil {
			return err
		}
	}
	return nil
}
