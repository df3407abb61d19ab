package delivery

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestKustomizeInstall checks that `kubectl apply -k config/default` installs what it should: every object
// applied to the API server (TestMain did that), named with the conch- prefix, namespaced objects in conch-system.
func TestKustomizeInstall(t *testing.T) {
	if installErr != nil {
		t.Fatalf("config/default does not install: %v", installErr)
	}
	objs, err := kustomizeBuild("config/default")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range objs {
		got = append(got, u.GetKind()+" "+objectKey(u))
		// The API server holds it, as applied.
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(u.GroupVersionKind())
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(u), live); err != nil {
			t.Errorf("%s %s is not on the API server: %v", u.GetKind(), objectKey(u), err)
		}
	}
	want := []string{
		"ClusterRole conch-editor",
		"ClusterRole conch-eventsink-keys",
		"ClusterRole conch-manager",
		"ClusterRole conch-viewer",
		"ClusterRoleBinding conch-eventsink-keys",
		"ClusterRoleBinding conch-manager",
		"Deployment conch-system/conch-controller-manager",
		"Namespace conch-system",
		"Role conch-system/conch-leader-election",
		"Role conch-system/conch-slack-secret",
		"RoleBinding conch-system/conch-leader-election",
		"RoleBinding conch-system/conch-slack-secret",
		"Service conch-system/conch-metrics",
		"ServiceAccount conch-system/conch-controller-manager",
	}
	// Every CRD that make manifests generates, so that a new kind is not left out of config/crd/kustomization.yaml.
	for name, b := range readFiles(t, "config/crd/bases/*.yaml") {
		crds, err := decodeObjects(b)
		if err != nil || len(crds) != 1 {
			t.Fatalf("config/crd/bases/%s: %v", name, err)
		}
		want = append(want, "CustomResourceDefinition "+crds[0].GetName())
	}
	sort.Strings(got)
	sort.Strings(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("objects of config/default (-want +got):\n%s", d)
	}
}

// TestKustomizeSecurity checks the manager Deployment and RBAC of config/default.
func TestKustomizeSecurity(t *testing.T) {
	objs, err := kustomizeBuild("config/default")
	if err != nil {
		t.Fatal(err)
	}
	deps := only(objs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("want one Deployment, got %d", len(deps))
	}
	d := typed[appsv1.Deployment](t, deps[0])
	checkManagerDeployment(t, d, "conch-slack")
	if d.Spec.Template.Spec.ServiceAccountName != installServiceAccount {
		t.Errorf("serviceAccountName = %q, want %q", d.Spec.Template.Spec.ServiceAccountName, installServiceAccount)
	}
	checkLeastPrivilege(t, objs)
	if d := cmp.Diff(generatedRules(t), typed[rbacv1.ClusterRole](t, named(t, objs, "ClusterRole", "conch-manager")).Rules); d != "" {
		t.Errorf("the installed ClusterRole differs from config/rbac/role.yaml (-want +got):\n%s", d)
	}
}

