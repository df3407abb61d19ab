package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/chat"
)

// maxDuration is the longest spec.duration the API accepts.
const maxDuration = 720 * time.Hour

func (a *app) offCommand() *cobra.Command {
	var ignoreNotFound bool
	cmd := &cobra.Command{
		Use:   "off RESOURCE",
		Short: "Release your hold on a Resource (and leave its queue)",
		Long: `off releases every active Reservation of the holder (yours, or --holder) for RESOURCE: a hold ends at once
and the next in line gets it; a place in the queue is given up. The Reservations stay as records.`,
		Example: `  kubectl conch off staging
  kubectl conch off staging --ignore-not-found    # in a CI cleanup step that may run twice`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.off(cmd.Context(), args[0], ignoreNotFound)
		},
	}
	cmd.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "Succeed when there is nothing to release")
	return cmd
}

func (a *app) off(ctx context.Context, resource string, ignoreNotFound bool) error {
	c, ns, err := a.client()
	if err != nil {
		return err
	}
	holder := a.whoAmI()
	mine, err := activeReservations(ctx, c, ns, resource, holder)
	if err != nil {
		return err
	}
	if len(mine) == 0 {
		if ignoreNotFound {
			fmt.Fprintf(a.ErrOut, "%s holds nothing on %s and waits for nothing there.\n", holder, resource)
			return nil
		}
		return fail("%s holds nothing on %s in namespace %s and waits for nothing there", holder, resource, ns)
	}
	for _, r := range mine {
		if err := release(c, client.ObjectKeyFromObject(&r)); err != nil && !apierrors.IsNotFound(err) {
			return fail("releasing %s: %w", r.Name, err)
		}
		what := "left the queue for"
		if r.Status.State == conchv1.StateGranted {
			what = "released"
		}
		fmt.Fprintf(a.Out, "reservation.conch.dev/%s: %s %s %s\n", r.Name, holder, what, resource)
	}
	return nil
}

// activeReservations returns the holder's Reservations for a Resource (by spec.resourceName, or bound to it
// from a pool) that are not released and not final, oldest first.
func activeReservations(ctx context.Context, c client.Client, ns, resource, holder string) ([]conchv1.Reservation, error) {
	var list conchv1.ReservationList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fail("listing Reservations in %s: %w", ns, err)
	}
	var out []conchv1.Reservation
	for _, r := range list.Items {
		if r.Spec.Holder != holder || r.Spec.Released || r.Status.State.IsFinal() || r.DeletionTimestamp != nil {
			continue
		}
		if r.Spec.ResourceName == resource || r.Status.ResourceName == resource {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) ||
			out[i].CreationTimestamp.Equal(&out[j].CreationTimestamp) && out[i].Name < out[j].Name
	})
	return out, nil
}

