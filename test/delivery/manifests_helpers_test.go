package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// fieldOwner is the field manager of the tests' server-side applies, standing in for kubectl, Argo CD or Flux.
const fieldOwner = "conch-delivery-test"

// kustomizeBuild builds the kustomization in dir (relative to the repository root) in process, as
// `kubectl kustomize` does.
func kustomizeBuild(dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	b, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return decodeObjects(b)
}

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm runs the helm binary that hack/helm.sh builds into the cache (about a minute the first time).
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	helmOnce.Do(func() {
		cmd := exec.Command(filepath.Join(root, "hack", "helm.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		helmPath, helmErr = strings.TrimSpace(string(out)), err
	})
	if helmErr != nil {
		t.Fatalf("hack/helm.sh: %v", helmErr)
	}
	cmd := exec.Command(helmPath, args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// helmTemplate renders charts/conch as release name in namespace ns, CRDs included, with the given extra flags.
func helmTemplate(t *testing.T, name, ns string, flags ...string) []*unstructured.Unstructured {
	t.Helper()
	args := append([]string{"template", name, "charts/conch", "--namespace", ns, "--include-crds"}, flags...)
	objs, err := decodeObjects(helm(t, args...))
	if err != nil {
		t.Fatalf("decoding helm template output: %v", err)
	}
	return objs
}

// decodeObjects splits a multi-document YAML stream into objects, skipping empty documents.
func decodeObjects(b []byte) ([]*unstructured.Unstructured, error) {
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	if len(out) == 0 {
		return nil, errNoObjects
	}
	return out, nil
}

// applyAll applies objs with server-side apply, Namespaces first and CRDs next, as `kubectl apply
// --server-side` does; with dryRun only the CRDs and Namespaces are persisted. Unknown fields fail the apply.
func applyAll(ctx context.Context, objs []*unstructured.Unstructured, dryRun bool) error {
	rank := func(u *unstructured.Unstructured) int {
		switch u.GetKind() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition":
			return 1
		}
		return 2
	}
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })
	for _, u := range sorted {
		opts := []client.ApplyOption{client.FieldOwner(fieldOwner), client.ForceOwnership}
		if dryRun && rank(u) == 2 {
			opts = append(opts, client.DryRunAll)
		}
		if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), opts...); err != nil {
			return fmt.Errorf("%s %s: %w", u.GetKind(), objectKey(u), err)
		}
	}
	return nil
}

func objectKey(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// only returns the objects of a kind.
func only(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

// typed converts u into a typed object.
func typed[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), objectKey(u), err)
	}
	return out
}

// readFiles reads the files matching pattern (relative to the repository root) by base name.
func readFiles(t *testing.T, pattern string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, pattern))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}
