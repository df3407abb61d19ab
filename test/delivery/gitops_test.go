package delivery

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// gitopsMetadata are the labels and annotations Argo CD and Flux put on what they apply; the controllers must
// leave them alone.
var (
	gitopsLabels = map[string]string{
		"app.kubernetes.io/instance":             "team-web",
		"kustomize.toolkit.fluxcd.io/name":       "staging-turn",
		"kustomize.toolkit.fluxcd.io/namespace":  "flux-system",
		"app.kubernetes.io/managed-by":           "argocd",
		"example.com/unrelated-label-for-a-team": "web",
	}
	gitopsAnnotations = map[string]string{
		"argocd.argoproj.io/tracking-id": "team-web:conch.dev/Reservation:ns/name",
		"argocd.argoproj.io/sync-wave":   "-1",
	}
)

// scenario is one object in one state, made by the real controllers, and what each GitOps tool must read from it.
type scenario struct {
	obj     *unstructured.Unstructured
	applied *unstructured.Unstructured // what was applied, for the drift check
	kstatus status.Status
	argo    string
	flux    string
}

// gitopsScenarios applies Resources and Reservations like a GitOps tool would (server-side apply with tracking
// metadata), waits until the controllers put each into the state a scenario needs, and returns them by name.
func gitopsScenarios(t *testing.T) map[string]*scenario {
	t.Helper()
	requireManager(t)
	ns := namespace(t)
	ctx := context.Background()

	resources := []*conchv1.Resource{
		testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Resource("ci-only").Namespace(ns).Allow("ci:*").Obj(),
		testutil.Resource("maintenance").Namespace(ns).Paused().Obj(),
		testutil.Resource("short").Namespace(ns).Obj(),
		testutil.Resource("crashy").Namespace(ns).Obj(),
	}
	reservations := []*conchv1.Reservation{
		testutil.Reservation("alice-granted").Namespace(ns).On("staging").Holder("alice@example.com").For(2 * time.Hour).Because("deploying PR #345").Obj(),
		testutil.Reservation("ci-queued").Namespace(ns).On("staging").Holder("ci:deploy-web").For(30 * time.Minute).Obj(),
		testutil.Reservation("bob-rejected").Namespace(ns).On("ci-only").Holder("bob").Obj(),
		testutil.Reservation("early-pending").Namespace(ns).On("not-yet").Holder("ci:e2e").Obj(),
		testutil.Reservation("carol-released").Namespace(ns).On("maintenance").Holder("carol").Released().Obj(),
		testutil.Reservation("dave-expired").Namespace(ns).On("short").Holder("dave").For(time.Second).Obj(),
		testutil.Reservation("job-heartbeat-missed").Namespace(ns).On("crashy").Holder("ci:crashed-job").Obj(),
	}
	// A job that stopped renewing: its heartbeat ends it after 5 s (the API's minimum).
	hb := reservations[len(reservations)-1]
	hb.Spec.HeartbeatTimeout = &metav1.Duration{Duration: 5 * time.Second}

	applied := map[string]*unstructured.Unstructured{}
	apply := func(obj client.Object, kind string) {
		obj.SetUID("")
		obj.SetLabels(gitopsLabels)
		obj.SetAnnotations(gitopsAnnotations)
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetAPIVersion(conchv1.GroupVersion.String())
		u.SetKind(kind)
		unstructured.RemoveNestedField(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner(fieldOwner)); err != nil {
			t.Fatalf("applying %s %s: %v", kind, u.GetName(), err)
		}
		applied[kind+"/"+u.GetName()] = u
	}
	for _, r := range resources {
		apply(r, "Resource")
	}
	standup := func(name string) *conchv1.Standup {
		return &conchv1.Standup{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: conchv1.StandupSpec{
				Channel: "C0123ABC", Schedule: "0 9 * * 1-5", Participants: []string{"U0123ABC"},
				Questions: []string{"What did you do yesterday?", "What will you do today?"},
			},
		}
	}
	mars := standup("standup-on-mars")
	mars.Spec.TimeZone = "Mars/Olympus_Mons" // well formed, but no such zone: the controller says so
	paused := standup("standup-paused")
	paused.Spec.Suspend = true
	standups := []*conchv1.Standup{standup("standup-daily"), mars, paused}
	for _, s := range standups {
		apply(s, "Standup")
	}
	for _, r := range reservations {
		apply(r, "Reservation")
	}

	get := func(kind, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(conchv1.GroupVersion.String())
		u.SetKind(kind)
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			return nil
		}
		return u
	}
	stateOf := func(name string) func() string {
		return func() string {
			u := get("Reservation", name)
			if u == nil {
				return ""
			}
			s, _, _ := unstructured.NestedString(u.Object, "status", "state")
			if g, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); g != u.GetGeneration() {
				return s + " (not observed)"
			}
			return s
		}
	}
	for name, want := range map[string]conchv1.ReservationState{
		"alice-granted": conchv1.StateGranted, "ci-queued": conchv1.StateQueued, "bob-rejected": conchv1.StateRejected,
		"early-pending": conchv1.StatePending, "carol-released": conchv1.StateReleased, "dave-expired": conchv1.StateExpired,
		"job-heartbeat-missed": conchv1.StateExpired,
	} {
		NewWithT(t).Eventually(stateOf(name)).WithTimeout(20*time.Second).WithPolling(50*time.Millisecond).
			Should(Equal(string(want)), "Reservation %s", name)
	}
	observed := func(kind, name string) func() bool {
		return func() bool {
			u := get(kind, name)
			if u == nil {
				return false
			}
			g, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
			return g == u.GetGeneration()
		}
	}
	for _, r := range resources {
		eventually(t, observed("Resource", r.Name)).Should(BeTrue(), "Resource %s", r.Name)
	}
	for _, s := range standups {
		eventually(t, observed("Standup", s.Name)).Should(BeTrue(), "Standup %s", s.Name)
	}

	sc := func(kind, name string, ks status.Status, argo, flux string) *scenario {
		return &scenario{obj: get(kind, name), applied: applied[kind+"/"+name], kstatus: ks, argo: argo, flux: flux}
	}
	out := map[string]*scenario{
		"Resource held by someone": sc("Resource", "staging", status.CurrentStatus, "Healthy", "Current"),
		"Resource paused":          sc("Resource", "maintenance", status.CurrentStatus, "Suspended", "Current"),
		"Reservation granted":      sc("Reservation", "alice-granted", status.CurrentStatus, "Healthy", "Current"),
		"Reservation queued":       sc("Reservation", "ci-queued", status.InProgressStatus, "Progressing", "InProgress"),
		"Reservation pending":      sc("Reservation", "early-pending", status.InProgressStatus, "Progressing", "InProgress"),
		"Reservation rejected":     sc("Reservation", "bob-rejected", status.FailedStatus, "Degraded", "Failed"),
		// An ended Reservation is settled (Ready True) and reads Current everywhere; a missed heartbeat is a failure
		// (Stalled True) everywhere.
		"Reservation released":          sc("Reservation", "carol-released", status.CurrentStatus, "Healthy", "Current"),
		"Reservation expired":           sc("Reservation", "dave-expired", status.CurrentStatus, "Healthy", "Current"),
		"Reservation heartbeat missed":  sc("Reservation", "job-heartbeat-missed", status.FailedStatus, "Degraded", "Failed"),
		"Reservation with a newer spec": sc("Reservation", "alice-granted", status.InProgressStatus, "Progressing", "InProgress"),
	}
	// A spec edit the controller has not seen yet: the same granted Reservation, one generation ahead of its
	// status, as a tool reads it in the moment after it applied the edit.
	// The manager under test runs without Slack, so its Standups are Ready=False (SlackDisabled). With Slack on, the
	// controller sets Ready=True (Scheduled) and nothing else differs: that state is the real object with Ready
	// and Stalled as the controller sets them then.
	out["Standup without Slack"] = sc("Standup", "standup-daily", status.InProgressStatus, "Degraded", "Failed")
	out["Standup with an invalid time zone"] = sc("Standup", "standup-on-mars", status.FailedStatus, "Degraded", "Failed")
	out["Standup suspended"] = sc("Standup", "standup-paused", status.InProgressStatus, "Suspended", "Current")
	scheduled := sc("Standup", "standup-daily", status.CurrentStatus, "Healthy", "Current")
	scheduled.obj = withCondition(t, scheduled.obj.DeepCopy(), "Ready", "True", "Scheduled", "Next run Mon 09:00")
	scheduled.applied = nil
	out["Standup scheduled, with Slack"] = scheduled
	// A Resource that failed its cleanup or check: Conch keeps its queue (kstatus and Flux read Current), and Argo
	// CD shows the environment Degraded, with why.
	unhealthy := sc("Resource", "staging", status.CurrentStatus, "Degraded", "Current")
	unhealthy.obj = unhealthy.obj.DeepCopy()
	conds, _, _ := unstructured.NestedSlice(unhealthy.obj.Object, "status", "conditions")
	conds = append(conds, map[string]any{"type": "Healthy", "status": "False", "reason": "CheckFailed",
		"message": "GET https://staging/healthz answered 503", "lastTransitionTime": "2026-12-06T08:00:00Z"})
	if err := unstructured.SetNestedSlice(unhealthy.obj.Object, conds, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	unhealthy.applied = nil
	out["Resource unhealthy"] = unhealthy

	newer := out["Reservation with a newer spec"]
	newer.obj = newer.obj.DeepCopy()
	newer.obj.SetGeneration(newer.obj.GetGeneration() + 1)
	newer.applied = nil
	return out
}

