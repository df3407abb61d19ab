package delivery

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// checkManagerDeployment asserts the security and operability properties every install of the manager must have:
// non-root, read-only root filesystem, no privilege escalation, no capabilities, the RuntimeDefault seccomp
// profile, requests and limits, health probes, leader election, a pinned image, and the Slack tokens from an
// optional Secret.
func checkManagerDeployment(t *testing.T, d *appsv1.Deployment, slackSecret string) {
	t.Helper()
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("%s: shares a host namespace", d.Name)
	}
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Fatalf("%s: want exactly one container, the manager; got %d containers and %d init containers", d.Name, len(pod.Containers), len(pod.InitContainers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil {
		t.Fatalf("%s: container %s has no securityContext", d.Name, c.Name)
	}
	if !isTrue(sc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
		t.Errorf("%s: runAsNonRoot is not set", d.Name)
	}
	for _, uid := range []*int64{sc.RunAsUser, psc.RunAsUser} {
		if uid != nil && *uid == 0 {
			t.Errorf("%s: runs as user 0", d.Name)
		}
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Errorf("%s: readOnlyRootFilesystem is not true", d.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", d.Name)
	}
	if isTrue(sc.Privileged) {
		t.Errorf("%s: privileged", d.Name)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities must drop ALL and add none, got %+v", d.Name, sc.Capabilities)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccomp profile is not RuntimeDefault", d.Name)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("%s: no %s request", d.Name, r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("%s: no %s limit", d.Name, r)
		}
	}
	checkProbe(t, d.Name+" liveness", c.LivenessProbe, "/healthz", c.Ports)
	checkProbe(t, d.Name+" readiness", c.ReadinessProbe, "/readyz", c.Ports)
	if !slices.Contains(c.Args, "--leader-elect") && !slices.Contains(c.Args, "--leader-elect=true") {
		t.Errorf("%s: leader election is not on: args %v", d.Name, c.Args)
	}
	if i := strings.LastIndex(c.Image, ":"); i < 0 || strings.Contains(c.Image[i:], "/") || strings.HasSuffix(c.Image, ":latest") {
		t.Errorf("%s: image %q has no pinned tag", d.Name, c.Image)
	}
	for env, key := range map[string]string{"SLACK_BOT_TOKEN": "bot-token", "SLACK_APP_TOKEN": "app-token"} {
		i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == env })
		if i < 0 {
			t.Errorf("%s: no %s", d.Name, env)
			continue
		}
		ref := c.Env[i].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != slackSecret || ref.SecretKeyRef.Key != key || !isTrue(ref.SecretKeyRef.Optional) {
			t.Errorf("%s: %s must come from the optional key %s of Secret %s, got %+v", d.Name, env, key, slackSecret, c.Env[i])
		}
	}
}

// checkProbe asserts that p is an HTTP GET of path on port 8081.
func checkProbe(t *testing.T, what string, p *corev1.Probe, path string, ports []corev1.ContainerPort) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe: none", what)
		return
	}
	port := p.HTTPGet.Port.IntValue()
	if name := p.HTTPGet.Port.StrVal; name != "" {
		for _, cp := range ports {
			if cp.Name == name {
				port = int(cp.ContainerPort)
			}
		}
	}
	if p.HTTPGet.Path != path || port != 8081 {
		t.Errorf("%s probe: want GET %s on :8081, got %s on %d", what, path, p.HTTPGet.Path, port)
	}
}

// checkLeastPrivilege asserts that no Role or ClusterRole among objs has a wildcard, a verb that grants more
// RBAC (escalate, bind, impersonate), or access to Secrets other than by name, read-only, in one namespace.
// (RBAC authorises a list or watch with resourceNames only when it selects the one name with a field selector.)
func checkLeastPrivilege(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	n := 0
	for _, u := range objs {
		var rules []rbacv1.PolicyRule
		switch u.GetKind() {
		case "Role":
			rules = typed[rbacv1.Role](t, u).Rules
		case "ClusterRole":
			rules = typed[rbacv1.ClusterRole](t, u).Rules
		default:
			continue
		}
		n++
		for _, r := range rules {
			what := u.GetKind() + " " + objectKey(u)
			for _, list := range [][]string{r.Verbs, r.Resources, r.APIGroups, r.ResourceNames, r.NonResourceURLs} {
				if slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, "*") }) {
					t.Errorf("%s: wildcard in rule %+v", what, r)
				}
			}
			if slices.ContainsFunc(r.Verbs, func(v string) bool { return v == "escalate" || v == "bind" || v == "impersonate" }) {
				t.Errorf("%s: verb that grants more than it names in rule %+v", what, r)
			}
			if len(r.NonResourceURLs) > 0 {
				t.Errorf("%s: non-resource URLs %v", what, r.NonResourceURLs)
			}
			if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "secrets") {
				readOnly := !slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" })
				// The one Secret name the manager may get in every namespace it serves: EventSinks' signing keys.
				signingKeys := slices.Equal(r.ResourceNames, []string{conchv1.SigningKeySecretName}) &&
					slices.Equal(r.Verbs, []string{"get"}) && slices.Equal(r.Resources, []string{"secrets"})
				if !signingKeys && (u.GetKind() != "Role" || len(r.ResourceNames) == 0 || !readOnly) {
					t.Errorf("%s: Secrets must be readable only by name (get, list, watch with resourceNames) in a namespaced Role, got %+v", what, r)
				}
			}
		}
	}
	if n == 0 {
		t.Errorf("no Roles or ClusterRoles to check")
	}
}

func isTrue(b *bool) bool { return b != nil && *b }
