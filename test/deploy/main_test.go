// Package deploy tests deploy on grant (docs/deploy.md) end to end: a real kube-apiserver and etcd, the real
// manager running as its ServiceAccount (impersonated) with the ClusterRole `make manifests` generates and nothing
// more, and the Role of docs/deploy/role.yaml bound in a test's namespace as an administrator would. The targets
// are a Deployment (apps/v1 is served) and an Argo CD Application, whose minimal CRD the suite installs.
package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

// managerUser is who the manager runs as: the ServiceAccount of the kustomize install, which docs/deploy/role.yaml
// binds.
const managerUser = "system:serviceaccount:conch-system:conch-controller-manager"

var (
	suite *testenv.Suite
	// k8s is an uncached administrator client for the tests' own reads and writes.
	k8s  client.Client
	ctx  = context.Background()
	root string

	mu sync.Mutex
	// stopManager stops the running manager; restartManager replaces it.
	stopManager func()
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, k8s = s, s.Client
		var err error
		if root, err = testenv.RepoRoot(); err != nil {
			return nil, err
		}
		if _, err := envtest.InstallCRDs(s.Config, envtest.CRDInstallOptions{
			Paths: []string{filepath.Join(root, "test", "deploy", "testdata")}, ErrorIfPathMissing: true,
		}); err != nil {
			return nil, err
		}
		if err := bindGeneratedRole(); err != nil {
			return nil, err
		}
		if err := startManager(); err != nil {
			return nil, err
		}
		return func() {
			mu.Lock()
			defer mu.Unlock()
			stopManager()
		}, nil
	}))
}

// bindGeneratedRole installs the ClusterRole of config/rbac/role.yaml and binds it to managerUser.
func bindGeneratedRole() error {
	objs, err := readYAML(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			return err
		}
	}
	return k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "conch-manager"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "conch-manager"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "conch-controller-manager", Namespace: "conch-system"}},
	})
}

// startManager starts a manager that runs as managerUser, with the real clock.
func startManager() error {
	cfg := rest.CopyConfig(suite.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: managerUser}
	mctx, cancel := context.WithCancel(context.Background())
	mgr, err := manager.New(mctx, cfg, manager.Options{MetricsAddr: "0", ProbeAddr: "0", SeveralPerProcess: true})
	if err != nil {
		cancel()
		return err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	stopManager = func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}
	return nil
}

// restartManager stops the manager and starts another, as a new process would.
func restartManager(t *testing.T) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	stopManager()
	if err := startManager(); err != nil {
		t.Fatalf("starting the manager again: %v", err)
	}
}

// readYAML reads the objects of a YAML file.
func readYAML(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096); ; {
		u := &unstructured.Unstructured{}
		if err := d.Decode(&u.Object); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// bindDeployRole applies docs/deploy/role.yaml in ns, as its comment tells an administrator to.
func bindDeployRole(t *testing.T, ns string) {
	t.Helper()
	objs, err := readYAML(filepath.Join(root, "docs", "deploy", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		o.SetNamespace(ns)
		if err := k8s.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("applying docs/deploy/role.yaml: %v", err)
		}
	}
}

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T) string { return suite.Namespace(t, "d") }

// eventually returns a Gomega assertion polling f every 20 ms for up to 15 s.
func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(15 * time.Second).WithPolling(20 * time.Millisecond)
}
