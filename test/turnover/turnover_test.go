// Package turnover tests the steps between holders end to end: a Resource's cleanup and health-check hooks run
// by the real manager against a real kube-apiserver and etcd (envtest). envtest runs no job controller, so the tests
// play its part and write the hook Jobs' status; HTTP hooks and event sinks are real HTTP servers. Each test runs
// a manager of its own, limited to its namespace, with a clock of its own, so that a test may step its clock (a
// periodic check, a timeout) without moving anyone else's.
package turnover

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
	"github.com/conch-dev/conch/internal/testutil"
)

var (
	suite *testenv.Suite
	k8s   client.Client
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, k8s = s, s.Client
		return func() {}, nil
	}))
}

var ctx = context.Background()

// startManager runs a manager for namespace ns with clock clk until the test ends; the returned function stops it
// earlier (a restart).
func startManager(t *testing.T, ns string, clk *testutil.StepClock) (stop func()) {
	t.Helper()
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, suite.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: clk, Namespaces: []string{ns}, SeveralPerProcess: true,
		EventSinkAllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stop = testenv.RunInBackground(mctx, t, cancel, mgr)
	t.Cleanup(stop)
	return stop
}

// setup makes a namespace and a manager for it.
func setup(t *testing.T) (string, *testutil.StepClock) {
	ns := suite.Namespace(t, "h")
	clk := testutil.NewStepClock()
	startManager(t, ns, clk)
	t.Cleanup(func() {
		if t.Failed() {
			var ress conchv1.ResourceList
			_ = k8s.List(ctx, &ress, client.InNamespace(ns))
			for _, r := range ress.Items {
				t.Logf("Resource %s: %+v", r.Name, r.Status)
			}
		}
	})
	return ns, clk
}

func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		NewWithT(t).Expect(k8s.Create(ctx, o)).To(Succeed())
	}
}

func resource(t *testing.T, ns, name string) *conchv1.Resource {
	t.Helper()
	res := &conchv1.Resource{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, res)).To(Succeed())
	return res
}

func phase(t *testing.T, ns, name string) func() conchv1.ResourcePhase {
	return func() conchv1.ResourcePhase { return resource(t, ns, name).Status.Phase }
}

// health returns "Status/Reason" of the Resource's Healthy condition, "" when it has none.
func health(t *testing.T, ns, name string) func() string {
	return func() string {
		c := meta.FindStatusCondition(resource(t, ns, name).Status.Conditions, conchv1.ResourceConditionHealthy)
		if c == nil {
			return ""
		}
		return string(c.Status) + "/" + c.Reason
	}
}

func state(t *testing.T, ns, name string) func() conchv1.ReservationState {
	return func() conchv1.ReservationState {
		r := &conchv1.Reservation{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
			return ""
		}
		return r.Status.State
	}
}

func release(t *testing.T, ns, name string) {
	t.Helper()
	r := &conchv1.Reservation{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r)).To(Succeed())
	patch := client.MergeFrom(r.DeepCopy())
	r.Spec.Released = true
	NewWithT(t).Expect(k8s.Patch(ctx, r, patch)).To(Succeed())
}

// hookJob waits for the named hook Job and returns it.
func hookJob(t *testing.T, ns, name string) *batchv1.Job {
	t.Helper()
	j := &batchv1.Job{}
	eventually(t, func() error { return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, j) }).Should(Succeed())
	return j
}

// finishJob plays the job controller: the Job completes, or fails with reason.
func finishJob(t *testing.T, j *batchv1.Job, ok bool, reason string) {
	t.Helper()
	now := metav1.Now()
	j.Status.StartTime = &now
	if ok {
		j.Status.CompletionTime, j.Status.Succeeded = &now, 1
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
	} else {
		j.Status.Failed = 1
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: reason, Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason, Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
		}
	}
	NewWithT(t).Expect(k8s.Status().Update(ctx, j)).To(Succeed())
}

// jobHook is a hook that runs a one-container Job.
func jobHook(timeout time.Duration) *conchv1.Hook {
	h := &conchv1.Hook{Job: &batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{{Name: "clean", Image: "busybox", Command: []string{"sh", "-c", "reset-staging"}}},
	}}}}}
	if timeout > 0 {
		h.Timeout = &metav1.Duration{Duration: timeout}
	}
	return h
}

// probe is a health endpoint whose answer a test sets.
type probe struct {
	status atomic.Int32
	hits   atomic.Int32
	srv    *httptest.Server
}

