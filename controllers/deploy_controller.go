package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clientworkqueue "k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/deploy"
)

// DeployDocs is where the Role a deploy target needs is documented; the Forbidden condition points there.
const DeployDocs = "https://github.com/conch-dev/conch/blob/main/docs/deploy.md"

// Backoff of the deploy controller's retries (a target not found yet, RBAC not granted yet): from
// deployRetryBase, doubling, to at most deployRetryMax between two tries.
const (
	deployRetryBase = 250 * time.Millisecond
	deployRetryMax  = 2 * time.Minute
)

// DeployReconciler applies a Resource's spec.deploy to its target when a hold starts and reverts it when the hold
// ends (docs/deploy.md). It is not on the grant path: it follows the ledger (status.holders) the ResourceReconciler
// wrote, and a slow or refused apply delays nobody's grant. It applies with server-side apply under the field
// manager conch-deploy, records what it applied and for which hold in status.deploy (so that a restart applies
// nothing twice and an end is reverted once), and says how it went in the Resource's Deployed condition and in
// Events on the Resource and the holding Reservation.
type DeployReconciler struct {
	// Client reads Reservations from the manager's cache and writes Resource status.
	client.Client
	// APIReader reads the Resource from the API server: its status.deploy is the record decisions start from.
	APIReader client.Reader
	// Target reads and applies the deploy targets. It must have no cache: a target is any kind, and watching
	// every kind someone names would need list and watch on it.
	Target   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
}

var _ reconcile.Reconciler = (*DeployReconciler)(nil)

