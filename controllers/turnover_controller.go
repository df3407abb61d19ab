package controllers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// TurnoverReconciler runs the steps between holders that a Resource's hooks declare (spec.onRelease, then
// spec.healthCheck) and keeps its Healthy condition. The ResourceReconciler records a step in status.turnover,
// with the ledger, when a hold ends; this reconciler runs it (a Job it creates, or an HTTP request), then records the
// next step or clears it, which lets the queue move on. It also starts the periodic health checks of a free
// Resource and takes an Unhealthy one back when an admin repairs it. It is off the grant path: the grants wait for
// it only through status.turnover, and every write it makes carries a resourceVersion precondition, so that a step
// it starts on a stale view never overlaps a grant.
type TurnoverReconciler struct {
	// Client reads Resources from the manager's cache and writes their status, and creates and deletes Jobs.
	client.Client
	// APIReader reads hook Jobs from the API server (by name: a Job created a moment ago is not cached yet).
	APIReader client.Reader
	// Recorder emits Events on Resources (CleanupSucceeded, CleanupFailed, CheckPassed, CheckFailed, Repaired).
	Recorder events.EventRecorder
	// Clock tells the time; tests inject a clock they can step.
	Clock clock.PassiveClock
	// HTTP makes the requests of HTTP hooks; it must follow no redirect to places its guard refuses.
	HTTP *http.Client
	// Jobs serves the hook Jobs (those labelled conch.dev/hook-resource) to wake the Resource when one finishes;
	// SetupWithManager creates it when nil.
	Jobs cache.Cache
	// Namespaces limits the Jobs cache SetupWithManager creates to the manager's namespaces (nil: all).
	Namespaces []string
}

var _ reconcile.Reconciler = (*TurnoverReconciler)(nil)

// +kubebuilder:rbac:groups=conch.dev,resources=resources,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=resources/status,verbs=patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Default time limits of a hook run.
const (
	DefaultJobHookTimeout  = 10 * time.Minute
	DefaultHTTPHookTimeout = 10 * time.Second
	// hookJobTTL is how long a finished hook Job is kept for people to read its logs, unless its template says.
	hookJobTTL int32 = 3600
)

// Reconcile runs the step status.turnover records, or, when none runs, starts the check that is due: a repair,
// an edit of an Unhealthy Resource's spec, a periodic check of a free one.
func (r *TurnoverReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res := &conchv1.Resource{}
	if err := r.Get(ctx, req.NamespacedName, res); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()
	if res.Status.Turnover != nil {
		return r.runStep(ctx, res, now)
	}
	return r.idle(ctx, res, now)
}

// runStep runs the recorded step until it succeeds, fails or times out.
func (r *TurnoverReconciler) runStep(ctx context.Context, res *conchv1.Resource, now time.Time) (ctrl.Result, error) {
	t := res.Status.Turnover
	hook := hookOf(res, t.Step)
	if hook == nil {
		// The hook was removed from the spec while its step ran: nothing is left to wait for.
		return ctrl.Result{}, r.finish(ctx, res, t, stepResult{ok: true, message: "its hook was removed from the spec"}, now)
	}
	deadline := t.StartedAt.Add(hookTimeout(hook))
	var (
		out stepResult
		err error
	)
	if hook.Job != nil {
		out, err = r.runJob(ctx, res, t, hook, now, deadline)
	} else {
		out = r.probe(ctx, hook, now, deadline)
	}
	if err != nil || !out.done {
		if err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: max(deadline.Sub(now), time.Millisecond)}, nil
	}
	return ctrl.Result{}, r.finish(ctx, res, t, out, now)
}

// stepResult is how a run of a hook ended.
type stepResult struct {
	// done: it ended (ok or not); a run that is still going is not done.
	done, ok bool
	// reason is the Healthy condition's reason for a failure (CleanupFailed, CheckFailed, HookTimedOut,
	// InvalidHook); message says what happened, for people.
	reason, message string
}

func succeeded(msg string) stepResult { return stepResult{done: true, ok: true, message: msg} }

func failed(reason, msg string) stepResult {
	return stepResult{done: true, reason: reason, message: msg}
}

