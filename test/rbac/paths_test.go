package rbac

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// eventSinkDelivers: an EventSink with a signing key in a Secret hears of a grant; its status says it delivered.
func (h *harness) eventSinkDelivers() {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	h.t.Cleanup(srv.Close)
	h.create(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "conch-eventsink-keys"},
			StringData: map[string]string{"key": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		testutil.EventSink("hooks").Namespace(h.ns).URL(srv.URL).Key("conch-eventsink-keys", "key").Obj(),
		testutil.Resource("sink-env").Namespace(h.ns).Obj(),
		testutil.Reservation("sink-user").Namespace(h.ns).On("sink-env").Holder("ci:sink").Obj(),
	)
	h.eventually(got.Load).Should(BeNumerically(">=", 1))
	h.eventually(func() bool {
		s := &conchv1.EventSink{}
		if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: "hooks"}, s); err != nil {
			return false
		}
		return meta.IsStatusConditionTrue(s.Status.Conditions, conchv1.ConditionReady) && s.Status.LastDeliveryTime != nil
	}).Should(BeTrue(), "the sink's status says it delivered")
}

// holdersEnd: Reservations held by a Pod, a Job, a PipelineRun, a TaskRun and a Workflow, each named before it
// exists (the manager asks the API server, as a cache miss may be lag) and released when it ends.
func (h *harness) holdersEnd() {
	type holder struct{ apiVersion, kind, name string }
	holders := []holder{
		{"v1", "Pod", "step"}, {"batch/v1", "Job", "migrate"}, {"tekton.dev/v1", "PipelineRun", "build"},
		{"tekton.dev/v1", "TaskRun", "unit"}, {"argoproj.io/v1alpha1", "Workflow", "e2e"},
	}
	h.create(testutil.Resource("held").Namespace(h.ns).Capacity(int32(len(holders))).Obj())
	for _, w := range holders {
		h.create(testutil.Reservation("held-"+w.name).Namespace(h.ns).On("held").Holder("ci:"+w.name).
			HeldBy(w.apiVersion, w.kind, w.name).For(time.Hour).Obj())
		h.eventually(h.stateOf("held-" + w.name)).Should(Equal(conchv1.StateGranted))
	}
	now := metav1.Now()
	for _, w := range holders {
		var obj client.Object
		switch w.kind {
		case "Pod":
			obj = testutil.Pod(h.ns, w.name)
		case "Job":
			obj = testutil.Job(h.ns, w.name)
		default:
			u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": w.apiVersion, "kind": w.kind,
				"metadata": map[string]any{"namespace": h.ns, "name": w.name}}}
			if w.kind == "Workflow" {
				u.Object["status"] = map[string]any{"phase": "Succeeded"}
			} else {
				u.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Succeeded", "status": "True"}}}
			}
			obj = u
		}
		h.create(obj)
		switch o := obj.(type) {
		case *corev1.Pod:
			o.Status.Phase = corev1.PodSucceeded
			NewWithT(h.t).Expect(k8s.Status().Update(h.ctx, o)).To(Succeed())
		case *batchv1.Job:
			o.Status = batchv1.JobStatus{StartTime: &now, Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}}
			NewWithT(h.t).Expect(k8s.Status().Update(h.ctx, o)).To(Succeed())
		}
	}
	for _, w := range holders {
		h.eventually(h.stateOf("held-"+w.name)).Should(Equal(conchv1.StateReleased), "held by %s %s", w.kind, w.name)
	}
	// Held by objects that are gone (named with the UID they had): the cache does not show them, the API server
	// confirms, and the hold ends at once.
	for _, w := range holders {
		r := testutil.Reservation("gone-"+w.name).Namespace(h.ns).On("held").Holder("ci:"+w.name).
			HeldBy(w.apiVersion, w.kind, w.name+"-gone").For(time.Hour).Obj()
		r.Spec.HeldBy.UID = "0c1d2e3f-0000-4000-8000-000000000000"
		h.create(r)
		h.eventually(h.stateOf(r.Name)).Should(Equal(conchv1.StateReleased), "held by %s %s-gone", w.kind, w.name)
	}
}

// hooksRunAndTimeOut releases a hold on a Resource with a cleanup Job: the manager creates the Job, and deletes it
// when it runs past its timeout.
func (h *harness) hooksRunAndTimeOut() {
	res := testutil.Resource("cleaned").Namespace(h.ns).Obj()
	res.Spec.OnRelease = &conchv1.Hook{
		Job:     &batchv1.JobTemplateSpec{Spec: testutil.Job(h.ns, "template").Spec},
		Timeout: &metav1.Duration{Duration: time.Minute},
	}
	h.create(res)
	h.create(testutil.Reservation("to-clean").Namespace(h.ns).On("cleaned").Holder("ci:clean").For(time.Hour).Obj())
	h.eventually(h.stateOf("to-clean")).Should(Equal(conchv1.StateGranted))
	r := &conchv1.Reservation{}
	NewWithT(h.t).Expect(k8s.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: "to-clean"}, r)).To(Succeed())
	patch := client.MergeFrom(r.DeepCopy())
	r.Spec.Released = true
	NewWithT(h.t).Expect(k8s.Patch(h.ctx, r, patch)).To(Succeed())
	job := &batchv1.Job{}
	h.eventually(func() error { return k8s.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: "cleaned-clean-1"}, job) }).Should(Succeed())
	h.clk.Step(time.Minute + time.Second)
	h.eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(h.ctx, client.ObjectKeyFromObject(job), &batchv1.Job{}))
	}).Should(BeTrue(), "the hook Job that ran past its timeout is deleted")
}