func newProbe(t *testing.T, status int) *probe {
	p := &probe{}
	p.status.Store(int32(status))
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.hits.Add(1)
		w.WriteHeader(int(p.status.Load()))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func httpCheck(url string, interval time.Duration) *conchv1.HealthCheck {
	hc := &conchv1.HealthCheck{Hook: conchv1.Hook{HTTP: conchv1.HTTPHook{URL: url}}}
	if interval > 0 {
		hc.Interval = &metav1.Duration{Duration: interval}
	}
	return hc
}

func envOf(j *batchv1.Job) map[string]string {
	out := map[string]string{}
	for _, e := range j.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e.Value
	}
	return out
}

func eventReasons(t *testing.T, ns, regarding string) func() []string {
	return func() []string {
		var list eventsv1.EventList
		_ = k8s.List(ctx, &list, client.InNamespace(ns))
		var out []string
		for _, e := range list.Items {
			if e.Regarding.Name == regarding {
				out = append(out, e.Reason)
			}
		}
		return out
	}
}

func TestACleanupJobRunsBetweenHoldersAndTheNextWaitsForIt(t *testing.T) {
	ns, _ := setup(t)
	res := testutil.Resource("staging").Namespace(ns).Obj()
	res.Spec.OnRelease = jobHook(0)
	create(t, res, testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj())
	eventually(t, state(t, ns, "alice")).Should(Equal(conchv1.StateGranted))
	create(t, testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj())
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateQueued))
	NewWithT(t).Expect(phase(t, ns, "staging")()).To(Equal(conchv1.PhaseHeld))

	release(t, ns, "alice")
	eventually(t, phase(t, ns, "staging")).Should(Equal(conchv1.PhaseCleaning))
	j := hookJob(t, ns, "staging-clean-1")
	g := NewWithT(t)
	g.Expect(metav1.IsControlledBy(j, resource(t, ns, "staging"))).To(BeTrue(), "the Job is owned by its Resource")
	g.Expect(envOf(j)).To(And(
		HaveKeyWithValue("CONCH_RESOURCE", "staging"), HaveKeyWithValue("CONCH_NAMESPACE", ns),
		HaveKeyWithValue("CONCH_STEP", "Cleaning"), HaveKeyWithValue("CONCH_PREVIOUS_HOLDER", "alice"),
		HaveKeyWithValue("CONCH_PREVIOUS_RESERVATION", "alice"), HaveKeyWithValue("CONCH_RELEASE_REASON", conchv1.ReasonReleased),
		HaveKeyWithValue("CONCH_NEXT_HOLDER", "bob"), HaveKeyWithValue("CONCH_NEXT_RESERVATION", "bob")))
	g.Expect(j.Spec.ActiveDeadlineSeconds).NotTo(BeNil(), "the Job controller stops it at the timeout too")
	g.Expect(*j.Spec.ActiveDeadlineSeconds).To(BeNumerically("<=", 600))
	g.Expect(state(t, ns, "bob")()).To(Equal(conchv1.StateQueued), "nobody is granted while the Resource is cleaned")
	avail := meta.FindStatusCondition(resource(t, ns, "staging").Status.Conditions, conchv1.ResourceConditionAvailable)
	g.Expect(avail.Reason).To(Equal("Cleaning"))
	g.Expect(avail.Message).To(ContainSubstring("Cleaning after alice"))

	finishJob(t, j, true, "")
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateGranted))
	eventually(t, phase(t, ns, "staging")).Should(Equal(conchv1.PhaseHeld))
	eventually(t, eventReasons(t, ns, "staging")).Should(ContainElement("CleanupSucceeded"))
	g.Expect(resource(t, ns, "staging").Status.Turnover).To(BeNil())
}

// sinkReceiver is an HTTP receiver of an EventSink (CloudEvents, structured), keeping the event types it got.
type sinkReceiver struct {
	mu    sync.Mutex
	types []string
	srv   *httptest.Server
}

func newSinkReceiver(t *testing.T) *sinkReceiver {
	s := &sinkReceiver{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(body, &ev) == nil && ev.Type != "" {
			s.mu.Lock()
			s.types = append(s.types, ev.Type)
			s.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sinkReceiver) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.types...)
}

