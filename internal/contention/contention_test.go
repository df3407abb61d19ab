package contention

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/charts"
)

// monday is the start of the test week, 00:00 UTC.
var monday = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// at is a time on the test week: day 0 is Monday.
func at(day int, hour, minute int) time.Time {
	return monday.AddDate(0, 0, day).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

func TestPeriod(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		now      time.Time
		days     int
		loc      *time.Location
		wantFrom time.Time
	}{
		"a week to Sunday afternoon": {now: at(6, 15, 0), days: 7, loc: time.UTC, wantFrom: monday},
		"one day is today":           {now: at(2, 9, 30), days: 1, loc: nil, wantFrom: at(2, 0, 0)},
		"no days is today":           {now: at(2, 9, 30), days: 0, loc: time.UTC, wantFrom: at(2, 0, 0)},
		"midnight in Paris":          {now: at(6, 23, 30), days: 1, loc: paris, wantFrom: time.Date(2026, 12, 7, 0, 0, 0, 0, paris)},
		"across a month":             {now: at(1, 12, 0), days: 3, loc: time.UTC, wantFrom: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			from, to := Period(tc.now, tc.days, tc.loc)
			if !from.Equal(tc.wantFrom) || !to.Equal(tc.now) {
				t.Errorf("Period = %v, %v; want %v, %v", from, to, tc.wantFrom, tc.now)
			}
		})
	}
}

