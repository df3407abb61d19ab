package controllers

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/queue"
)

// This file says in conditions what bookings, priorities and limits did to a Reservation (docs/planning.md).

// planningMessages adjusts m, the messages outcomeMessages wrote for o, where a booking, a priority or a limit
// explains o.
func planningMessages(r *conchv1.Reservation, res *conchv1.Resource, o queue.Outcome, m *conditionMessages) {
	switch o.Reason {
	case conchv1.ReasonShortenedForBooking:
		m.granted += fmt.Sprintf(" (shortened to end when %s starts)", o.ShortenedFor)
		m.ready += fmt.Sprintf("; the hold ends at %s, when %s starts", formatTime(untilOf(o)), o.ShortenedFor)
	case conchv1.ReasonPreempting:
		p := o.Preemption
		m.ready += fmt.Sprintf("; %s is taking it by priority (%s): the hold ends at %s", p.Holder, p.Reason, formatTime(untilOf(o)))
		m.granted = fmt.Sprintf("%s holds %s until %s, when it is preempted", r.Spec.Holder, res.Name, formatTime(untilOf(o)))
		m.stalled = fmt.Sprintf("%s, with a higher priority, takes the slot after the grace period; hand over now with "+
			"spec.released: true", p.Holder)
	case conchv1.ReasonBooked:
		m.ready = fmt.Sprintf("Booked %s from %s until %s", res.Name, formatTime(o.BookedStart), formatTime(o.BookedEnd))
		m.reconciling = fmt.Sprintf("Booked: granted at %s", formatTime(o.BookedStart))
		if !o.BookedStart.After(o.EstimatedGrantTime) && o.WaitingFor != "" {
			m.reconciling = "Its time came; waiting for " + o.WaitingFor
		}
		m.stalled = "Nothing stands in the way. Move it with spec.startTime; cancel it with spec.released: true"
		if o.Conflict != "" {
			m.stalled = fmt.Sprintf("It stays at %s: %s. The next free slot for it is at %s",
				formatTime(o.BookedStart), o.Conflict, formatTime(o.NextFree))
		}
	case conchv1.ReasonWaitingForBooking:
		m.ready += fmt.Sprintf("; its %s would run into %s", o.Duration, o.WaitingFor)
		m.stalled = fmt.Sprintf("%s lets no hold run into a booking (spec.bookings.walkIns: Wait): it is granted "+
			"when its whole term fits; a shorter spec.duration may fit sooner", res.Name)
	case conchv1.ReasonOverLimit:
		if o.State == conchv1.StateQueued {
			m.ready += "; over a limit: " + o.Limit
			m.stalled = fmt.Sprintf("Over a limit of %s: %s. It is granted once within it; the others are not held up",
				res.Name, o.Limit)
			return
		}
		m.ready = fmt.Sprintf("Rejected by a limit of %s: %s", res.Name, o.Limit)
		m.stalled = "Release one of the holder's other holds, or ask again tomorrow (spec.limits)"
	case conchv1.ReasonBookingConflict:
		m.ready = fmt.Sprintf("Cannot book %s from %s until %s: %s", res.Name, formatTime(o.BookedStart),
			formatTime(o.BookedEnd), o.Conflict)
		m.stalled = fmt.Sprintf("Book another time with a new Reservation: the next free slot this long is at %s",
			formatTime(o.NextFree))
	case conchv1.ReasonBookingInPast:
		m.ready = fmt.Sprintf("The booking of %s from %s until %s lies in the past", res.Name,
			formatTime(o.BookedStart), formatTime(o.BookedEnd))
		m.stalled = "Book a time to come with a new Reservation"
	case conchv1.ReasonBookingMissed:
		m.ready = fmt.Sprintf("The booking of %s from %s until %s passed while %s was not free (held, paused or "+
			"being cleaned); it was never held", res.Name, formatTime(o.BookedStart), formatTime(o.BookedEnd), res.Name)
	case conchv1.ReasonPreempted:
		m.ready = fmt.Sprintf("Preempted: %s took %s by priority (%s) at %s, after the grace period", preemptor(o),
			res.Name, preemptionReason(o), formatTime(o.EndedAt))
	}
}

func preemptor(o queue.Outcome) string {
	if o.Preemption == nil {
		return "a higher priority"
	}
	return o.Preemption.Holder
}

func preemptionReason(o queue.Outcome) string {
	if o.Preemption == nil || o.Preemption.Reason == "" {
		return "no reason given"
	}
	return o.Preemption.Reason
}

// nextBooking is the earliest booking in the ledger that has not started at now.
func nextBooking(queueEntries []conchv1.QueueEntry, now time.Time) *conchv1.NextBooking {
	var next *conchv1.NextBooking
	for _, q := range queueEntries {
		if q.StartTime == nil || !q.StartTime.After(now) {
			continue
		}
		if next == nil || q.StartTime.Before(&next.StartTime) {
			next = &conchv1.NextBooking{
				Reservation: q.Reservation, Holder: q.Holder, StartTime: *q.StartTime,
				EndTime: metav1.Time{Time: q.StartTime.Add(q.Duration.Duration)},
			}
		}
	}
	return next
}
