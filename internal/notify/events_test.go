package notify

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

var (
	granted = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	expires = granted.Add(2 * time.Hour)
)

const warnBefore = 10 * time.Minute

func micro(t time.Time) *metav1.MicroTime { m := metav1.NewMicroTime(t); return &m }

func us(t time.Time) string { return fmt.Sprint(t.UnixMicro()) }

func reservation(state conchv1.ReservationState, mutate ...func(*conchv1.Reservation)) *conchv1.Reservation {
	r := &conchv1.Reservation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "alice-staging", UID: "u1",
			CreationTimestamp: metav1.NewTime(granted.Add(-time.Hour))},
		Spec:   conchv1.ReservationSpec{ResourceName: "staging", Holder: "slack:UALICE"},
		Status: conchv1.ReservationStatus{State: state, ResourceName: "staging", Ticket: 3},
	}
	if state != conchv1.StateQueued && state != conchv1.StatePending {
		r.Status.GrantedAt, r.Status.ExpiresAt = micro(granted), micro(expires)
	}
	if state.IsFinal() {
		r.Status.EndedAt = &metav1.Time{Time: granted.Add(time.Hour)}
	}
	for _, m := range mutate {
		m(r)
	}
	return r
}

// preempting makes a granted Reservation one whose slot a higher priority takes, ending at end.
func preempting(end time.Time) func(*conchv1.Reservation) {
	return func(r *conchv1.Reservation) {
		r.Status.ExpiresAt = micro(end)
		r.Status.Conditions = []metav1.Condition{{Type: conchv1.ConditionGranted, Status: metav1.ConditionTrue,
			Reason: conchv1.ReasonPreempting, LastTransitionTime: metav1.NewTime(granted)}}
	}
}

