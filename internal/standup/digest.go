package standup

import (
	"cmp"
	"slices"
	"strings"
	"time"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/span"
)

// Digest is what a Standup's weekly digest says about a window of time (From inclusive, To exclusive): who took
// part, the runs that did not happen, the blockers that came and went, and what each person held longest. It is
// also the data a participation chart would be drawn from (see Messenger.Digest).
type Digest struct {
	From, To time.Time
	// Runs counts the runs that started in the window (completed or cancelled), from the StandupRuns kept.
	Runs int
	// Skipped counts the runs that did not happen (holidays, suspended, missed, overlapping, nobody to ask),
	// from the Standup's history; SkippedBy by reason.
	Skipped   int
	SkippedBy map[string]int
	// BlockersOpened counts the times someone reported a blocker after a run in which they reported none (or
	// their first run); BlockersClosed the times someone who had one answered that they no longer do.
	BlockersOpened, BlockersClosed int
	// People are everyone asked or away in the window's runs, by user ID.
	People []PersonDigest
}

// PersonDigest is one person's part in a digest.
type PersonDigest struct {
	User string
	// Asked, Answered and Away count the window's runs.
	Asked, Answered, Away int
	// Blocked counts the runs in which they reported a blocker.
	Blocked int
	// Held lists the Resources they held in the window, longest first (at most three).
	Held []Held
}

// Held is how long someone held a Resource within a digest's window.
type Held struct {
	Resource string
	For      time.Duration
}

// maxHeld is how many Resources a person's digest line names.
const maxHeld = 3

// DigestOf computes a digest of the window [from, to): runs are the Standup's StandupRuns (those kept; runs
// before from give the blocker state the window starts with), history its status.history, rsvs the namespace's
// Reservations (those the cluster still has: a Reservation deleted since is not counted), blockerQuestion its
// spec.blockerQuestion.
func DigestOf(from, to time.Time, runs []conchv1.StandupRun, history []conchv1.StandupRunRecord, rsvs []conchv1.Reservation, blockerQuestion *int32) Digest {
	d := Digest{From: from, To: to, SkippedBy: map[string]int{}}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	for _, h := range history {
		if (h.Outcome == conchv1.OutcomeSkipped || h.Outcome == conchv1.OutcomeMissed) && in(h.ScheduledTime.Time) {
			n := max(int(h.Count), 1)
			d.Skipped += n
			d.SkippedBy[h.Reason] += n
		}
	}

	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b conchv1.StandupRun) int { return a.Spec.ScheduledTime.Compare(b.Spec.ScheduledTime.Time) })
	people := map[string]*PersonDigest{}
	person := func(u string) *PersonDigest {
		if people[u] == nil {
			people[u] = &PersonDigest{User: u}
		}
		return people[u]
	}
	blocked := map[string]bool{} // the person's last answered run reported a blocker
	for _, r := range sorted {
		if r.Status.State == "" || r.Status.State == conchv1.RunCollecting {
			continue
		}
		window := in(r.Spec.ScheduledTime.Time)
		if window {
			d.Runs++
			for _, u := range r.Status.Away {
				person(u).Away++
			}
		}
		for _, p := range r.Status.Participants {
			if window {
				person(p.User).Asked++
			}
			if p.AnsweredAt == nil {
				continue // no answer says nothing about the blocker
			}
			now := blockerQuestion != nil && IsBlocker(BlockerAnswer(p, blockerQuestion))
			if window {
				person(p.User).Answered++
				switch {
				case now && !blocked[p.User]:
					d.BlockersOpened++
				case !now && blocked[p.User]:
					d.BlockersClosed++
				}
				if now {
					person(p.User).Blocked++
				}
			}
			blocked[p.User] = now
		}
	}

	holdings(from, to, rsvs, people)
	for _, p := range people {
		if p.Asked > 0 || p.Away > 0 {
			d.People = append(d.People, *p)
		}
	}
	slices.SortFunc(d.People, func(a, b PersonDigest) int { return strings.Compare(a.User, b.User) })
	return d
}

// holdings sets each person's Held: the Resources their Reservations held within [from, to), longest first.
func holdings(from, to time.Time, rsvs []conchv1.Reservation, people map[string]*PersonDigest) {
	held := map[string]map[string]time.Duration{}
	for i := range rsvs {
		r := &rsvs[i]
		u, ok := strings.CutPrefix(r.Spec.Holder, conchv1.SlackHolderPrefix)
		if !ok || r.Status.GrantedAt == nil || people[u] == nil {
			continue
		}
		start, end := r.Status.GrantedAt.Time, to
		if r.Status.EndedAt != nil {
			end = r.Status.EndedAt.Time
		}
		start, end = span.Later(start, from), span.Earlier(end, to)
		if !end.After(start) {
			continue
		}
		if held[u] == nil {
			held[u] = map[string]time.Duration{}
		}
		held[u][index.BoundResource(r)] += end.Sub(start)
	}
	for u, byRes := range held {
		for res, dur := range byRes {
			people[u].Held = append(people[u].Held, Held{Resource: res, For: dur})
		}
		slices.SortFunc(people[u].Held, func(a, b Held) int {
			if c := cmp.Compare(b.For, a.For); c != 0 {
				return c
			}
			return strings.Compare(a.Resource, b.Resource)
		})
		if len(people[u].Held) > maxHeld {
			people[u].Held = people[u].Held[:maxHeld]
		}
	}
}
