package integration

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// envtest has no kubelet and no job controller: these tests play their part by writing the status a Job, a Pod, a
// PipelineRun or a Workflow would get.

func job(t *testing.T, ns, name string) *batchv1.Job {
	t.Helper()
	j := testutil.Job(ns, name)
	create(t, j)
	return j
}

func pod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	p := testutil.Pod(ns, name)
	create(t, p)
	return p
}

func workload(t *testing.T, ns, apiVersion, kind, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"namespace": ns, "name": name}}}
	create(t, u)
	return u
}

// ended returns the state and Ready reason of a Reservation, "Released/HolderFinished".
func ended(t *testing.T, ns, name string) func() string {
	return func() string {
		r := reservation(t, ns, name)
		return string(r.Status.State) + "/" + condition(r, conchv1.ConditionReady).Reason
	}
}

func TestAJobThatCompletesReleasesItsHoldAndHandsOver(t *testing.T) {
	ns := namespace(t)
	j := job(t, ns, "deploy-42")
	create(t, testutil.Resource("staging").Namespace(ns).Obj())
	createInOrder(t,
		testutil.Reservation("deploy").Namespace(ns).On("staging").Holder("ci:deploy#42").HeldBy("batch/v1", "Job", "deploy-42").For(time.Hour).Obj(),
		testutil.Reservation("next").Namespace(ns).On("staging").Holder("ci:deploy#43").For(time.Hour).Obj())
	eventually(t, state(t, ns, "deploy")).Should(Equal(conchv1.StateGranted))

	now := metav1.Now()
	j.Status = batchv1.JobStatus{
		StartTime: &now, CompletionTime: &now, Succeeded: 1,
		Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	NewWithT(t).Expect(k8s.Status().Update(ctx, j)).To(Succeed())
	finished := time.Now()
	NewWithT(t).Eventually(ended(t, ns, "deploy")).WithTimeout(time.Second).WithPolling(10 * time.Millisecond).
		Should(Equal("Released/" + conchv1.ReasonHolderFinished))
	t.Logf("released %s after the Job completed", time.Since(finished))
	eventually(t, state(t, ns, "next")).Should(Equal(conchv1.StateGranted))
	r := reservation(t, ns, "deploy")
	NewWithT(t).Expect(condition(r, conchv1.ConditionReady).Message).To(ContainSubstring("Job deploy-42 finished (Job Complete)"))
	eventually(t, func() []string {
		var list eventsv1.EventList
		_ = k8s.List(ctx, &list, client.InNamespace(ns))
		var reasons []string
		for _, e := range list.Items {
			if e.Regarding.Name == "deploy" {
				reasons = append(reasons, e.Reason)
			}
		}
		return reasons
	}).Should(ContainElement(conchv1.ReasonHolderFinished))
}

func TestAHolderDeletedReleasesItsHold(t *testing.T) {
	ns := namespace(t)
	p := pod(t, ns, "step-1")
	held := testutil.Reservation("step").Namespace(ns).On("staging").Holder("ci:pipeline#7").HeldBy("v1", "Pod", "step-1").For(time.Hour).Obj()
	held.Spec.HeldBy.UID = string(p.UID) // as kubectl conch --held-by does: gone is gone, however soon
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), held)
	eventually(t, state(t, ns, "step")).Should(Equal(conchv1.StateGranted))
	// Not scheduled, the Pod goes at once; in a cluster the kubelet would confirm it stopped.
	NewWithT(t).Expect(k8s.Delete(ctx, p, client.GracePeriodSeconds(0))).To(Succeed())
	eventually(t, ended(t, ns, "step")).Should(Equal("Released/" + conchv1.ReasonHolderDeleted))
}

func TestAWaiterWhosePodFailsLeavesTheQueue(t *testing.T) {
	ns := namespace(t)
	p := pod(t, ns, "step-2")
	create(t, testutil.Resource("staging").Namespace(ns).Obj())
	createInOrder(t,
		testutil.Reservation("first").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj(),
		testutil.Reservation("crashed").Namespace(ns).On("staging").Holder("ci:p#2").HeldBy("v1", "Pod", "step-2").For(time.Hour).Obj(),
		testutil.Reservation("third").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj())
	eventually(t, state(t, ns, "crashed")).Should(Equal(conchv1.StateQueued))

	p.Status.Phase = corev1.PodFailed
	NewWithT(t).Expect(k8s.Status().Update(ctx, p)).To(Succeed())
	eventually(t, ended(t, ns, "crashed")).Should(Equal("Released/" + conchv1.ReasonHolderFinished))
	NewWithT(t).Expect(condition(reservation(t, ns, "crashed"), conchv1.ConditionReady).Message).To(ContainSubstring("left the queue"))
	eventually(t, func() int32 { return reservation(t, ns, "third").Status.Position }).Should(Equal(int32(1)))
	NewWithT(t).Expect(reservation(t, ns, "crashed").Status.GrantedAt).To(BeNil(), "never granted")
}