func TestReservationEvents(t *testing.T) {
	grantKey := "granted:" + us(granted) + ":" + us(expires)
	later := expires.Add(time.Hour)
	extended := func(r *conchv1.Reservation) { r.Status.ExpiresAt = micro(later) }
	cases := map[string]struct {
		r    *conchv1.Reservation
		told []string
		now  time.Time
		want []string // Type Key
		next time.Time
	}{
		"pending: nothing to tell": {
			r: reservation(conchv1.StatePending), now: granted,
		},
		"preempting: told once per new end, and no expiry warning beside it": {
			// Inside what would be the warning window of the new end: the preemption says it all.
			r:    reservation(conchv1.StateGranted, preempting(granted.Add(30*time.Minute))),
			told: []string{grantKey}, now: granted.Add(25 * time.Minute),
			want: []string{conchv1.EventReservationPreempting + " preempting:" + us(granted.Add(30*time.Minute))},
		},
		"preempting and told": {
			r:    reservation(conchv1.StateGranted, preempting(granted.Add(5*time.Minute))),
			told: []string{grantKey, "preempting:" + us(granted.Add(5*time.Minute))}, now: granted.Add(2 * time.Minute),
		},
		"queued: told once per ticket": {
			r: reservation(conchv1.StateQueued), now: granted,
			want: []string{conchv1.EventReservationQueued + " queued:3"},
		},
		"queued and told": {
			r: reservation(conchv1.StateQueued), told: []string{"queued:3"}, now: granted,
		},
		"granted: the grant, with the end told then; the warning is timed": {
			r: reservation(conchv1.StateGranted), now: granted,
			want: []string{conchv1.EventReservationGranted + " " + grantKey},
			next: expires.Add(-warnBefore),
		},
		"granted and told: only the timer": {
			r: reservation(conchv1.StateGranted), told: []string{grantKey}, now: granted.Add(time.Minute),
			next: expires.Add(-warnBefore),
		},
		"inside the warning window: the warning, once": {
			r: reservation(conchv1.StateGranted), told: []string{grantKey}, now: expires.Add(-5 * time.Minute),
			want: []string{conchv1.EventReservationExpiring + " expiring:" + us(expires)},
		},
		"warned already": {
			r: reservation(conchv1.StateGranted), told: []string{grantKey, "expiring:" + us(expires)},
			now: expires.Add(-5 * time.Minute),
		},
		"at the end, still Granted (the controller has not written Expired yet): no late warning": {
			r: reservation(conchv1.StateGranted), told: []string{grantKey}, now: expires,
		},
		"extended after the grant was told: extended, and the new end's warning is timed": {
			r: reservation(conchv1.StateGranted, extended), told: []string{grantKey}, now: granted.Add(time.Minute),
			want: []string{conchv1.EventReservationExtended + " extended:" + us(later)},
			next: later.Add(-warnBefore),
		},
		"extended after the old end was warned: the new end is warned again": {
			r:    reservation(conchv1.StateGranted, extended),
			told: []string{grantKey, "expiring:" + us(expires), "extended:" + us(later)}, now: later.Add(-time.Minute),
			want: []string{conchv1.EventReservationExpiring + " expiring:" + us(later)},
		},
		"extended before the grant was told: one grant with the new end, no extension": {
			r: reservation(conchv1.StateGranted, extended), now: granted.Add(time.Minute),
			want: []string{conchv1.EventReservationGranted + " granted:" + us(granted) + ":" + us(later)},
			next: later.Add(-warnBefore),
		},
		"shortened (the end moved earlier): no extension": {
			r:    reservation(conchv1.StateGranted, func(r *conchv1.Reservation) { r.Status.ExpiresAt = micro(granted.Add(time.Hour)) }),
			told: []string{grantKey}, now: granted.Add(time.Minute), next: granted.Add(time.Hour - warnBefore),
		},
		"a hold shorter than the warning gets none": {
			r:    reservation(conchv1.StateGranted, func(r *conchv1.Reservation) { r.Status.ExpiresAt = micro(granted.Add(5 * time.Minute)) }),
			told: []string{"granted:" + us(granted) + ":" + us(granted.Add(5*time.Minute))}, now: granted.Add(time.Minute),
		},
		"released: the end, even if the grant was never told": {
			r: reservation(conchv1.StateReleased), now: expires,
			want: []string{conchv1.EventReservationReleased + " ended"},
		},
		"expired and told": {
			r: reservation(conchv1.StateExpired), told: []string{grantKey, "ended"}, now: expires,
		},
		"rejected": {
			r: reservation(conchv1.StateRejected), now: granted,
			want: []string{conchv1.EventReservationRejected + " ended"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			evs, next := ReservationEvents(tc.r, nil, tc.told, warnBefore, tc.now)
			var got []string
			for _, ev := range evs {
				got = append(got, ev.Type+" "+ev.Key)
				if ev.ID != "u1/"+ev.Key {
					t.Errorf("ID %q, want the UID and the key", ev.ID)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if !next.Equal(tc.next) {
				t.Errorf("next = %v, want %v", next, tc.next)
			}
		})
	}
}

func TestResourceEvents(t *testing.T) {
	at := metav1.NewTime(granted)
	res := func(status metav1.ConditionStatus) *conchv1.Resource {
		r := &conchv1.Resource{ObjectMeta: metav1.ObjectMeta{Name: "staging", UID: "r1"}}
		if status != "" {
			r.Status.Conditions = []metav1.Condition{{Type: conchv1.ResourceConditionPaused, Status: status, LastTransitionTime: at}}
		}
		return r
	}
	health := func(status metav1.ConditionStatus) *conchv1.Resource {
		r := &conchv1.Resource{ObjectMeta: metav1.ObjectMeta{Name: "staging", UID: "r1"}}
		r.Status.Conditions = []metav1.Condition{{Type: conchv1.ResourceConditionHealthy, Status: status, LastTransitionTime: at}}
		return r
	}
	cases := map[string]struct {
		res  *conchv1.Resource
		told []string
		want []string
	}{
		"never paused":     {res: res("")},
		"paused":           {res: res(metav1.ConditionTrue), want: []string{conchv1.EventResourcePaused + " paused:" + us(granted)}},
		"paused and told":  {res: res(metav1.ConditionTrue), told: []string{"paused:" + us(granted)}},
		"resumed":          {res: res(metav1.ConditionFalse), told: []string{"paused:1"}, want: []string{conchv1.EventResourceResumed + " resumed:" + us(granted)}},
		"resumed and told": {res: res(metav1.ConditionFalse), told: []string{"resumed:" + us(granted)}},
		"unhealthy":        {res: health(metav1.ConditionFalse), want: []string{conchv1.EventResourceUnhealthy + " unhealthy:" + us(granted)}},
		"unhealthy and told": {
			res: health(metav1.ConditionFalse), told: []string{"unhealthy:" + us(granted)},
		},
		"a first passed check is no news": {res: health(metav1.ConditionTrue)},
		"healthy again, to one told it was unhealthy": {
			res: health(metav1.ConditionTrue), told: []string{"unhealthy:" + us(granted.Add(-time.Hour))},
			want: []string{conchv1.EventResourceHealthy + " healthy:" + us(granted)},
		},
		"a failure told after the recovery does not count (an older condition was read)": {
			res: health(metav1.ConditionTrue), told: []string{"unhealthy:" + us(granted.Add(time.Hour))},
		},
		"paused and unhealthy: both": {
			res: func() *conchv1.Resource {
				r := res(metav1.ConditionTrue)
				r.Status.Conditions = append(r.Status.Conditions, health(metav1.ConditionFalse).Status.Conditions...)
				return r
			}(),
			want: []string{conchv1.EventResourcePaused + " paused:" + us(granted), conchv1.EventResourceUnhealthy + " unhealthy:" + us(granted)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, ev := range ResourceEvents(tc.res, tc.told) {
				got = append(got, ev.Type+" "+ev.Key)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToldReadsWhatAnEarlierVersionRecorded(t *testing.T) {
	r := reservation(conchv1.StateGranted, func(r *conchv1.Reservation) {
		r.Status.Notified = &conchv1.Notified{Granted: micro(granted), Warned: micro(expires)}
	})
	told := Told(r, nil, conchv1.DeliverySlackDM)
	evs, _ := ReservationEvents(r, nil, told, warnBefore, expires.Add(-time.Minute))
	if len(evs) != 0 {
		t.Errorf("an upgrade repeats %v", evs)
	}
	if got := Told(r, nil, conchv1.DeliveryEventSinkPrefix+"hooks"); len(got) != 0 {
		t.Errorf("an EventSink inherits Slack's record: %v", got)
	}
	ended := reservation(conchv1.StateExpired, func(r *conchv1.Reservation) { r.Status.Notified = &conchv1.Notified{Ended: conchv1.StateExpired} })
	if evs, _ := ReservationEvents(ended, nil, Told(ended, nil, conchv1.DeliverySlackChannel), warnBefore, expires); len(evs) != 0 {
		t.Errorf("an upgrade repeats the end: %v", evs)
	}
}

func TestRecordKeepsTheGrantAndTheNewest(t *testing.T) {
	told := []string{"granted:1:2"}
	for i := range 40 {
		told = Record(told, fmt.Sprintf("extended:%d", 100+i))
	}
	if len(told) != conchv1.MaxDeliveredEvents {
		t.Fatalf("kept %d keys, want %d", len(told), conchv1.MaxDeliveredEvents)
	}
	if told[0] != "granted:1:2" || told[len(told)-1] != "extended:139" {
		t.Errorf("kept %v", told)
	}
	if again := Record(told, "extended:139"); len(again) != len(told) {
		t.Errorf("a key recorded twice")
	}
}
