// Package testenv starts a real control plane (etcd and kube-apiserver, through controller-runtime's envtest) with
// Conch's CRDs installed. Tests use it, and so does `make run` when there is no cluster. The binaries are built
// from Go modules by hack/envtest.sh, since they cannot be downloaded here.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot returns the directory of Conch's go.mod, found from the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/conch-dev/conch\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cannot find Conch's go.mod above the working directory")
		}
		dir = parent
	}
}

// AssetsDir returns the directory holding kube-apiserver, etcd and kubectl: $KUBEBUILDER_ASSETS when set, else
// what hack/envtest.sh prints (building the binaries the first time, which takes minutes).
func AssetsDir(root string) (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command(filepath.Join(root, "hack", "envtest.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/envtest.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Environment is a running control plane.
type Environment struct {
	*envtest.Environment
	// Config reaches the API server as an administrator.
	Config *rest.Config
}

// Options tune Start.
type Options struct {
	// DataDir keeps etcd's data there, so that a restarted control plane keeps its objects. Empty: a temporary
	// directory removed on Stop.
	DataDir string
	// AuditLog, when set, is a file the API server writes its audit log to: one JSON event per line, at level
	// Metadata (who did which verb to which resource, and the response code), as a cluster's audit log does. It
	// is how a test sees every call a client made, from the server's side.
	AuditLog string
}

// auditPolicy logs every request at level Metadata, once it is answered (or, for a watch, once it started).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`

// Start starts etcd and kube-apiserver and installs the CRDs from config/crd/bases and test/crds.
func Start(opts Options) (*Environment, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := AssetsDir(root)
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		// Conch's CRDs, and minimal ones for the kinds Reservations may be held by that a bare API server lacks
		// (Tekton's PipelineRun and TaskRun, Argo's Workflow).
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases"), filepath.Join(root, "test", "crds")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	if opts.DataDir != "" {
		env.ControlPlane.Etcd = &envtest.Etcd{DataDir: opts.DataDir}
	}
	if opts.AuditLog != "" {
		policy := filepath.Join(filepath.Dir(opts.AuditLog), "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return nil, err
		}
		env.ControlPlane.GetAPIServer().Configure().
			Set("audit-policy-file", policy).
			Set("audit-log-path", opts.AuditLog).
			Set("audit-log-mode", "blocking")
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane from %s: %w", assets, err)
	}
	// A busy test or benchmark should be limited by the API server, not by client-go's default 5 QPS.
	cfg.QPS, cfg.Burst = 1000, 2000
	return &Environment{Environment: env, Config: cfg}, nil
}
