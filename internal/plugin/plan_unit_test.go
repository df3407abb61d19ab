package plugin

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// TestWaitFor checks that a booking's wait (on --wait, run) counts --timeout from its start unless --timeout was
// given, so that a run booked for tomorrow does not give up tonight.
func TestWaitFor(t *testing.T) {
	now := time.Date(2026, 12, 8, 17, 30, 0, 0, time.UTC)
	a := &app{Options: Options{Now: func() time.Time { return now }}}
	booking := func(start time.Time) *conchv1.Reservation {
		return &conchv1.Reservation{Spec: conchv1.ReservationSpec{StartTime: &metav1.Time{Time: start}}}
	}
	cases := map[string]struct {
		r    *conchv1.Reservation
		o    onOptions
		want time.Duration
	}{
		"walk-in":                       {r: &conchv1.Reservation{}, o: onOptions{timeout: 30 * time.Minute}, want: 30 * time.Minute},
		"booking, default timeout":      {r: booking(now.Add(16 * time.Hour)), o: onOptions{timeout: 30 * time.Minute}, want: 16*time.Hour + 30*time.Minute},
		"booking, timeout given":        {r: booking(now.Add(16 * time.Hour)), o: onOptions{timeout: time.Hour, timeoutSet: true}, want: time.Hour},
		"booking that started meantime": {r: booking(now.Add(-time.Minute)), o: onOptions{timeout: 30 * time.Minute}, want: 30 * time.Minute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := a.waitFor(tc.r, tc.o); got != tc.want {
				t.Errorf("waitFor = %s, want %s", got, tc.want)
			}
		})
	}
}
