package history

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func at(h, m int) time.Time { return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }

func TestWaitedAndHeld(t *testing.T) {
	for name, tc := range map[string]struct {
		hold         Hold
		waited, held time.Duration
	}{
		"granted after a wait": {
			hold:   Hold{Created: at(9, 0), Granted: at(9, 30), Ended: at(11, 0)},
			waited: 30 * time.Minute, held: 90 * time.Minute,
		},
		"never granted: waited until it ended": {
			hold:   Hold{Created: at(9, 0), Ended: at(9, 45)},
			waited: 45 * time.Minute, held: 0,
		},
		"granted within the second it was created (creation in whole seconds)": {
			hold:   Hold{Created: at(9, 0).Add(time.Second), Granted: at(9, 0).Add(300 * time.Millisecond), Ended: at(10, 0)},
			waited: 0, held: time.Hour - 300*time.Millisecond,
		},
		"ended stored in whole seconds before the grant's fraction": {
			hold:   Hold{Created: at(9, 0), Granted: at(9, 0).Add(700 * time.Millisecond), Ended: at(9, 0)},
			waited: 700 * time.Millisecond, held: 0,
		},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.hold.Waited(); got != tc.waited {
				t.Errorf("Waited() = %s, want %s", got, tc.waited)
			}
			if got := tc.hold.Held(); got != tc.held {
				t.Errorf("Held() = %s, want %s", got, tc.held)
			}
		})
	}
}

func TestDaily(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	day := func(d int) time.Time { return t0.AddDate(0, 0, d) }
	for name, tc := range map[string]struct {
		holds    []Hold
		loc      *time.Location
		from, to time.Time
		want     []Day
	}{
		"no holds: one empty day per day": {
			from: day(0), to: day(2),
			want: []Day{{Date: day(0)}, {Date: day(1)}},
		},
		"to before from: no days": {
			from: day(2), to: day(0),
		},
		"one hold inside a day": {
			holds: []Hold{{Created: at(9, 0), Granted: at(9, 20), Ended: at(10, 20)}},
			from:  day(0), to: day(1),
			want: []Day{{Date: day(0), Held: time.Hour, Waited: 20 * time.Minute, LongestWait: 20 * time.Minute, Holds: 1}},
		},
		"a hold across midnight counts on both days": {
			holds: []Hold{{Created: at(22, 0), Granted: at(23, 0), Ended: at(26, 0)}},
			from:  day(0), to: day(2),
			want: []Day{
				{Date: day(0), Held: time.Hour, Waited: time.Hour, LongestWait: time.Hour, Holds: 1},
				{Date: day(1), Held: 2 * time.Hour},
			},
		},
		"a wait across midnight: longest wait on the day it ended": {
			holds: []Hold{{Created: at(20, 0), Granted: at(27, 0), Ended: at(28, 0)}},
			from:  day(0), to: day(2),
			want: []Day{
				{Date: day(0), Waited: 4 * time.Hour},
				{Date: day(1), Held: time.Hour, Waited: 3 * time.Hour, LongestWait: 7 * time.Hour, Holds: 1},
			},
		},
		"never granted: only waited": {
			holds: []Hold{{Created: at(9, 0), Ended: at(9, 40)}, {Created: at(9, 0), Granted: at(9, 10), Ended: at(9, 30)}},
			from:  day(0), to: day(1),
			want: []Day{{Date: day(0), Held: 20 * time.Minute, Waited: 50 * time.Minute, LongestWait: 40 * time.Minute, Holds: 1}},
		},
		"clipped to from and to": {
			holds: []Hold{{Created: at(1, 0), Granted: at(2, 0), Ended: at(8, 0)}},
			from:  at(4, 0), to: at(6, 0),
			want: []Day{{Date: day(0), Held: 2 * time.Hour}},
		},
		"days of another time zone": {
			// 23:30 UTC is 00:30 the next day in Berlin (UTC+1 in November).
			holds: []Hold{{Created: at(22, 30), Granted: at(22, 30), Ended: at(23, 30)}},
			loc:   berlin, from: day(0), to: day(1),
			want: []Day{
				{Date: time.Date(2026, 11, 23, 0, 0, 0, 0, berlin), Held: 30 * time.Minute, Holds: 1},
				{Date: time.Date(2026, 11, 24, 0, 0, 0, 0, berlin), Held: 30 * time.Minute},
			},
		},
		"the day daylight saving time ends has 25 hours": {
			holds: []Hold{{
				Created: time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), Granted: time.Date(2026, 10, 25, 0, 0, 0, 0, berlin),
				Ended: time.Date(2026, 10, 26, 0, 0, 0, 0, berlin),
			}},
			loc: berlin, from: time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), to: time.Date(2026, 10, 26, 0, 0, 0, 0, berlin),
			want: []Day{{Date: time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), Held: 25 * time.Hour, Holds: 1}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := Daily(tc.holds, tc.loc, tc.from, tc.to)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Daily() (-want +got):\n%s", diff)
			}
		})
	}
}

