package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

const (
	imagePatch   = `{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"registry.example/web:{{ .parameters.revision }}"}]}}}}`
	imageDefault = `{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"registry.example/web:main"}]}}}}`
	argoPatch    = `{"spec":{"source":{"targetRevision":"{{ .parameters.revision }}"}},"metadata":{"annotations":{"conch.dev/holder":"{{ .holder }}"}}}`
)

// deployment creates a Deployment web with image, as a person would (field manager "platform").
func deployment(t *testing.T, ns, image string) {
	t.Helper()
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
	NewWithT(t).Expect(k8s.Create(ctx, d, client.FieldOwner("platform"))).To(Succeed())
}

// image returns the Deployment's image, and the managers that own it.
func image(t *testing.T, ns string) func() string {
	return func() string {
		d := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, d); err != nil {
			return err.Error()
		}
		return d.Spec.Template.Spec.Containers[0].Image
	}
}

// owners returns the managers whose managedFields of obj mention field ("f:image"), as "manager/operation".
func owners(obj client.Object, field string) []string {
	var out []string
	for _, mf := range obj.GetManagedFields() {
		if mf.FieldsV1 != nil && strings.Contains(mf.FieldsV1.GetRawString(), `"`+field+`"`) {
			out = append(out, mf.Manager+"/"+string(mf.Operation))
		}
	}
	slices.Sort(out)
	return out
}

// resource creates a Resource staging with deploy.
func resource(t *testing.T, ns string, d conchv1.Deploy) {
	t.Helper()
	res := testutil.Resource("staging").Namespace(ns).Obj()
	res.Spec.Deploy = d
	NewWithT(t).Expect(k8s.Create(ctx, res)).To(Succeed())
}

func webDeploy(def string) conchv1.Deploy {
	d := conchv1.Deploy{
		Target: conchv1.DeployTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		Patch:  runtime.RawExtension{Raw: []byte(imagePatch)},
	}
	if def != "" {
		d.Default = &runtime.RawExtension{Raw: []byte(def)}
	}
	return d
}

// reserve creates a Reservation of staging with parameters ("revision", "pr-345", ...).
func reserve(t *testing.T, ns, name string, params ...string) *conchv1.Reservation {
	t.Helper()
	rsv := testutil.Reservation(name).Namespace(ns).On("staging").Holder("alice@example.com").For(time.Hour).Obj()
	for i := 0; i+1 < len(params); i += 2 {
		rsv.Spec.Parameters = append(rsv.Spec.Parameters, conchv1.Parameter{Name: params[i], Value: params[i+1]})
	}
	NewWithT(t).Expect(k8s.Create(ctx, rsv)).To(Succeed())
	return rsv
}

func release(t *testing.T, rsv *conchv1.Reservation) {
	t.Helper()
	patch := client.MergeFrom(rsv.DeepCopy())
	rsv.Spec.Released = true
	NewWithT(t).Expect(k8s.Patch(ctx, rsv, patch)).To(Succeed())
}

// deployed returns the Resource's Deployed condition as "Status/Reason".
func deployed(t *testing.T, ns string) func() string {
	return func() string {
		c := deployedCondition(t, ns)
		if c == nil {
			return "none"
		}
		return string(c.Status) + "/" + c.Reason
	}
}

func deployedCondition(t *testing.T, ns string) *metav1.Condition {
	res := &conchv1.Resource{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "staging"}, res); err != nil {
		t.Logf("reading the Resource: %v", err)
		return nil
	}
	return meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionDeployed)
}

func resourceStatus(t *testing.T, ns string) conchv1.ResourceStatus {
	res := &conchv1.Resource{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "staging"}, res)).To(Succeed())
	return res.Status
}

// events returns "Kind/Reason" of the Events about objects of ns.
func events(ns string) func() []string {
	return func() []string {
		var list eventsv1.EventList
		_ = k8s.List(ctx, &list, client.InNamespace(ns))
		var out []string
		for _, e := range list.Items {
			out = append(out, e.Regarding.Kind+"/"+e.Reason)
		}
		return out
	}
}

func eventNote(t *testing.T, ns, kind, reason string) string {
	var list eventsv1.EventList
	NewWithT(t).Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Reason == reason {
			return e.Note
		}
	}
	return ""
}