// runJob creates the step's Job once (its name comes from the step's sequence number, so that a restart finds it
// instead of running it again) and reads how it ended. A Job still running at the deadline is deleted, with its
// Pods, and the run counts as failed.
func (r *TurnoverReconciler) runJob(ctx context.Context, res *conchv1.Resource, t *conchv1.Turnover, hook *conchv1.Hook, now, deadline time.Time) (stepResult, error) {
	name := hookJobName(res.Name, t)
	job := &batchv1.Job{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: res.Namespace, Name: name}, job)
	switch {
	case apierrors.IsNotFound(err):
		if !now.Before(deadline) {
			return failed(conchv1.ReasonHookTimedOut, fmt.Sprintf("Job %s was not started before its timeout", name)), nil
		}
		job = hookJob(res, t, hook, name, deadline.Sub(now))
		if err := r.Create(ctx, job); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return stepResult{}, nil // created a moment ago: its events wake this again
			}
			if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
				return failed(conchv1.ReasonInvalidHook, fmt.Sprintf("Job %s could not be created: %v", name, err)), nil
			}
			return stepResult{}, err
		}
		ctrl.LoggerFrom(ctx).Info("Started a hook Job", "job", klog.KObj(job), "step", t.Step, "sequence", t.Sequence)
		return stepResult{}, nil
	case err != nil:
		return stepResult{}, err
	case !metav1.IsControlledBy(job, res):
		return failed(conchv1.ReasonInvalidHook, fmt.Sprintf("Job %s exists and is not this Resource's: rename or delete it", name)), nil
	}
	failure := stepFailure(t.Step)
	for _, c := range job.Status.Conditions {
		switch {
		case c.Status != corev1.ConditionTrue:
		case c.Type == batchv1.JobComplete:
			return succeeded(fmt.Sprintf("Job %s completed", name)), nil
		case c.Type == batchv1.JobFailed:
			return failed(failure, fmt.Sprintf("Job %s failed: %s", name, jobWhy(c))), nil
		}
	}
	if now.Before(deadline) {
		return stepResult{}, nil
	}
	if err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return stepResult{}, err
	}
	return failed(conchv1.ReasonHookTimedOut, fmt.Sprintf("Job %s ran longer than its timeout of %s and was deleted", name, hookTimeout(hook))), nil
}

// jobWhy is a Job condition's reason and message.
func jobWhy(c batchv1.JobCondition) string {
	switch {
	case c.Reason != "" && c.Message != "":
		return c.Reason + ": " + c.Message
	case c.Reason != "":
		return c.Reason
	}
	return c.Message
}

// probe makes an HTTP hook's request: a 2xx answer within the timeout succeeds.
func (r *TurnoverReconciler) probe(ctx context.Context, hook *conchv1.Hook, now, deadline time.Time) stepResult {
	failure := conchv1.ReasonCheckFailed
	if !now.Before(deadline) {
		return failed(conchv1.ReasonHookTimedOut, "GET "+hook.HTTP.URL+" was not answered before the timeout")
	}
	ctx, cancel := context.WithTimeout(ctx, deadline.Sub(now))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hook.HTTP.URL, nil)
	if err != nil {
		return failed(conchv1.ReasonInvalidHook, fmt.Sprintf("GET %s: %v", hook.HTTP.URL, err))
	}
	req.Header.Set("User-Agent", "conch")
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return failed(failure, fmt.Sprintf("GET %s: %v", hook.HTTP.URL, err))
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return failed(failure, fmt.Sprintf("GET %s answered %s", hook.HTTP.URL, resp.Status))
	}
	return succeeded(fmt.Sprintf("GET %s answered %s", hook.HTTP.URL, resp.Status))
}

