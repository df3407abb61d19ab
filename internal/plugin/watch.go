package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

func (a *app) watchCommand() *cobra.Command {
	var (
		selector string
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "watch [RESOURCE] [--timeout DURATION]",
		Short: "Wait until a Resource (or any Resource of a pool with --selector) is free, without queueing for it",
		Long: `watch waits until the Resource has a free slot and nobody waits for it (its Available condition is True
and its queue is empty), then exits 0. It takes no place in the queue: whoever asks first gets it, so follow
it with kubectl conch on if you want it. Meanwhile it prints who holds it whenever that changes. It watches
the API server; it does not poll.`,
		Example: `  kubectl conch watch staging && kubectl conch on staging --for 1h
  kubectl conch watch staging --timeout 1h    # exit 1 if it is not free within an hour
  kubectl conch watch --selector pool=qa      # any Resource of the pool`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.watch(cmd.Context(), args, selector, timeout)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "Wait for any Resource of a pool by label (pool=qa) instead of naming one")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "Give up (exit 1) when nothing is free by then (default: wait until stopped)")
	return cmd
}

// watch waits until the named Resource, or any Resource matching selector, is free.
func (a *app) watch(ctx context.Context, args []string, selector string, timeout time.Duration) error {
	if (len(args) == 1) == (selector != "") {
		return &exitError{code: ExitUsage, err: errors.New("name a Resource, or give --selector for any Resource of a pool, not both")}
	}
	if timeout < 0 {
		return &exitError{code: ExitUsage, err: fmt.Errorf("--timeout must not be negative, not %s", timeout)}
	}
	opts := metav1.ListOptions{}
	what := ""
	if selector != "" {
		sel, err := labels.Parse(selector)
		if err != nil {
			return &exitError{code: ExitUsage, err: fmt.Errorf("--selector: %w", err)}
		}
		opts.LabelSelector, what = sel.String(), "a Resource with "+sel.String()
	} else {
		opts.FieldSelector, what = fields.OneTermEqualSelector("metadata.name", args[0]).String(), args[0]
	}
	c, ns, err := a.client()
	if err != nil {
		return err
	}
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	seen := map[string]*conchv1.Resource{}
	last := ""
	var free *conchv1.Resource
	err = watchResources(wctx, c, ns, opts, func(ev watch.EventType, res *conchv1.Resource, synced bool) (bool, error) {
		switch ev {
		case watch.Deleted:
			delete(seen, res.Name)
		case watch.Added, watch.Modified:
			seen[res.Name] = res
		}
		if !synced {
			return false, nil
		}
		if len(seen) == 0 {
			if selector != "" {
				return false, fmt.Errorf("no Resource in namespace %s has the labels %s", ns, opts.LabelSelector)
			}
			return false, fmt.Errorf("there is no Resource %s in namespace %s", args[0], ns)
		}
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range seen {
				if !yield(n) {
					return
				}
			}
		})
		lines := make([]string, 0, len(names))
		for _, n := range names {
			if seen[n].IsFree() {
				free = seen[n]
				return true, nil
			}
			lines = append(lines, a.heldLine(seen[n]))
		}
		if line := strings.Join(lines, "\n"); line != last {
			fmt.Fprintln(a.ErrOut, line)
			last = line
		}
		return false, nil
	})
	switch {
	case err == nil:
		fmt.Fprintf(a.Out, "%s is free\n", free.Name)
		return nil
	case ctx.Err() != nil:
		return &exitError{code: ExitInterrupted, err: fmt.Errorf("stopped while waiting for %s", what)}
	case wctx.Err() != nil:
		return fail("timed out after %s waiting for %s to be free", timeout, what)
	case apierrors.IsForbidden(err):
		return fail("watching Resources: %w", err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return fail("%w", err)
}

// heldLine says why a Resource is not free: "staging: Full, held by alice until 14:05:00 (in 12m0s), 1 waiting".
func (a *app) heldLine(res *conchv1.Resource) string {
	line := fmt.Sprintf("%s: %s", res.Name, resourceState(res))
	if len(res.Status.Holders) > 0 {
		hs := make([]string, len(res.Status.Holders))
		for i, h := range res.Status.Holders {
			hs[i] = fmt.Sprintf("%s until %s", h.Holder, a.when(h.Until.Time))
		}
		line += ", held by " + strings.Join(hs, ", ")
	}
	if res.Status.Waiting > 0 {
		line += fmt.Sprintf(", %d waiting", res.Status.Waiting)
	}
	return line
}

// watchResources lists and watches the Resources of ns that opts select, calling f with each event; synced is
// false for the events of the first list but its last, so that f decides on the whole list. It ends when f
// returns true or an error, or ctx ends.
func watchResources(ctx context.Context, c client.WithWatch, ns string, opts metav1.ListOptions,
	f func(watch.EventType, *conchv1.Resource, bool) (bool, error)) error {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector, o.LabelSelector = opts.FieldSelector, opts.LabelSelector
			list := &conchv1.ResourceList{}
			err := c.List(ctx, list, client.InNamespace(ns), &client.ListOptions{Raw: &o})
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector, o.LabelSelector = opts.FieldSelector, opts.LabelSelector
			return c.Watch(ctx, &conchv1.ResourceList{}, client.InNamespace(ns), &client.ListOptions{Raw: &o})
		},
	}
	synced := false
	precondition := func(store cache.Store) (bool, error) {
		// Called once the first list is in the store: decide on all of it.
		synced = true
		for _, obj := range store.List() {
			if done, err := f(watch.Added, obj.(*conchv1.Resource), false); done || err != nil {
				return done, err
			}
		}
		return f("", nil, true)
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &conchv1.Resource{}, precondition, func(ev watch.Event) (bool, error) {
		res, ok := ev.Object.(*conchv1.Resource)
		if !ok || !synced {
			return false, nil
		}
		return f(ev.Type, res, true)
	})
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