func TestADeploymentsImageFollowsTheHolderAndGoesBackToTheDefault(t *testing.T) {
	ns := namespace(t)
	bindDeployRole(t, ns)
	deployment(t, ns, "registry.example/web:1.0")
	resource(t, ns, webDeploy(imageDefault))

	// Nobody holds it: the default is applied, and Conch owns the image from now on (Force, the default policy).
	eventually(t, image(t, ns)).Should(Equal("registry.example/web:main"))
	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployReverted))

	rsv := reserve(t, ns, "deploy-345", "revision", "pr-345")
	eventually(t, image(t, ns)).Should(Equal("registry.example/web:pr-345"))
	eventually(t, deployed(t, ns)).Should(Equal("True/" + conchv1.ReasonDeployApplied))
	NewWithT(t).Expect(deployedCondition(t, ns).Message).To(Equal(
		"Applied the patch for deploy-345 (alice@example.com) to Deployment web, with revision=pr-345"))
	st := resourceStatus(t, ns).Deploy
	NewWithT(t).Expect(st.Applied).To(Equal(conchv1.DeployAppliedPatch))
	NewWithT(t).Expect(st.ReservationUID).To(Equal(string(rsv.UID)))

	d := &appsv1.Deployment{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, d)).To(Succeed())
	NewWithT(t).Expect(owners(d, "f:image")).To(Equal([]string{conchv1.DeployFieldManager + "/Apply"}),
		"the image is Conch's, under its own field manager")
	NewWithT(t).Expect(owners(d, "f:replicas")).To(ContainElement("platform/Update"), "the rest stays the creator's")
	eventually(t, events(ns)).Should(ContainElements("Reservation/"+conchv1.ReasonDeployApplied, "Resource/"+conchv1.ReasonDeployApplied))

	release(t, rsv)
	eventually(t, image(t, ns)).Should(Equal("registry.example/web:main"))
	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployReverted))
	NewWithT(t).Expect(resourceStatus(t, ns).Deploy.ReservationUID).To(BeEmpty())
	eventually(t, events(ns)).Should(ContainElement("Reservation/" + conchv1.ReasonDeployReverted))
	NewWithT(t).Expect(eventNote(t, ns, "Reservation", conchv1.ReasonDeployReverted)).To(Equal(
		"Nobody holds staging; the default is applied to Deployment web"))

	// Reverted once: a person who changes the image afterwards keeps it, through an unrelated edit of the
	// Resource and a restart of the manager.
	d = &appsv1.Deployment{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, d)).To(Succeed())
	d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:hotfix"
	NewWithT(t).Expect(k8s.Update(ctx, d, client.FieldOwner("kubectl-edit"))).To(Succeed())
	res := &conchv1.Resource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "staging"}}
	NewWithT(t).Expect(k8s.Patch(ctx, res, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"description":"edited"}}`)))).To(Succeed())
	restartManager(t)
	NewWithT(t).Consistently(image(t, ns)).WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).
		Should(Equal("registry.example/web:hotfix"))
}

func TestARestartAppliesNothingAgain(t *testing.T) {
	ns := namespace(t)
	bindDeployRole(t, ns)
	deployment(t, ns, "registry.example/web:1.0")
	resource(t, ns, webDeploy(imageDefault))
	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployReverted))
	reserve(t, ns, "deploy-7", "revision", "pr-7")
	eventually(t, image(t, ns)).Should(Equal("registry.example/web:pr-7"))
	eventually(t, deployed(t, ns)).Should(Equal("True/" + conchv1.ReasonDeployApplied))
	before := resourceStatus(t, ns).Deploy
	eventually(t, events(ns)).Should(ContainElements("Resource/"+conchv1.ReasonDeployReverted, "Resource/"+conchv1.ReasonDeployApplied, "Reservation/"+conchv1.ReasonDeployApplied))
	told := events(ns)()
	d := &appsv1.Deployment{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, d)).To(Succeed())

	restartManager(t)
	// A new manager that applied again would write a new status.deploy (appliedAt) and new Events.
	NewWithT(t).Consistently(func() *metav1.Time { return resourceStatus(t, ns).Deploy.AppliedAt }).
		WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(Equal(before.AppliedAt))
	NewWithT(t).Expect(events(ns)()).To(ConsistOf(told))
	after := &appsv1.Deployment{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, after)).To(Succeed())
	NewWithT(t).Expect(after.ResourceVersion).To(Equal(d.ResourceVersion))
}

// application creates an Argo CD Application web that Argo CD's controller applied (field manager
// argocd-controller), following main.
func application(t *testing.T, ns string) {
	t.Helper()
	app := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"namespace": ns, "name": "web"},
		"spec": map[string]any{"project": "default", "source": map[string]any{
			"repoURL": "https://git.example/web", "path": "deploy", "targetRevision": "main",
		}},
	}}
	NewWithT(t).Expect(k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(app), client.FieldOwner("argocd-controller"))).To(Succeed())
}

func applicationObj(t *testing.T, ns string) *unstructured.Unstructured {
	app := &unstructured.Unstructured{}
	app.SetAPIVersion("argoproj.io/v1alpha1")
	app.SetKind("Application")
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, app)).To(Succeed())
	return app
}

func revision(t *testing.T, ns string) func() any {
	return func() any {
		v, found, _ := unstructured.NestedString(applicationObj(t, ns).Object, "spec", "source", "targetRevision")
		if !found {
			return nil
		}
		return v
	}
}

func argoDeploy(policy conchv1.DeployConflictPolicy) conchv1.Deploy {
	return conchv1.Deploy{
		Target:         conchv1.DeployTarget{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: "web"},
		Patch:          runtime.RawExtension{Raw: []byte(argoPatch)},
		ConflictPolicy: policy,
	}
}

func TestAnArgoCDApplicationFollowsTheHoldersRevisionAndIsWithdrawnAfter(t *testing.T) {
	ns := namespace(t)
	bindDeployRole(t, ns)
	application(t, ns)
	resource(t, ns, argoDeploy(""))
	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployReverted))
	NewWithT(t).Expect(revision(t, ns)()).To(Equal("main"), "nothing to withdraw before the first hold")

	rsv := reserve(t, ns, "deploy-pr-9", "revision", "pr-9")
	eventually(t, revision(t, ns)).Should(Equal("pr-9"))
	app := applicationObj(t, ns)
	NewWithT(t).Expect(app.GetAnnotations()).To(HaveKeyWithValue("conch.dev/holder", "alice@example.com"))
	NewWithT(t).Expect(owners(app, "f:targetRevision")).To(Equal([]string{conchv1.DeployFieldManager + "/Apply"}))
	NewWithT(t).Expect(owners(app, "f:repoURL")).To(Equal([]string{"argocd-controller/Apply"}))

	// No default: Conch withdraws what it set. It took targetRevision over, so the field goes (Argo CD follows
	// the repository's default branch, or its own sync sets it again); the annotation goes too.
	release(t, rsv)
	eventually(t, revision(t, ns)).Should(BeNil())
	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployReverted))
	app = applicationObj(t, ns)
	NewWithT(t).Expect(app.GetAnnotations()).NotTo(HaveKey("conch.dev/holder"))
	NewWithT(t).Expect(owners(app, "f:repoURL")).To(Equal([]string{"argocd-controller/Apply"}))
	for _, mf := range app.GetManagedFields() {
		NewWithT(t).Expect(mf.Manager).NotTo(Equal(conchv1.DeployFieldManager), "Conch owns nothing any more")
	}
}

func TestConflictPolicyFailLeavesAnotherManagersFieldAlone(t *testing.T) {
	ns := namespace(t)
	bindDeployRole(t, ns)
	application(t, ns)
	resource(t, ns, argoDeploy(conchv1.DeployConflictFail))
	reserve(t, ns, "deploy-pr-9", "revision", "pr-9")
	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployConflict))
	NewWithT(t).Expect(deployedCondition(t, ns).Message).To(And(
		ContainSubstring("conflictPolicy is Fail"), ContainSubstring(`.spec.source.targetRevision: conflict with "argocd-controller"`)))
	NewWithT(t).Expect(revision(t, ns)()).To(Equal("main"))
	eventually(t, events(ns)).Should(ContainElement("Reservation/" + conchv1.ReasonDeployConflict))
}

func TestAMissingParameterAppliesNothing(t *testing.T) {
	ns := namespace(t)
	bindDeployRole(t, ns)
	deployment(t, ns, "registry.example/web:1.0")
	resource(t, ns, webDeploy(""))
	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployReverted))

	reserve(t, ns, "no-revision", "tag", "v2")
	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployMissingParameter))
	NewWithT(t).Expect(deployedCondition(t, ns).Message).To(Equal(
		`the patch needs the parameter "revision", which the Reservation does not set (spec.parameters) (not applied for Reservation no-revision)`))
	eventually(t, events(ns)).Should(ContainElement("Reservation/" + conchv1.ReasonDeployMissingParameter))
	NewWithT(t).Expect(image(t, ns)()).To(Equal("registry.example/web:1.0"))
	d := &appsv1.Deployment{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, d)).To(Succeed())
	NewWithT(t).Expect(owners(d, "f:image")).To(Equal([]string{"platform/Update"}))
}

func TestATargetThatIsNotThere(t *testing.T) {
	ns := namespace(t)
	bindDeployRole(t, ns)

	t.Run("unknown kind", func(t *testing.T) {
		res := testutil.Resource("gadget").Namespace(ns).Obj()
		res.Spec.Deploy = conchv1.Deploy{
			Target: conchv1.DeployTarget{APIVersion: "example.com/v1", Kind: "Widget", Name: "w"},
			Patch:  runtime.RawExtension{Raw: []byte(`{"spec":{"x":"y"}}`)},
		}
		NewWithT(t).Expect(k8s.Create(ctx, res)).To(Succeed())
		eventually(t, func() string {
			got := &conchv1.Resource{}
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(res), got)
			c := meta.FindStatusCondition(got.Status.Conditions, conchv1.ResourceConditionDeployed)
			if c == nil {
				return ""
			}
			return c.Reason + ": " + c.Message
		}).Should(Equal("TargetNotFound: The API server serves no Widget example.com/v1 (is its CRD installed?)"))
	})

	t.Run("object created later", func(t *testing.T) {
		resource(t, ns, webDeploy(imageDefault))
		eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployTargetNotFound))
		NewWithT(t).Expect(deployedCondition(t, ns).Message).To(Equal("Deployment web not found in namespace " + ns))
		NewWithT(t).Consistently(image(t, ns)).WithTimeout(500*time.Millisecond).Should(ContainSubstring("not found"),
			"an apply never creates the target")
		deployment(t, ns, "registry.example/web:1.0")
		eventually(t, image(t, ns)).Should(Equal("registry.example/web:main"))
		eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployReverted))
	})
}

func TestForbiddenUntilTheDocumentedRoleIsBound(t *testing.T) {
	ns := namespace(t)
	deployment(t, ns, "registry.example/web:1.0")
	resource(t, ns, webDeploy(imageDefault))
	reserve(t, ns, "deploy-345", "revision", "pr-345")

	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployForbidden))
	eventually(t, func() string { return deployedCondition(t, ns).Message }).Should(Equal("The manager may not get deployments.apps in namespace " + ns +
		": an administrator binds it a Role that allows get and patch on them (https://github.com/conch-dev/conch/blob/main/docs/deploy.md)" +
		" (not applied for Reservation deploy-345)"))
	eventually(t, events(ns)).Should(ContainElements("Resource/"+conchv1.ReasonDeployForbidden, "Reservation/"+conchv1.ReasonDeployForbidden))
	NewWithT(t).Expect(image(t, ns)()).To(Equal("registry.example/web:1.0"))

	// Get alone is not enough: the message names patch once get is allowed.
	getOnly := &unstructured.Unstructured{}
	NewWithT(t).Expect(json.Unmarshal([]byte(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"get-only"},
		"rules":[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get"]}]}`), &getOnly.Object)).To(Succeed())
	getOnly.SetNamespace(ns)
	NewWithT(t).Expect(k8s.Create(ctx, getOnly)).To(Succeed())
	binding := &unstructured.Unstructured{}
	NewWithT(t).Expect(json.Unmarshal([]byte(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"get-only"},
		"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"get-only"},
		"subjects":[{"kind":"ServiceAccount","name":"conch-controller-manager","namespace":"conch-system"}]}`), &binding.Object)).To(Succeed())
	binding.SetNamespace(ns)
	NewWithT(t).Expect(k8s.Create(ctx, binding)).To(Succeed())
	eventually(t, func() string { return deployedCondition(t, ns).Message }).Should(HavePrefix("The manager may not patch deployments.apps in namespace " + ns))

	// The administrator binds the documented Role; the manager, retrying with backoff, deploys without a restart.
	bindDeployRole(t, ns)
	eventually(t, image(t, ns)).Should(Equal("registry.example/web:pr-345"))
	eventually(t, deployed(t, ns)).Should(Equal("True/" + conchv1.ReasonDeployApplied))
}

func TestTheAPIServerChecksDeploysAndParameters(t *testing.T) {
	ns := namespace(t)
	capacity2 := testutil.Resource("pool").Namespace(ns).Capacity(2).Obj()
	capacity2.Spec.Deploy = webDeploy("")
	NewWithT(t).Expect(k8s.Create(ctx, capacity2)).To(MatchError(ContainSubstring("deploy needs capacity 1")))

	bad := testutil.Reservation("bad").Namespace(ns).On("staging").Holder("alice").Obj()
	bad.Spec.Parameters = []conchv1.Parameter{{Name: "1revision", Value: "x"}}
	NewWithT(t).Expect(k8s.Create(ctx, bad)).To(MatchError(ContainSubstring("spec.parameters[0].name")))
	bad.Spec.Parameters = []conchv1.Parameter{{Name: "revision", Value: strings.Repeat("x", 257)}}
	NewWithT(t).Expect(k8s.Create(ctx, bad)).To(MatchError(ContainSubstring("spec.parameters[0].value")))
	bad.Spec.Parameters = nil
	for i := range 17 {
		bad.Spec.Parameters = append(bad.Spec.Parameters, conchv1.Parameter{Name: "p" + strings.Repeat("x", i), Value: "v"})
	}
	NewWithT(t).Expect(k8s.Create(ctx, bad)).To(MatchError(ContainSubstring("must have at most 16 items")))

	rsv := reserve(t, ns, "good", "revision", "pr-1")
	patch := client.MergeFrom(rsv.DeepCopy())
	rsv.Spec.Parameters[0].Value = "pr-2"
	NewWithT(t).Expect(k8s.Patch(ctx, rsv, patch)).To(MatchError(ContainSubstring("parameters cannot be changed")))
}

func TestAPatchThatCannotBeApplied(t *testing.T) {
	ns := namespace(t)
	bindDeployRole(t, ns)
	deployment(t, ns, "registry.example/web:1.0")

	// A placeholder Conch does not know is refused before anything is sent.
	typo := webDeploy("")
	typo.Patch.Raw = []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"web:{{ .Values.tag }}"}]}}}}`)
	resource(t, ns, typo)
	reserve(t, ns, "deploy-1", "revision", "pr-1")
	eventually(t, deployed(t, ns)).Should(Equal("False/" + conchv1.ReasonDeployInvalidPatch))
	NewWithT(t).Expect(deployedCondition(t, ns).Message).To(HavePrefix(
		"spec.deploy: spec.template.spec.containers[0].image: {{ .Values.tag }} is not a placeholder"))

	// One the API server refuses says what it said; fixing spec.deploy applies at once, in the same hold.
	setPatch(t, ns, `{"spec":{"replicas":"{{ .parameters.revision }}"}}`)
	eventually(t, func() string { return deployedCondition(t, ns).Message }).Should(
		HavePrefix("The API server refused the patch for Deployment web: "))
	NewWithT(t).Expect(deployed(t, ns)()).To(Equal("False/" + conchv1.ReasonDeployInvalidPatch))

	setPatch(t, ns, imagePatch)
	eventually(t, image(t, ns)).Should(Equal("registry.example/web:pr-1"))
	eventually(t, deployed(t, ns)).Should(Equal("True/" + conchv1.ReasonDeployApplied))
}

