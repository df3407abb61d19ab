package slackbot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/calendar"
	"github.com/conch-dev/conch/internal/chat"
	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/text"
)

// This file answers `/dibs calendar` and words the reply to a booking (`/dibs staging tomorrow 9:00`): both show
// times on the wall clock of the person who asked, in their Slack time zone, which Slack's own date formatting
// cannot do for a time of day that person typed.

// calendarCommand answers `/dibs calendar [<resource>|<label>=<value>]`: the next calendar.DefaultDays days of
// one Resource, of a pool's, or of every Resource in the namespace, in the person's time zone.
func (b *Bot) calendarCommand(ctx context.Context, who person, ns string, c chat.Command) reply {
	var resources []conchv1.Resource
	var opts []client.ListOption
	title := ""
	switch {
	case c.Resource != "":
		res, miss := b.resource(ctx, ns, c.Resource)
		if res == nil {
			return miss
		}
		resources, title = []conchv1.Resource{*res}, "*"+res.Name+"*"
		opts = append(opts, client.MatchingFields{index.BoundResourceField: res.Name})
	default:
		var all conchv1.ResourceList
		var sel []client.ListOption
		title = "Every resource"
		if c.Pool != "" {
			label, value := chat.PoolLabel(c.Pool)
			sel, title = append(sel, client.MatchingLabels{label: value}), "The pool "+poolText(c.Pool)
		}
		if err := b.client.List(ctx, &all, append(sel, client.InNamespace(ns))...); err != nil {
			return ephemeral("I could not list the Resources: %s", escape(err.Error()))
		}
		if len(all.Items) == 0 {
			if c.Pool != "" {
				return ephemeral("No Resource in namespace %s is labelled %s.", ns, poolText(c.Pool))
			}
			return ephemeral("There are no Resources in namespace %s yet.", ns)
		}
		resources = all.Items
	}
	var rsvs conchv1.ReservationList
	if err := b.client.List(ctx, &rsvs, append(opts, client.InNamespace(ns))...); err != nil {
		return ephemeral("I could not list the Reservations: %s", escape(err.Error()))
	}
	now := b.clock.Now()
	var entries []calendar.Entry
	for i := range resources {
		entries = append(entries, calendar.Build(&resources[i], rsvs.Items, now, calendar.DefaultDays)...)
	}
	calendar.Sort(entries)
	return ephemeral("%s", text.Truncate(CalendarText(title, entries, len(resources) > 1, now, who.TZ), 3000, text.MoreLines))
}

// CalendarText renders calendar entries for Slack, grouped by day in loc (nil means UTC): title is what they are
// of, in mrkdwn; several names the Resource on each line.
func CalendarText(title string, entries []calendar.Entry, several bool, now time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: the next %d days, in %s", title, calendar.DefaultDays, escape(zoneName(loc)))
	if len(entries) == 0 {
		fmt.Fprintf(&b, "\nNothing is held, queued or booked.")
		return b.String()
	}
	days, unscheduled := calendar.Days(entries, now, loc)
	today := now.In(loc).Format(time.DateOnly)
	tomorrow := now.In(loc).AddDate(0, 0, 1).Format(time.DateOnly)
	for _, d := range days {
		label := calendar.DayLabel(d)
		switch d.Date.Format(time.DateOnly) {
		case today:
			label = "Today, " + label
		case tomorrow:
			label = "Tomorrow, " + label
		}
		b.WriteString("\n*" + label + "*")
		for _, e := range d.Entries {
			from, to := calendar.Times(e, d, loc)
			b.WriteString("\n• " + escape(from) + "–" + escape(to) + " " + entryText(e, several))
		}
	}
	if len(unscheduled) > 0 {
		b.WriteString("\n*Waiting, no estimate yet*")
		for _, e := range unscheduled {
			b.WriteString("\n• " + entryText(e, several))
		}
	}
	return b.String()
}

// entryText is what follows an entry's times: what it is, whose, and its notes.
func entryText(e calendar.Entry, several bool) string {
	var b strings.Builder
	if several {
		b.WriteString("*" + e.Resource + "* ")
	}
	switch e.Kind {
	case calendar.Held:
		b.WriteString("held by ")
	case calendar.Booked:
		b.WriteString("booked by ")
	default:
		b.WriteString("queued: ")
	}
	b.WriteString(Who(e.Holder))
	if e.Kind == calendar.Queued && !e.From.IsZero() {
		b.WriteString(" (expected)")
	}
	if e.Preempted {
		b.WriteString(" · preempted, ends early")
	}
	if e.Priority > 0 {
		fmt.Fprintf(&b, " · priority %d", e.Priority)
	}
	if e.NoPreempt {
		b.WriteString(" · no-preempt")
	}
	if e.Reason != "" {
		b.WriteString(" _" + literal(text.Truncate(e.Reason, 100, text.Ellipsis)) + "_")
	}
	return b.String()
}

// zoneName names a time zone for people: its IANA name, or its abbreviation for a fixed offset from Slack.
func zoneName(loc *time.Location) string {
	if loc == nil {
		return "UTC"
	}
	return loc.String()
}

// BookedReply tells a person what they booked: when it starts and ends on their own clock (loc), with the
// notes that apply. repeats is true when the start's wall time comes twice that day and the first was taken;
// command is the slash command, for the hint that ends it.
func BookedReply(r *conchv1.Reservation, start, end time.Time, repeats bool, loc *time.Location, command string) string {
	if loc == nil {
		loc = time.UTC
	}
	s, e := start.In(loc), end.In(loc)
	when := s.Format("Mon 2 Jan 2006 15:04") + "–" + e.Format("15:04 MST")
	switch {
	case s.Format(time.DateOnly) != e.Format(time.DateOnly):
		when = s.Format("Mon 2 Jan 2006 15:04 MST") + " to " + e.Format("Mon 2 Jan 2006 15:04 MST")
	case s.Format("MST") != e.Format("MST"):
		when = s.Format("Mon 2 Jan 2006 15:04 MST") + " to " + e.Format("15:04 MST")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "You booked *%s* for %s (your time zone, %s).", r.Spec.ResourceName, escape(when), escape(zoneName(loc)))
	if repeats {
		fmt.Fprintf(&b, " %s comes twice that night, as clocks go back: this is the first, in %s.", s.Format("15:04"), escape(s.Format("MST")))
	}
	if r.Spec.Priority != nil && *r.Spec.Priority > 0 {
		fmt.Fprintf(&b, " Priority %d.", *r.Spec.Priority)
	}
	if r.Spec.Preemptible == conchv1.PreemptibleNever {
		b.WriteString(" No higher priority may take it over.")
	}
	b.WriteString(reasonNote(r))
	b.WriteString(deployNote(r))
	fmt.Fprintf(&b, " I will DM you when it starts; `%s calendar %s` shows what else is planned.", command, r.Spec.ResourceName)
	return b.String()
}
