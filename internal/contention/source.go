package contention

import (
	"context"
	"fmt"
	"slices"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/index"
)

// HoldsOf reads the holds of Reservations: every one that waited or held, ended or not. A Reservation rejected
// (it never waited), or not yet seen by the controllers, is left out; so is one that ended before Conch recorded
// when (status.endedAt), which only Reservations older than that field have.
func HoldsOf(rsvs []conchv1.Reservation) []Hold {
	out := make([]Hold, 0, len(rsvs))
	for i := range rsvs {
		r := &rsvs[i]
		st := r.Status
		if st.State == "" || st.State == conchv1.StateRejected {
			continue
		}
		h := Hold{
			Reservation: r.Name, UID: r.UID, Holder: r.Spec.Holder, Created: r.CreationTimestamp.Time,
		}
		if st.GrantedAt != nil {
			h.Granted = st.GrantedAt.Time
		}
		if st.State.IsFinal() {
			if st.EndedAt == nil {
				continue
			}
			// endedAt is whole seconds; grantedAt is not, so an hold of less than a second could end before it began.
			h.Ended = st.EndedAt.Time
			if h.Ended.Before(h.Granted) {
				h.Ended = h.Granted
			}
		}
		out = append(out, h)
	}
	return out
}

// EndedHolds returns the holds of a Resource that ended at or after since: a history.Reader's Holds.
type EndedHolds func(ctx context.Context, namespace, resource string, since time.Time) ([]Hold, error)

// CacheSource computes a Resource's Stats from the Reservations in the manager's cache (indexed by
// index.BoundResourceField), so that asking costs the API server nothing.
//
// Ended Reservations are kept only until someone deletes them, so without Ended a chart shows the ended holds that
// still exist. With Ended set (the bounded history of ended holds), the ended holds come from it and only the holds
// and waits that go on now come from the cache.
type CacheSource struct {
	// Client reads Reservations; the manager's cached client.
	Client client.Reader
	// Ended, when set, reads the ended holds instead of the ended Reservations in Client.
	Ended EndedHolds
}

// Stats computes the contention of resource in namespace over [from, to), with days in loc.
func (s CacheSource) Stats(ctx context.Context, namespace, resource string, from, to time.Time, loc *time.Location) (Stats, error) {
	holds, err := s.holds(ctx, namespace, resource, from)
	if err != nil {
		return Stats{}, err
	}
	return Compute(holds, from, to, loc), nil
}

// holds reads the holds of resource that may overlap the period from since: from the cache, and from Ended
// when set.
func (s CacheSource) holds(ctx context.Context, namespace, resource string, since time.Time) ([]Hold, error) {
	var list conchv1.ReservationList
	if err := s.Client.List(ctx, &list, client.InNamespace(namespace),
		client.MatchingFields{index.BoundResourceField: resource}); err != nil {
		return nil, fmt.Errorf("listing the Reservations of %s: %w", resource, err)
	}
	holds := HoldsOf(list.Items)
	if s.Ended == nil {
		return holds, nil
	}
	ended, err := s.Ended(ctx, namespace, resource, since)
	if err != nil {
		return nil, fmt.Errorf("reading the history of %s: %w", resource, err)
	}
	return merge(ended, holds), nil
}

// merge adds to the ended holds of the history the cached holds it does not have: those going on, and ended
// ones not recorded yet. A Reservation is known by its UID and name.
func merge(ended, cached []Hold) []Hold {
	seen := make(map[string]bool, len(ended))
	for _, h := range ended {
		seen[string(h.UID)+"/"+h.Reservation] = true
	}
	out := slices.Clone(ended)
	for _, h := range cached {
		if !seen[string(h.UID)+"/"+h.Reservation] {
			out = append(out, h)
		}
	}
	return out
}
