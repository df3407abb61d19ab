package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// watchReservation watches the Reservation key from its current state on, calling f with each version, until f
// returns true or an error, or ctx ends. It lists and watches (re-listing when the watch expires), so it sees
// every change without polling; a deleted Reservation is passed to f as nil.
func watchReservation(ctx context.Context, c client.WithWatch, key types.NamespacedName, f func(*conchv1.Reservation) (bool, error)) error {
	selector := fields.OneTermEqualSelector("metadata.name", key.Name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			list := &conchv1.ReservationList{}
			err := c.List(ctx, list, client.InNamespace(key.Namespace), &client.ListOptions{Raw: &opts})
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return c.Watch(ctx, &conchv1.ReservationList{}, client.InNamespace(key.Namespace), &client.ListOptions{Raw: &opts})
		},
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &conchv1.Reservation{}, nil, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Deleted:
			return f(nil)
		case watch.Added, watch.Modified:
			if r, ok := ev.Object.(*conchv1.Reservation); ok {
				return f(r)
			}
		}
		return false, nil
	})
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// waitForGrant waits until the Reservation key is granted, printing its place in the queue and the expected
// grant time to w whenever they change. It returns the granted Reservation, or an error when the Reservation
// ends without being granted (rejected, released by someone, expired) or ctx ends.
func (a *app) waitForGrant(ctx context.Context, c client.WithWatch, key types.NamespacedName, w io.Writer) (*conchv1.Reservation, error) {
	var granted *conchv1.Reservation
	last := ""
	err := watchReservation(ctx, c, key, func(r *conchv1.Reservation) (bool, error) {
		if r == nil {
			return false, fmt.Errorf("reservation %s was deleted", key)
		}
		if r.Status.ObservedGeneration < r.Generation && r.Status.State != conchv1.StateGranted {
			return false, nil // the controller has not seen this version yet
		}
		switch st := r.Status.State; {
		case st == conchv1.StateGranted:
			granted = r
			return true, nil
		case st.IsFinal():
			return false, fmt.Errorf("%s: %s", st, a.stateMessage(r))
		case st == "":
			return false, nil
		}
		if line := a.progress(r); line != last {
			fmt.Fprintln(w, line)
			last = line
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return granted, nil
}

// progress describes a waiting Reservation in one line: "Queued for staging: number 2 in line, expected around
// 14:05 (in 12m)".
func (a *app) progress(r *conchv1.Reservation) string {
	if r.Status.State == conchv1.StateQueued {
		line := fmt.Sprintf("Queued for %s: number %d in line", r.Status.ResourceName, r.Status.Position)
		if eta := r.Status.EstimatedGrantTime; eta != nil {
			line += ", expected around " + a.when(eta.Time)
		}
		return line
	}
	return fmt.Sprintf("%s: %s", r.Status.State, a.stateMessage(r))
}

// stateMessage returns the controller's sentence about r's state (the Ready condition's message).
func (a *app) stateMessage(r *conchv1.Reservation) string {
	if c := meta.FindStatusCondition(r.Status.Conditions, conchv1.ConditionReady); c != nil && c.Message != "" {
		return c.Message
	}
	return string(r.Status.State)
}

// stateReason returns the reason of r's Ready condition.
func stateReason(r *conchv1.Reservation) string {
	if c := meta.FindStatusCondition(r.Status.Conditions, conchv1.ConditionReady); c != nil {
		return c.Reason
	}
	return ""
}

// grantedLine says what was granted: "Granted: alice@laptop holds staging until 16:04 (in 2h0m0s)".
func (a *app) grantedLine(r *conchv1.Reservation) string {
	line := fmt.Sprintf("Granted: %s holds %s", r.Spec.Holder, r.Status.ResourceName)
	if r.Status.ExpiresAt != nil {
		line += " until " + a.when(r.Status.ExpiresAt.Time)
	}
	return line + fmt.Sprintf(" (reservation %s/%s)", r.Namespace, r.Name)
}

// when formats t for people: the wall clock in their time zone (with the date when it is not today) and how far
// away it is.
func (a *app) when(t time.Time) string {
	now := a.Now()
	local, today := t.In(a.Location), now.In(a.Location)
	s := local.Format("15:04:05")
	if local.YearDay() != today.YearDay() || local.Year() != today.Year() {
		s = local.Format("Mon Jan 2 15:04:05")
	}
	d := t.Sub(now).Round(time.Second)
	switch {
	case d > 0:
		return fmt.Sprintf("%s (in %s)", s, d)
	case d < 0:
		return fmt.Sprintf("%s (%s ago)", s, -d)
	}
	return s + " (now)"
}

// release sets spec.released on the Reservation key, ending its hold or taking it out of the queue. It uses its
// own short deadline, so that it still runs after ctx was cancelled by Ctrl-C.
func release(c client.Client, key types.NamespacedName) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := &conchv1.Reservation{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	return c.Patch(ctx, r, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"released":true}}`)))
}

// renew sets spec.renewTime of the Reservation key to now: one heartbeat.
func renew(ctx context.Context, c client.Client, key types.NamespacedName, now time.Time) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"renewTime": metav1.NewMicroTime(now)}})
	if err != nil {
		return err
	}
	r := &conchv1.Reservation{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	return c.Patch(ctx, r, client.RawPatch(types.MergePatchType, patch))
}

// errHoldLost says that a hold ended while it was in use; run reports it loudly and exits non-zero.
var errHoldLost = errors.New("the hold was lost")
