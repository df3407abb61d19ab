package controllers

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/metrics"
)

// removeFinalizer lets a deleted Reservation go. A Reservation already gone is not an error.
func removeFinalizer(ctx context.Context, c client.Client, rsv *conchv1.Reservation) error {
	patch := client.MergeFrom(rsv.DeepCopy())
	controllerutil.RemoveFinalizer(rsv, conchv1.ReservationFinalizer)
	return client.IgnoreNotFound(c.Patch(ctx, rsv, patch))
}

// observeEnd records how long a hold lasted; a Reservation that ended without being granted records nothing
// but the count.
func observeEnd(namespace string, state conchv1.ReservationState, grantedAt, now time.Time) {
	metrics.Ends.WithLabelValues(namespace, string(state)).Inc()
	if !grantedAt.IsZero() {
		metrics.HoldSeconds.WithLabelValues(namespace, string(state)).Observe(now.Sub(grantedAt).Seconds())
	}
}

// condMessage is the message of a Reservation's Ready condition, the sentence Events repeat.
func condMessage(st conchv1.ReservationStatus) string {
	if c := meta.FindStatusCondition(st.Conditions, conchv1.ConditionReady); c != nil {
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