// TestGitOpsHealth computes what kstatus (Flux's and kubectl's reader of health), Argo CD's health scripts and
// Flux's CEL health checks say about real objects in every state.
func TestGitOpsHealth(t *testing.T) {
	t.Parallel()
	scenarios := gitopsScenarios(t)
	for _, name := range slices.Sorted(maps.Keys(scenarios)) {
		s := scenarios[name]
		t.Run(name, func(t *testing.T) {
			res, err := status.Compute(s.obj)
			if err != nil {
				t.Fatalf("kstatus: %v", err)
			}
			if res.Status != s.kstatus {
				t.Errorf("kstatus = %s (%s), want %s", res.Status, res.Message, s.kstatus)
			}
			health, msg := argoHealth(t, s.obj)
			if health != s.argo {
				t.Errorf("Argo CD health = %s (%s), want %s", health, msg, s.argo)
			}
			if msg == "" {
				t.Errorf("Argo CD health has no message")
			}
			if got := fluxHealth(t, s.obj); got != s.flux {
				t.Errorf("Flux health = %s, want %s", got, s.flux)
			}
		})
	}

	// Before the controller writes any status, Argo CD waits. (kstatus calls an object without conditions Current,
	// and Flux's expressions fail to evaluate until status exists, which Flux retries.)
	fresh := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "conch.dev/v1alpha1", "kind": "Reservation",
		"metadata": map[string]any{"name": "fresh", "namespace": "x", "generation": int64(1)},
		"spec":     map[string]any{"resourceName": "staging", "holder": "alice"},
	}}
	if h, _ := argoHealth(t, fresh); h != "Progressing" {
		t.Errorf("Argo CD health of a Reservation without status = %s, want Progressing", h)
	}
}

