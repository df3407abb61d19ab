package slackbot

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/notify"
)

func TestWantsDM(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	granted := metav1.NewMicroTime(now.Add(-30 * time.Minute))
	rsv := func(why, releasedBy string, wasGranted bool) *conchv1.Reservation {
		r := &conchv1.Reservation{ObjectMeta: metav1.ObjectMeta{Name: "r"}}
		if wasGranted {
			r.Status.GrantedAt = &granted
		}
		if why != "" {
			r.Status.Conditions = []metav1.Condition{{Type: conchv1.ConditionReady, Reason: why}}
		}
		if releasedBy != "" {
			r.Annotations = map[string]string{conchv1.AnnotationReleasedBy: releasedBy}
		}
		return r
	}
	cases := map[string]struct {
		typ  string
		r    *conchv1.Reservation
		at   time.Time
		want bool
	}{
		"your turn":                            {conchv1.EventReservationGranted, rsv(conchv1.ReasonGranted, "", true), granted.Time, true},
		"the warning":                          {conchv1.EventReservationExpiring, rsv(conchv1.ReasonGranted, "", true), now, true},
		"expired":                              {conchv1.EventReservationExpired, rsv(conchv1.ReasonExpired, "", true), now, true},
		"missed heartbeat":                     {conchv1.EventReservationExpired, rsv(conchv1.ReasonHeartbeatMissed, "", true), now, true},
		"released by themselves":               {conchv1.EventReservationReleased, rsv(conchv1.ReasonReleased, "", true), now, false},
		"deleted by themselves":                {conchv1.EventReservationReleased, rsv(conchv1.ReasonDeleted, "", true), now, false},
		"released by an admin":                 {conchv1.EventReservationReleased, rsv(conchv1.ReasonReleased, "UADMIN", true), now, true},
		"the job holding it ended":             {conchv1.EventReservationReleased, rsv(conchv1.ReasonHolderFinished, "", true), now, true},
		"queued: nothing yet":                  {conchv1.EventReservationQueued, rsv(conchv1.ReasonQueued, "", false), now, false},
		"left the queue: never granted":        {conchv1.EventReservationReleased, rsv(conchv1.ReasonReleased, "UADMIN", false), now, false},
		"a grant two hours old is not news":    {conchv1.EventReservationGranted, rsv(conchv1.ReasonGranted, "", true), now.Add(-2 * time.Hour), false},
		"an end two hours old is not news":     {conchv1.EventReservationExpired, rsv(conchv1.ReasonExpired, "", true), now.Add(-2 * time.Hour), false},
		"extended: the reply to the extension": {conchv1.EventReservationExtended, rsv(conchv1.ReasonGranted, "", true), now, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ev := notify.Event{Type: tc.typ, Time: tc.at, Reservation: tc.r}
			if got := wantsDM(ev, now); got != tc.want {
				t.Errorf("wantsDM = %v, want %v", got, tc.want)
			}
		})
	}
}
