package eventsink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// StatusReconciler writes each EventSink's status: whether it can deliver (its address is allowed, its Secret
// and key exist, it is within the namespace's limit), and its delivery figures, which the Destination keeps in
// memory and this writes at most every Destination.StatusInterval per sink, never per delivery.
type StatusReconciler struct {
	client   client.Client
	d        *Destination
	resolver *net.Resolver
}

var _ reconcile.Reconciler = (*StatusReconciler)(nil)

// The status controller reads EventSinks from the cache and writes their status. Signing keys are read by name
// through the API (config/rbac/eventsink_keys_role.yaml lets the manager get Secrets named conch-eventsink-keys,
// and no other): no Secret is listed, watched or cached.
// +kubebuilder:rbac:groups=conch.dev,resources=eventsinks,verbs=list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=eventsinks/status,verbs=patch

// SetupWithManager refuses the API server's addresses (mgr's rest.Config host and $KUBERNETES_SERVICE_HOST),
// reads signing keys through mgr's API reader unless Options named a reader, and registers the status controller
// of EventSinks with its index. Call it before the manager starts, and before any delivery.
func (d *Destination) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	for _, a := range APIServerAddrs(ctx, mgr.GetConfig().Host) {
		d.guard.DenyAPIServer(a)
	}
	if d.secrets == nil {
		d.secrets = mgr.GetAPIReader()
	}
	r := &StatusReconciler{client: mgr.GetClient(), d: d, resolver: net.DefaultResolver}
	return ctrl.NewControllerManagedBy(mgr).
		Named("eventsink-status").
		For(&conchv1.EventSink{}).
		// Past the limit, creating or deleting one sink moves another across it.
		Watches(&conchv1.EventSink{}, handler.EnqueueRequestsFromMapFunc(r.crowdedNamespace)).
		WatchesRawSource(source.Channel(d.changed, &handler.EnqueueRequestForObject{})).
		Complete(r)
}

// Reconcile computes one EventSink's status and writes it when it changed: at once for its validity, at most
// every StatusInterval for its delivery figures.
func (r *StatusReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	s := &conchv1.EventSink{}
	if err := r.client.Get(ctx, req.NamespacedName, s); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.d.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Step 1: what the sink's owner must fix, if anything (reads sibling sinks and the Secret).
	v, err := r.validate(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Step 2: the status that follows, with the figures the Destination kept.
	st := r.d.figures(req.NamespacedName, s.UID)
	want := desiredStatus(s, v, st)
	if equality.Semantic.DeepEqual(want, s.Status) {
		r.d.written(req.NamespacedName, s.UID, st.written)
		return ctrl.Result{RequeueAfter: r.recheck(v)}, nil
	}
	// Step 3: coalesce the figures: wait until StatusInterval after the last write.
	now := r.d.clock.Now()
	if onlyFiguresDiffer(s.Status, want) {
		if wait := nextWrite(st.written, now, r.d.every); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	// Step 4: write.
	patch := client.MergeFrom(s.DeepCopy())
	s.Status = want
	if err := r.client.Status().Patch(ctx, s, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.d.written(req.NamespacedName, s.UID, now)
	return ctrl.Result{RequeueAfter: r.recheck(v)}, nil
}

// recheck is how soon a sink waiting for its Secret is looked at again: Secrets are not watched (the manager may
// read only the ones it is given by name), so a Secret created or fixed shows within the key TTL.
func (r *StatusReconciler) recheck(v validity) time.Duration {
	switch v.reason {
	case conchv1.EventSinkReasonSecretNotFound, conchv1.EventSinkReasonSecretForbidden, conchv1.EventSinkReasonInvalidSigningKey:
		return r.d.keyTTL
	}
	return 0
}

// validate finds what keeps s from delivering: its rank among its namespace's sinks, its address (and whether the
// guard refuses it), its filter, and its signing key. An error is one to retry (the API).
func (r *StatusReconciler) validate(ctx context.Context, s *conchv1.EventSink) (validity, error) {
	var v validity
	u, err := Address(s)
	if err == nil {
		v.url = ShownURL(s, u)
	}
	var list conchv1.EventSinkList
	if err := r.client.List(ctx, &list, client.InNamespace(s.Namespace)); err != nil {
		return v, err
	}
	admitted := false
	for _, a := range Admitted(list.Items) {
		admitted = admitted || a.Name == s.Name
	}
	switch {
	case !admitted && len(list.Items) > conchv1.MaxEventSinksPerNamespace:
		v.reason = conchv1.EventSinkReasonTooManySinks
		v.message = fmt.Sprintf("Namespace %s has %d EventSinks; only the first %d by name deliver (status.deliveries of a Reservation or Resource holds that many).",
			s.Namespace, len(list.Items), conchv1.MaxEventSinksPerNamespace)
		return v, nil
	case err != nil:
		v.reason, v.message = conchv1.EventSinkReasonInvalidAddress, err.Error()
		return v, nil
	}
	if _, err := compileFilter(s.Spec.Filter); err != nil {
		v.reason, v.message = conchv1.EventSinkReasonInvalidFilter, err.Error()
		return v, nil
	}
	// A Service's name resolves only inside the cluster, to its ClusterIP; the dial-time guard checks it then.
	if s.Spec.URL != "" {
		if err := r.d.guard.CheckHost(ctx, r.resolver, u.Hostname()); err != nil {
			v.reason, v.message = conchv1.EventSinkReasonAddressNotAllowed, fmt.Sprintf("Host %s: %v.", u.Hostname(), err)
			return v, nil
		}
	}
	if _, err := r.d.signingKey(ctx, s); err != nil {
		switch {
		case errors.Is(err, errSecretNotFound):
			v.reason = conchv1.EventSinkReasonSecretNotFound
			v.message = err.Error() + "; deliveries wait until it does."
		case errors.Is(err, errSecretForbidden):
			v.reason = conchv1.EventSinkReasonSecretForbidden
			v.message = err.Error() + "; deliveries wait until it can."
		case errors.Is(err, errKeyNotInSecret) || isKeyError(err):
			v.reason, v.message = conchv1.EventSinkReasonInvalidSigningKey, err.Error()+"; deliveries wait until it is fixed."
		default:
			return v, err
		}
	}
	return v, nil
}

// isKeyError reports whether err is ParseSigningKey's (the Secret is read but its value is not a key).
func isKeyError(err error) bool {
	var ke keyError
	return errors.As(err, &ke)
}

// crowdedNamespace maps an EventSink to every sink of its namespace when the namespace is at or past the limit.
func (r *StatusReconciler) crowdedNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var list conchv1.EventSinkList
	if err := r.client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil || len(list.Items) < conchv1.MaxEventSinksPerNamespace {
		return nil
	}
	return requests(list.Items)
}

func requests(sinks []conchv1.EventSink) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(sinks))
	for _, s := range sinks {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}})
	}
	return out
}