func TestAFailedCleanupMakesTheResourceUnhealthyUntilRepaired(t *testing.T) {
	ns, _ := setup(t)
	sink := newSinkReceiver(t)
	create(t, testutil.EventSink("ops").Namespace(ns).URL(sink.srv.URL).Format(conchv1.EventSinkFormat("CloudEventsStructured")).
		Types(conchv1.EventResourceUnhealthy, conchv1.EventResourceHealthy).Obj())
	res := testutil.Resource("staging").Namespace(ns).Obj()
	res.Spec.OnRelease = jobHook(0)
	create(t, res, testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj())
	eventually(t, state(t, ns, "alice")).Should(Equal(conchv1.StateGranted))
	create(t, testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj())
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateQueued))

	release(t, ns, "alice")
	finishJob(t, hookJob(t, ns, "staging-clean-1"), false, "BackoffLimitExceeded")
	eventually(t, health(t, ns, "staging")).Should(Equal("False/" + conchv1.ReasonCleanupFailed))
	eventually(t, phase(t, ns, "staging")).Should(Equal(conchv1.PhaseUnhealthy))
	c := meta.FindStatusCondition(resource(t, ns, "staging").Status.Conditions, conchv1.ResourceConditionHealthy)
	NewWithT(t).Expect(c.Message).To(ContainSubstring("Job staging-clean-1 failed: BackoffLimitExceeded"))
	eventually(t, sink.got).Should(ContainElement(conchv1.EventResourceUnhealthy), "the sink is told")
	eventually(t, eventReasons(t, ns, "staging")).Should(ContainElement(conchv1.ReasonCleanupFailed))
	NewWithT(t).Expect(state(t, ns, "bob")()).To(Equal(conchv1.StateQueued), "nobody is granted an Unhealthy Resource")
	// Nothing moves by itself: the queue stays put, and no hook runs again.
	NewWithT(t).Consistently(state(t, ns, "bob")).WithTimeout(500 * time.Millisecond).Should(Equal(conchv1.StateQueued))
	var jobs batchv1.JobList
	NewWithT(t).Expect(k8s.List(ctx, &jobs, client.InNamespace(ns))).To(Succeed())
	NewWithT(t).Expect(jobs.Items).To(HaveLen(1))

	// The admin fixes it and repairs it (what `kubectl conch repair` does): no health check, so it is healthy.
	res = resource(t, ns, "staging")
	patch := client.MergeFrom(res.DeepCopy())
	res.Annotations = map[string]string{conchv1.AnnotationRepair: "2026-12-06T10:00:00Z"}
	NewWithT(t).Expect(k8s.Patch(ctx, res, patch)).To(Succeed())
	eventually(t, health(t, ns, "staging")).Should(Equal("True/" + conchv1.ReasonRepaired))
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateGranted))
	eventually(t, sink.got).Should(ContainElement(conchv1.EventResourceHealthy))
}

func TestAHealthCheckThatFailsWhileFreeIsRetriedAndNobodyIsGrantedMeanwhile(t *testing.T) {
	ns, clk := setup(t)
	p := newProbe(t, http.StatusOK)
	res := testutil.Resource("staging").Namespace(ns).Obj()
	res.Spec.HealthCheck = httpCheck(p.srv.URL+"/healthz", time.Minute)
	create(t, res)
	// A new Resource is checked before its first grant.
	eventually(t, health(t, ns, "staging")).Should(Equal("True/" + conchv1.ReasonCheckPassed))
	eventually(t, phase(t, ns, "staging")).Should(Equal(conchv1.PhaseAvailable))
	NewWithT(t).Expect(p.hits.Load()).To(BeEquivalentTo(1))

	p.status.Store(http.StatusServiceUnavailable)
	clk.Step(time.Minute)
	eventually(t, health(t, ns, "staging")).Should(Equal("False/" + conchv1.ReasonCheckFailed))
	c := meta.FindStatusCondition(resource(t, ns, "staging").Status.Conditions, conchv1.ResourceConditionHealthy)
	NewWithT(t).Expect(c.Message).To(ContainSubstring("503"))
	create(t, testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj())
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateQueued))
	r := &conchv1.Reservation{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bob"}, r)).To(Succeed())
	NewWithT(t).Expect(r.Status.EstimatedGrantTime).To(BeNil(), "an Unhealthy Resource promises no time")

	// Still failing at the next interval: still nobody.
	hits := p.hits.Load()
	clk.Step(time.Minute)
	eventually(t, p.hits.Load).Should(BeNumerically(">", hits))
	NewWithT(t).Expect(state(t, ns, "bob")()).To(Equal(conchv1.StateQueued))

	p.status.Store(http.StatusOK)
	clk.Step(time.Minute)
	eventually(t, health(t, ns, "staging")).Should(Equal("True/" + conchv1.ReasonCheckPassed))
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateGranted))
}