func hold(uid string, ended time.Time) Hold {
	return Hold{UID: types.UID(uid), Reservation: uid, Holder: "alice", Resource: "staging", State: "Released",
		Reason: "Released", Created: ended.Add(-time.Hour), Granted: ended.Add(-30 * time.Minute), Ended: ended}
}

func TestMerge(t *testing.T) {
	uids := func(hs []Hold) []string {
		var out []string
		for _, h := range hs {
			out = append(out, string(h.UID))
		}
		return out
	}
	many := func(n int) []Hold {
		var hs []Hold
		for i := range n {
			hs = append(hs, hold(fmt.Sprintf("u%04d", i), at(0, i)))
		}
		return hs
	}
	for name, tc := range map[string]struct {
		recorded, added []Hold
		cutoff          time.Time
		maxHolds        int
		maxBytes        int
		want            []string
	}{
		"added to an empty history": {
			added: []Hold{hold("b", at(10, 0)), hold("a", at(9, 0))}, want: []string{"a", "b"},
		},
		"each UID once, the recorded one kept": {
			recorded: []Hold{hold("a", at(9, 0))},
			added:    []Hold{hold("a", at(12, 0)), hold("b", at(10, 0))},
			want:     []string{"a", "b"},
		},
		"older than the cutoff dropped": {
			recorded: []Hold{hold("old", at(1, 0)), hold("new", at(5, 0))},
			added:    []Hold{hold("older", at(0, 0))},
			cutoff:   at(2, 0), want: []string{"new"},
		},
		"bounded by count: the oldest go": {
			recorded: many(5), maxHolds: 3, want: []string{"u0002", "u0003", "u0004"},
		},
		"bounded by size: the oldest go": {
			recorded: many(100), maxBytes: len(Encode(many(30))),
			want: uids(many(100)[70:]),
		},
		"nothing left": {
			recorded: []Hold{hold("a", at(1, 0))}, cutoff: at(2, 0),
		},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.maxHolds == 0 {
				tc.maxHolds = MaxHolds
			}
			if tc.maxBytes == 0 {
				tc.maxBytes = MaxBytes
			}
			got := Merge(tc.recorded, tc.added, tc.cutoff, tc.maxHolds, tc.maxBytes)
			if diff := cmp.Diff(tc.want, uids(got)); diff != "" {
				t.Errorf("Merge() UIDs (-want +got):\n%s", diff)
			}
			if n := len(Encode(got)); n > tc.maxBytes {
				t.Errorf("encoded %d bytes, more than %d", n, tc.maxBytes)
			}
		})
	}
}

func TestMergeOfAFullHistoryStaysFarBelowAConfigMapsLimit(t *testing.T) {
	long := strings.Repeat("x", 253)
	var hs []Hold
	for i := range 2 * MaxHolds {
		h := hold(fmt.Sprintf("%036d", i), at(0, i))
		h.Reservation, h.Holder, h.Reason = long, strings.Repeat("h", 256), "HeartbeatMissed"
		hs = append(hs, h)
	}
	got := Merge(nil, hs, time.Time{}, MaxHolds, MaxBytes)
	if n := len(Encode(got)); n > MaxBytes || n > 1<<20/2 {
		t.Errorf("a full history with the longest names encodes to %d bytes", n)
	}
	if len(got) == 0 || got[len(got)-1].UID != hs[len(hs)-1].UID {
		t.Errorf("the newest hold was not kept")
	}
}

func TestEncodeDecode(t *testing.T) {
	holds := []Hold{
		hold("a", at(9, 0)),
		{UID: "b", Reservation: "b", Holder: `"quoted" <html>`, Resource: "staging", State: "Rejected", Reason: "HolderNotAllowed",
			Created: at(9, 0).Add(123456 * time.Microsecond), Ended: at(9, 0).Add(time.Second)},
	}
	got, err := Decode("staging", Encode(holds))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(holds, got); diff != "" {
		t.Errorf("Decode(Encode()) (-want +got):\n%s", diff)
	}
	if _, err := Decode("staging", "{not json"); err == nil || !strings.Contains(err.Error(), "staging") {
		t.Errorf("Decode of garbage: error %v, want one naming the Resource", err)
	}
	if got, err := Decode("staging", ""); err != nil || got != nil {
		t.Errorf("Decode of nothing = %v, %v", got, err)
	}
}