// The DeployReconciler reads Resources and Reservations and writes Resource status. It is granted nothing on the
// targets: an administrator binds a Role for the kinds and names it may patch (docs/deploy.md).
// +kubebuilder:rbac:groups=conch.dev,resources=resources,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=resources/status,verbs=patch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Resource's deploy target in line with its ledger.
func (r *DeployReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := r.reconcile(ctx, req)
	if errors.Is(err, errRecordLost) {
		// Its record lost to another write of the Resource's status (the ledger, a hook): decide again on a fresh
		// read soon, without the backoff that is for refusals of the target (RBAC, a missing object), which a
		// string of conflicts on a busy Resource would otherwise stretch to seconds.
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	return res, err
}

// conflictRetry is how soon the deploy is decided again after its record lost to another write.
const conflictRetry = 50 * time.Millisecond

// errRecordLost says the record of the deploy in the Resource's status lost to another write (a conflict). A
// conflict of the target's own (another field manager, under conflictPolicy Fail) is a refusal, retried with backoff.
var errRecordLost = errors.New("the deploy's record lost to another write of the Resource's status")

// reconcile is one decision: what the target should have, apply it, record it.
func (r *DeployReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// The Resource from the API server, not the cache: status.deploy is the record every decision starts from, and
	// a record written on a stale copy could forget what is applied.
	res := &conchv1.Resource{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, res); err != nil {
		// A deleted Resource leaves its target as it is: nobody holds it any more, and nothing records the default.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Step 1: what should be applied, from the spec, the ledger's holder and its Reservation.
	holding, err := r.holding(ctx, res)
	if err != nil {
		return ctrl.Result{}, err
	}
	p, err := deploy.Decide(res, holding)
	var missing *deploy.MissingParameterError
	var invalid *deploy.InvalidPatchError
	switch {
	case errors.Is(err, deploy.ErrHolderUnseen):
		return ctrl.Result{RequeueAfter: time.Second}, nil // the cache has not seen the new holder yet
	case errors.As(err, &missing):
		// Nothing is applied; the Reservation's parameters cannot change, so only a new spec or hold helps.
		return ctrl.Result{}, r.fail(ctx, res, holding, conchv1.ReasonDeployMissingParameter, err.Error())
	case errors.As(err, &invalid):
		return ctrl.Result{}, r.fail(ctx, res, holding, conchv1.ReasonDeployInvalidPatch, "spec.deploy: "+err.Error())
	case err != nil:
		return ctrl.Result{}, err
	case p == nil:
		return ctrl.Result{}, r.forget(ctx, res)
	}
	// Step 2: nothing to apply when status.deploy records that this is in place (after a restart, or a hold
	// that could not be deployed ended); the condition says so again.
	if deploy.Done(&res.Status.Deploy, p) {
		_, err := r.record(ctx, res, deployedCondition(res, holding, p), nil)
		return ctrl.Result{}, err
	}
	// Step 3: apply, then record it. A refusal is a condition, and retried with backoff: RBAC may be granted,
	// the target created, a conflicting manager let go.
	if reason, msg, err := r.apply(ctx, res, p); err != nil {
		if reason == "" {
			return ctrl.Result{}, err
		}
		if ferr := r.fail(ctx, res, holding, reason, msg); ferr != nil {
			return ctrl.Result{}, ferr
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.applied(ctx, res, holding, p)
}

// holding returns the Reservation of the Resource's first holder, from the cache; nil when nobody holds it or it
// is not there (yet, or any more).
func (r *DeployReconciler) holding(ctx context.Context, res *conchv1.Resource) (*conchv1.Reservation, error) {
	if !res.Spec.Deploy.IsSet() || len(res.Status.Holders) == 0 {
		return nil, nil
	}
	rsv := &conchv1.Reservation{}
	err := r.Get(ctx, types.NamespacedName{Namespace: res.Namespace, Name: res.Status.Holders[0].Reservation}, rsv)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return rsv, err
}

// apply applies p's object to its target with the field manager conch-deploy. It reads the target's metadata
// first and applies with its resourceVersion as a precondition, so that an apply never creates a target that
// does not exist. A refusal Conch can explain returns its reason and message with the error.
func (r *DeployReconciler) apply(ctx context.Context, res *conchv1.Resource, p *deploy.Plan) (reason, msg string, err error) {
	t := p.Target
	gv, err := schema.ParseGroupVersion(t.APIVersion)
	if err != nil {
		return conchv1.ReasonDeployTargetNotFound, fmt.Sprintf("spec.deploy.target.apiVersion %q: %v", t.APIVersion, err), reconcile.TerminalError(err)
	}
	gvk := gv.WithKind(t.Kind)
	mapping, err := r.Target.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return conchv1.ReasonDeployTargetNotFound, fmt.Sprintf("The API server serves no %s %s (is its CRD installed?)", t.Kind, t.APIVersion), err
		}
		return "", "", err
	}
	what := mapping.Resource.GroupResource().String()
	key := types.NamespacedName{Namespace: res.Namespace, Name: t.Name}
	force := res.Spec.Deploy.ConflictPolicy != conchv1.DeployConflictFail || p.Applied == conchv1.DeployAppliedWithdrawn
	opts := []client.ApplyOption{client.FieldOwner(conchv1.DeployFieldManager)}
	if force {
		// Force takes over the fields of the patch from whoever set them; docs/deploy.md says so. A withdrawal
		// sets no field, so forcing it changes nothing but never fails.
		opts = append(opts, client.ForceOwnership)
	}
	for range 3 {
		current := &metav1.PartialObjectMetadata{}
		current.SetGroupVersionKind(gvk)
		if err := r.Target.Get(ctx, key, current); err != nil {
			switch {
			case apierrors.IsNotFound(err):
				return conchv1.ReasonDeployTargetNotFound, fmt.Sprintf("%s %s not found in namespace %s", t.Kind, t.Name, res.Namespace), err
			case apierrors.IsForbidden(err):
				return conchv1.ReasonDeployForbidden, forbidden("get", what, res.Namespace), err
			}
			return "", "", err
		}
		obj := p.Object.DeepCopy()
		obj.SetNamespace(res.Namespace)
		obj.SetResourceVersion(current.ResourceVersion)
		err := r.Target.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...)
		switch {
		case err == nil:
			return "", "", nil
		case apierrors.IsForbidden(err):
			return conchv1.ReasonDeployForbidden, forbidden("patch", what, res.Namespace), err
		case apierrors.IsConflict(err) && fieldConflicts(err) != "":
			return conchv1.ReasonDeployConflict, fmt.Sprintf("conflictPolicy is Fail and other managers own fields of the patch: %s", fieldConflicts(err)), err
		case apierrors.IsConflict(err):
			continue // the target changed since it was read: read it again
		case refused(err):
			return conchv1.ReasonDeployInvalidPatch, fmt.Sprintf("The API server refused the %s for %s %s: %v", strings.ToLower(string(p.Applied)), t.Kind, t.Name, apiMessage(err)), err
		default:
			return "", "", err
		}
	}
	return "", "", fmt.Errorf("%s %s kept changing while Conch applied to it", t.Kind, t.Name)
}

// refused reports whether the API server refused an apply for what it holds, which trying again will not change:
// invalid values, or a value of the wrong type, which server-side apply reports as an internal error.
func refused(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) ||
		(apierrors.IsInternalError(err) || apierrors.ReasonForError(err) == metav1.StatusReasonUnknown) &&
			strings.Contains(err.Error(), "failed to create typed patch object")
}

// forbidden is the Forbidden condition's message: what the manager may not do, and where the Role to bind is.
func forbidden(verb, resource, namespace string) string {
	return fmt.Sprintf("The manager may not %s %s in namespace %s: an administrator binds it a Role that allows get and patch on them (%s)",
		verb, resource, namespace, DeployDocs)
}