func TestCleanupThenHealthCheckThenTheNextHolder(t *testing.T) {
	ns, _ := setup(t)
	p := newProbe(t, http.StatusOK)
	res := testutil.Resource("staging").Namespace(ns).Obj()
	res.Spec.OnRelease = jobHook(0)
	res.Spec.HealthCheck = httpCheck(p.srv.URL, 0)
	create(t, res)
	eventually(t, health(t, ns, "staging")).Should(Equal("True/" + conchv1.ReasonCheckPassed))
	create(t, testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj())
	eventually(t, state(t, ns, "alice")).Should(Equal(conchv1.StateGranted))
	create(t, testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj())
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateQueued))

	p.status.Store(http.StatusInternalServerError) // the check after the cleanup fails first
	release(t, ns, "alice")
	finishJob(t, hookJob(t, ns, "staging-clean-2"), true, "")
	eventually(t, health(t, ns, "staging")).Should(Equal("False/" + conchv1.ReasonCheckFailed))
	NewWithT(t).Expect(state(t, ns, "bob")()).To(Equal(conchv1.StateQueued), "nobody is granted a Resource that failed its check")

	// Repaired: the check runs again, passes, and bob gets his turn.
	p.status.Store(http.StatusOK)
	res = resource(t, ns, "staging")
	patch := client.MergeFrom(res.DeepCopy())
	res.Annotations = map[string]string{conchv1.AnnotationRepair: "1"}
	NewWithT(t).Expect(k8s.Patch(ctx, res, patch)).To(Succeed())
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateGranted))
	NewWithT(t).Expect(health(t, ns, "staging")()).To(Equal("True/" + conchv1.ReasonCheckPassed))
	NewWithT(t).Expect(resource(t, ns, "staging").Status.HookSequence).To(BeEquivalentTo(4), "check, cleanup, check, check again")
}

func TestAHookThatHangsIsStoppedAtItsTimeout(t *testing.T) {
	ns, clk := setup(t)
	res := testutil.Resource("staging").Namespace(ns).Obj()
	res.Spec.OnRelease = jobHook(5 * time.Minute)
	create(t, res, testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj())
	eventually(t, state(t, ns, "alice")).Should(Equal(conchv1.StateGranted))
	release(t, ns, "alice")
	j := hookJob(t, ns, "staging-clean-1")
	NewWithT(t).Expect(*j.Spec.ActiveDeadlineSeconds).To(BeNumerically("<=", 300))

	clk.Step(5*time.Minute + time.Second)
	eventually(t, health(t, ns, "staging")).Should(Equal("False/" + conchv1.ReasonHookTimedOut))
	eventually(t, func() bool {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(j), &batchv1.Job{})
		// envtest has no garbage collector: a Job deleted in the background is gone at once, or marked for deletion.
		return apierrors.IsNotFound(err)
	}).Should(BeTrue(), "the hanging Job is deleted")
}

func TestAHookJobIsCreatedOnceAcrossARestart(t *testing.T) {
	ns := suite.Namespace(t, "h")
	clk := testutil.NewStepClock()
	stop := startManager(t, ns, clk)
	res := testutil.Resource("staging").Namespace(ns).Obj()
	res.Spec.OnRelease = jobHook(0)
	create(t, res, testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj())
	eventually(t, state(t, ns, "alice")).Should(Equal(conchv1.StateGranted))
	create(t, testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj())
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateQueued))
	release(t, ns, "alice")
	first := hookJob(t, ns, "staging-clean-1")

	stop()
	startManager(t, ns, clk)
	// The new manager finds the step recorded and its Job there: it waits for it rather than run it again.
	NewWithT(t).Consistently(func() int {
		var jobs batchv1.JobList
		_ = k8s.List(ctx, &jobs, client.InNamespace(ns))
		return len(jobs.Items)
	}).WithTimeout(time.Second).WithPolling(50 * time.Millisecond).Should(Equal(1))
	j := hookJob(t, ns, "staging-clean-1")
	NewWithT(t).Expect(j.UID).To(Equal(first.UID))
	finishJob(t, j, true, "")
	eventually(t, state(t, ns, "bob")).Should(Equal(conchv1.StateGranted))
	NewWithT(t).Expect(resource(t, ns, "staging").Status.HookSequence).To(BeEquivalentTo(1))
}

func TestAnInvalidJobTemplateSaysWhy(t *testing.T) {
	ns, _ := setup(t)
	res := testutil.Resource("staging").Namespace(ns).Obj()
	res.Spec.OnRelease = jobHook(0)
	res.Spec.OnRelease.Job.Spec.Template.Spec.Containers[0].Image = "" // the API server refuses a container without an image
	create(t, res, testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj())
	eventually(t, state(t, ns, "alice")).Should(Equal(conchv1.StateGranted))
	release(t, ns, "alice")
	eventually(t, health(t, ns, "staging")).Should(Equal("False/" + conchv1.ReasonInvalidHook))
	c := meta.FindStatusCondition(resource(t, ns, "staging").Status.Conditions, conchv1.ResourceConditionHealthy)
	NewWithT(t).Expect(c.Message).To(ContainSubstring("image"))
}
