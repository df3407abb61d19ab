package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Suite is the control plane one test package shares, with an uncached client for the tests' own reads and
// writes. Start it from TestMain with RunSuite.
type Suite struct {
	*Environment
	// Client reads and writes without a cache, so a test sees its own writes at once.
	Client client.Client
	// Watcher is Client that can also watch, for tests that record every change.
	Watcher client.WithWatch

	namespaces atomic.Int64
}

// RunSuite starts a control plane, runs setup (which may start managers; it returns a function to stop them),
// then the package's tests, stops everything and returns the exit code for os.Exit. CONCH_TEST_LOG=1 shows the
// controllers' logs.
func RunSuite(m *testing.M, scheme *runtime.Scheme, setup func(*Suite) (stop func(), err error)) int {
	if os.Getenv("CONCH_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	}
	env, err := Start(Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	s := &Suite{Environment: env}
	if s.Watcher, err = client.NewWithWatch(env.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s.Client = s.Watcher
	if setup != nil {
		stop, err := setup(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if stop != nil {
			defer stop()
		}
	}
	return m.Run()
}

// Namespace creates a fresh namespace for one test. envtest has no namespace controller, so a deleted namespace
// never goes away: tests never reuse one.
func (s *Suite) Namespace(t testing.TB, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: fmt.Sprintf("%s%d-%d", prefix, s.namespaces.Add(1), time.Now().UnixNano()%100000),
	}}
	if err := s.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// Starter is what RunInBackground runs: a controller manager.
type Starter interface {
	Start(ctx context.Context) error
}

// RunInBackground starts m with ctx and returns a function that cancels it and waits for it to stop; calling that
// function again does nothing. An error from Start is reported on t.
func RunInBackground(ctx context.Context, t testing.TB, cancel context.CancelFunc, m Starter) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}