// TestInstalledRBAC asks the API server what the installed ServiceAccounts may do, so that a rule that grants
// too much (or too little) shows here and not in production.
func TestInstalledRBAC(t *testing.T) {
	if installErr != nil {
		t.Fatal(installErr)
	}
	helmNS := installHelmChart(t)
	type check struct {
		verb, group, resource, sub, ns, name string
		allowed                              bool
	}
	for _, sa := range []struct{ ns, name string }{{installNamespace, installServiceAccount}, {helmNS, "conch-helm-manager"}} {
		t.Run(sa.ns, func(t *testing.T) {
			user := "system:serviceaccount:" + sa.ns + ":" + sa.name
			for _, c := range []check{
				{"watch", "conch.dev", "reservations", "", "", "", true},
				{"create", "conch.dev", "reservations", "", "team-a", "", true}, // Slack makes Reservations for people
				{"patch", "conch.dev", "reservations", "", "team-a", "", true},  // release and extend from Slack
				{"patch", "conch.dev", "reservations", "status", "team-a", "", true},
				{"patch", "conch.dev", "resources", "status", "team-a", "", true},
				{"create", "events.k8s.io", "events", "", "team-a", "", true},
				{"update", "coordination.k8s.io", "leases", "", sa.ns, "conch.conch.dev", true},
				{"get", "", "secrets", "", sa.ns, "conch-slack", true},
				{"watch", "", "secrets", "", sa.ns, "conch-slack", true}, // a watch with fieldSelector metadata.name=conch-slack

				{"delete", "conch.dev", "resources", "", "team-a", "", false},
				{"update", "conch.dev", "resources", "", "team-a", "", false},
				{"update", "coordination.k8s.io", "leases", "", "kube-system", "conch.conch.dev", false},
				{"get", "", "secrets", "", sa.ns, "some-other-secret", false},
				{"list", "", "secrets", "", sa.ns, "", false},
				{"watch", "", "secrets", "", sa.ns, "", false},
				{"get", "", "secrets", "", "team-a", "conch-slack", false},
				{"get", "", "secrets", "", "team-a", "conch-eventsink-keys", true}, // EventSinks' signing keys, by name
				{"list", "", "secrets", "", "team-a", "", false},
				{"list", "", "pods", "", sa.ns, "", true}, // Reservations held by a Pod (spec.heldBy)
				{"delete", "", "pods", "", sa.ns, "", false},
				{"update", "batch", "jobs", "", sa.ns, "", false},
				{"create", "rbac.authorization.k8s.io", "rolebindings", "", sa.ns, "", false},
			} {
				sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
					User:   user,
					Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + sa.ns, "system:authenticated"},
					ResourceAttributes: &authorizationv1.ResourceAttributes{
						Verb: c.verb, Group: c.group, Resource: c.resource, Subresource: c.sub, Namespace: c.ns, Name: c.name,
					},
				}}
				if err := k8s.Create(context.Background(), sar); err != nil {
					t.Fatal(err)
				}
				if sar.Status.Allowed != c.allowed {
					t.Errorf("%s %s %s/%s %q in %q: allowed = %v, want %v", sa.name, c.verb, c.resource, c.sub, c.name, c.ns, sar.Status.Allowed, c.allowed)
				}
			}
		})
	}
}

// TestManagerRunsWithInstalledRBAC checks that the manager, running with nothing but the installed RBAC, leads
// through its Lease and grants a Reservation.
func TestManagerRunsWithInstalledRBAC(t *testing.T) {
	t.Parallel()
	requireManager(t)
	ns := namespace(t)
	ctx := context.Background()
	if err := k8s.Create(ctx, testutil.Resource("staging").Namespace(ns).Obj()); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, testutil.Reservation("alice").Namespace(ns).On("staging").UID("").Obj()); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() conchv1.ReservationState {
		var r conchv1.Reservation
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "alice"}, &r)
		return r.Status.State
	}).Should(Equal(conchv1.StateGranted))

	var lease coordinationv1.Lease
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: "conch.conch.dev"}, &lease); err != nil {
		t.Fatalf("the leader election Lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("the Lease has no holder: %+v", lease.Spec)
	}
}

// installHelmChart renders charts/conch as release conch-helm in namespace conch-helm and applies it for real,
// once per test binary, returning the namespace.
func installHelmChart(t *testing.T) string {
	t.Helper()
	helmInstallOnce.Do(func() {
		objs := helmTemplate(t, "conch-helm", "conch-helm")
		ns := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "conch-helm"},
		}}
		helmInstallErr = applyAll(context.Background(), append(objs, ns), false)
	})
	if helmInstallErr != nil {
		t.Fatalf("applying the rendered chart: %v", helmInstallErr)
	}
	return "conch-helm"
}

var (
	helmInstallOnce sync.Once
	helmInstallErr  error
)

// TestHelmChart lints the chart, renders it with its default values, applies it, and checks the manager
// Deployment and RBAC as for config/default.
func TestHelmChart(t *testing.T) {
	helm(t, "lint", "--strict", "charts/conch")
	helm(t, "lint", "--strict", "charts/conch", "--set", "namespaces={team-a,team-b}", "--set", "metrics.serviceMonitor.enabled=true")
	installHelmChart(t)

	objs := helmTemplate(t, "conch-helm", "conch-helm")
	deps := only(objs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("want one Deployment, got %d", len(deps))
	}
	d := typed[appsv1.Deployment](t, deps[0])
	checkManagerDeployment(t, d, "conch-slack")
	checkLeastPrivilege(t, objs)
	if d := cmp.Diff(generatedRules(t), typed[rbacv1.ClusterRole](t, named(t, objs, "ClusterRole", "conch-helm-manager")).Rules); d != "" {
		t.Errorf("the chart's ClusterRole differs from config/rbac/role.yaml; run make chart (-want +got):\n%s", d)
	}

	// The chart installs the same manager image as config/default: its appVersion is the kustomize image tag.
	kobjs, err := kustomizeBuild("config/default")
	if err != nil {
		t.Fatal(err)
	}
	kimage := typed[appsv1.Deployment](t, only(kobjs, "Deployment")[0]).Spec.Template.Spec.Containers[0].Image
	if himage := d.Spec.Template.Spec.Containers[0].Image; himage != kimage {
		t.Errorf("the chart installs image %s, config/default %s; keep Chart.yaml appVersion and config/manager's newTag equal", himage, kimage)
	}
}

