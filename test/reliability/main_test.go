// Package reliability tests what must hold whatever crashes: holds that ended while the manager was down are
// released soon after it starts, and a new leader takes over the queue when the old one dies. Each test runs its
// own managers against one shared control plane.
package reliability

import (
	"context"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

var (
	suite *testenv.Suite
	env   *testenv.Environment
	k8s   client.Client
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, env, k8s = s, s.Environment, s.Client
		return nil, nil
	}))
}

// running is a manager started by a test.
type running struct {
	elected <-chan struct{} // closed once this replica leads
	cancel  context.CancelFunc
	done    chan struct{} // closed when Start returned, with its error in err
	err     error
}

// isLeader reports whether this replica leads.
func (r *running) isLeader() bool {
	select {
	case <-r.elected:
		select {
		case <-r.done:
			return false
		default:
			return true
		}
	default:
		return false
	}
}

// stop stops the manager and waits for it.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("manager: %v", r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop")
	}
}

// startManager starts a manager; leaderElection puts it in the election for a Lease in namespace "default".
func startManager(t *testing.T, clk clock.WithTicker, leaderElection bool) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := manager.New(ctx, env.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: clk,
		LeaderElection: leaderElection, LeaderElectionNamespace: "default",
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
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func namespace(t *testing.T) string { return suite.Namespace(t, "r") }

func eventually(t *testing.T, f any, timeout time.Duration) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(timeout).WithPolling(20 * time.Millisecond)
}