func TestTektonAndArgoRunsReleaseWhenTheyEnd(t *testing.T) {
	ns := namespace(t)
	pr := workload(t, ns, "tekton.dev/v1", "PipelineRun", "build-9")
	wf := workload(t, ns, "argoproj.io/v1alpha1", "Workflow", "e2e-3")
	create(t, testutil.Resource("staging").Namespace(ns).Capacity(2).Obj(),
		testutil.Reservation("tekton").Namespace(ns).On("staging").Holder("ci:build#9").HeldBy("tekton.dev/v1", "PipelineRun", "build-9").Obj(),
		testutil.Reservation("argo").Namespace(ns).On("staging").Holder("ci:e2e#3").HeldBy("argoproj.io/v1alpha1", "Workflow", "e2e-3").Obj())
	eventually(t, state(t, ns, "tekton")).Should(Equal(conchv1.StateGranted))
	eventually(t, state(t, ns, "argo")).Should(Equal(conchv1.StateGranted))

	running := []any{map[string]any{"type": "Succeeded", "status": "Unknown", "reason": "Running"}}
	NewWithT(t).Expect(unstructured.SetNestedSlice(pr.Object, running, "status", "conditions")).To(Succeed())
	NewWithT(t).Expect(k8s.Update(ctx, pr)).To(Succeed())
	NewWithT(t).Expect(unstructured.SetNestedField(wf.Object, "Running", "status", "phase")).To(Succeed())
	NewWithT(t).Expect(k8s.Update(ctx, wf)).To(Succeed())
	consistentlyGranted := NewWithT(t).Consistently(func() []conchv1.ReservationState {
		return []conchv1.ReservationState{reservation(t, ns, "tekton").Status.State, reservation(t, ns, "argo").Status.State}
	}).WithTimeout(time.Second).WithPolling(50 * time.Millisecond)
	consistentlyGranted.Should(Equal([]conchv1.ReservationState{conchv1.StateGranted, conchv1.StateGranted}), "running is not finished")

	failed := []any{map[string]any{"type": "Succeeded", "status": "False", "reason": "Failed"}}
	NewWithT(t).Expect(unstructured.SetNestedSlice(pr.Object, failed, "status", "conditions")).To(Succeed())
	NewWithT(t).Expect(k8s.Update(ctx, pr)).To(Succeed())
	eventually(t, ended(t, ns, "tekton")).Should(Equal("Released/" + conchv1.ReasonHolderFinished))
	NewWithT(t).Expect(unstructured.SetNestedField(wf.Object, "Error", "status", "phase")).To(Succeed())
	NewWithT(t).Expect(k8s.Update(ctx, wf)).To(Succeed())
	eventually(t, ended(t, ns, "argo")).Should(Equal("Released/" + conchv1.ReasonHolderFinished))
}

func TestAKindTheClusterDoesNotServeBreaksNothing(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Capacity(2).Obj(),
		testutil.Reservation("odd").Namespace(ns).On("staging").Holder("ci:x").HeldBy("example.com/v1", "Gadget", "g").Obj(),
		testutil.Reservation("plain").Namespace(ns).On("staging").Holder("bob").Obj())
	eventually(t, state(t, ns, "odd")).Should(Equal(conchv1.StateGranted))
	eventually(t, state(t, ns, "plain")).Should(Equal(conchv1.StateGranted))
	eventually(t, func() []string {
		var list eventsv1.EventList
		_ = k8s.List(ctx, &list, client.InNamespace(ns))
		var notes []string
		for _, e := range list.Items {
			if e.Reason == "HolderUnknown" {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}).Should(ContainElement(ContainSubstring("serves no example.com/v1, Kind=Gadget")))
}

func TestHeldByCannotBeChanged(t *testing.T) {
	ns := namespace(t)
	r := testutil.Reservation("r").Namespace(ns).On("staging").Holder("ci:x").HeldBy("batch/v1", "Job", "a").Obj()
	create(t, r)
	// A merge patch carries no resourceVersion, so the controller's own status writes cannot make it conflict;
	// only the API server's validation can refuse it.
	err := k8s.Patch(ctx, r, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"heldBy":{"name":"b"}}}`)))
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("heldBy cannot be changed")))
}

func TestAHolderAppliedAfterItsReservationIsWaitedFor(t *testing.T) {
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("gitops").Namespace(ns).On("staging").Holder("ci:sync").HeldBy("batch/v1", "Job", "migrate").For(time.Hour).Obj())
	eventually(t, state(t, ns, "gitops")).Should(Equal(conchv1.StateGranted))
	NewWithT(t).Consistently(state(t, ns, "gitops")).WithTimeout(time.Second).WithPolling(50*time.Millisecond).
		Should(Equal(conchv1.StateGranted), "a holder not created yet is given time to appear (HolderGrace)")
	j := job(t, ns, "migrate")
	now := metav1.Now()
	j.Status = batchv1.JobStatus{StartTime: &now, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"},
	}}
	NewWithT(t).Expect(k8s.Status().Update(ctx, j)).To(Succeed())
	eventually(t, ended(t, ns, "gitops")).Should(Equal("Released/" + conchv1.ReasonHolderFinished))
}
