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

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
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
// namespace creates a fresh namespace for one test; should the test fail, the ledgers and Reservations of the
// namespace are logged, to show where the queue stood.
func namespace(t *testing.T) string {
	ns := suite.Namespace(t, "t")
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var ress conchv1.ResourceList
		var rsvs conchv1.ReservationList
		_ = k8s.List(context.Background(), &ress, client.InNamespace(ns))
		_ = k8s.List(context.Background(), &rsvs, client.InNamespace(ns))
		for _, r := range ress.Items {
			t.Logf("Resource %s (uid %s): %+v", r.Name, r.UID, r.Status)
		}
		for _, r := range rsvs.Items {
			t.Logf("Reservation %s (uid %s, rv %s): %+v", r.Name, r.UID, r.ResourceVersion, r.Status)
		}
	})
	return ns
}

// eventually returns a Gomega assertion polling f every 20 ms for up to 10 s.
func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}