func TestConfigMapName(t *testing.T) {
	long := strings.Repeat("a", 250)
	for name, tc := range map[string]struct {
		resource string
		want     string
	}{
		"short":                          {resource: "staging", want: "conch-history-staging"},
		"too long: shortened and hashed": {resource: long, want: "conch-history-" + long[:222] + "-"},
	} {
		t.Run(name, func(t *testing.T) {
			got := ConfigMapName(tc.resource)
			if !strings.HasPrefix(got, tc.want) || len(got) > 253 {
				t.Errorf("ConfigMapName(%q) = %q (%d), want prefix %q and at most 253", tc.resource, got, len(got), tc.want)
			}
		})
	}
	if ConfigMapName(long+"a") == ConfigMapName(long+"b") {
		t.Errorf("two long names share a ConfigMap")
	}
}

func TestHoldOf(t *testing.T) {
	now := at(12, 0)
	rsv := func(state conchv1.ReservationState, mutate ...func(*conchv1.Reservation)) *conchv1.Reservation {
		r := &conchv1.Reservation{
			ObjectMeta: metav1.ObjectMeta{Name: "r1", Namespace: "ns", UID: "u1", CreationTimestamp: metav1.NewTime(at(9, 0))},
			Spec:       conchv1.ReservationSpec{ResourceName: "staging", Holder: "alice"},
			Status:     conchv1.ReservationStatus{State: state, ResourceName: "staging"},
		}
		for _, m := range mutate {
			m(r)
		}
		return r
	}
	granted := func(r *conchv1.Reservation) { r.Status.GrantedAt = &metav1.MicroTime{Time: at(10, 0)} }
	ended := func(reason string) func(*conchv1.Reservation) {
		return func(r *conchv1.Reservation) {
			r.Status.EndedAt = &metav1.Time{Time: at(11, 0)}
			r.Status.Conditions = []metav1.Condition{{Type: conchv1.ConditionReady, Reason: reason}}
		}
	}
	base := Hold{Reservation: "r1", UID: "u1", Holder: "alice", Resource: "staging", Created: at(9, 0)}
	with := func(f func(*Hold)) Hold { h := base; f(&h); return h }
	for name, tc := range map[string]struct {
		rsv     *conchv1.Reservation
		deleted bool
		want    Hold
		ok      bool
	}{
		"expired after a hold": {
			rsv: rsv(conchv1.StateExpired, granted, ended(conchv1.ReasonHeartbeatMissed)), ok: true,
			want: with(func(h *Hold) {
				h.State, h.Reason, h.Granted, h.Ended = "Expired", "HeartbeatMissed", at(10, 0), at(11, 0)
			}),
		},
		"rejected, never granted": {
			rsv: rsv(conchv1.StateRejected, ended(conchv1.ReasonHolderNotAllowed)), ok: true,
			want: with(func(h *Hold) { h.State, h.Reason, h.Ended = "Rejected", "HolderNotAllowed", at(11, 0) }),
		},
		"granted: not ended":  {rsv: rsv(conchv1.StateGranted, granted)},
		"queued: not ended":   {rsv: rsv(conchv1.StateQueued)},
		"pending and deleted": {rsv: rsv(conchv1.StatePending), deleted: true},
		"granted and deleted: released now": {
			rsv: rsv(conchv1.StateGranted, granted), deleted: true, ok: true,
			want: with(func(h *Hold) { h.State, h.Reason, h.Granted, h.Ended = "Released", "Deleted", at(10, 0), now }),
		},
		"queued and deleted: gave up now": {
			rsv: rsv(conchv1.StateQueued), deleted: true, ok: true,
			want: with(func(h *Hold) { h.State, h.Reason, h.Ended = "Released", "Deleted", now }),
		},
		"ended in a pool: the Resource it was bound to": {
			rsv: rsv(conchv1.StateReleased, granted, ended(conchv1.ReasonReleased), func(r *conchv1.Reservation) {
				r.Spec.ResourceName, r.Spec.Selector = "", &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "qa"}}
				r.Status.ResourceName = "qa-1"
			}),
			ok: true,
			want: with(func(h *Hold) {
				h.Resource, h.State, h.Reason, h.Granted, h.Ended = "qa-1", "Released", "Released", at(10, 0), at(11, 0)
			}),
		},
		"ended unbound in a pool: no Resource": {
			rsv: rsv(conchv1.StateRejected, func(r *conchv1.Reservation) {
				r.Spec.ResourceName, r.Status.ResourceName = "", ""
				r.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "qa"}}
			}),
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := holdOf(tc.rsv, tc.deleted, now)
			if ok != tc.ok {
				t.Fatalf("holdOf() ok = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("holdOf() (-want +got):\n%s", diff)
			}
		})
	}
}