// fieldConflicts lists the field-manager conflicts of a server-side apply's error, "" when it has none.
func fieldConflicts(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return ""
	}
	var out []string
	for _, c := range status.Status().Details.Causes {
		if c.Type == metav1.CauseTypeFieldManagerConflict {
			out = append(out, c.Field+": "+c.Message)
		}
	}
	return strings.Join(out, "; ")
}

func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

// applied records in status.deploy what was applied and for which hold, sets Deployed and tells the Resource and
// the Reservation concerned.
func (r *DeployReconciler) applied(ctx context.Context, res *conchv1.Resource, holding *conchv1.Reservation, p *deploy.Plan) error {
	prev := res.Status.Deploy
	now := metav1.NewTime(r.Clock.Now())
	rec := conchv1.DeployStatus{
		Target: p.Target, Applied: p.Applied, Reservation: p.Reservation, ReservationUID: p.ReservationUID,
		Digest: p.Digest, AppliedAt: &now,
	}
	cond := deployedCondition(res, holding, p)
	if _, err := r.record(ctx, res, cond, &rec); err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Applied to the deploy target", "target", p.Target.Kind+" "+p.Target.Name,
		"applied", p.Applied, "reservation", p.Reservation)
	if p.Applied == conchv1.DeployAppliedPatch {
		r.Recorder.Eventf(res, holding, corev1.EventTypeNormal, conchv1.ReasonDeployApplied, "Deploy", "%s", cond.Message)
		r.Recorder.Eventf(holding, res, corev1.EventTypeNormal, conchv1.ReasonDeployApplied, "Deploy", "%s", cond.Message)
		return nil
	}
	r.Recorder.Eventf(res, nil, corev1.EventTypeNormal, conchv1.ReasonDeployReverted, "Deploy", "%s", cond.Message)
	if prev.Applied == conchv1.DeployAppliedPatch && prev.Reservation != "" {
		// The hold whose patch this reverts: its Reservation hears of it too, if it is still there.
		ended := &conchv1.Reservation{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: res.Namespace, Name: prev.Reservation}, ended); err == nil && string(ended.UID) == prev.ReservationUID {
			r.Recorder.Eventf(ended, res, corev1.EventTypeNormal, conchv1.ReasonDeployReverted, "Deploy", "%s", cond.Message)
		}
	}
	return nil
}

// deployedCondition is the Deployed condition once p is in place: True for a holder's patch, False (Reverted)
// for a default or a withdrawal.
func deployedCondition(res *conchv1.Resource, holding *conchv1.Reservation, p *deploy.Plan) metav1.Condition {
	what := p.Target.Kind + " " + p.Target.Name
	cond := metav1.Condition{Type: conchv1.ResourceConditionDeployed, Status: metav1.ConditionFalse, Reason: conchv1.ReasonDeployReverted}
	switch {
	case p.Applied == conchv1.DeployAppliedPatch:
		cond.Status, cond.Reason = metav1.ConditionTrue, conchv1.ReasonDeployApplied
		cond.Message = fmt.Sprintf("Applied the patch for %s (%s) to %s%s", holding.Name, holding.Spec.Holder, what, paramList(holding))
	case p.Applied == conchv1.DeployAppliedDefault:
		cond.Message = fmt.Sprintf("Nobody holds %s; the default is applied to %s", res.Name, what)
	case res.Spec.Deploy.IsSet() && res.Spec.Deploy.Target != p.Target, !res.Spec.Deploy.IsSet():
		cond.Message = fmt.Sprintf("Conch's fields are withdrawn from %s, which spec.deploy no longer names", what)
	default:
		cond.Message = fmt.Sprintf("Nobody holds %s; Conch's fields are withdrawn from %s", res.Name, what)
	}
	return cond
}

// paramList is ", with revision=pr-345" for a Reservation with parameters.
func paramList(rsv *conchv1.Reservation) string {
	if len(rsv.Spec.Parameters) == 0 {
		return ""
	}
	kv := make([]string, len(rsv.Spec.Parameters))
	for i, p := range rsv.Spec.Parameters {
		kv[i] = p.Name + "=" + p.Value
	}
	return ", with " + strings.Join(kv, ", ")
}