// finish records how the step t ended: the next step (a check after a cleanup, one more cleanup for holds that
// ended meanwhile) or none, and the Healthy condition. A failure leaves the Resource Unhealthy.
func (r *TurnoverReconciler) finish(ctx context.Context, res *conchv1.Resource, t *conchv1.Turnover, out stepResult, now time.Time) error {
	before := res.DeepCopy()
	st := &res.Status
	healthy := metav1.Condition{
		Type: conchv1.ResourceConditionHealthy, ObservedGeneration: res.Generation, LastTransitionTime: metav1.NewTime(now),
	}
	if t.Step == conchv1.StepChecking {
		st.LastCheckTime = &metav1.Time{Time: now}
	}
	st.Turnover = nil
	switch {
	case !out.ok:
		if out.reason == conchv1.ReasonCheckFailed && t.Step == conchv1.StepCleaning {
			out.reason = conchv1.ReasonCleanupFailed
		}
		healthy.Status, healthy.Reason, healthy.Message = metav1.ConditionFalse, out.reason, out.message
		meta.SetStatusCondition(&st.Conditions, healthy)
	case t.Step == conchv1.StepCleaning && res.Spec.HealthCheck != nil:
		st.Turnover = r.next(st, conchv1.StepChecking, t, now)
		st.Turnover.EndedMeanwhile = t.EndedMeanwhile
	case t.EndedMeanwhile > 0 && res.Spec.OnRelease != nil:
		st.Turnover = r.next(st, conchv1.StepCleaning, t, now)
	}
	if out.ok && t.Step == conchv1.StepChecking {
		healthy.Status, healthy.Reason, healthy.Message = metav1.ConditionTrue, conchv1.ReasonCheckPassed, "Health check passed: "+out.message
		meta.SetStatusCondition(&st.Conditions, healthy)
	}
	setTurnover(res, st, now)
	if err := r.patchStatus(ctx, before, res); err != nil {
		return err
	}
	r.recordStep(res, t, out)
	return nil
}

// next returns the step that follows t, numbered after the last.
func (r *TurnoverReconciler) next(st *conchv1.ResourceStatus, step conchv1.TurnoverStep, t *conchv1.Turnover, now time.Time) *conchv1.Turnover {
	st.HookSequence++
	return &conchv1.Turnover{
		Step: step, Sequence: st.HookSequence, StartedAt: metav1.NewTime(now),
		PreviousHolder: t.PreviousHolder, PreviousReservation: t.PreviousReservation, ReleaseReason: t.ReleaseReason,
	}
}

// recordStep emits the Event of a finished step.
func (r *TurnoverReconciler) recordStep(res *conchv1.Resource, t *conchv1.Turnover, out stepResult) {
	switch {
	case !out.ok:
		r.Recorder.Eventf(res, nil, corev1.EventTypeWarning, out.reason, string(t.Step),
			"%s failed; nobody is granted %s until it passes a check or is repaired: %s", stepNoun(t.Step), res.Name, out.message)
	case t.Step == conchv1.StepCleaning:
		r.Recorder.Eventf(res, nil, corev1.EventTypeNormal, "CleanupSucceeded", string(t.Step), "Cleanup after %s succeeded: %s", orNobody(t.PreviousHolder), out.message)
	default:
		r.Recorder.Eventf(res, nil, corev1.EventTypeNormal, conchv1.ReasonCheckPassed, string(t.Step), "Health check passed: %s", out.message)
	}
}

