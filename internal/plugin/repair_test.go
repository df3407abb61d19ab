package plugin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/plugin"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestRepair: a Resource whose cleanup failed is Unhealthy; `repair` needs an admin's right to patch Resources,
// and with it takes the Resource back (no health check: marked healthy) and the queue moves on.
func TestRepair(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := namespace(t)
	res := testutil.Resource("staging").Namespace(ns).Obj()
	res.Spec.OnRelease = &conchv1.Hook{Job: &batchv1.JobTemplateSpec{Spec: testutil.Job(ns, "clean").Spec}}
	createResource(t, res)
	alice := hold(t, ns, "staging", "alice")
	bob := testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").UID("").Obj()
	NewWithT(t).Expect(k8s.Create(ctx, bob)).To(Succeed())
	eventually(t, stateOf(ns, bob.Name)).Should(Equal(conchv1.StateQueued))

	if code := conch(ctx, ns, "repair", "staging").wait(t, 5*time.Second); code != 0 {
		t.Errorf("repair of a healthy Resource: exit %d, want 0 (nothing to do)", code)
	}
	if code := conch(ctx, ns, "off", "staging", "--holder", "alice").wait(t, 5*time.Second); code != 0 {
		t.Fatalf("off: exit %d", code)
	}
	eventually(t, stateOf(ns, alice.Name)).Should(Equal(conchv1.StateReleased))
	job := &batchv1.Job{}
	eventually(t, func() error { return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "staging-clean-1"}, job) }).Should(Succeed())
	now := metav1.Now()
	job.Status = batchv1.JobStatus{StartTime: &now, Failed: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
	}}
	NewWithT(t).Expect(k8s.Status().Update(ctx, job)).To(Succeed())
	unhealthy := func() bool {
		r := &conchv1.Resource{}
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "staging"}, r)
		return meta.IsStatusConditionFalse(r.Status.Conditions, conchv1.ResourceConditionHealthy)
	}
	eventually(t, unhealthy).Should(BeTrue())

	// An editor of Reservations may not repair: a clear refusal, and nothing changes.
	inv := conch(ctx, ns, "repair", "staging")
	if code := inv.wait(t, 5*time.Second); code != plugin.ExitFailure || !strings.Contains(inv.err.String(), "forbidden") {
		t.Errorf("repair without the right: exit %d, stderr %q; want %d and forbidden", code, inv.err.String(), plugin.ExitFailure)
	}
	NewWithT(t).Expect(unhealthy()).To(BeTrue())

	admin := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "repair"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{conchv1.GroupVersion.Group}, Resources: []string{"resources"}, Verbs: []string{"patch"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "repair"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "repair"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: pluginUser}},
	}
	NewWithT(t).Expect(k8s.Create(ctx, admin)).To(Succeed())
	NewWithT(t).Expect(k8s.Create(ctx, binding)).To(Succeed())
	inv = conch(ctx, ns, "repair", "staging", "--wait", "10s")
	if code := inv.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("repair: exit %d, stderr %q", code, inv.err.String())
	}
	NewWithT(t).Expect(inv.out.String()).To(ContainSubstring("staging is healthy (Repaired)"))
	eventually(t, stateOf(ns, bob.Name)).Should(Equal(conchv1.StateGranted))
}
