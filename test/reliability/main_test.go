// Package reliability tests what must hold whatever crashes: holds that ended while the manager was down are
// released soon after it starts, and a new leader takes over the queue when the old one dies. Each test runs its
// own managers against one shared control plane.
package reliability

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

var (
	env *testenv.Environment
	k8s client.Client
)

func TestMain(m *testing.M) {
	if os.Getenv("CONCH_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	}
	var err error
	if env, err = testenv.Start(testenv.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if k8s, err = client.New(env.Config, client.Options{Scheme: manager.Scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
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

var nsCounter atomic.Int64

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r%d-%d", nsCounter.Add(1), time.Now().UnixNano()%100000)}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func eventually(t *testing.T, f any, timeout time.Duration) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(timeout).WithPolling(20 * time.Millisecond)
}
