package plugin

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/calendar"
)

// maxCalendarDays bounds --days of calendar: five weeks, as far as anyone plans turns on a shared thing.
const maxCalendarDays = 35

func (a *app) calendarCommand() *cobra.Command {
	var selector, tz string
	var days int
	cmd := &cobra.Command{
		Use:   "calendar [RESOURCE]",
		Short: "Show the coming days of a Resource: holds, the queue's expected turns and bookings",
		Long: `calendar shows, for the next --days days, who holds RESOURCE until when (held), who waits and when they
expect their turn (queued, from status.estimatedGrantTime), and the bookings ahead (booked: Reservations with
spec.startTime), in time order, one line each, on the clock of --tz (default: the local time zone). Without
RESOURCE it shows every Resource of the namespace, or those --selector picks (a pool). A queued Reservation
without an estimate yet is listed last, without times. /dibs calendar shows the same in Slack.`,
		Example: `  kubectl conch calendar staging
  kubectl conch calendar --selector pool=qa --days 14 --tz Europe/Berlin
  kubectl conch calendar                  # every Resource of the namespace`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && selector != "" {
				return &exitError{code: ExitUsage, err: fmt.Errorf("name a Resource or give --selector, not both")}
			}
			if days < 1 || days > maxCalendarDays {
				return &exitError{code: ExitUsage, err: fmt.Errorf("--days %d: show 1 to %d days", days, maxCalendarDays)}
			}
			if tz != "" {
				loc, err := time.LoadLocation(tz)
				if err != nil || tz == "Local" {
					return &exitError{code: ExitUsage, err: fmt.Errorf("--tz %q is not a time zone; give an IANA name such as Europe/Berlin or America/Los_Angeles", tz)}
				}
				a.Location = loc
			}
			return a.calendar(cmd.Context(), args, selector, days)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "Show the Resources of a pool by label (pool=qa) instead of naming one")
	cmd.Flags().IntVar(&days, "days", calendar.DefaultDays, "How many days ahead to show (1 to 35)")
	cmd.Flags().StringVar(&tz, "tz", "", "The IANA time zone to show times in (default: the local one)")
	return cmd
}

func (a *app) calendar(ctx context.Context, args []string, selector string, days int) error {
	c, ns, err := a.client()
	if err != nil {
		return err
	}
	var resources []conchv1.Resource
	if len(args) == 1 {
		var res conchv1.Resource
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: args[0]}, &res); err != nil {
			if apierrors.IsNotFound(err) {
				return fail("there is no Resource %s in namespace %s", args[0], ns)
			}
			return fail("reading Resource %s: %w", args[0], err)
		}
		resources = []conchv1.Resource{res}
	} else {
		opts := []client.ListOption{client.InNamespace(ns)}
		if selector != "" {
			sel, err := labels.Parse(selector)
			if err != nil {
				return &exitError{code: ExitUsage, err: fmt.Errorf("--selector: %w", err)}
			}
			opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
		}
		var list conchv1.ResourceList
		if err := c.List(ctx, &list, opts...); err != nil {
			return fail("listing Resources: %w", err)
		}
		resources = list.Items
	}
	var rsvs conchv1.ReservationList
	if err := c.List(ctx, &rsvs, client.InNamespace(ns)); err != nil {
		return fail("listing Reservations: %w", err)
	}
	now := a.Now()
	var entries []calendar.Entry
	for i := range resources {
		entries = append(entries, calendar.Build(&resources[i], rsvs.Items, now, days)...)
	}
	calendar.Sort(entries)
	if len(entries) == 0 {
		fmt.Fprintf(a.ErrOut, "Nothing is held, queued or booked in the next %d days (times in %s).\n", days, a.Location)
		return nil
	}
	return a.printCalendar(entries, len(args) == 0, now)
}

// printCalendar writes entries as a table, one line each; several adds the Resource's name.
func (a *app) printCalendar(entries []calendar.Entry, several bool, now time.Time) error {
	w := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	if several {
		fmt.Fprint(w, "RESOURCE\t")
	}
	fmt.Fprintln(w, "DAY\tFROM\tTO\tHOLDER\tKIND\tRESERVATION")
	row := func(e calendar.Entry, day, from, to string) {
		if several {
			fmt.Fprintf(w, "%s\t", e.Resource)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", day, from, to, e.Holder, e.Kind, e.Reservation)
	}
	days, unscheduled := calendar.Days(entries, now, a.Location)
	for _, d := range days {
		for _, e := range d.Entries {
			from, to := calendar.Times(e, d, a.Location)
			row(e, calendar.DayLabel(d), from, to)
		}
	}
	for _, e := range unscheduled {
		row(e, "-", "-", "-")
	}
	return w.Flush()
}