// TestControllersWriteOnlyStatus checks that what a GitOps tool applied stays as applied after the controllers
// handled it: spec, labels and annotations unchanged, and the only other change to metadata the finalizer
// conch.dev/release (on Reservations). Every write by another field manager is to the status subresource, or to
// metadata.finalizers.
func TestControllersWriteOnlyStatus(t *testing.T) {
	t.Parallel()
	scenarios := gitopsScenarios(t)
	for _, name := range slices.Sorted(maps.Keys(scenarios)) {
		s := scenarios[name]
		if s.applied == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			for _, field := range [][]string{{"spec"}, {"metadata", "labels"}, {"metadata", "annotations"}} {
				want, _, _ := unstructured.NestedFieldNoCopy(s.applied.Object, field...)
				got, _, _ := unstructured.NestedFieldNoCopy(s.obj.Object, field...)
				if field[0] == "spec" {
					// The API server fills in the CRD's defaults; nothing else may differ.
					got = withoutDefaults(got, s.obj.GetKind())
					want = withoutDefaults(want, s.obj.GetKind())
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("%s changed (-applied +now):\n%s", strings.Join(field, "."), d)
				}
			}
			// No finalizers: a deleted Reservation is released once the API server confirms it is gone.
			if got := s.obj.GetFinalizers(); len(got) != 0 {
				t.Errorf("finalizers %v, want none", got)
			}
			for _, mf := range s.obj.GetManagedFields() {
				if mf.Manager == fieldOwner || mf.Subresource == "status" {
					continue
				}
				var fields map[string]any
				if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil {
					t.Fatal(err)
				}
				meta, _ := fields["f:metadata"].(map[string]any)
				if len(fields) != 1 || len(meta) != 1 || meta["f:finalizers"] == nil {
					t.Errorf("field manager %s (%s) wrote more than the finalizer: %s", mf.Manager, mf.Operation, mf.FieldsV1.GetRawString())
				}
			}
		})
	}
}

// crdDefaults are the spec fields each CRD defaults.
var crdDefaults = map[string][]string{
	"Resource": {"capacity", "granting"},
	"Standup":  {"timeZone", "collectFor"},
}

// withoutDefaults drops the spec fields the CRD of kind defaults.
func withoutDefaults(spec any, kind string) any {
	m, ok := spec.(map[string]any)
	if !ok {
		return spec
	}
	out := maps.Clone(m)
	for _, f := range crdDefaults[kind] {
		delete(out, f)
	}
	return out
}

