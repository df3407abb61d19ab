// Package integration tests Conch's controllers end to end: a real kube-apiserver and etcd (envtest), the real
// manager with both reconcilers, and a clock the tests can step.
package integration

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
	"github.com/conch-dev/conch/internal/testutil"
)

var (
	suite *testenv.Suite
	// k8s is an uncached client for the tests' own reads and writes.
	k8s client.Client
	// clk is the manager's clock; a test that steps it moves time for every namespace, so such tests only assert
	// on their own namespace.
	clk *testutil.StepClock
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, k8s, clk = s, s.Client, testutil.NewStepClock()
		ctx, cancel := context.WithCancel(context.Background())
		mgr, err := manager.New(ctx, s.Config, manager.Options{MetricsAddr: "0", ProbeAddr: "0", Clock: clk})
		if err != nil {
			cancel()
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				fmt.Fprintln(os.Stderr, "manager:", err)
			}
		}, nil
	}))
}

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T) string { return suite.Namespace(t, "t") }

// eventually returns a Gomega assertion polling f every 20 ms for up to 10 s.
func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}