func TestRemovingTheDeployWithdrawsWhatConchSet(t *testing.T) {
	ns := namespace(t)
	bindDeployRole(t, ns)
	application(t, ns)
	resource(t, ns, argoDeploy(""))
	reserve(t, ns, "deploy-pr-9", "revision", "pr-9")
	eventually(t, revision(t, ns)).Should(Equal("pr-9"))

	res := &conchv1.Resource{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "staging"}, res)).To(Succeed())
	NewWithT(t).Expect(k8s.Patch(ctx, res, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"deploy":null}}`)))).To(Succeed())
	eventually(t, revision(t, ns)).Should(BeNil())
	eventually(t, deployed(t, ns)).Should(Equal("none"))
	NewWithT(t).Expect(resourceStatus(t, ns).Deploy).To(Equal(conchv1.DeployStatus{}))
	NewWithT(t).Expect(applicationObj(t, ns).GetAnnotations()).NotTo(HaveKey("conch.dev/holder"))
}

// setPatch replaces the staging Resource's spec.deploy.patch with a JSON patch: a merge patch would merge the
// old patch's fields into the new one.
func setPatch(t *testing.T, ns, patch string) {
	t.Helper()
	res := &conchv1.Resource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "staging"}}
	raw := `[{"op":"replace","path":"/spec/deploy/patch","value":` + patch + `}]`
	NewWithT(t).Expect(k8s.Patch(ctx, res, client.RawPatch(types.JSONPatchType, []byte(raw)))).To(Succeed())
}

// TestTheDocsExamplesAreAccepted creates, as a dry run, every whole Conch object in the YAML blocks of
// docs/deploy.md, docs/planning.md and the README (in a namespace of the test), so that they show nothing the API server refuses.
func TestTheDocsExamplesAreAccepted(t *testing.T) {
	ns := namespace(t)
	for file, want := range map[string]map[string]int{
		"docs/deploy.md":   {"Resource": 1, "Reservation": 1},
		"docs/planning.md": {"Resource": 1, "Reservation": 1},
		"README.md":        nil,
	} {
		b, err := os.ReadFile(filepath.Join(root, file))
		NewWithT(t).Expect(err).NotTo(HaveOccurred())
		kinds := map[string]int{}
		for _, block := range strings.Split(string(b), "```yaml\n")[1:] {
			block, _, _ = strings.Cut(block, "```")
			for _, doc := range strings.Split(block, "\n---\n") {
				u := &unstructured.Unstructured{}
				if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil || u.GetAPIVersion() != conchv1.GroupVersion.String() {
					continue
				}
				u.SetNamespace(ns)
				if err := k8s.Create(ctx, u, client.DryRunAll); err != nil {
					t.Errorf("%s: %s %s: %v", file, u.GetKind(), u.GetName(), err)
				}
				kinds[u.GetKind()]++
			}
		}
		if want != nil {
			NewWithT(t).Expect(kinds).To(Equal(want), file)
		} else {
			NewWithT(t).Expect(kinds).To(HaveKey("Resource"), file)
		}
	}
}

