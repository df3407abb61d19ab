// Package delivery tests how Conch is delivered: the kustomize install (config/default) and the Helm chart
// (charts/conch) applied to a real API server with server-side apply, the security properties of both, and what
// GitOps tools read from status (kstatus, Argo CD's Lua health checks, Flux's CEL health checks) on objects the
// real controllers produced. The manager under test runs with the ServiceAccount and RBAC that config/default
// installs, through impersonation, so RBAC that is too tight fails here.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

// The names config/default gives the manager's namespace and ServiceAccount.
const (
	installNamespace      = "conch-system"
	installServiceAccount = "conch-controller-manager"
)

var (
	// k8s is an uncached administrator client for the tests' own reads and writes.
	k8s client.Client
	env *testenv.Environment
	// root is the repository root.
	root string
	// installErr is why config/default could not be installed; the manager does not run then.
	installErr error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("CONCH_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	}
	var err error
	if root, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = testenv.Start(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(env.Config, client.Options{Scheme: manager.Scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Install config/default for real, then run the manager as its ServiceAccount, with leader election in its
	// namespace, as it runs in a cluster. A broken install fails TestKustomizeInstall; the tests that need the
	// manager fail with the same error.
	done := make(chan error, 1)
	if installErr = installKustomize(ctx); installErr == nil {
		mgr, err := manager.New(ctx, asServiceAccount(env.Config, installNamespace, installServiceAccount), manager.Options{
			MetricsAddr: "0", ProbeAddr: "0",
			LeaderElection: true, LeaderElectionNamespace: installNamespace,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go func() { done <- mgr.Start(ctx) }()
	} else {
		done <- nil
	}
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

// installKustomize applies the output of config/default with server-side apply.
func installKustomize(ctx context.Context) error {
	objs, err := kustomizeBuild("config/default")
	if err != nil {
		return err
	}
	if err := applyAll(ctx, objs, false); err != nil {
		return fmt.Errorf("applying config/default: %w", err)
	}
	return nil
}

// asServiceAccount returns cfg impersonating the ServiceAccount ns/name, which the API server authorises with
// that ServiceAccount's RBAC (and its groups system:serviceaccounts and system:authenticated).
func asServiceAccount(cfg *rest.Config, ns, name string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: fmt.Sprintf("system:serviceaccount:%s:%s", ns, name)}
	return c
}

// requireManager stops a test that needs the manager when config/default could not be installed.
func requireManager(t *testing.T) {
	t.Helper()
	if installErr != nil {
		t.Fatalf("the manager does not run because config/default did not install: %v", installErr)
	}
}

var nsCounter atomic.Int64

// namespace creates a fresh namespace for one test: envtest has no namespace controller, so namespaces never
// finish deleting and are not reused.
func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: fmt.Sprintf("d%d-%d", nsCounter.Add(1), time.Now().UnixNano()%100000),
	}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// eventually returns a Gomega assertion polling f every 20 ms for up to 10 s.
func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}

var errNoObjects = errors.New("no objects")
