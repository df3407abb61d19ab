package slackbot

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/calendar"
	"github.com/conch-dev/conch/internal/testutil"
)

func TestBookedReplyGolden(t *testing.T) {
	la := testutil.Zone(t, "America/Los_Angeles")
	kolkata := testutil.Zone(t, "Asia/Kolkata")
	rsv := func(reason string, priority int32, preemptible conchv1.Preemptible) *conchv1.Reservation {
		r := &conchv1.Reservation{Spec: conchv1.ReservationSpec{ResourceName: "staging", Holder: "slack:UALICE", Reason: reason, Preemptible: preemptible}}
		if priority > 0 {
			r.Spec.Priority = &priority
		}
		return r
	}
	at := func(loc *time.Location, mo time.Month, d, h, mi int) time.Time {
		return time.Date(2026, mo, d, h, mi, 0, 0, loc)
	}
	kStart := at(kolkata, 12, 9, 9, 0)
	golden(t, "BookedReply", map[string]any{
		"Kolkata, no-preempt, a reason with mrkdwn": BookedReply(rsv(hostile, 0, conchv1.PreemptibleNever), kStart, kStart.Add(2*time.Hour), false, kolkata, "/dibs"),
		"across midnight, urgent": BookedReply(rsv("hotfix for INC-42", 50, ""),
			at(la, 12, 8, 23, 0), at(la, 12, 9, 1, 0), false, la, "/dibs"),
		"across spring forward": BookedReply(rsv("", 0, ""), at(la, 3, 8, 1, 30), at(la, 3, 8, 1, 30).Add(2*time.Hour), false, la, "/hold"),
		"the first 01:30 of the night clocks go back": BookedReply(rsv("", 0, ""),
			time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC), true, la, "/dibs"),
		"a fixed zone from Slack, named with markup": BookedReply(rsv("", 0, ""),
			time.Date(2026, 12, 9, 8, 0, 0, 0, time.UTC), time.Date(2026, 12, 9, 9, 0, 0, 0, time.UTC), false, time.FixedZone("<!here>", 3600), "/dibs"),
	})
}

func TestCalendarTextGolden(t *testing.T) {
	la := testutil.Zone(t, "America/Los_Angeles")
	now := time.Date(2026, 12, 8, 17, 30, 0, 0, time.UTC) // Tuesday 09:30 in Los Angeles
	h := time.Hour
	staging := &conchv1.Resource{
		ObjectMeta: metav1.ObjectMeta{Name: "staging"},
		Spec:       conchv1.ResourceSpec{Capacity: 2},
		Status: conchv1.ResourceStatus{
			Holders: []conchv1.ResourceHolder{
				{Reservation: "a", Holder: "slack:UALICE", Since: metav1.NewMicroTime(now.Add(-10 * h)), Until: metav1.NewMicroTime(now.Add(h))},
				{Reservation: "b", Holder: "ci:" + hostile, Since: metav1.NewMicroTime(now.Add(-h)), Until: metav1.NewMicroTime(now.Add(2 * h)), Priority: 5,
					Preemption: &conchv1.Preemption{Reservation: "c", Holder: "slack:UBOB", EndsAt: metav1.NewMicroTime(now.Add(5 * time.Minute))}},
			},
			Queue: []conchv1.QueueEntry{
				{Reservation: "c", Holder: "slack:UBOB", Priority: 50, Duration: metav1.Duration{Duration: h}},
				{Reservation: "d", Holder: "ci:e2e", Duration: metav1.Duration{Duration: 30 * time.Minute}},
			},
		},
	}
	eta := metav1.NewTime(now.Add(5 * time.Minute))
	start := metav1.NewTime(time.Date(2026, 12, 9, 23, 0, 0, 0, la))
	reservations := []conchv1.Reservation{
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: conchv1.ReservationSpec{ResourceName: "staging", Reason: "deploying PR #345"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: conchv1.ReservationSpec{ResourceName: "staging", Reason: "INC-42"},
			Status: conchv1.ReservationStatus{EstimatedGrantTime: &eta}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e"}, Spec: conchv1.ReservationSpec{ResourceName: "staging", Holder: "slack:UPRIYA",
			StartTime: &start, Duration: &metav1.Duration{Duration: 2 * h}, Preemptible: conchv1.PreemptibleNever, Reason: hostile}},
	}
	one := calendar.Build(staging, reservations, now, calendar.DefaultDays)
	prod := staging.DeepCopy()
	prod.Name = "prod"
	several := append(calendar.Build(prod, nil, now, calendar.DefaultDays), one...)
	calendar.Sort(several)
	golden(t, "CalendarText", map[string]any{
		"nothing planned":                     CalendarText("*staging*", nil, false, now, la),
		"one resource, in Los Angeles":        CalendarText("*staging*", one, false, now, la),
		"one resource, in UTC when unknown":   CalendarText("*staging*", one, false, now, nil),
		"every resource, each line names one": CalendarText("Every resource", several, true, now, la),
	})
}
