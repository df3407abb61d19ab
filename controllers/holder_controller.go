package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
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
	workend "github.com/conch-dev/conch/internal/holding"
	"github.com/conch-dev/conch/internal/index"
)

// HolderGrace is how long a Reservation may name a holding object that does not exist yet (a Job applied just
// after its Reservation) before it is released as HolderDeleted. A holder named with its UID, or that this manager
// saw, is gone at once.
const HolderGrace = 30 * time.Second

// HolderReconciler releases a Reservation when the object holding it (spec.heldBy) finishes its work or
// disappears: it sets spec.released, with the annotation conch.dev/released-because saying why, and the
// ResourceReconciler ends it (reason HolderFinished or HolderDeleted) and hands over as for any release. It
// watches a kind only once a Reservation names it and only if the API server serves it, so a cluster without
// Tekton or Argo runs as before. It needs no garbage collector: it acts on the holder's status and deletion.
type HolderReconciler struct {
	client.Client
	// APIReader confirms with the API server that a holding object the cache does not show is really gone.
	APIReader client.Reader
	// Cache is the manager's cache, which serves the watched holding objects.
	Cache    cache.Cache
	Mapper   meta.RESTMapper
	Recorder events.EventRecorder
	Clock    clock.PassiveClock

	ctrl    controller.Controller
	mu      sync.Mutex
	watched map[schema.GroupVersionKind]bool
	// seen are the Reservations whose holding object this manager has seen exist: its disappearance then is a
	// deletion, not a holder yet to come.
	seen map[types.UID]bool
}

var _ reconcile.Reconciler = (*HolderReconciler)(nil)

// The HolderReconciler reads the objects Reservations are held by (Pods, Jobs, Tekton runs, Argo Workflows; an
// admin grants more kinds with a Role of their own) and releases Reservations (spec).
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=tekton.dev,resources=pipelineruns;taskruns,verbs=get;list;watch
// +kubebuilder:rbac:groups=argoproj.io,resources=workflows,verbs=get;list;watch

// Reconcile releases one Reservation whose holding object finished or is gone.
func (r *HolderReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rsv := &conchv1.Reservation{}
	if err := r.Get(ctx, req.NamespacedName, rsv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	h := &rsv.Spec.HeldBy
	if !h.IsSet() || rsv.Spec.Released || rsv.Status.State.IsFinal() || rsv.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		r.Recorder.Eventf(rsv, nil, corev1.EventTypeWarning, "HolderUnknown", "Watch", "spec.heldBy.apiVersion %q: %v", h.APIVersion, err)
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	gvk := gv.WithKind(h.Kind)
	if err := r.watch(ctx, gvk); err != nil {
		if meta.IsNoMatchError(err) {
			// Tried again with backoff: the CRD may be installed later.
			r.Recorder.Eventf(rsv, nil, corev1.EventTypeWarning, "HolderUnknown", "Watch",
				"The API server serves no %s; this Reservation is not released when it ends", gvk)
		}
		return ctrl.Result{}, err
	}

	held := &unstructured.Unstructured{}
	held.SetGroupVersionKind(gvk)
	key := types.NamespacedName{Namespace: rsv.Namespace, Name: h.Name}
	err = r.Cache.Get(ctx, key, held)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, held) // a cache miss may be lag: only the API server says gone
	}
	switch {
	case apierrors.IsNotFound(err):
		if age := r.Clock.Since(rsv.CreationTimestamp.Time); age < HolderGrace && h.UID == "" && !r.sawHolder(rsv.UID) {
			return ctrl.Result{RequeueAfter: HolderGrace - age}, nil
		}
		return ctrl.Result{}, r.release(ctx, rsv, conchv1.ReasonHolderDeleted, fmt.Sprintf("%s %s not found", h.Kind, h.Name))
	case err != nil:
		return ctrl.Result{}, err
	case h.UID != "" && string(held.GetUID()) != h.UID:
		return ctrl.Result{}, r.release(ctx, rsv, conchv1.ReasonHolderDeleted, "replaced by another of the same name")
	case held.GetDeletionTimestamp() != nil:
		return ctrl.Result{}, r.release(ctx, rsv, conchv1.ReasonHolderDeleted, "being deleted")
	}
	r.mu.Lock()
	r.seen[rsv.UID] = true
	r.mu.Unlock()
	if done, why := workend.Finished(held, h.FinishedCondition); done {
		return ctrl.Result{}, r.release(ctx, rsv, conchv1.ReasonHolderFinished, why)
	}
	return ctrl.Result{}, nil
}

