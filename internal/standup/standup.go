// Package standup is the contract between the Standup controller and the Slack front end that carries its runs
// out: the Messenger port the controller sends through, what a summary says about environments, and the Standup
// helpers both need. Both import it; neither imports the other. It is pure: no client, no clock.
package standup

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/schedule"
)

// Messenger sends a Standup's messages. The Slack front end implements it. Sending is queued (in order, with
// retries on rate limits), so the send methods return at once; the reconciler records each message in status
// before it calls them, so that none is sent twice.
type Messenger interface {
	// UserGroupMembers returns the Slack user IDs in a user group. An error wrapping ErrUserGroupUnavailable means
	// the group cannot be read at all (it does not exist, a scope is missing): the run goes ahead without it.
	// Other errors are retried.
	UserGroupMembers(ctx context.Context, group string) ([]string, error)
	// UserTimeZone returns a user's IANA time zone as Slack knows it (users.info tz).
	UserTimeZone(ctx context.Context, user string) (string, error)
	// Prompt asks user the run's questions: a DM with a button that opens them.
	Prompt(st *conchv1.Standup, run *conchv1.StandupRun, user string)
	// Remind reminds user, who has not answered, that the run closes soon.
	Remind(st *conchv1.Standup, run *conchv1.StandupRun, user string)
	// Summary posts the answers of a finished run in the Standup's channel, with what each person holds, and
	// records in the run's status.summary where it posted them (so that edits can update them in place).
	Summary(st *conchv1.Standup, run *conchv1.StandupRun, envs Environments)
	// UpdateSummary rewrites the posted summary of a run (status.summary) after an answer was edited.
	UpdateSummary(st *conchv1.Standup, run *conchv1.StandupRun, envs Environments)
	// Escalate posts blockers reported escalateAfter runs in a row to the Standup's escalation channel and DMs
	// them to its escalation users.
	Escalate(st *conchv1.Standup, blockers []conchv1.StandupBlocker)
	// Digest posts a digest in the Standup's digest channel. (This is where a participation chart, drawn from
	// the digest's People, would be rendered and uploaded with it when charts are enabled.)
	Digest(st *conchv1.Standup, d Digest)
	// Cancelled says in the Standup's channel that a run was cancelled (its date was skipped while it ran).
	Cancelled(st *conchv1.Standup, run *conchv1.StandupRun)
}

// ErrUserGroupUnavailable marks a user group that cannot be read.
var ErrUserGroupUnavailable = errors.New("user group unavailable")

// Holding is a Reservation a stand-up summary mentions: a hold, or a place in a queue.
type Holding struct {
	// Resource is the Resource held or waited for.
	Resource string
	// Holder is the Reservation's holder.
	Holder string
	// State is Granted, Queued or Pending.
	State conchv1.ReservationState
	// Until is when a hold ends unless extended (Granted only).
	Until time.Time
	// Position is the place in the queue, 1 being next (Queued only).
	Position int32
	// EndsToday is true for a hold that ends before midnight in the Standup's time zone.
	EndsToday bool
}

// Environments is what the summary says about environments: who holds or waits for what, and what ends today.
type Environments struct {
	// ByUser lists the holds and places in queues of each person of the run (asked or away), by Slack user ID,
	// Resources in name order.
	ByUser map[string][]Holding
	// EndingToday lists every hold in the namespace, whoever holds it, that ends today, soonest first.
	EndingToday []Holding
}

// EnvironmentsOf reads the summary's environments from the namespace's Reservations at time now, for the Slack
// users of a run; "today" is now's date in loc. A person is matched by the holder Slack gives their Reservations
// (conchv1.SlackHolderPrefix and their user ID).
func EnvironmentsOf(rsvs []conchv1.Reservation, users []string, now time.Time, loc *time.Location) Environments {
	_, dayEnd := schedule.Day(now, loc)
	envs := Environments{ByUser: map[string][]Holding{}}
	for i := range rsvs {
		r := &rsvs[i]
		name := index.BoundResource(r)
		if name == "" || r.Status.State == "" || r.Status.State.IsFinal() || r.Spec.Released || r.DeletionTimestamp != nil {
			continue
		}
		h := Holding{Resource: name, Holder: r.Spec.Holder, State: r.Status.State, Position: r.Status.Position}
		if r.Status.State == conchv1.StateGranted && r.Status.ExpiresAt != nil {
			h.Until = r.Status.ExpiresAt.Time
			h.EndsToday = h.Until.Before(dayEnd)
		}
		if u, ok := strings.CutPrefix(r.Spec.Holder, conchv1.SlackHolderPrefix); ok && slices.Contains(users, u) {
			envs.ByUser[u] = append(envs.ByUser[u], h)
		}
		if h.EndsToday {
			envs.EndingToday = append(envs.EndingToday, h)
		}
	}
	for _, hs := range envs.ByUser {
		slices.SortFunc(hs, func(a, b Holding) int { return strings.Compare(a.Resource, b.Resource) })
	}
	slices.SortFunc(envs.EndingToday, func(a, b Holding) int {
		if c := a.Until.Compare(b.Until); c != 0 {
			return c
		}
		return strings.Compare(a.Resource, b.Resource)
	})
	return envs
}

// Location returns the Standup's time zone, or UTC when spec.timeZone does not load (its Ready condition says so,
// and no run starts until it is fixed).
func Location(st *conchv1.Standup) *time.Location {
	loc, err := schedule.LoadLocation(st.Spec.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}
