package standup

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// TestSlackEditsSurviveServerSideApply backs what docs/standup.md says of Flux: a skip date and an away entry
// added the way the Slack commands add them (a merge patch of the whole list) are not removed when the manifest
// from Git, which lists other entries, is applied again with server-side apply.
func TestSlackEditsSurviveServerSideApply(t *testing.T) {
	ns := namespace(t)
	g := NewWithT(t)
	manifest := `apiVersion: conch.dev/v1alpha1
kind: Standup
metadata: {name: gitops, namespace: ` + ns + `}
spec:
  channel: CTEAM
  schedule: "0 9 * * 1-5"
  participants: [UALICE, UBOB]
  questions: ["Yesterday?"]
  skipDates: ["2099-12-25"]
  away: [{user: UALICE, until: "2099-08-31"}]
`
	apply := func() {
		obj := &unstructured.Unstructured{}
		g.Expect(yaml.Unmarshal([]byte(manifest), &obj.Object)).To(Succeed())
		g.Expect(k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("kustomize-controller"), client.ForceOwnership)).To(Succeed())
	}
	apply()

	st := &conchv1.Standup{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gitops"}, st)).To(Succeed())
	patch := client.MergeFromWithOptions(st.DeepCopy(), client.MergeFromWithOptimisticLock{})
	st.Spec.SkipDates = append(st.Spec.SkipDates, "2099-01-02")
	st.Spec.Away = append(st.Spec.Away, conchv1.StandupAway{User: "UBOB", Until: "2099-01-09"})
	g.Expect(k8s.Patch(ctx, st, patch, client.FieldOwner("conch-slack"))).To(Succeed())

	apply()
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(st), st)).To(Succeed())
	g.Expect(st.Spec.SkipDates).To(ConsistOf("2099-12-25", "2099-01-02"))
	g.Expect(st.Spec.Away).To(ConsistOf(conchv1.StandupAway{User: "UALICE", Until: "2099-08-31"}, conchv1.StandupAway{User: "UBOB", Until: "2099-01-09"}))
}
