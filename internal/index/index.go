// Package index holds the field indexes of the manager's cache that the controllers and the integrations beside them
// (Slack) share, so that neither imports the other.
package index

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

const (
	// BoundResourceField indexes Reservations by the name of the Resource they are bound to: spec.resourceName, or
	// status.resourceName for a Reservation bound to a Resource of a pool. It maps a Reservation to its Resource and
	// a Resource to its queue without listing the namespace.
	BoundResourceField = "conch.dev/bound-resource"

	// UnboundPoolField indexes pooled Reservations that are not bound yet (value "true"), so that a new Resource
	// in a namespace wakes only those that may want it.
	UnboundPoolField = "conch.dev/unbound-pool"

	// HeldByField indexes Reservations that are still open by the object holding them (spec.heldBy), as
	// HeldByKey makes it, so that a Job that finishes wakes only the Reservations it holds.
	HeldByField = "conch.dev/held-by"
)

// HeldByKey is the HeldByField value of an object of group and kind named name: "Job.batch/build-42".
func HeldByKey(group, kind, name string) string {
	gk := kind
	if group != "" {
		gk += "." + group
	}
	return gk + "/" + name
}

// BoundResource returns the name of the Resource r is bound to, or "" while a pooled Reservation is unbound.
func BoundResource(r *conchv1.Reservation) string {
	if r.Spec.ResourceName != "" {
		return r.Spec.ResourceName
	}
	return r.Status.ResourceName
}

// Setup registers the field indexes the controllers (and the Slack front end) use.
func Setup(ctx context.Context, mgr manager.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &conchv1.Reservation{}, BoundResourceField, BoundResourceValues); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &conchv1.Reservation{}, UnboundPoolField, UnboundPoolValues); err != nil {
		return err
	}
	return idx.IndexField(ctx, &conchv1.Reservation{}, HeldByField, HeldByValues)
}

// HeldByValues is the indexer of HeldByField.
func HeldByValues(o client.Object) []string {
	r := o.(*conchv1.Reservation)
	h := r.Spec.HeldBy
	if !h.IsSet() || r.Spec.Released || r.Status.State.IsFinal() {
		return nil
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		return nil
	}
	return []string{HeldByKey(gv.Group, h.Kind, h.Name)}
}

// BoundResourceValues is the indexer of BoundResourceField.
func BoundResourceValues(o client.Object) []string {
	if name := BoundResource(o.(*conchv1.Reservation)); name != "" {
		return []string{name}
	}
	return nil
}

// UnboundPoolValues is the indexer of UnboundPoolField.
func UnboundPoolValues(o client.Object) []string {
	r := o.(*conchv1.Reservation)
	if r.Spec.Selector != nil && r.Status.ResourceName == "" && !r.Status.State.IsFinal() {
		return []string{"true"}
	}
	return nil
}