// idle starts the check that is due on a Resource where no step runs: after a repair or an edit of the spec of an
// Unhealthy one, or every healthCheck.interval (a retry of a failed check, or a periodic check of a free one).
func (r *TurnoverReconciler) idle(ctx context.Context, res *conchv1.Resource, now time.Time) (ctrl.Result, error) {
	st := &res.Status
	health := meta.FindStatusCondition(st.Conditions, conchv1.ResourceConditionHealthy)
	unhealthy := health != nil && health.Status == metav1.ConditionFalse
	repair := res.Annotations[conchv1.AnnotationRepair]
	repairAsked := repair != "" && repair != st.Repair
	before := res.DeepCopy()
	switch {
	case unhealthy && (repairAsked || health.ObservedGeneration < res.Generation):
		st.Repair = repair
		if res.Spec.HealthCheck == nil {
			meta.SetStatusCondition(&st.Conditions, metav1.Condition{
				Type: conchv1.ResourceConditionHealthy, Status: metav1.ConditionTrue, Reason: conchv1.ReasonRepaired,
				Message: "Repaired by an admin", ObservedGeneration: res.Generation, LastTransitionTime: metav1.NewTime(now),
			})
			setTurnover(res, st, now)
			if err := r.patchStatus(ctx, before, res); err != nil {
				return ctrl.Result{}, err
			}
			r.Recorder.Eventf(res, nil, corev1.EventTypeNormal, conchv1.ReasonRepaired, "Repair", "Marked healthy by a repair; granting resumes")
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, r.startCheck(ctx, before, res, now)
	case repairAsked:
		st.Repair = repair // nothing to repair: remember it was seen
		return ctrl.Result{}, r.patchStatus(ctx, before, res)
	}
	hc := res.Spec.HealthCheck
	if hc == nil || hc.Interval == nil || st.LastCheckTime == nil || (!unhealthy && len(st.Holders) > 0) {
		return ctrl.Result{}, nil
	}
	if due := st.LastCheckTime.Add(hc.Interval.Duration); now.Before(due) {
		return ctrl.Result{RequeueAfter: due.Sub(now)}, nil
	}
	return ctrl.Result{}, r.startCheck(ctx, before, res, now)
}

// startCheck records a health check as the step that runs now; the next Reconcile runs it.
func (r *TurnoverReconciler) startCheck(ctx context.Context, before, res *conchv1.Resource, now time.Time) error {
	st := &res.Status
	st.HookSequence++
	st.Turnover = &conchv1.Turnover{Step: conchv1.StepChecking, Sequence: st.HookSequence, StartedAt: metav1.NewTime(now)}
	setTurnover(res, st, now)
	return r.patchStatus(ctx, before, res)
}

// patchStatus writes res's status with a precondition on the version read: a write that loses to the ledger (a
// grant, an end) is retried on a fresh read.
func (r *TurnoverReconciler) patchStatus(ctx context.Context, before, res *conchv1.Resource) error {
	patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	if err := r.Status().Patch(ctx, res, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	return nil
}

// hookOf returns the hook that runs step on res, nil when the spec has none.
func hookOf(res *conchv1.Resource, step conchv1.TurnoverStep) *conchv1.Hook {
	switch {
	case step == conchv1.StepCleaning:
		return res.Spec.OnRelease
	case res.Spec.HealthCheck != nil:
		return &res.Spec.HealthCheck.Hook
	}
	return nil
}

// hookTimeout is a hook's time limit, with the defaults.
func hookTimeout(h *conchv1.Hook) time.Duration {
	switch {
	case h.Timeout != nil:
		return h.Timeout.Duration
	case h.Job != nil:
		return DefaultJobHookTimeout
	}
	return DefaultHTTPHookTimeout
}

// stepFailure is the Healthy condition's reason when step fails.
func stepFailure(step conchv1.TurnoverStep) string {
	if step == conchv1.StepCleaning {
		return conchv1.ReasonCleanupFailed
	}
	return conchv1.ReasonCheckFailed
}

func stepNoun(step conchv1.TurnoverStep) string {
	if step == conchv1.StepCleaning {
		return "Cleanup"
	}
	return "Health check"
}

func orNobody(holder string) string {
	if holder == "" {
		return "nobody"
	}
	return holder
}

// hookJobName is the name of the Job that runs step t of the Resource named resource: the same for the same step
// whoever creates it, so that a restart never runs a step twice. It fits the 63 characters a Job name may have.
func hookJobName(resource string, t *conchv1.Turnover) string {
	suffix := fmt.Sprintf("-clean-%d", t.Sequence)
	if t.Step == conchv1.StepChecking {
		suffix = fmt.Sprintf("-check-%d", t.Sequence)
	}
	if n := 63 - len(suffix); len(resource) > n {
		resource = resource[:n]
	}
	return resource + suffix
}

// hookJob builds the Job of step t from the hook's template: owned by the Resource, labelled so that the
// TurnoverReconciler sees it, with the step's facts in every container's environment, and stopped by the Job
// controller itself at the timeout (activeDeadlineSeconds) unless the template sets a shorter one.
func hookJob(res *conchv1.Resource, t *conchv1.Turnover, hook *conchv1.Hook, name string, left time.Duration) *batchv1.Job {
	tmpl := hook.Job.DeepCopy()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: res.Namespace, Labels: tmpl.Labels, Annotations: tmpl.Annotations,
		},
		Spec: tmpl.Spec,
	}
	if job.Labels == nil {
		job.Labels = map[string]string{}
	}
	job.Labels[conchv1.LabelHookResource] = res.Name
	job.Labels[conchv1.LabelHookStep] = map[conchv1.TurnoverStep]string{conchv1.StepCleaning: "cleaning", conchv1.StepChecking: "checking"}[t.Step]
	job.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(res, conchv1.GroupVersion.WithKind("Resource"))}
	if secs := int64(max(left.Round(time.Second), time.Second) / time.Second); job.Spec.ActiveDeadlineSeconds == nil || *job.Spec.ActiveDeadlineSeconds > secs {
		job.Spec.ActiveDeadlineSeconds = &secs
	}
	if job.Spec.TTLSecondsAfterFinished == nil {
		ttl := hookJobTTL
		job.Spec.TTLSecondsAfterFinished = &ttl
	}
	if job.Spec.Template.Spec.RestartPolicy == "" {
		job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
	var next, nextRsv string
	if len(res.Status.Queue) > 0 {
		next, nextRsv = res.Status.Queue[0].Holder, res.Status.Queue[0].Reservation
	}
	env := []corev1.EnvVar{
		{Name: "CONCH_RESOURCE", Value: res.Name},
		{Name: "CONCH_NAMESPACE", Value: res.Namespace},
		{Name: "CONCH_STEP", Value: string(t.Step)},
		{Name: "CONCH_PREVIOUS_HOLDER", Value: t.PreviousHolder},
		{Name: "CONCH_PREVIOUS_RESERVATION", Value: t.PreviousReservation},
		{Name: "CONCH_RELEASE_REASON", Value: t.ReleaseReason},
		{Name: "CONCH_NEXT_HOLDER", Value: next},
		{Name: "CONCH_NEXT_RESERVATION", Value: nextRsv},
	}
	for _, cs := range [][]corev1.Container{job.Spec.Template.Spec.InitContainers, job.Spec.Template.Spec.Containers} {
		for i := range cs {
			cs[i].Env = append(cs[i].Env, env...)
		}
	}
	return job
}

