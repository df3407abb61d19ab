package slackbot

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

func TestDue(t *testing.T) {
	const warnBefore = 10 * time.Minute
	granted := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	expires := granted.Add(2 * time.Hour)
	micro := func(t time.Time) *metav1.MicroTime { m := metav1.NewMicroTime(t); return &m }

	// rsv describes alice's Reservation of staging: its state, its Ready condition's reason, its hold (none when
	// granted is nil) and what was already told.
	type rsv struct {
		state    conchv1.ReservationState
		reason   string
		granted  *time.Time
		expires  time.Time
		notified *conchv1.Notified
		// releasedBy is the released-by annotation.
		releasedBy string
	}
	build := func(in rsv) *conchv1.Reservation {
		r := &conchv1.Reservation{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "alice-staging"},
			Spec:       conchv1.ReservationSpec{ResourceName: "staging", Holder: "slack:UALICE"},
			Status:     conchv1.ReservationStatus{State: in.state, ResourceName: "staging", Notified: in.notified},
		}
		if in.granted != nil {
			r.Status.GrantedAt, r.Status.ExpiresAt = micro(*in.granted), micro(in.expires)
		}
		if in.reason != "" {
			r.Status.Conditions = []metav1.Condition{{Type: conchv1.ConditionReady, Reason: in.reason}}
		}
		if in.releasedBy != "" {
			r.Annotations = map[string]string{conchv1.AnnotationReleasedBy: in.releasedBy}
		}
		return r
	}
	grantedRsv := func(notified *conchv1.Notified) rsv {
		return rsv{state: conchv1.StateGranted, reason: conchv1.ReasonGranted, granted: &granted, expires: expires, notified: notified}
	}
	ended := func(state conchv1.ReservationState, reason string, notified *conchv1.Notified) rsv {
		return rsv{state: state, reason: reason, granted: &granted, expires: expires, notified: notified}
	}
	told := &conchv1.Notified{Granted: micro(granted)}

	// sent names a message: to a user or a channel, and which: granted, handover, warning, or ended:<reason>.
	type sent struct{ user, channel, what string }
	cases := map[string]struct {
		rsv     rsv
		user    string
		channel string
		now     time.Time
		want    []sent
		// record is status.notified as due returns it (written only when something is sent).
		record  *conchv1.Notified
		requeue time.Duration
	}{
		"queued: nothing (waiting is not told)": {
			rsv:  rsv{state: conchv1.StateQueued, reason: conchv1.ReasonQueued},
			user: "UALICE", channel: "CSTAGING", now: granted,
		},
		"released before its grant: nothing": {
			rsv:  rsv{state: conchv1.StateReleased, reason: conchv1.ReasonReleased, releasedBy: "<@UBOB>"},
			user: "UALICE", channel: "CSTAGING", now: granted,
		},
		"rejected: nothing": {
			rsv:  rsv{state: conchv1.StateRejected, reason: conchv1.ReasonHolderNotAllowed},
			user: "UALICE", now: granted,
		},
		"granted: a DM and a handover post; the warning scheduled": {
			rsv:  grantedRsv(nil),
			user: "UALICE", channel: "CSTAGING", now: granted,
			want:   []sent{{user: "UALICE", what: "granted"}, {channel: "CSTAGING", what: "handover"}},
			record: told, requeue: 2*time.Hour - warnBefore,
		},
		"granted, already told: nothing but the warning's time": {
			rsv:  grantedRsv(told),
			user: "UALICE", channel: "CSTAGING", now: granted.Add(time.Hour),
			record: told, requeue: time.Hour - warnBefore,
		},
		"granted to a holder who is no person (ci:deploy): the handover post only, no warning": {
			rsv:     grantedRsv(nil),
			channel: "CSTAGING", now: granted,
			want:   []sent{{channel: "CSTAGING", what: "handover"}},
			record: told,
		},
		"granted on a Resource with no channel: the DM only": {
			rsv:  grantedRsv(nil),
			user: "UALICE", now: granted,
			want:   []sent{{user: "UALICE", what: "granted"}},
			record: told, requeue: 2*time.Hour - warnBefore,
		},
		"granted, nobody to tell: nothing sent, so nothing written": {
			rsv: grantedRsv(nil), now: granted,
			record: told,
		},
		"granted anew (a later grant time than the one told): told again": {
			rsv:  grantedRsv(&conchv1.Notified{Granted: micro(granted.Add(-24 * time.Hour)), Warned: micro(granted.Add(-23 * time.Hour))}),
			user: "UALICE", channel: "CSTAGING", now: granted,
			want:   []sent{{user: "UALICE", what: "granted"}, {channel: "CSTAGING", what: "handover"}},
			record: &conchv1.Notified{Granted: micro(granted), Warned: micro(granted.Add(-23 * time.Hour))}, requeue: 2*time.Hour - warnBefore,
		},
		"the warning is due: warned": {
			rsv:  grantedRsv(told),
			user: "UALICE", channel: "CSTAGING", now: expires.Add(-5 * time.Minute),
			want:   []sent{{user: "UALICE", what: "warning"}},
			record: &conchv1.Notified{Granted: micro(granted), Warned: micro(expires)},
		},
		"the warning is due this very instant: warned": {
			rsv:  grantedRsv(told),
			user: "UALICE", now: expires.Add(-warnBefore),
			want:   []sent{{user: "UALICE", what: "warning"}},
			record: &conchv1.Notified{Granted: micro(granted), Warned: micro(expires)},
		},
		"warned of this expiry already: never again": {
			rsv:  grantedRsv(&conchv1.Notified{Granted: micro(granted), Warned: micro(expires)}),
			user: "UALICE", channel: "CSTAGING", now: expires.Add(-time.Minute),
			record: &conchv1.Notified{Granted: micro(granted), Warned: micro(expires)},
		},
		"extended, the new expiry in the warning window: warned again": {
			rsv: func() rsv {
				in := grantedRsv(&conchv1.Notified{Granted: micro(granted), Warned: micro(expires)})
				in.expires = expires.Add(time.Hour)
				return in
			}(),
			user: "UALICE", now: expires.Add(time.Hour - time.Minute),
			want:   []sent{{user: "UALICE", what: "warning"}},
			record: &conchv1.Notified{Granted: micro(granted), Warned: micro(expires.Add(time.Hour))},
		},
		"extended, the new expiry not in the window yet: the warning rescheduled": {
			rsv: func() rsv {
				in := grantedRsv(&conchv1.Notified{Granted: micro(granted), Warned: micro(expires)})
				in.expires = expires.Add(time.Hour)
				return in
			}(),
			user: "UALICE", now: expires.Add(-time.Minute),
			record:  &conchv1.Notified{Granted: micro(granted), Warned: micro(expires)},
			requeue: time.Hour + time.Minute - warnBefore,
		},
		"the grant and the warning both due (told late): both, in one write": {
			rsv:  grantedRsv(nil),
			user: "UALICE", channel: "CSTAGING", now: expires.Add(-time.Minute),
			want:   []sent{{user: "UALICE", what: "granted"}, {channel: "CSTAGING", what: "handover"}, {user: "UALICE", what: "warning"}},
			record: &conchv1.Notified{Granted: micro(granted), Warned: micro(expires)},
		},
		"a hold as short as the warning period: no warning": {
			rsv: func() rsv {
				in := grantedRsv(told)
				in.expires = granted.Add(warnBefore)
				return in
			}(),
			user: "UALICE", now: granted,
			record: told,
		},
		"a hold a second longer than the warning period: warned at once": {
			rsv: func() rsv {
				in := grantedRsv(told)
				in.expires = granted.Add(warnBefore + time.Second)
				return in
			}(),
			user: "UALICE", now: granted.Add(time.Second),
			want:   []sent{{user: "UALICE", what: "warning"}},
			record: &conchv1.Notified{Granted: micro(granted), Warned: micro(granted.Add(warnBefore + time.Second))},
		},
		"past its expiry, not ended yet: no warning": {
			rsv:  grantedRsv(told),
			user: "UALICE", now: expires,
			record: told,
		},
		"expired: told once": {
			rsv:  ended(conchv1.StateExpired, conchv1.ReasonExpired, &conchv1.Notified{Granted: micro(granted), Warned: micro(expires)}),
			user: "UALICE", channel: "CSTAGING", now: expires,
			want:   []sent{{user: "UALICE", what: "ended:" + conchv1.ReasonExpired}},
			record: &conchv1.Notified{Granted: micro(granted), Warned: micro(expires), Ended: conchv1.StateExpired},
		},
		"expired, already told: nothing": {
			rsv:  ended(conchv1.StateExpired, conchv1.ReasonExpired, &conchv1.Notified{Granted: micro(granted), Ended: conchv1.StateExpired}),
			user: "UALICE", channel: "CSTAGING", now: expires,
			record: &conchv1.Notified{Granted: micro(granted), Ended: conchv1.StateExpired},
		},
		"expired before the grant was told: only the end is told": {
			rsv:  ended(conchv1.StateExpired, conchv1.ReasonExpired, nil),
			user: "UALICE", channel: "CSTAGING", now: expires,
			want:   []sent{{user: "UALICE", what: "ended:" + conchv1.ReasonExpired}},
			record: &conchv1.Notified{Ended: conchv1.StateExpired},
		},
		"heartbeat missed: told": {
			rsv:  ended(conchv1.StateExpired, conchv1.ReasonHeartbeatMissed, told),
			user: "UALICE", now: granted.Add(time.Hour),
			want:   []sent{{user: "UALICE", what: "ended:" + conchv1.ReasonHeartbeatMissed}},
			record: &conchv1.Notified{Granted: micro(granted), Ended: conchv1.StateExpired},
		},
		"its Resource deleted: told": {
			rsv:  ended(conchv1.StateReleased, conchv1.ReasonResourceDeleted, told),
			user: "UALICE", now: granted.Add(time.Hour),
			want:   []sent{{user: "UALICE", what: "ended:" + conchv1.ReasonResourceDeleted}},
			record: &conchv1.Notified{Granted: micro(granted), Ended: conchv1.StateReleased},
		},
		"released by its holder: not told, so nothing written": {
			rsv:  ended(conchv1.StateReleased, conchv1.ReasonReleased, told),
			user: "UALICE", channel: "CSTAGING", now: granted.Add(time.Hour),
			record: &conchv1.Notified{Granted: micro(granted), Ended: conchv1.StateReleased},
		},
		"released by someone else: told": {
			rsv: func() rsv {
				in := ended(conchv1.StateReleased, conchv1.ReasonReleased, told)
				in.releasedBy = "<@UBOB>"
				return in
			}(),
			user: "UALICE", now: granted.Add(time.Hour),
			want:   []sent{{user: "UALICE", what: "ended:" + conchv1.ReasonReleased}},
			record: &conchv1.Notified{Granted: micro(granted), Ended: conchv1.StateReleased},
		},
		"deleted (kubectl delete): told, as a release": {
			rsv:  ended(conchv1.StateReleased, conchv1.ReasonDeleted, told),
			user: "UALICE", now: granted.Add(time.Hour),
			want:   []sent{{user: "UALICE", what: "ended:" + conchv1.ReasonDeleted}},
			record: &conchv1.Notified{Granted: micro(granted), Ended: conchv1.StateReleased},
		},
		"ended with no Ready condition: its state is the reason": {
			rsv:  ended(conchv1.StateExpired, "", told),
			user: "UALICE", now: expires,
			want:   []sent{{user: "UALICE", what: "ended:" + string(conchv1.StateExpired)}},
			record: &conchv1.Notified{Granted: micro(granted), Ended: conchv1.StateExpired},
		},
		"ended, its holder no person: nothing sent": {
			rsv: ended(conchv1.StateExpired, conchv1.ReasonExpired, told), channel: "CSTAGING", now: expires,
			record: &conchv1.Notified{Granted: micro(granted), Ended: conchv1.StateExpired},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := build(tc.rsv)
			stored := r.DeepCopy()
			var want []outMsg
			for _, s := range tc.want {
				var m Message
				switch s.what {
				case "granted":
					m = GrantedDM(r)
				case "handover":
					m = HandoverPost(r)
				case "warning":
					m = WarningDM(r, tc.now)
				default:
					m = EndedDM(r, strings.TrimPrefix(s.what, "ended:"))
				}
				want = append(want, outMsg{user: s.user, channel: s.channel, msg: m})
			}
			got := due(r, tc.user, tc.channel, warnBefore, tc.now)
			if diff := cmp.Diff(want, got.msgs, cmp.AllowUnexported(outMsg{})); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.record, got.record); diff != "" {
				t.Errorf("status.notified (-want +got):\n%s", diff)
			}
			if got.requeue != tc.requeue {
				t.Errorf("requeue after %s, want %s", got.requeue, tc.requeue)
			}
			if diff := cmp.Diff(stored, r); diff != "" {
				t.Errorf("the Reservation was changed (-before +after):\n%s", diff)
			}
		})
	}
}
