package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/metrics"
)

// removeLegacyFinalizer lets a deleted Reservation go that still carries the finalizer Conch set before v0.2.
// It is a JSON patch that tests the list it edits, so that it never drops a finalizer another controller added
// meanwhile (a merge patch would replace the whole list with the cache's copy). A Reservation already gone, or
// whose finalizers changed, is left to the next event.
func removeLegacyFinalizer(ctx context.Context, c client.Client, rsv *conchv1.Reservation) error {
	i := slices.Index(rsv.Finalizers, conchv1.ReservationFinalizer)
	if i < 0 {
		return nil
	}
	ops := []map[string]any{
		{"op": "test", "path": fmt.Sprintf("/metadata/finalizers/%d", i), "value": conchv1.ReservationFinalizer},
		{"op": "remove", "path": fmt.Sprintf("/metadata/finalizers/%d", i)},
	}
	body, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	err = c.Patch(ctx, rsv, client.RawPatch(types.JSONPatchType, body))
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) { // gone, or its test op failed: the list changed
		return nil
	}
	return err
}

// observeEnd records how long a hold lasted; a Reservation that ended without being granted records nothing
// but the count.
func observeEnd(namespace string, state conchv1.ReservationState, grantedAt, now time.Time) {
	metrics.Ends.WithLabelValues(namespace, string(state)).Inc()
	if !grantedAt.IsZero() {
		metrics.HoldSeconds.WithLabelValues(namespace, string(state)).Observe(now.Sub(grantedAt).Seconds())
	}
}

// condMessage is the message of a Reservation's condition typ, the sentence an Event repeats: Granted's (until
// when) for a grant, Ready's (the story) for an end.
func condMessage(st conchv1.ReservationStatus, typ string) string {
	if c := meta.FindStatusCondition(st.Conditions, typ); c != nil {
		return c.Message
	}
	return string(st.State)
}

// ignoreGone turns the errors of writing to an object that was deleted meanwhile into success.
func ignoreGone(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