// TestAHandoverDeploysTheNextHolderStraightAway: when the next in line is granted as the holder releases, the
// target goes from one holder's revision to the next in one change, without the default in between.
func TestAHandoverDeploysTheNextHolderStraightAway(t *testing.T) {
	ns := namespace(t)
	bindDeployRole(t, ns)
	deployment(t, ns, "registry.example/web:1.0")
	resource(t, ns, webDeploy(imageDefault))
	first := reserve(t, ns, "first", "revision", "pr-1")
	eventually(t, image(t, ns)).Should(Equal("registry.example/web:pr-1"))
	second := reserve(t, ns, "second", "revision", "pr-2")
	eventually(t, func() int32 { return resourceStatus(t, ns).Waiting }).Should(BeEquivalentTo(1))
	d := &appsv1.Deployment{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, d)).To(Succeed())

	release(t, first)
	eventually(t, image(t, ns)).Should(Equal("registry.example/web:pr-2"))
	eventually(t, func() string { return resourceStatus(t, ns).Deploy.ReservationUID }).Should(Equal(string(second.UID)))
	after := &appsv1.Deployment{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, after)).To(Succeed())
	NewWithT(t).Expect(after.Generation).To(Equal(d.Generation+1), "one change of the spec, from pr-1 to pr-2")
}
