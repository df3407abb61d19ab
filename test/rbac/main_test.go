// Package rbac checks that the roles bound to the manager grant exactly what it calls: the generated ClusterRole
// (config/rbac/role.yaml, from the +kubebuilder:rbac markers) and the hand-written Roles beside it (leader election,
// the Slack Secret). No verb it never uses, and none it uses without a grant.
//
// The control plane writes an audit log; config/rbac is installed for real; the manager runs as its
// ServiceAccount (impersonated), with leader election, the Slack tokens read from their Secret and a fake Slack,
// while one test walks the paths the other suites test one by one: grants, queues, extensions and releases from
// Slack, pools, a missing Resource, the finalizer of old versions, holders deleted while the manager is down,
// an admin's release, expiry and its warning, a stand-up run with answers. Then the (verb, resource,
// subresource, namespace) of every request the ServiceAccount made, as the API server saw it, are compared with
// the rules of the roles bound to it.
package rbac

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

// The namespace and ServiceAccount config/rbac names (config/default prefixes them; the rules are the same).
const (
	installNamespace = "system"
	serviceAccount   = "controller-manager"
)

var (
	env *testenv.Environment
	// k8s is an uncached administrator client for the test's own reads and writes.
	k8s client.Client
	// root is the repository root.
	root string
	// auditLog is the API server's audit log.
	auditLog string
	// installed is config/rbac as installed.
	installed []*unstructured.Unstructured
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if root, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "conch-rbac-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	auditLog = filepath.Join(dir, "audit.log")
	if env, err = testenv.Start(testenv.Options{AuditLog: auditLog}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(env.Config, client.Options{Scheme: manager.Scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if installed, err = install(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// install builds config/rbac with kustomize, in process, and applies it with server-side apply: the
// ServiceAccount, the generated ClusterRole and its binding, the leader-election Role and the Slack Secret's Role.
func install(ctx context.Context) ([]*unstructured.Unstructured, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: installNamespace}}
	if err := k8s.Create(ctx, ns); err != nil {
		return nil, err
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", "rbac"))
	if err != nil {
		return nil, fmt.Errorf("kustomize build config/rbac: %w", err)
	}
	b, err := res.AsYaml()
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096); ; {
		u := &unstructured.Unstructured{}
		if err := d.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("conch-rbac-test"), client.ForceOwnership); err != nil {
			return nil, fmt.Errorf("applying %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}