func TestCompute(t *testing.T) {
	h := time.Hour
	// days makes the Days of a 3-day period from Monday with held and waited hours.
	days := func(hw ...[2]time.Duration) []charts.Day {
		out := make([]charts.Day, len(hw))
		for i, d := range hw {
			out[i] = charts.Day{Date: monday.AddDate(0, 0, i), Held: d[0], Waited: d[1]}
		}
		return out
	}
	zero := [2]time.Duration{}
	from, to := monday, at(3, 0, 0)
	cases := map[string]struct {
		holds []Hold
		to    time.Time // the period's end when set
		want  Stats
	}{
		"nothing": {
			want: Stats{Days: days(zero, zero, zero), Queue: []charts.QueuePoint{{Time: from}}},
		},
		"a hold granted at once": {
			holds: []Hold{{Created: at(0, 9, 0), Granted: at(0, 9, 0), Ended: at(0, 11, 0)}},
			want: Stats{
				Days: days([2]time.Duration{2 * h, 0}, zero, zero), Held: 2 * h, Grants: 1,
				Waits: []time.Duration{0}, Queue: []charts.QueuePoint{{Time: from}},
			},
		},
		"a wait, then a hold across midnight": {
			holds: []Hold{{Created: at(0, 21, 0), Granted: at(0, 23, 0), Ended: at(1, 2, 0)}},
			want: Stats{
				Days: days([2]time.Duration{h, 2 * h}, [2]time.Duration{2 * h, 0}, zero), Held: 3 * h, Waited: 2 * h,
				Grants: 1, Waits: []time.Duration{2 * h}, LongestWait: 2 * h,
				Queue: []charts.QueuePoint{{Time: from}, {Time: at(0, 21, 0), Length: 1}, {Time: at(0, 23, 0)}},
			},
		},
		"a queue of two behind a holder": {
			holds: []Hold{
				{Reservation: "a", Created: at(1, 8, 0), Granted: at(1, 8, 0), Ended: at(1, 10, 0)},
				{Reservation: "b", Created: at(1, 8, 30), Granted: at(1, 10, 0), Ended: at(1, 12, 0)},
				{Reservation: "c", Created: at(1, 9, 0), Granted: at(1, 12, 0), Ended: at(1, 13, 0)},
			},
			want: Stats{
				Days: days(zero, [2]time.Duration{5 * h, 90*time.Minute + 3*h}, zero), Held: 5 * h, Waited: 270 * time.Minute,
				Grants: 3, Waits: []time.Duration{0, 90 * time.Minute, 3 * h}, LongestWait: 3 * h,
				Queue: []charts.QueuePoint{
					{Time: from}, {Time: at(1, 8, 30), Length: 1}, {Time: at(1, 9, 0), Length: 2},
					{Time: at(1, 10, 0), Length: 1}, {Time: at(1, 12, 0)},
				},
			},
		},
		"left the queue without a grant": {
			holds: []Hold{{Created: at(2, 9, 0), Ended: at(2, 9, 45)}},
			want: Stats{
				Days: days(zero, zero, [2]time.Duration{0, 45 * time.Minute}), Waited: 45 * time.Minute,
				Waits: []time.Duration{45 * time.Minute}, LongestWait: 45 * time.Minute,
				Queue: []charts.QueuePoint{{Time: from}, {Time: at(2, 9, 0), Length: 1}, {Time: at(2, 9, 45)}},
			},
		},
		"still waiting and still held at the end": {
			holds: []Hold{
				{Created: at(2, 20, 0), Granted: at(2, 20, 0)},
				{Created: at(2, 22, 0)},
			},
			want: Stats{
				Days: days(zero, zero, [2]time.Duration{4 * h, 2 * h}), Held: 4 * h, Waited: 2 * h,
				Grants: 1, Waits: []time.Duration{0}, LongestWait: 2 * h,
				Queue: []charts.QueuePoint{{Time: from}, {Time: at(2, 22, 0), Length: 1}},
			},
		},
		"began before the period": {
			holds: []Hold{
				{Created: at(-1, 20, 0), Granted: at(0, 2, 0), Ended: at(0, 4, 0)},
				{Created: at(-2, 20, 0), Granted: at(-2, 20, 0), Ended: at(-2, 21, 0)},
			},
			want: Stats{
				Days: days([2]time.Duration{2 * h, 2 * h}, zero, zero), Held: 2 * h, Waited: 2 * h,
				Grants: 1, Waits: []time.Duration{6 * h}, LongestWait: 6 * h,
				Queue: []charts.QueuePoint{{Time: from, Length: 1}, {Time: at(0, 2, 0)}},
			},
		},
		"ends after the period": {
			to:    at(1, 0, 0),
			holds: []Hold{{Created: at(0, 22, 0), Granted: at(1, 1, 0), Ended: at(1, 3, 0)}},
			want: Stats{
				Days: days([2]time.Duration{0, 2 * h}), Waited: 2 * h, LongestWait: 2 * h,
				Queue: []charts.QueuePoint{{Time: from}, {Time: at(0, 22, 0), Length: 1}},
			},
		},
		"created after the period": {
			to:    at(1, 0, 0),
			holds: []Hold{{Created: at(1, 1, 0)}},
			want:  Stats{Days: days(zero), Queue: []charts.QueuePoint{{Time: from}}},
		},
		"two arrive and one leaves at one moment": {
			holds: []Hold{
				{Created: at(0, 8, 0), Granted: at(0, 9, 0), Ended: at(0, 10, 0)},
				{Created: at(0, 9, 0), Granted: at(0, 10, 0), Ended: at(0, 11, 0)},
				{Created: at(0, 9, 0), Ended: at(0, 9, 30)},
			},
			want: Stats{
				Days: days([2]time.Duration{2 * h, 2*h + 30*time.Minute}, zero, zero), Held: 2 * h, Waited: 150 * time.Minute,
				Grants: 2, Waits: []time.Duration{h, 30 * time.Minute, h}, LongestWait: h,
				Queue: []charts.QueuePoint{
					{Time: from}, {Time: at(0, 8, 0), Length: 1}, {Time: at(0, 9, 0), Length: 2},
					{Time: at(0, 9, 30), Length: 1}, {Time: at(0, 10, 0)},
				},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			end := to
			if !tc.to.IsZero() {
				end = tc.to
			}
			tc.want.From, tc.want.To = from, end
			got := Compute(tc.holds, from, end, time.UTC)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Compute (-want +got):\n%s", diff)
			}
		})
	}
}

