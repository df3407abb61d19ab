package calendar

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones below must load on machines without a zoneinfo database

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// now is Tuesday 8 December 2026, 17:30 UTC (09:30 in Los Angeles).
var now = time.Date(2026, 12, 8, 17, 30, 0, 0, time.UTC)

func booking(name string, start time.Time, d time.Duration) *testutil.ReservationWrapper {
	w := testutil.Reservation(name).On("staging").Holder(name)
	w.Spec.StartTime = &metav1.Time{Time: start}
	if d > 0 {
		w.For(d)
	}
	return w
}

func queued(name string, d time.Duration, start *time.Time) conchv1.QueueEntry {
	q := conchv1.QueueEntry{Reservation: name, Holder: name, Duration: metav1.Duration{Duration: d}}
	if start != nil {
		q.StartTime = &metav1.Time{Time: *start}
	}
	return q
}

func estimated(w *testutil.ReservationWrapper, at time.Time) *testutil.ReservationWrapper {
	w.Status.EstimatedGrantTime = &metav1.Time{Time: at}
	w.Status.State = conchv1.StateQueued
	return w
}

func ptr[T any](v T) *T { return &v }

func TestBuild(t *testing.T) {
	h := time.Hour
	tomorrow9 := now.Add(23*h + 30*time.Minute) // Wednesday 17:00 UTC
	cases := map[string]struct {
		res          *conchv1.Resource
		reservations []conchv1.Reservation
		days         int
		want         []Entry
	}{
		"empty": {res: testutil.Resource("staging").Obj()},
		"capacity 2: two holds, a queue with and without an estimate": {
			res: testutil.Resource("staging").Capacity(2).
				Holding("bob", "bob", now.Add(-h), now.Add(2*h)).
				Holding("alice", "alice", now.Add(-30*time.Minute), now.Add(30*time.Minute)).
				Queue(queued("carol", h, nil), queued("dave", 2*h, nil)).Obj(),
			reservations: []conchv1.Reservation{
				*testutil.Reservation("alice").On("staging").Because("deploying PR #345").Obj(),
				*estimated(testutil.Reservation("carol").On("staging"), now.Add(30*time.Minute)).Obj(),
				*testutil.Reservation("dave").On("staging").Obj(),
			},
			want: []Entry{
				{Resource: "staging", Reservation: "bob", Holder: "bob", Kind: Held, From: now.Add(-h), To: now.Add(2 * h)},
				{Resource: "staging", Reservation: "alice", Holder: "alice", Kind: Held, From: now.Add(-30 * time.Minute), To: now.Add(30 * time.Minute), Reason: "deploying PR #345"},
				{Resource: "staging", Reservation: "carol", Holder: "carol", Kind: Queued, From: now.Add(30 * time.Minute), To: now.Add(90 * time.Minute)},
				{Resource: "staging", Reservation: "dave", Holder: "dave", Kind: Queued},
			},
		},
		"a booking in the ledger, a booking its spec names, one not admitted yet": {
			res: testutil.Resource("staging").Default(2*h).Max(3*h).
				Queue(queued("ledger", h, &tomorrow9), queued("spec", 90*time.Minute, nil)).Obj(),
			reservations: []conchv1.Reservation{
				*testutil.Reservation("ledger").On("staging").Obj(),
				*booking("spec", tomorrow9.Add(-2*h), 90*time.Minute).Obj(),
				*booking("new-default", now.Add(48*h), 0).Obj(),                   // the Resource's default: 2h
				*booking("new-clamped", now.Add(72*h), 5*h).Because("demo").Obj(), // clamped to the maximum: 3h
			},
			want: []Entry{
				{Resource: "staging", Reservation: "spec", Holder: "spec", Kind: Booked, From: tomorrow9.Add(-2 * h), To: tomorrow9.Add(-30 * time.Minute)},
				{Resource: "staging", Reservation: "ledger", Holder: "ledger", Kind: Booked, From: tomorrow9, To: tomorrow9.Add(h)},
				{Resource: "staging", Reservation: "new-default", Holder: "new-default", Kind: Booked, From: now.Add(48 * h), To: now.Add(50 * h)},
				{Resource: "staging", Reservation: "new-clamped", Holder: "new-clamped", Kind: Booked, From: now.Add(72 * h), To: now.Add(75 * h), Reason: "demo"},
			},
		},
		"priorities, no-preempt and a preemption": {
			res: testutil.Resource("staging").Holders(conchv1.ResourceHolder{
				Reservation: "low", Holder: "low", Since: metav1.NewMicroTime(now.Add(-h)), Until: metav1.NewMicroTime(now.Add(h)),
				Preemption: &conchv1.Preemption{Reservation: "high", Holder: "high", EndsAt: metav1.NewMicroTime(now.Add(5 * time.Minute))},
			}).Queue(conchv1.QueueEntry{Reservation: "high", Holder: "high", Priority: 50, Duration: metav1.Duration{Duration: h}}).Obj(),
			reservations: []conchv1.Reservation{
				*estimated(testutil.Reservation("high").On("staging").Because("INC-42"), now.Add(5*time.Minute)).Obj(),
				func() conchv1.Reservation {
					r := booking("demo", now.Add(26*h), h).Because("customer demo").Obj()
					r.Spec.Priority, r.Spec.Preemptible = ptr(int32(10)), conchv1.PreemptibleNever
					return *r
				}(),
			},
			want: []Entry{
				{Resource: "staging", Reservation: "low", Holder: "low", Kind: Held, From: now.Add(-h), To: now.Add(5 * time.Minute), Preempted: true},
				{Resource: "staging", Reservation: "high", Holder: "high", Kind: Queued, From: now.Add(5 * time.Minute), To: now.Add(65 * time.Minute), Priority: 50, Reason: "INC-42"},
				{Resource: "staging", Reservation: "demo", Holder: "demo", Kind: Booked, From: now.Add(26 * h), To: now.Add(27 * h), Priority: 10, NoPreempt: true, Reason: "customer demo"},
			},
		},
		"outside the window, ended, released and other Resources' are left out": {
			res: testutil.Resource("staging").Holding("stale", "stale", now.Add(-2*h), now.Add(-h)).Obj(),
			reservations: []conchv1.Reservation{
				*booking("next-week", now.Add(7*24*h), h).Obj(),
				*booking("released", now.Add(h), h).Released().Obj(),
				*booking("rejected", now.Add(h), h).State(conchv1.StateRejected).Obj(),
				*booking("past", now.Add(-3*h), h).Obj(),
				*testutil.Reservation("other").On("prod").Obj(),
				func() conchv1.Reservation {
					r := booking("other-booking", now.Add(h), h).Obj()
					r.Spec.ResourceName = "prod"
					return *r
				}(),
				*booking("in-window", now.Add(7*24*h-time.Minute), h).Obj(),
			},
			want: []Entry{
				{Resource: "staging", Reservation: "in-window", Holder: "in-window", Kind: Booked, From: now.Add(7*24*h - time.Minute), To: now.Add(7*24*h + 59*time.Minute)},
			},
		},
		"one day": {
			res: testutil.Resource("staging").Obj(),
			reservations: []conchv1.Reservation{
				*booking("today", now.Add(h), h).Obj(),
				*booking("later", now.Add(25*h), h).Obj(),
			},
			days: 1,
			want: []Entry{{Resource: "staging", Reservation: "today", Holder: "today", Kind: Booked, From: now.Add(h), To: now.Add(2 * h)}},
		},
		"a pooled booking bound to this Resource": {
			res: testutil.Resource("staging").Obj(),
			reservations: []conchv1.Reservation{func() conchv1.Reservation {
				r := booking("pooled", now.Add(h), h).Obj()
				r.Spec.ResourceName, r.Status.ResourceName = "", "staging"
				return *r
			}()},
			want: []Entry{{Resource: "staging", Reservation: "pooled", Holder: "pooled", Kind: Booked, From: now.Add(h), To: now.Add(2 * h)}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			days := tc.days
			if days == 0 {
				days = DefaultDays
			}
			got := Build(tc.res, tc.reservations, now, days)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// line is an entry as a front end shows it: its day, and its start and end on that day.
type line struct{ Day, Reservation, From, To string }

func TestDays(t *testing.T) {
	la := testutil.Zone(t, "America/Los_Angeles")
	kolkata := testutil.Zone(t, "Asia/Kolkata")
	berlin := testutil.Zone(t, "Europe/Berlin")
	at := func(loc *time.Location, mo time.Month, d, h, mi int) time.Time {
		return time.Date(2026, mo, d, h, mi, 0, 0, loc)
	}
	entry := func(name string, from, to time.Time) Entry {
		return Entry{Resource: "staging", Reservation: name, Holder: name, Kind: Booked, From: from, To: to}
	}
	cases := map[string]struct {
		now             time.Time
		loc             *time.Location
		entries         []Entry
		want            []line
		wantUnscheduled []string
	}{
		"empty": {now: now, loc: la},
		"a hold since yesterday is today's; a booking across midnight is on its first day": {
			now: now, loc: la,
			entries: []Entry{
				{Reservation: "since-yesterday", Kind: Held, From: at(la, 12, 7, 22, 0), To: at(la, 12, 8, 11, 0)},
				entry("late", at(la, 12, 8, 23, 0), at(la, 12, 9, 1, 0)),
				entry("morning", at(la, 12, 9, 9, 0), at(la, 12, 9, 10, 0)),
				{Reservation: "no-estimate", Kind: Queued},
			},
			want: []line{
				{"Tue 8 Dec", "since-yesterday", "Mon 7 Dec 22:00", "11:00"},
				{"Tue 8 Dec", "late", "23:00", "Wed 9 Dec 01:00"},
				{"Wed 9 Dec", "morning", "09:00", "10:00"},
			},
			wantUnscheduled: []string{"no-estimate"},
		},
		"the same instants in Kolkata fall on other days": {
			now: now, loc: kolkata,
			entries: []Entry{
				entry("late", at(la, 12, 8, 23, 0), at(la, 12, 9, 1, 0)),
				entry("morning", at(la, 12, 9, 9, 0), at(la, 12, 9, 10, 0)),
			},
			want: []line{
				{"Wed 9 Dec", "late", "12:30", "14:30"},
				{"Wed 9 Dec", "morning", "22:30", "23:30"},
			},
		},
		"spring forward in Los Angeles: a 23-hour day, the zone shown where it changes": {
			now: at(la, 3, 7, 12, 0), loc: la,
			entries: []Entry{
				entry("across", at(la, 3, 8, 1, 30), at(la, 3, 8, 1, 30).Add(2*time.Hour)),
				entry("after", at(la, 3, 8, 3, 30), at(la, 3, 8, 4, 30)),
				entry("next-day", at(la, 3, 8, 23, 30), at(la, 3, 9, 0, 30)),
			},
			want: []line{
				{"Sun 8 Mar", "across", "01:30 PST", "04:30 PDT"},
				{"Sun 8 Mar", "after", "03:30", "04:30"},
				{"Sun 8 Mar", "next-day", "23:30", "Mon 9 Mar 00:30"},
			},
		},
		"fall back in Berlin: a 25-hour day": {
			now: at(berlin, 10, 24, 12, 0), loc: berlin,
			entries: []Entry{
				entry("first-0230", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC)),
				entry("late", time.Date(2026, 10, 25, 22, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 23, 30, 0, 0, time.UTC)),
			},
			want: []line{
				{"Sun 25 Oct", "first-0230", "02:30 CEST", "03:30 CET"},
				{"Sun 25 Oct", "late", "23:30", "Mon 26 Oct 00:30"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			days, unscheduled := Days(tc.entries, tc.now, tc.loc)
			var got []line
			for _, d := range days {
				for _, e := range d.Entries {
					from, to := Times(e, d, tc.loc)
					got = append(got, line{DayLabel(d), e.Reservation, from, to})
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			var names []string
			for _, e := range unscheduled {
				names = append(names, e.Reservation)
			}
			if diff := cmp.Diff(tc.wantUnscheduled, names); diff != "" {
				t.Errorf("unscheduled (-want +got):\n%s", diff)
			}
		})
	}
}