func (r *HolderReconciler) sawHolder(uid types.UID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[uid]
}

// release sets spec.released on rsv and says why in its annotation; the queue ends it and hands over.
func (r *HolderReconciler) release(ctx context.Context, rsv *conchv1.Reservation, reason, detail string) error {
	patch := client.MergeFrom(rsv.DeepCopy())
	rsv.Spec.Released = true
	if rsv.Annotations == nil {
		rsv.Annotations = map[string]string{}
	}
	rsv.Annotations[conchv1.AnnotationReleasedBecause] = reason + ": " + detail
	ctrl.LoggerFrom(ctx).Info("Releasing: its holder ended", "reason", reason, "detail", detail)
	if err := r.Patch(ctx, rsv, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.mu.Lock()
	delete(r.seen, rsv.UID)
	r.mu.Unlock()
	return nil
}

// watch starts watching a kind of holding object, once. A kind the API server does not serve is an error
// (meta.NoKindMatchError).
func (r *HolderReconciler) watch(ctx context.Context, gvk schema.GroupVersionKind) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watched[gvk] {
		return nil
	}
	if _, err := r.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		return err
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	src := source.Kind[*unstructured.Unstructured](r.Cache, obj,
		handler.TypedEnqueueRequestsFromMapFunc(r.heldReservations), holderChanged())
	if err := r.ctrl.Watch(src); err != nil {
		return err
	}
	r.watched[gvk] = true
	ctrl.LoggerFrom(ctx).Info("Watching the objects Reservations are held by", "kind", gvk.String())
	return nil
}

// heldReservations maps a holding object to the open Reservations it holds.
func (r *HolderReconciler) heldReservations(ctx context.Context, o *unstructured.Unstructured) []reconcile.Request {
	gvk := o.GroupVersionKind()
	var list conchv1.ReservationList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{index.HeldByField: index.HeldByKey(gvk.Group, gvk.Kind, o.GetName())},
		client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot list the Reservations an object holds")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// holderChanged passes the changes of a holding object that can end its work: its status, its deletion, its
// disappearance. A Pod's status changes often; each costs one indexed list of the cache.
func holderChanged() predicate.TypedPredicate[*unstructured.Unstructured] {
	return predicate.TypedFuncs[*unstructured.Unstructured]{
		UpdateFunc: func(e event.TypedUpdateEvent[*unstructured.Unstructured]) bool {
			return !equality.Semantic.DeepEqual(e.ObjectOld.Object["status"], e.ObjectNew.Object["status"]) ||
				e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
		},
	}
}

// SetupWithManager runs the reconciler for Reservations that name a holding object.
func (r *HolderReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	r.watched, r.seen = map[schema.GroupVersionKind]bool{}, map[types.UID]bool{}
	if r.Cache == nil {
		r.Cache = mgr.GetCache()
	}
	if r.Mapper == nil {
		r.Mapper = mgr.GetRESTMapper()
	}
	heldBy := predicate.NewPredicateFuncs(func(o client.Object) bool {
		rsv, ok := o.(*conchv1.Reservation)
		return ok && rsv.Spec.HeldBy.IsSet() && !rsv.Spec.Released && !rsv.Status.State.IsFinal()
	})
	c, err := ctrl.NewControllerManagedBy(mgr).
		Named("holder").
		For(&conchv1.Reservation{}, builder.WithPredicates(heldBy, predicate.GenerationChangedPredicate{})).
		WithOptions(opts).
		Build(r)
	r.ctrl = c
	return err
}
