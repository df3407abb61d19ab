package plugin

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // --tz must work in CI images without a zoneinfo database

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/chat"
)

// plan sets what on and run take about time and precedence on a new Reservation: --tz, --at (spec.startTime),
// --for (spec.duration, counted from the start for "until 17:00"), --priority with --reason, and --preemptible
// or --no-preempt. Every mistake is a usage error that names its flag.
func (a *app) plan(r *conchv1.Reservation, o onOptions) error {
	usage := func(err error) error { return &exitError{code: ExitUsage, err: err} }
	if o.tz != "" {
		loc, err := time.LoadLocation(o.tz)
		if err != nil || o.tz == "Local" {
			return usage(fmt.Errorf("--tz %q is not a time zone; give an IANA name such as Europe/Berlin or America/Los_Angeles", o.tz))
		}
		a.Location = loc // the times printed are read on the same clock
	}
	now := a.Now()
	from := now
	if o.at != "" {
		start, repeats, err := parseAt(o.at, now, a.Location)
		if err != nil {
			return usage(fmt.Errorf("--at: %w", err))
		}
		r.Spec.StartTime = &metav1.Time{Time: start}
		from = start
		if repeats {
			fmt.Fprintf(a.ErrOut, "note: %s comes twice that night in %s, as clocks go back; the booking starts at the first, %s\n",
				start.In(a.Location).Format("15:04"), a.Location, start.In(a.Location).Format("15:04 MST"))
		}
	}
	if o.duration != "" {
		d, err := chat.ParseDuration(o.duration, from, a.Location)
		if err != nil {
			return usage(fmt.Errorf("--for: %w", err))
		}
		r.Spec.Duration = &metav1.Duration{Duration: d}
	}
	switch {
	case o.priority < 0 || o.priority > chat.MaxPriority:
		return usage(fmt.Errorf("--priority %d: a priority is 0 to %d", o.priority, chat.MaxPriority))
	case o.priority > 0 && strings.TrimSpace(o.reason) == "":
		return usage(fmt.Errorf("--priority %d needs --reason: say why it goes ahead of the others", o.priority))
	case o.priority > 0:
		p := o.priority
		r.Spec.Priority = &p
	}
	preemptible, err := preemptibleFlag(o.preemptible, o.noPreempt)
	if err != nil {
		return usage(err)
	}
	r.Spec.Preemptible = preemptible
	return nil
}

// waitFor is how long on --wait and run wait for r's turn: --timeout, which for a booking counts from its start
// unless it was given (a run booked for tomorrow morning does not give up tonight).
func (a *app) waitFor(r *conchv1.Reservation, o onOptions) time.Duration {
	if r.Spec.StartTime == nil || o.timeoutSet {
		return o.timeout
	}
	return o.timeout + max(r.Spec.StartTime.Sub(a.Now()), 0)
}

// parseAt reads --at: an RFC 3339 time, or a start as `/dibs` reads it ("tomorrow 9:00", "14:00", "monday 9am",
// "2026-12-24 9:00") in loc. It must be ahead of now, and at most chat.MaxStartAhead away.
func parseAt(text string, now time.Time, loc *time.Location) (time.Time, bool, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(text))
	if err != nil {
		return chat.ParseStart(text, now, loc)
	}
	switch {
	case !t.After(now):
		return time.Time{}, false, fmt.Errorf("%s is in the past; give a time ahead", text)
	case t.Sub(now) > chat.MaxStartAhead:
		return time.Time{}, false, fmt.Errorf("%s is too far ahead; a booking starts at most a year from now", text)
	}
	return t, false, nil
}

// preemptibleFlag reads --preemptible (either case) and --no-preempt into spec.preemptible.
func preemptibleFlag(value string, noPreempt bool) (conchv1.Preemptible, error) {
	var p conchv1.Preemptible
	switch strings.ToLower(value) {
	case "":
	case "allowed":
		p = conchv1.PreemptibleAllowed
	case "never":
		p = conchv1.PreemptibleNever
	default:
		return "", fmt.Errorf("--preemptible %q: write Allowed or Never", value)
	}
	if noPreempt {
		if p == conchv1.PreemptibleAllowed {
			return "", errors.New("--no-preempt and --preemptible=Allowed say opposite things; give one")
		}
		p = conchv1.PreemptibleNever
	}
	return p, nil
}

// bookedLine says what was booked: "Booked: alice@laptop holds staging from Wed Dec 9 09:00 to 11:00 PST (in
// 23h30m0s; reservation default/staging-x7k2p)".
func (a *app) bookedLine(r *conchv1.Reservation) string {
	start := r.Spec.StartTime.In(a.Location)
	line := fmt.Sprintf("Booked: %s holds %s from %s", r.Spec.Holder, r.Spec.ResourceName, start.Format("Mon Jan 2 15:04"))
	if r.Spec.Duration != nil {
		end := start.Add(r.Spec.Duration.Duration).In(a.Location)
		layout := "15:04"
		if end.Format(time.DateOnly) != start.Format(time.DateOnly) {
			layout = "Mon Jan 2 15:04"
		}
		if end.Format("MST") != start.Format("MST") {
			line += " " + start.Format("MST")
		}
		line += " to " + end.Format(layout) + " " + end.Format("MST")
	} else {
		line += " " + start.Format("MST") + " for the Resource's default duration"
	}
	return line + fmt.Sprintf(" (in %s; reservation %s/%s)", start.Sub(a.Now()).Round(time.Second), r.Namespace, r.Name)
}