// TestHelmChartValues renders the chart with each value the chart documents and checks what it changes.
func TestHelmChartValues(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		set   []string
		check func(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment)
	}{
		"namespaces in scope: Roles in each, nothing cluster-wide but the CRDs": {
			set: []string{"namespaces={team-a,team-b}"},
			check: func(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
				var cluster []string
				for _, u := range append(only(objs, "ClusterRole"), only(objs, "ClusterRoleBinding")...) {
					cluster = append(cluster, u.GetKind()+" "+u.GetName())
				}
				if want := []string{"ClusterRole conch-editor", "ClusterRole conch-viewer"}; !slices.Equal(cluster, want) {
					t.Errorf("cluster-wide RBAC %v, want only the users' roles %v", cluster, want)
				}
				var rolesIn []string
				for _, u := range only(objs, "Role") {
					if r := typed[rbacv1.Role](t, u); r.Name == "conch-ns-manager" {
						rolesIn = append(rolesIn, r.Namespace)
						if d := cmp.Diff(generatedRules(t), r.Rules); d != "" {
							t.Errorf("Role %s/%s rules (-want +got):\n%s", r.Namespace, r.Name, d)
						}
					}
				}
				if want := []string{"team-a", "team-b"}; !slices.Equal(rolesIn, want) {
					t.Errorf("manager Roles in %v, want %v", rolesIn, want)
				}
				wantArg(t, d, "--namespaces=team-a,team-b")
			},
		},
		"metrics off": {
			set: []string{"metrics.enabled=false"},
			check: func(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
				if n := len(only(objs, "Service")); n != 0 {
					t.Errorf("%d Services, want none", n)
				}
				wantArg(t, d, "--metrics-bind-address=0")
			},
		},
		"ServiceMonitor": {
			set: []string{"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prometheus"},
			check: func(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
				sms := only(objs, "ServiceMonitor")
				if len(sms) != 1 || sms[0].GetLabels()["release"] != "prometheus" {
					t.Fatalf("want one ServiceMonitor labelled release=prometheus, got %v", sms)
				}
				port, _, _ := unstructured.NestedSlice(sms[0].Object, "spec", "endpoints")
				if len(port) != 1 || port[0].(map[string]any)["port"] != "metrics" {
					t.Errorf("ServiceMonitor endpoints %v, want the metrics port", port)
				}
			},
		},
		"leader election timings": {
			set: []string{"leaderElection.leaseDuration=1m", "leaderElection.renewDeadline=40s", "leaderElection.retryPeriod=5s"},
			check: func(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
				wantArg(t, d, "--leader-elect=true")
				wantArg(t, d, "--leader-elect-lease-duration=1m")
				wantArg(t, d, "--leader-elect-renew-deadline=40s")
				wantArg(t, d, "--leader-elect-retry-period=5s")
			},
		},
		"log level, leader election off, Slack Secret renamed and followed, image tag": {
			set: []string{"logLevel=debug", "leaderElection.enabled=false", "slack.secretName=team-slack", "slack.followSecret=true", "image.tag=v9.9.9", "replicas=2"},
			check: func(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
				wantArg(t, d, "--zap-log-level=debug")
				wantArg(t, d, "--slack-secret=conch-ns/team-slack")
				wantArg(t, d, "--leader-elect=false")
				if img := d.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/conch-dev/conch:v9.9.9" {
					t.Errorf("image %s", img)
				}
				if *d.Spec.Replicas != 2 {
					t.Errorf("replicas %d", *d.Spec.Replicas)
				}
				var roles []string
				for _, u := range only(objs, "Role") {
					roles = append(roles, u.GetName())
					if r := typed[rbacv1.Role](t, u); r.Name == "conch-ns-slack-secret" && !slices.Equal(r.Rules[0].ResourceNames, []string{"team-slack"}) {
						t.Errorf("the Slack Secret Role names %v", r.Rules[0].ResourceNames)
					}
				}
				if want := []string{"conch-ns-slack-secret"}; !slices.Equal(roles, want) {
					t.Errorf("Roles %v, want %v (no leader election Role)", roles, want)
				}
				if env := d.Spec.Template.Spec.Containers[0].Env; len(env) != 3 || env[1].ValueFrom.SecretKeyRef.Name != "team-slack" {
					t.Errorf("env %+v", env)
				}
			},
		},
		"no user roles": {
			set: []string{"userRoles.create=false"},
			check: func(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
				for _, u := range only(objs, "ClusterRole") {
					if u.GetName() != "conch-ns-manager" && u.GetName() != "conch-ns-eventsink-keys" {
						t.Errorf("ClusterRole %s", u.GetName())
					}
				}
			},
		},
		"no Slack": {
			set: []string{"slack.secretName="},
			check: func(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
				if env := d.Spec.Template.Spec.Containers[0].Env; len(env) != 1 || env[0].Name != "GOMEMLIMIT" {
					t.Errorf("env %+v, want GOMEMLIMIT alone", env)
				}
				for _, u := range only(objs, "Role") {
					if strings.Contains(u.GetName(), "slack") {
						t.Errorf("Role %s without Slack", u.GetName())
					}
				}
			},
		},
		"dashboard and alerts": {
			set: []string{"metrics.prometheusRule.enabled=true", "metrics.prometheusRule.labels.release=prometheus",
				"grafana.dashboard.enabled=true"},
			check: func(t *testing.T, objs []*unstructured.Unstructured, _ *appsv1.Deployment) {
				checkDashboardAndAlerts(t, objs)
			},
		},
		"board off by default": {check: checkBoardOff},
		"board with a token, namespaces and an Ingress": {
			set: []string{"board.enabled=true", "board.port=9090", "board.namespaces={team-a}", "board.tokenSecret.name=board-token",
				"board.ingress.enabled=true", "board.ingress.host=conch.example.com", "board.ingress.className=nginx"},
			check: checkBoard,
		},
		"scheduling": {
			set: []string{"nodeSelector.pool=system", "tolerations[0].key=dedicated", "tolerations[0].operator=Exists",
				"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=zone",
				"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
				"podSecurityContext.fsGroup=65532"},
			check: func(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
				pod := d.Spec.Template.Spec
				if pod.NodeSelector["pool"] != "system" || len(pod.Tolerations) != 1 || pod.Affinity == nil || pod.Affinity.NodeAffinity == nil {
					t.Errorf("scheduling not passed through: %+v %+v %+v", pod.NodeSelector, pod.Tolerations, pod.Affinity)
				}
				if pod.SecurityContext.FSGroup == nil || !isTrue(pod.SecurityContext.RunAsNonRoot) {
					t.Errorf("podSecurityContext %+v: fsGroup added, runAsNonRoot kept", pod.SecurityContext)
				}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			var flags []string
			for _, s := range tc.set {
				flags = append(flags, "--set", s)
			}
			objs := helmTemplate(t, "conch-ns", "conch-ns", flags...)
			deps := only(objs, "Deployment")
			if len(deps) != 1 {
				t.Fatalf("want one Deployment, got %d", len(deps))
			}
			d := typed[appsv1.Deployment](t, deps[0])
			tc.check(t, objs, d)
			checkLeastPrivilege(t, objs)
			// The API server accepts it (dry run; the ServiceMonitor's CRD is not installed here).
			if err := applyAll(ctx, append(withoutOperatorKinds(objs), namespaceObjects("conch-ns", "team-a", "team-b")...), true); err != nil {
				t.Errorf("dry-run apply: %v", err)
			}
		})
	}
}

