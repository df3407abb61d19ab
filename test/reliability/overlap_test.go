package reliability

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestOverlappingLeaders runs the randomized trials with two managers active at once, as during a rollout or
// while a paused old leader resumes (leader election is not fencing): both run every controller, and one of them
// sees every watch event 300 ms late, so that its cache is stale whenever it decides. The same history checks
// apply: never more holders than capacity in the ledger or in what the Reservations say, first come first
// served, nothing lost, never early.
func TestOverlappingLeaders(t *testing.T) {
	trials := envInt("CONCH_OVERLAP_TRIALS", 4)
	seed := uint64(envInt("CONCH_TRIAL_SEED", int(time.Now().UnixNano()%1_000_000)))
	t.Logf("%d trials, seed %d (replay with CONCH_TRIAL_SEED=%d)", trials, seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	rec := newRecorder(t)

	clk := testutil.NewStepClock()
	lagging := rest.CopyConfig(env.Config)
	lagging.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &lag{next: rt, by: 300 * time.Millisecond} })
	stop := []func(){startActive(t, env.Config, clk), startActive(t, lagging, clk)}
	defer func() {
		for _, s := range stop {
			s()
		}
	}()

	namespaces := make([]string, trials)
	var wg sync.WaitGroup
	for i := range trials {
		namespaces[i] = namespace(t)
		trng := rand.New(rand.NewPCG(rng.Uint64(), uint64(i)))
		wg.Go(func() { runTrial(t, namespaces[i], trng) })
	}
	wg.Wait()
	for _, ns := range namespaces {
		waitAllEnded(t, ns)
		rec.check(t, ns, nil)
	}
}

// startActive starts a manager that acts without leader election, and returns how to stop it.
func startActive(t *testing.T, cfg *rest.Config, clk *testutil.StepClock) func() {
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := manager.New(ctx, cfg, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: clk, SeveralPerProcess: true,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
}

// lag delays what watches deliver: every chunk of a watch response reaches the client a fixed time after the API
// server sent it, in order, so that the cache of a manager behind it is that much behind.
type lag struct {
	next http.RoundTripper
	by   time.Duration
}

func (l *lag) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err != nil || req.URL.Query().Get("watch") != "true" {
		return resp, err
	}
	pr, pw := io.Pipe()
	type chunk struct {
		at   time.Time
		data []byte
		err  error
	}
	chunks := make(chan chunk, 1024)
	body := resp.Body
	go func() { // read as the API server sends
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := body.Read(buf)
			chunks <- chunk{at: time.Now(), data: buf[:n], err: err}
			if err != nil {
				return
			}
		}
	}()
	go func() { // hand over each chunk l.by after it arrived
		for c := range chunks {
			if wait := time.Until(c.at.Add(l.by)); wait > 0 {
				time.Sleep(wait) // the lag being simulated, not a wait for the cluster
			}
			if len(c.data) > 0 {
				if _, err := pw.Write(c.data); err != nil {
					_ = body.Close()
					return
				}
			}
			if c.err != nil {
				pw.CloseWithError(c.err)
				return
			}
		}
	}()
	resp.Body = &lagBody{PipeReader: pr, orig: body}
	return resp, nil
}

// lagBody closes the API server's stream when the client closes the delayed one.
type lagBody struct {
	*io.PipeReader
	orig io.Closer
}

func (b *lagBody) Close() error {
	_ = b.orig.Close()
	return b.PipeReader.Close()
}