func (a *app) extendCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "extend RESOURCE DURATION",
		Short: "Hold a Resource longer: add DURATION to your Reservation's duration",
		Long: `extend adds DURATION to the duration of the holder's Reservation(s) for RESOURCE, so a hold ends that much
later (or, while waiting, will last that much longer). DURATION is an amount (30m, 1h, "90 minutes") or a time of
day the hold should end at ("until 18:00"). The Resource's maxDuration still applies; extend says when it cuts
the extension short.`,
		Example: `  kubectl conch extend staging 30m
  kubectl conch extend staging "until 18:00"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.extend(cmd.Context(), args[0], args[1])
		},
	}
}

func (a *app) extend(ctx context.Context, resource, text string) error {
	now := a.Now()
	d, err := chat.ParseDuration(text, now, a.Location)
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	// "until 18:00" and "all day" name the end of the hold; amounts are added to it.
	words := strings.Fields(strings.ToLower(text))
	endsAt := len(words) > 0 && (words[0] == "until" || words[0] == "till" || words[0] == "til" || strings.Join(words, " ") == "all day")

	c, ns, err := a.client()
	if err != nil {
		return err
	}
	holder := a.whoAmI()
	mine, err := activeReservations(ctx, c, ns, resource, holder)
	if err != nil {
		return err
	}
	if len(mine) == 0 {
		return fail("%s holds nothing on %s in namespace %s and waits for nothing there", holder, resource, ns)
	}
	for _, r := range mine {
		key := client.ObjectKeyFromObject(&r)
		var updated conchv1.Reservation
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := c.Get(ctx, key, &updated); err != nil {
				return err
			}
			orig := updated.DeepCopy()
			current := time.Duration(0)
			switch {
			case updated.Status.Duration != nil:
				current = updated.Status.Duration.Duration
			case updated.Spec.Duration != nil:
				current = updated.Spec.Duration.Duration
			}
			var next time.Duration
			switch {
			case endsAt && updated.Status.GrantedAt != nil:
				next = now.Add(d).Sub(updated.Status.GrantedAt.Time)
			case endsAt:
				return &exitError{code: ExitUsage, err: fmt.Errorf("%s is not granted yet, so it has no end to move; extend it by an amount such as 30m", r.Name)}
			case current == 0:
				return &exitError{code: ExitFailure, err: fmt.Errorf("%s has no duration yet (%s); try again once it is queued", r.Name, updated.Status.State)}
			default:
				next = current + d
			}
			next = next.Round(time.Second)
			if next > maxDuration {
				return &exitError{code: ExitUsage, err: fmt.Errorf("that makes %s hold for %s; a hold can last at most 30 days", r.Name, next)}
			}
			if next < time.Second {
				return &exitError{code: ExitUsage, err: fmt.Errorf("%s was granted more than that ago; the hold would end before it began", r.Name)}
			}
			updated.Spec.Duration = &metav1.Duration{Duration: next}
			return c.Patch(ctx, &updated, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
		})
		if err != nil {
			if _, ok := err.(*exitError); ok {
				return err
			}
			return fail("extending %s: %w", r.Name, err)
		}
		line := fmt.Sprintf("reservation.conch.dev/%s: %s holds %s for %s", r.Name, holder, resource, updated.Spec.Duration.Duration)
		if g := updated.Status.GrantedAt; g != nil {
			line += ", until " + a.when(g.Add(updated.Spec.Duration.Duration))
		}
		fmt.Fprintln(a.Out, line)
		a.warnMaxDuration(ctx, c, &updated)
	}
	return nil
}

// warnMaxDuration says when the Resource's maxDuration will cut an extended Reservation short.
func (a *app) warnMaxDuration(ctx context.Context, c client.Client, r *conchv1.Reservation) {
	name := r.Status.ResourceName
	if name == "" {
		name = r.Spec.ResourceName
	}
	var res conchv1.Resource
	if err := c.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: name}, &res); err != nil || res.Spec.MaxDuration == nil {
		return
	}
	if limit := res.Spec.MaxDuration.Duration; r.Spec.Duration.Duration > limit {
		fmt.Fprintf(a.ErrOut, "warning: %s allows holds of at most %s, so the hold lasts %s\n", name, limit, limit)
	}
}

func (a *app) listCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List Resources: who holds each, until when, and how many wait",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.list(cmd.Context(), all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "List the Resources of every namespace")
	return cmd
}

func (a *app) list(ctx context.Context, all bool) error {
	c, ns, err := a.client()
	if err != nil {
		return err
	}
	var opts []client.ListOption
	if !all {
		opts = append(opts, client.InNamespace(ns))
	}
	var list conchv1.ResourceList
	if err := c.List(ctx, &list, opts...); err != nil {
		return fail("listing Resources: %w", err)
	}
	if len(list.Items) == 0 {
		where := "namespace " + ns
		if all {
			where = "any namespace"
		}
		fmt.Fprintf(a.ErrOut, "No Resources in %s.\n", where)
		return nil
	}
	sort.Slice(list.Items, func(i, j int) bool {
		if list.Items[i].Namespace != list.Items[j].Namespace {
			return list.Items[i].Namespace < list.Items[j].Namespace
		}
		return list.Items[i].Name < list.Items[j].Name
	})
	w := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	if all {
		fmt.Fprint(w, "NAMESPACE\t")
	}
	fmt.Fprintln(w, "RESOURCE\tSTATE\tHELD BY\tUNTIL\tWAITING")
	for _, res := range list.Items {
		if all {
			fmt.Fprintf(w, "%s\t", res.Namespace)
		}
		until := "-"
		if res.Status.NextRelease != nil {
			until = a.when(res.Status.NextRelease.Time)
		}
		heldBy := res.Status.HeldBy
		if heldBy == "" {
			heldBy = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", res.Name, resourceState(&res), heldBy, until, res.Status.Waiting)
	}
	return w.Flush()
}

// resourceState sums a Resource up in a word: Free, Full, Paused, Cleaning, Checking, Unhealthy (or Unknown
// before the controller saw it).
func resourceState(res *conchv1.Resource) string {
	c := meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionAvailable)
	switch {
	case c == nil:
		return "Unknown"
	case c.Status == metav1.ConditionTrue:
		return "Free"
	case c.Reason == conchv1.ReasonPaused:
		return "Paused"
	case c.Reason == string(conchv1.PhaseUnhealthy), c.Reason == string(conchv1.StepCleaning), c.Reason == string(conchv1.StepChecking):
		return c.Reason
	}
	return "Full"
}

func (a *app) whoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "who RESOURCE",
		Short: "Show who holds a Resource, until when and why, and who waits",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.who(cmd.Context(), args[0])
		},
	}
}

func (a *app) who(ctx context.Context, name string) error {
	c, ns, err := a.client()
	if err != nil {
		return err
	}
	var res conchv1.Resource
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &res); err != nil {
		if apierrors.IsNotFound(err) {
			return fail("there is no Resource %s in namespace %s", name, ns)
		}
		return fail("reading Resource %s: %w", name, err)
	}
	var list conchv1.ReservationList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return fail("listing Reservations: %w", err)
	}
	byName := map[string]*conchv1.Reservation{}
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	reason := func(reservation string) string {
		if r := byName[reservation]; r != nil && r.Spec.Reason != "" {
			return r.Spec.Reason
		}
		return "-"
	}

	capacity := max(res.Spec.Capacity, 1)
	fmt.Fprintf(a.Out, "%s: %s, %d of %d held, %d waiting\n", res.Name, resourceState(&res), len(res.Status.Holders), capacity, res.Status.Waiting)
	if res.Spec.Description != "" {
		fmt.Fprintf(a.Out, "%s\n", res.Spec.Description)
	}
	w := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	if len(res.Status.Holders) > 0 {
		fmt.Fprintln(w, "\nHOLDER\tSINCE\tUNTIL\tRESERVATION\tREASON")
		for _, h := range res.Status.Holders {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", h.Holder, a.when(h.Since.Time), a.when(h.Until.Time), h.Reservation, reason(h.Reservation))
		}
	}
	if len(res.Status.Queue) > 0 {
		fmt.Fprintln(w, "\n#\tWAITING\tFOR\tEXPECTED\tRESERVATION\tREASON")
		for i, q := range res.Status.Queue {
			eta := "-"
			if r := byName[q.Reservation]; r != nil && r.Status.EstimatedGrantTime != nil {
				eta = a.when(r.Status.EstimatedGrantTime.Time)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, q.Holder, q.Duration.Duration, eta, q.Reservation, reason(q.Reservation))
		}
	}
	return w.Flush()
}