// checkBoardOff: by default the chart serves no board.
func checkBoardOff(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
	t.Helper()
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--board") {
			t.Errorf("the board is on by default: %s", a)
		}
	}
	if n := len(only(objs, "Ingress")); n != 0 {
		t.Errorf("%d Ingresses by default", n)
	}
}

// checkBoard: the board's flags, port, token Secret, Service and Ingress, as the values ask.
func checkBoard(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.Deployment) {
	t.Helper()
	wantArg(t, d, "--board-bind-address=:9090")
	wantArg(t, d, "--board-namespaces=team-a")
	wantArg(t, d, "--board-token-file=/etc/conch/board/token")
	c := d.Spec.Template.Spec.Containers[0]
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "board" && p.ContainerPort == 9090 }) {
		t.Errorf("ports %+v lack board 9090", c.Ports)
	}
	vols := d.Spec.Template.Spec.Volumes
	if len(vols) != 1 || vols[0].Secret == nil || vols[0].Secret.SecretName != "board-token" || len(c.VolumeMounts) != 1 {
		t.Errorf("the token Secret is not mounted: %+v %+v", vols, c.VolumeMounts)
	}
	svc := named(t, objs, "Service", "conch-ns-board")
	port, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if len(port) != 1 || port[0].(map[string]any)["targetPort"] != "board" {
		t.Errorf("the board's Service ports %v", port)
	}
	ing := named(t, objs, "Ingress", "conch-ns-board")
	rules, _, _ := unstructured.NestedSlice(ing.Object, "spec", "rules")
	if len(rules) != 1 || rules[0].(map[string]any)["host"] != "conch.example.com" {
		t.Errorf("the Ingress rules %v", rules)
	}
}