// fail sets Deployed False with reason and says so in a Warning Event on the Resource and, when someone holds it,
// on their Reservation; both only when the condition changes, so that retries with backoff repeat nothing.
func (r *DeployReconciler) fail(ctx context.Context, res *conchv1.Resource, holding *conchv1.Reservation, reason, msg string) error {
	if holding != nil {
		// Named, so that a new holder whose patch fails alike changes the condition and is told.
		msg += fmt.Sprintf(" (not applied for Reservation %s)", holding.Name)
	}
	cond := metav1.Condition{Type: conchv1.ResourceConditionDeployed, Status: metav1.ConditionFalse, Reason: reason, Message: msg}
	changed, err := r.record(ctx, res, cond, nil)
	if err != nil || !changed {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Cannot apply to the deploy target", "reason", reason, "message", msg)
	if holding == nil {
		r.Recorder.Eventf(res, nil, corev1.EventTypeWarning, reason, "Deploy", "%s", msg)
		return nil
	}
	r.Recorder.Eventf(res, holding, corev1.EventTypeWarning, reason, "Deploy", "%s", msg)
	r.Recorder.Eventf(holding, res, corev1.EventTypeWarning, reason, "Deploy", "%s", msg)
	return nil
}

// forget drops the Deployed condition and status.deploy of a Resource without spec.deploy once nothing of
// Conch's is left on a target.
func (r *DeployReconciler) forget(ctx context.Context, res *conchv1.Resource) error {
	if !res.Status.Deploy.IsSet() && meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionDeployed) == nil {
		return nil
	}
	_, err := r.record(ctx, res, metav1.Condition{}, &conchv1.DeployStatus{})
	return err
}

// record writes the Deployed condition (removed when cond has no type) and, when rec is not nil, status.deploy,
// with a precondition on the version res was read at: conditions are one list, which a merge patch replaces
// whole, and status.deploy is a record decided from res. A conflict is returned, and the next pass decides again
// on the Resource as it is (an apply already made is then a no-op). It reports whether the condition's status,
// reason or message changed.
func (r *DeployReconciler) record(ctx context.Context, res *conchv1.Resource, cond metav1.Condition, rec *conchv1.DeployStatus) (bool, error) {
	before := res.DeepCopy()
	old := meta.FindStatusCondition(before.Status.Conditions, conchv1.ResourceConditionDeployed)
	if cond.Type == "" {
		meta.RemoveStatusCondition(&res.Status.Conditions, conchv1.ResourceConditionDeployed)
	} else {
		cond.ObservedGeneration, cond.LastTransitionTime = res.Generation, metav1.NewTime(r.Clock.Now())
		meta.SetStatusCondition(&res.Status.Conditions, cond)
	}
	changed := old == nil || old.Status != cond.Status || old.Reason != cond.Reason || old.Message != cond.Message
	if rec != nil {
		res.Status.Deploy = *rec
	}
	if equality.Semantic.DeepEqual(before.Status, res.Status) {
		return changed, nil
	}
	err := r.Status().Patch(ctx, res, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		return changed, fmt.Errorf("%w: %w", errRecordLost, err)
	}
	return changed, client.IgnoreNotFound(err)
}

// SetupWithManager runs the reconciler for the Resources that have (or had) a deploy, woken when their spec or
// their ledger's holders change.
func (r *DeployReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if r.Target == nil {
		c, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
		if err != nil {
			return err
		}
		r.Target = c
	}
	opts.RateLimiter = clientworkqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](deployRetryBase, deployRetryMax)
	return ctrl.NewControllerManagedBy(mgr).
		Named("deploy").
		For(&conchv1.Resource{}, builder.WithPredicates(deployChanged{})).
		WithOptions(opts).
		Complete(r)
}

// deployChanged passes the changes of a Resource that its deploy follows: a new spec, another holder, another
// kind of record. The rest of the ledger (the queue, renewals) and the Resource's other status wake nothing.
type deployChanged struct{ predicate.Funcs }

func hasDeploy(o client.Object) bool {
	res, ok := o.(*conchv1.Resource)
	return ok && (res.Spec.Deploy.IsSet() || res.Status.Deploy.IsSet())
}

// Create implements predicate.Predicate.
func (deployChanged) Create(e event.CreateEvent) bool { return hasDeploy(e.Object) }

// Delete implements predicate.Predicate.
func (deployChanged) Delete(event.DeleteEvent) bool { return false }

// Generic implements predicate.Predicate.
func (deployChanged) Generic(e event.GenericEvent) bool { return hasDeploy(e.Object) }

// Update implements predicate.Predicate.
func (deployChanged) Update(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*conchv1.Resource)
	n, okNew := e.ObjectNew.(*conchv1.Resource)
	if !okOld || !okNew || !hasDeploy(n) {
		return false
	}
	// A new record of what was applied matters too: after a withdrawal from a target spec.deploy no longer
	// names, the next pass applies to the new one, or forgets the deploy.
	return o.Generation != n.Generation || firstHolder(o) != firstHolder(n) ||
		o.Status.Deploy.Target != n.Status.Deploy.Target || o.Status.Deploy.Applied != n.Status.Deploy.Applied
}

func firstHolder(res *conchv1.Resource) string {
	if len(res.Status.Holders) == 0 {
		return ""
	}
	return res.Status.Holders[0].UID
}