// hooked passes the Resources the TurnoverReconciler has work for: with hooks, a step running, or a Healthy
// condition (an Unhealthy Resource whose hooks were removed still needs its repair).
func hooked(o client.Object) bool {
	res, ok := o.(*conchv1.Resource)
	return ok && (res.Spec.OnRelease != nil || res.Spec.HealthCheck != nil || res.Status.Turnover != nil ||
		meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionHealthy) != nil)
}

// SetupWithManager runs the reconciler for Resources with hooks, woken by their changes and by their hook Jobs.
// The Jobs are watched through a cache of their own that holds only Jobs labelled conch.dev/hook-resource, so that
// a cluster's other Jobs cost nothing.
func (r *TurnoverReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if r.Jobs == nil {
		sel := labels.NewSelector()
		req, err := labels.NewRequirement(conchv1.LabelHookResource, selection.Exists, nil)
		if err != nil {
			return err
		}
		c, err := cache.New(mgr.GetConfig(), cache.Options{
			Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
			DefaultLabelSelector: sel.Add(*req), DefaultNamespaces: cacheNamespaces(r.Namespaces),
		})
		if err != nil {
			return err
		}
		if err := mgr.Add(c); err != nil {
			return err
		}
		r.Jobs = c
	}
	if r.HTTP == nil {
		r.HTTP = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	toResource := handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, j *batchv1.Job) []reconcile.Request {
		name := j.Labels[conchv1.LabelHookResource]
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: j.Namespace, Name: name}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("turnover").
		For(&conchv1.Resource{}, builder.WithPredicates(predicate.NewPredicateFuncs(hooked))).
		WatchesRawSource(source.Kind(r.Jobs, &batchv1.Job{}, toResource, predicate.TypedFuncs[*batchv1.Job]{
			UpdateFunc: func(e event.TypedUpdateEvent[*batchv1.Job]) bool {
				return jobEnded(e.ObjectNew) != jobEnded(e.ObjectOld)
			},
		})).
		WithOptions(opts).
		Complete(r)
}

// jobEnded reports whether a Job is Complete or Failed.
func jobEnded(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// cacheNamespaces is the cache configuration for a list of namespaces (nil: all).
func cacheNamespaces(nss []string) map[string]cache.Config {
	if len(nss) == 0 {
		return nil
	}
	out := make(map[string]cache.Config, len(nss))
	for _, ns := range nss {
		out[ns] = cache.Config{}
	}
	return out
}