// withoutOperatorKinds returns objs but the Prometheus Operator's kinds (ServiceMonitor, PrometheusRule), whose
// CRDs the test's API server does not have.
func withoutOperatorKinds(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() != "ServiceMonitor" && u.GetKind() != "PrometheusRule" {
			out = append(out, u)
		}
	}
	return out
}

// checkDashboardAndAlerts checks the chart's PrometheusRule and dashboard ConfigMap against config/monitoring.
func checkDashboardAndAlerts(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	rules := only(objs, "PrometheusRule")
	if len(rules) != 1 || rules[0].GetLabels()["release"] != "prometheus" {
		t.Fatalf("want one PrometheusRule labelled release=prometheus, got %v", rules)
	}
	groups, _, _ := unstructured.NestedSlice(rules[0].Object, "spec", "groups")
	if len(groups) != 1 || len(groups[0].(map[string]any)["rules"].([]any)) < 5 {
		t.Errorf("PrometheusRule groups %v, want config/monitoring's", groups)
	}
	var dash *unstructured.Unstructured
	for _, cm := range only(objs, "ConfigMap") {
		if cm.GetLabels()["grafana_dashboard"] == "1" {
			dash = cm
		}
	}
	if dash == nil {
		t.Fatal("no ConfigMap labelled grafana_dashboard=1")
	}
	body, _, _ := unstructured.NestedString(dash.Object, "data", "conch.json")
	want := readFiles(t, "config/monitoring/grafana-dashboard.json")["grafana-dashboard.json"]
	if strings.TrimSpace(body) != strings.TrimSpace(string(want)) {
		t.Error("the dashboard ConfigMap differs from config/monitoring/grafana-dashboard.json")
	}
}

// TestChartIsGenerated checks that the chart's CRDs and RBAC rules are what `make chart` makes of config/.
func TestChartIsGenerated(t *testing.T) {
	want, got := readFiles(t, "config/crd/bases/*.yaml"), readFiles(t, "charts/conch/crds/*.yaml")
	if len(want) == 0 {
		t.Fatal("no CRDs in config/crd/bases")
	}
	for name := range want {
		if string(got[name]) != string(want[name]) {
			t.Errorf("charts/conch/crds/%s differs from config/crd/bases; run make chart", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("charts/conch/crds/%s is not in config/crd/bases; run make chart", name)
		}
	}
	users := readFiles(t, "config/rbac/user_roles.yaml")["user_roles.yaml"]
	if chart := readFiles(t, "charts/conch/files/user-roles.yaml")["user-roles.yaml"]; len(users) == 0 || string(chart) != string(users) {
		t.Errorf("charts/conch/files/user-roles.yaml differs from config/rbac/user_roles.yaml; run make chart")
	}
	b, err := os.ReadFile(filepath.Join(root, "charts", "conch", "files", "manager-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	if err := yaml.UnmarshalStrict(b, &rules); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(generatedRules(t), rules); d != "" {
		t.Errorf("charts/conch/files/manager-rules.yaml differs from config/rbac/role.yaml; run make chart (-want +got):\n%s", d)
	}
}

// generatedRules returns the rules of the ClusterRole that `make manifests` generates.
func generatedRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range objs {
		if u.GetKind() == "ClusterRole" && u.GetName() == "conch-manager" {
			return typed[rbacv1.ClusterRole](t, u).Rules
		}
	}
	t.Fatal("config/rbac/role.yaml has no ClusterRole conch-manager")
	return nil
}

// named returns the object of a kind and name.
func named(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

func wantArg(t *testing.T, d *appsv1.Deployment, arg string) {
	t.Helper()
	if args := d.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, arg) {
		t.Errorf("args %v lack %s", args, arg)
	}
}

func namespaceObjects(names ...string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, n := range names {
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": n},
		}})
	}
	return out
}
