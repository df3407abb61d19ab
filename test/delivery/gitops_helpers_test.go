package delivery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// argoHealth runs an Argo CD health script (docs/argocd/conch.dev/<Kind>/health.lua) on obj as Argo CD does: obj
// is a global table, the script returns {status = ..., message = ...}. Only the base, table and string libraries
// are open, as in Argo CD's sandbox.
func argoHealth(t *testing.T, obj *unstructured.Unstructured) (status, message string) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join(root, "docs", "argocd", "conch.dev", obj.GetKind(), "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable, lua.StringLibName: lua.OpenString} {
		l.Push(l.NewFunction(open))
		l.Push(lua.LString(name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(string(script)); err != nil {
		t.Fatalf("health.lua of %s: %v", obj.GetKind(), err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua of %s returned %v, not a table", obj.GetKind(), l.Get(-1))
	}
	return lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
}

// toLua converts decoded JSON into Lua values as Argo CD does: objects become tables with string keys, arrays
// tables with keys 1..n.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	panic(fmt.Sprintf("toLua: %T", v))
}

// fluxHealthCheck is one entry of a Flux Kustomization's spec.healthCheckExprs.
type fluxHealthCheck struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	InProgress string `json:"inProgress"`
	Failed     string `json:"failed"`
	Current    string `json:"current"`
}

// fluxHealthChecks reads the healthCheckExprs of docs/flux/kustomization.yaml by kind.
func fluxHealthChecks(t *testing.T) map[string]fluxHealthCheck {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "flux", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Spec struct {
			HealthCheckExprs []fluxHealthCheck `json:"healthCheckExprs"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	out := map[string]fluxHealthCheck{}
	for _, h := range k.Spec.HealthCheckExprs {
		out[h.Kind] = h
	}
	return out
}

// fluxHealth evaluates the Flux health check of obj's kind the way Flux's kustomize-controller documents it
// (RFC-0009): InProgress when status.observedGeneration differs from metadata.generation; else the first of
// inProgress, failed, current that is true; else InProgress. The object's top-level fields are the variables; the
// expressions are parsed, not type-checked, with CEL's optional types and string extensions, as in Flux.
func fluxHealth(t *testing.T, obj *unstructured.Unstructured) string {
	t.Helper()
	h, ok := fluxHealthChecks(t)[obj.GetKind()]
	if !ok {
		t.Fatalf("docs/flux/kustomization.yaml has no health check for %s", obj.GetKind())
	}
	if h.APIVersion != obj.GetAPIVersion() {
		t.Errorf("the health check for %s names %s, the object is %s", obj.GetKind(), h.APIVersion, obj.GetAPIVersion())
	}
	if og, ok, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration"); ok && og != obj.GetGeneration() {
		return "InProgress"
	}
	env, err := cel.NewEnv(cel.OptionalTypes(), cel.CrossTypeNumericComparisons(true), cel.HomogeneousAggregateLiterals(), ext.Strings())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct{ status, expr string }{{"InProgress", h.InProgress}, {"Failed", h.Failed}, {"Current", h.Current}} {
		if e.expr == "" {
			continue
		}
		ast, iss := env.Parse(e.expr)
		if iss.Err() != nil {
			t.Fatalf("%s %s: %v", obj.GetKind(), e.status, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := prg.ContextEval(context.Background(), obj.Object)
		if err != nil {
			t.Fatalf("%s %s %q: %v", obj.GetKind(), e.status, e.expr, err)
		}
		if b, ok := out.(types.Bool); !ok {
			t.Fatalf("%s %s %q gave %v, not a bool", obj.GetKind(), e.status, e.expr, out)
		} else if b {
			return e.status
		}
	}
	return "InProgress"
}

// argoConfigMap returns docs/argocd/argocd-cm.yaml as it must be: the health scripts under
// resource.customizations.health.<group>_<kind>.
func argoConfigMap(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`# Argo CD health checks for Conch's kinds. Merge the data into the argocd-cm ConfigMap of your Argo CD, e.g.
#   kubectl -n argocd patch configmap argocd-cm --patch-file docs/argocd/argocd-cm.yaml
# Generated from docs/argocd/conch.dev/*/health.lua by
#   CONCH_UPDATE_GOLDEN=1 go test ./test/delivery -run TestArgoCDConfigMap
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
data:
`)
	for _, kind := range []string{"Reservation", "Resource", "Standup", "StandupRun"} {
		script, err := os.ReadFile(filepath.Join(root, "docs", "argocd", "conch.dev", kind, "health.lua"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  resource.customizations.health.conch.dev_%s: |\n", kind)
		for _, line := range strings.Split(strings.TrimRight(string(script), "\n"), "\n") {
			if line == "" {
				b.WriteString("\n")
				continue
			}
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String()
}
