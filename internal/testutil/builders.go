package testutil

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// ResourceWrapper builds a Resource for tests: testutil.Resource("staging").Capacity(2).Obj().
type ResourceWrapper struct{ conchv1.Resource }

// Resource starts a Resource named name in namespace "default", capacity 1, granting open.
func Resource(name string) *ResourceWrapper {
	return &ResourceWrapper{conchv1.Resource{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       conchv1.ResourceSpec{Capacity: 1, Granting: conchv1.GrantingOpen},
	}}
}

// Obj returns the Resource.
func (w *ResourceWrapper) Obj() *conchv1.Resource { return w.Resource.DeepCopy() }

// Namespace sets the namespace.
func (w *ResourceWrapper) Namespace(ns string) *ResourceWrapper { w.Resource.Namespace = ns; return w }

// Capacity sets spec.capacity.
func (w *ResourceWrapper) Capacity(n int32) *ResourceWrapper { w.Spec.Capacity = n; return w }

// Default sets spec.defaultDuration.
func (w *ResourceWrapper) Default(d time.Duration) *ResourceWrapper {
	w.Spec.DefaultDuration = &metav1.Duration{Duration: d}
	return w
}

// Max sets spec.maxDuration.
func (w *ResourceWrapper) Max(d time.Duration) *ResourceWrapper {
	w.Spec.MaxDuration = &metav1.Duration{Duration: d}
	return w
}

// Paused sets spec.granting to Paused.
func (w *ResourceWrapper) Paused() *ResourceWrapper {
	w.Spec.Granting = conchv1.GrantingPaused
	return w
}

// Allow sets spec.allowedHolders.
func (w *ResourceWrapper) Allow(patterns ...string) *ResourceWrapper {
	w.Spec.AllowedHolders = patterns
	return w
}

// Label adds a label (pools are made of labels).
func (w *ResourceWrapper) Label(k, v string) *ResourceWrapper {
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Labels[k] = v
	return w
}

// Holding records in status that the Reservation named name (UID "uid-"+name) holds since the given time.
func (w *ResourceWrapper) Holding(name, holder string, since, until time.Time) *ResourceWrapper {
	w.Status.Holders = append(w.Status.Holders, conchv1.ResourceHolder{
		Reservation: name, UID: "uid-" + name, Holder: holder,
		Since: metav1.NewMicroTime(since), Until: metav1.NewMicroTime(until),
	})
	return w
}

// UID sets the UID, which Reservations record in status.resourceUID once its ledger admits them.
func (w *ResourceWrapper) UID(uid string) *ResourceWrapper {
	w.Resource.UID = types.UID(uid)
	return w
}

// Holders appends lines to the ledger's holders (status.holders) as given: ticket, term and heartbeat included.
func (w *ResourceWrapper) Holders(hs ...conchv1.ResourceHolder) *ResourceWrapper {
	w.Status.Holders = append(w.Status.Holders, hs...)
	return w
}

// Queue appends lines to the ledger's queue (status.queue) as given, and counts them in status.waiting.
func (w *ResourceWrapper) Queue(qs ...conchv1.QueueEntry) *ResourceWrapper {
	w.Status.Queue = append(w.Status.Queue, qs...)
	w.Status.Waiting = int32(len(w.Status.Queue))
	return w
}

// NextTicket sets the ledger's status.nextTicket.
func (w *ResourceWrapper) NextTicket(n int64) *ResourceWrapper {
	w.Status.NextTicket = n
	return w
}

// ReservationWrapper builds a Reservation for tests:
// testutil.Reservation("r1").On("staging").Holder("alice").For(2*time.Hour).Obj().
type ReservationWrapper struct{ conchv1.Reservation }

// Reservation starts a Reservation named name in namespace "default" with UID "uid-"+name and holder name.
func Reservation(name string) *ReservationWrapper {
	return &ReservationWrapper{conchv1.Reservation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       conchv1.ReservationSpec{Holder: name},
	}}
}

// Obj returns the Reservation.
func (w *ReservationWrapper) Obj() *conchv1.Reservation { return w.Reservation.DeepCopy() }

// Namespace sets the namespace.
func (w *ReservationWrapper) Namespace(ns string) *ReservationWrapper {
	w.Reservation.Namespace = ns
	return w
}

// On sets spec.resourceName.
func (w *ReservationWrapper) On(resource string) *ReservationWrapper {
	w.Spec.ResourceName = resource
	return w
}

// Pool sets spec.selector to match labels.
func (w *ReservationWrapper) Pool(labels map[string]string) *ReservationWrapper {
	w.Spec.Selector = &metav1.LabelSelector{MatchLabels: labels}
	return w
}

// Holder sets spec.holder.
func (w *ReservationWrapper) Holder(h string) *ReservationWrapper { w.Spec.Holder = h; return w }

// For sets spec.duration.
func (w *ReservationWrapper) For(d time.Duration) *ReservationWrapper {
	w.Spec.Duration = &metav1.Duration{Duration: d}
	return w
}

// Because sets spec.reason.
func (w *ReservationWrapper) Because(reason string) *ReservationWrapper {
	w.Spec.Reason = reason
	return w
}

// HeldBy names the object holding the Reservation (spec.heldBy).
func (w *ReservationWrapper) HeldBy(apiVersion, kind, name string) *ReservationWrapper {
	w.Spec.HeldBy = conchv1.HeldBy{APIVersion: apiVersion, Kind: kind, Name: name}
	return w
}

// Released sets spec.released.
func (w *ReservationWrapper) Released() *ReservationWrapper { w.Spec.Released = true; return w }

// Created sets the creation timestamp.
func (w *ReservationWrapper) Created(t time.Time) *ReservationWrapper {
	w.CreationTimestamp = metav1.NewTime(t)
	return w
}

// UID sets the UID.
func (w *ReservationWrapper) UID(uid string) *ReservationWrapper {
	w.Reservation.UID = types.UID(uid)
	return w
}

// Deleting sets the deletion timestamp and the finalizer, as the API server leaves a deleted Reservation.
func (w *ReservationWrapper) Deleting(t time.Time) *ReservationWrapper {
	dt := metav1.NewTime(t)
	w.DeletionTimestamp = &dt
	w.Finalizers = append(w.Finalizers, conchv1.ReservationFinalizer)
	return w
}

// State sets status.state.
func (w *ReservationWrapper) State(s conchv1.ReservationState) *ReservationWrapper {
	w.Status.State = s
	return w
}

// BoundTo sets status.resourceName.
func (w *ReservationWrapper) BoundTo(resource string) *ReservationWrapper {
	w.Status.ResourceName = resource
	return w
}

// Granted sets status as granted at t.
func (w *ReservationWrapper) Granted(t time.Time) *ReservationWrapper {
	w.Status.State = conchv1.StateGranted
	gt := metav1.NewMicroTime(t)
	w.Status.GrantedAt = &gt
	return w
}

// Heartbeat sets spec.heartbeatTimeout and, unless renewed is zero, spec.renewTime.
func (w *ReservationWrapper) Heartbeat(timeout time.Duration, renewed time.Time) *ReservationWrapper {
	w.Spec.HeartbeatTimeout = &metav1.Duration{Duration: timeout}
	if !renewed.IsZero() {
		rt := metav1.NewMicroTime(renewed)
		w.Spec.RenewTime = &rt
	}
	return w
}

// ResourceUID sets status.resourceUID: the UID of the Resource whose ledger admitted it.
func (w *ReservationWrapper) ResourceUID(uid string) *ReservationWrapper {
	w.Status.ResourceUID = uid
	return w
}