// withCondition sets a condition of u's status.conditions (Stalled follows Ready's reason and is False).
func withCondition(t *testing.T, u *unstructured.Unstructured, typ, st, reason, message string) *unstructured.Unstructured {
	t.Helper()
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m := c.(map[string]any)
		switch m["type"] {
		case typ:
			m["status"], m["reason"], m["message"] = st, reason, message
		case "Stalled":
			m["status"], m["reason"], m["message"] = "False", reason, message
		}
	}
	if err := unstructured.SetNestedSlice(u.Object, conds, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestArgoCDConfigMap checks that docs/argocd/argocd-cm.yaml carries the health scripts as they are.
func TestArgoCDConfigMap(t *testing.T) {
	path := filepath.Join(root, "docs", "argocd", "argocd-cm.yaml")
	want := argoConfigMap(t)
	if os.Getenv("CONCH_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("docs/argocd/argocd-cm.yaml is stale; regenerate it with CONCH_UPDATE_GOLDEN=1 go test ./test/delivery -run TestArgoCDConfigMap (-want +got):\n%s", d)
	}
	objs, err := decodeObjects(got)
	if err != nil || len(objs) != 1 || objs[0].GetKind() != "ConfigMap" {
		t.Fatalf("docs/argocd/argocd-cm.yaml is not one ConfigMap: %v", err)
	}
}

// TestGitOpsDocs checks that docs/gitops.md shows the health checks as they are tested.
func TestGitOpsDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs", "gitops.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for kind, h := range fluxHealthChecks(t) {
		for _, expr := range []string{h.InProgress, h.Failed, h.Current} {
			if !strings.Contains(doc, expr) {
				t.Errorf("docs/gitops.md lacks the %s expression %s of docs/flux/kustomization.yaml", kind, expr)
			}
		}
	}
}

// TestStandupRunHealth: what kstatus and Argo CD's health script make of a StandupRun collecting answers, ended,
// and not started yet. The manager of this package has no Slack, so it makes no runs: the objects carry the
// conditions the Standup controller writes (test/standup checks kstatus on runs it made).
func TestStandupRunHealth(t *testing.T) {
	t.Parallel()
	run := func(conds ...map[string]any) *unstructured.Unstructured {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "conch.dev/v1alpha1", "kind": "StandupRun",
			"metadata": map[string]any{"name": "team-20261123-080000z", "namespace": "x", "generation": int64(1)},
			"spec":     map[string]any{"standupName": "team", "id": "20261123T080000Z"},
		}}
		if len(conds) > 0 {
			list := make([]any, 0, len(conds))
			for _, c := range conds {
				list = append(list, c)
			}
			obj.Object["status"] = map[string]any{"observedGeneration": int64(1), "conditions": list}
		}
		return obj
	}
	cond := func(typ, st, reason, msg string) map[string]any {
		return map[string]any{"type": typ, "status": st, "reason": reason, "message": msg, "lastTransitionTime": "2026-11-23T08:00:00Z"}
	}
	cases := map[string]struct {
		obj     *unstructured.Unstructured
		kstatus status.Status
		argo    string
	}{
		"collecting": {
			obj: run(cond("Ready", "False", "Collecting", "Collecting answers until 2026-11-23T09:00:00Z: 1 of 3 answered"),
				cond("Reconciling", "True", "Collecting", "Collecting answers until 2026-11-23T09:00:00Z: 1 of 3 answered")),
			kstatus: status.InProgressStatus, argo: "Progressing",
		},
		"completed": {
			obj:     run(cond("Ready", "True", "Completed", "Summary posted: 3 of 3 answered"), cond("Reconciling", "False", "Completed", "Summary posted: 3 of 3 answered")),
			kstatus: status.CurrentStatus, argo: "Healthy",
		},
		"cancelled": {
			obj: run(cond("Ready", "True", "Cancelled", "Cancelled: its date was added to skipDates while it ran"),
				cond("Reconciling", "False", "Cancelled", "Cancelled: its date was added to skipDates while it ran")),
			kstatus: status.CurrentStatus, argo: "Healthy",
		},
		"no status yet": {obj: run(), kstatus: status.CurrentStatus, argo: "Progressing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := status.Compute(tc.obj)
			if err != nil {
				t.Fatalf("kstatus: %v", err)
			}
			if res.Status != tc.kstatus {
				t.Errorf("kstatus = %s (%s), want %s", res.Status, res.Message, tc.kstatus)
			}
			if health, msg := argoHealth(t, tc.obj); health != tc.argo || msg == "" {
				t.Errorf("Argo CD health = %s (%q), want %s with a message", health, msg, tc.argo)
			}
		})
	}
}