// TestComputeDaysInATimeZone checks that days are cut at local midnight, 23 and 25 hours long when the clocks
// change.
func TestComputeDaysInATimeZone(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	// Clocks went back on Sunday 25 October 2026 in Paris: that day had 25 hours.
	from := time.Date(2026, 10, 25, 0, 0, 0, 0, paris)
	to := time.Date(2026, 10, 27, 0, 0, 0, 0, paris)
	hold := Hold{Created: from, Granted: from, Ended: to}
	got := Compute([]Hold{hold}, from, to, paris)
	want := []charts.Day{
		{Date: from, Held: 25 * time.Hour},
		{Date: time.Date(2026, 10, 26, 0, 0, 0, 0, paris), Held: 24 * time.Hour},
	}
	if diff := cmp.Diff(want, got.Days); diff != "" {
		t.Errorf("days (-want +got):\n%s", diff)
	}
	if empty := Compute([]Hold{hold}, to, from, paris); len(empty.Days) != 0 || empty.Held != 0 {
		t.Errorf("a period that ends before it starts has %v", empty)
	}
}

func TestHoldsOf(t *testing.T) {
	created := metav1.NewTime(at(0, 9, 0))
	rsv := func(name string, st conchv1.ReservationStatus) conchv1.Reservation {
		return conchv1.Reservation{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: k8stypes.UID("uid-" + name), CreationTimestamp: created},
			Spec:       conchv1.ReservationSpec{Holder: "ci:" + name},
			Status:     st,
		}
	}
	granted := metav1.NewMicroTime(at(0, 9, 30).Add(300 * time.Millisecond))
	ended := metav1.NewTime(at(0, 11, 0))
	early := metav1.NewTime(at(0, 9, 30)) // endedAt is whole seconds: before grantedAt
	got := HoldsOf([]conchv1.Reservation{
		rsv("held", conchv1.ReservationStatus{State: conchv1.StateGranted, GrantedAt: &granted}),
		rsv("queued", conchv1.ReservationStatus{State: conchv1.StateQueued}),
		rsv("released", conchv1.ReservationStatus{State: conchv1.StateReleased, GrantedAt: &granted, EndedAt: &ended}),
		rsv("short", conchv1.ReservationStatus{State: conchv1.StateReleased, GrantedAt: &granted, EndedAt: &early}),
		rsv("left", conchv1.ReservationStatus{State: conchv1.StateReleased, EndedAt: &ended}),
		rsv("rejected", conchv1.ReservationStatus{State: conchv1.StateRejected, EndedAt: &ended}),
		rsv("unseen", conchv1.ReservationStatus{}),
		rsv("old", conchv1.ReservationStatus{State: conchv1.StateExpired, GrantedAt: &granted}),
	})
	hold := func(name string, g, e time.Time) Hold {
		return Hold{Reservation: name, UID: k8stypes.UID("uid-" + name), Holder: "ci:" + name, Created: created.Time, Granted: g, Ended: e}
	}
	want := []Hold{
		hold("held", granted.Time, time.Time{}),
		hold("queued", time.Time{}, time.Time{}),
		hold("released", granted.Time, ended.Time),
		hold("short", granted.Time, granted.Time),
		hold("left", time.Time{}, ended.Time),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HoldsOf (-want +got):\n%s", diff)
	}
}

func TestMerge(t *testing.T) {
	hold := func(name, uid string, ended bool) Hold {
		h := Hold{Reservation: name, UID: k8stypes.UID(uid), Created: at(0, 9, 0), Granted: at(0, 9, 0)}
		if ended {
			h.Ended = at(0, 10, 0)
		}
		return h
	}
	cases := map[string]struct {
		ended, cached, want []Hold
	}{
		"nothing recorded": {
			cached: []Hold{hold("a", "1", false)},
			want:   []Hold{hold("a", "1", false)},
		},
		"the history wins for what it has": {
			ended:  []Hold{hold("a", "1", true)},
			cached: []Hold{hold("a", "1", false), hold("b", "2", false)},
			want:   []Hold{hold("a", "1", true), hold("b", "2", false)},
		},
		"a name used again is another Reservation": {
			ended:  []Hold{hold("a", "1", true)},
			cached: []Hold{hold("a", "3", false)},
			want:   []Hold{hold("a", "1", true), hold("a", "3", false)},
		},
		"ended before the cache started": {
			ended: []Hold{hold("old", "0", true)},
			want:  []Hold{hold("old", "0", true)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, merge(tc.ended, tc.cached)); diff != "" {
				t.Errorf("merge (-want +got):\n%s", diff)
			}
		})
	}
}
