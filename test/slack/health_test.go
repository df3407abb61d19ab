package slack

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestTheChannelIsToldWhenACleanupFails: a Resource whose cleanup Job fails after a hold becomes Unhealthy, and
// its channel is told why and how to repair it, escaped; once repaired, the channel hears it is healthy again.
func TestTheChannelIsToldWhenACleanupFails(t *testing.T) {
	h := setup(t)
	ctx := context.Background()
	res := h.resource("staging").Obj()
	res.Spec.SlackChannel = stagingChannel
	res.Spec.OnRelease = &conchv1.Hook{Job: &batchv1.JobTemplateSpec{Spec: testutil.Job(h.ns, "clean").Spec}}
	h.create(res)
	h.dibs(alice, "staging for 1h")
	h.eventually(func() conchv1.ReservationState {
		if r := h.reservationOf(alice)(); r != nil {
			return r.Status.State
		}
		return ""
	}).Should(Equal(conchv1.StateGranted))
	h.dibs(alice, "off staging")

	job := &batchv1.Job{}
	h.eventually(func() error { return k8s.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "staging-clean-1"}, job) }).Should(Succeed())
	now := metav1.Now()
	job.Status = batchv1.JobStatus{StartTime: &now, Failed: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "<!channel> wiped", LastTransitionTime: now},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "<!channel> wiped", LastTransitionTime: now},
	}}
	NewWithT(t).Expect(k8s.Status().Update(ctx, job)).To(Succeed())
	channel := func() []string { return texts(h.posts(stagingChannel)()) }
	h.eventually(channel).Should(containing("*staging* is unhealthy (CleanupFailed: Job staging-clean-1 failed: BackoffLimitExceeded: &lt;!channel&gt; wiped)"))
	NewWithT(t).Expect(channel()).To(containing("kubectl conch repair staging -n " + h.ns))

	cur := &conchv1.Resource{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "staging"}, cur)).To(Succeed())
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Annotations = map[string]string{conchv1.AnnotationRepair: time.Now().UTC().Format(time.RFC3339)}
	NewWithT(t).Expect(k8s.Patch(ctx, cur, patch)).To(Succeed())
	h.eventually(channel).Should(containing("*staging* is healthy again"))
}
