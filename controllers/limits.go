package controllers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
	"github.com/conch-dev/conch/internal/span"
)

// usage returns what each holder holds of the Resources counted with res for its spec.limits, from the cache:
// the holds on the other Resources of the scope, and the time held today there and in the holds of res that
// ended today. Nil when res has no limits. Limits are fair use, not the ledger's promise, so a cache serves.
func (r *ResourceReconciler) usage(ctx context.Context, res *conchv1.Resource, now time.Time) (func(string) queue.Usage, error) {
	l := res.Spec.Limits
	if l == nil {
		return nil, nil
	}
	loc, err := queue.LimitsLocation(l)
	if err != nil {
		loc = time.UTC // the Resource's Ready condition says what is wrong; the day starts at midnight UTC meanwhile
	}
	day, next := span.Midnight(now, loc), span.NextMidnight(now, loc)

	inScope := map[string]bool{res.Name: true}
	used := map[string]queue.Usage{}
	if l.Scope != nil {
		sel, err := metav1.LabelSelectorAsSelector(l.Scope)
		if err != nil {
			return nil, err
		}
		var others conchv1.ResourceList
		if err := r.List(ctx, &others, client.InNamespace(res.Namespace), client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for i := range others.Items {
			o := &others.Items[i]
			if o.Name == res.Name || !sel.Matches(labels.Set(o.Labels)) {
				continue
			}
			inScope[o.Name] = true
			for _, h := range o.Status.Holders {
				u := used[h.Holder]
				u.Holds++
				u.HeldToday += span.Overlap(h.Since.Time, queue.HoldEnd(h), day, next)
				used[h.Holder] = u
			}
		}
	}
	var rsvs conchv1.ReservationList
	if err := r.List(ctx, &rsvs, client.InNamespace(res.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	for i := range rsvs.Items {
		rsv := &rsvs.Items[i]
		st := rsv.Status
		if !st.State.IsFinal() || st.GrantedAt == nil || st.EndedAt == nil || !inScope[st.ResourceName] {
			continue
		}
		u := used[rsv.Spec.Holder]
		u.HeldToday += span.Overlap(st.GrantedAt.Time, st.EndedAt.Time, day, next)
		used[rsv.Spec.Holder] = u
	}
	return func(holder string) queue.Usage { return used[holder] }, nil
}

// scopePeers maps a Resource whose holds changed to the other Resources of its namespace whose spec.limits.scope
// counts it: a hold that ends there may let a Reservation waiting over a limit here be granted.
func scopePeers(c client.Client) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		// Read only, and for every hold that ends: no copy of each Resource of the namespace.
		var all conchv1.ResourceList
		if err := c.List(ctx, &all, client.InNamespace(obj.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		var out []reconcile.Request
		for i := range all.Items {
			res := &all.Items[i]
			if res.Name == obj.GetName() || res.Spec.Limits == nil || res.Spec.Limits.Scope == nil || res.Status.Waiting == 0 {
				continue
			}
			if sel, err := metav1.LabelSelectorAsSelector(res.Spec.Limits.Scope); err == nil && sel.Matches(labels.Set(obj.GetLabels())) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(res)})
			}
		}
		return out
	}
}

// holdsChanged passes updates of a Resource whose holders changed.
type holdsChanged struct{ predicate.Funcs }

// Update implements predicate.Predicate.
func (holdsChanged) Update(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*conchv1.Resource)
	n, okNew := e.ObjectNew.(*conchv1.Resource)
	return okOld && okNew && len(o.Status.Holders) > len(n.Status.Holders)
}

// Create implements predicate.Predicate.
func (holdsChanged) Create(event.CreateEvent) bool { return false }

// Delete implements predicate.Predicate.
func (holdsChanged) Delete(event.DeleteEvent) bool { return true }

// Generic implements predicate.Predicate.
func (holdsChanged) Generic(event.GenericEvent) bool { return false }
