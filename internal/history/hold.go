// Package history is Conch's bounded record of ended holds. A Reservation that ends (Released, Expired, Rejected,
// or deleted while it waited or held) stays only until someone deletes it, so it cannot be the record: the
// Recorder, which runs on the leader off the grant path, copies each ended Reservation once into a ConfigMap per
// Resource (ConfigMapName), bounded by age (the retention) and by size. Readers (the web board, charts) read it
// through the Reader interface; Daily turns holds into per-day figures.
package history

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/conch-dev/conch/internal/span"
)

// Hold is one ended Reservation as the history records it: when it was created, granted (if ever) and ended.
type Hold struct {
	// Reservation is the Reservation's name, in the Resource's namespace.
	Reservation string
	// UID is the Reservation's UID: the history holds each UID once.
	UID types.UID
	// Holder is the Reservation's spec.holder.
	Holder string
	// Resource is the name of the Resource it was bound to.
	Resource string
	// State is the final state: Released, Expired or Rejected.
	State string
	// Reason is why it ended: the reason of its Ready condition (Released, Expired, HeartbeatMissed,
	// HolderFinished, Deleted, HolderNotAllowed, ...).
	Reason string
	// Created is when the Reservation was created: when it started to wait.
	Created time.Time
	// Granted is when the hold started; zero if it was never granted (it waited and left the queue).
	Granted time.Time
	// Ended is when it reached its final state.
	Ended time.Time
}

// Waited is how long the Reservation waited: from Created to Granted, or to Ended if it was never granted. Never
// negative (the API server keeps creation times in whole seconds).
func (h Hold) Waited() time.Duration {
	end := h.Granted
	if end.IsZero() {
		end = h.Ended
	}
	return max(end.Sub(h.Created), 0)
}

// Held is how long the Resource was held: from Granted to Ended, 0 if it was never granted. Never negative.
func (h Hold) Held() time.Duration {
	if h.Granted.IsZero() {
		return 0
	}
	return max(h.Ended.Sub(h.Granted), 0)
}

// Reader reads the recorded holds of one Resource.
type Reader interface {
	// Holds returns the holds of the Resource namespace/resource that ended at or after since, oldest end first;
	// none (and no error) when nothing is recorded.
	Holds(ctx context.Context, namespace, resource string, since time.Time) ([]Hold, error)
}

// Day is what happened to a Resource in one day of a time zone.
type Day struct {
	// Date is the day's midnight in the time zone asked for.
	Date time.Time
	// Held is the time the Resource was held that day, summed over its holds (with capacity above 1, more than
	// the day can be).
	Held time.Duration
	// Waited is the time Reservations waited that day, summed over them.
	Waited time.Duration
	// LongestWait is the longest whole wait (Hold.Waited) among the waits that ended that day (by a grant, or by
	// giving up).
	LongestWait time.Duration
	// Holds is how many holds started (were granted) that day.
	Holds int
}

// Daily splits holds into the days of loc from the day of from to the day of to (both included, unless to is
// exactly midnight), counting only time inside [from, to). A hold or wait across midnight counts on both days; one
// that has not ended (a zero Ended, or no grant and no end) counts up to to.
// It reads nothing but its arguments.
func Daily(holds []Hold, loc *time.Location, from, to time.Time) []Day {
	if loc == nil {
		loc = time.UTC
	}
	if !to.After(from) {
		return nil
	}
	var days []Day
	for start := span.Midnight(from, loc); start.Before(to); {
		next := span.NextMidnight(start, loc)
		days = append(days, Day{Date: start})
		d := &days[len(days)-1]
		lo, hi := span.Later(start, from), span.Earlier(next, to)
		for _, h := range holds {
			// A wait or hold going on (no end yet: the charts add those from the cache) counts up to to; a
			// wait that ends at to is no ended wait of the day (hi is at most to).
			waitEnd := firstSet(h.Granted, h.Ended, to)
			d.Waited += span.Overlap(h.Created, waitEnd, lo, hi)
			if !h.Granted.IsZero() {
				d.Held += span.Overlap(h.Granted, firstSet(h.Ended, to), lo, hi)
				if !h.Granted.Before(lo) && h.Granted.Before(hi) {
					d.Holds++
				}
			}
			if !waitEnd.Before(lo) && waitEnd.Before(hi) {
				d.LongestWait = max(d.LongestWait, h.Waited())
			}
		}
		start = next
	}
	return days
}

// firstSet is the first of ts that is not zero (the last one when all are).
func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts[:len(ts)-1] {
		if !t.IsZero() {
			return t
		}
	}
	return ts[len(ts)-1]
}
