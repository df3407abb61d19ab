package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

func (a *app) repairCommand() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "repair RESOURCE",
		Short: "Take an Unhealthy Resource back once you fixed it: check it again, or mark it healthy",
		Long: `repair asks Conch to take back a Resource that failed its cleanup or health check (phase Unhealthy), after
you fixed what was wrong. Conch runs its health check again and grants the queue once it passes; a Resource without
a health check is marked healthy at once. It sets the annotation conch.dev/repair, so it needs permission to patch
Resources: an admin's command.`,
		Example: `  kubectl conch repair staging
  kubectl conch repair staging --wait 2m    # and wait until the check passed`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.repair(cmd.Context(), args[0], wait)
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "Wait up to this long until the Resource is healthy (0: do not wait)")
	return cmd
}

func (a *app) repair(ctx context.Context, name string, wait time.Duration) error {
	c, ns, err := a.client()
	if err != nil {
		return err
	}
	res := &conchv1.Resource{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, res); err != nil {
		if apierrors.IsNotFound(err) {
			return fail("no Resource %s in namespace %s", name, ns)
		}
		return fail("reading %s: %w", name, err)
	}
	if !meta.IsStatusConditionFalse(res.Status.Conditions, conchv1.ResourceConditionHealthy) {
		fmt.Fprintf(a.Out, "resource.conch.dev/%s is not unhealthy (phase %s): nothing to repair\n", name, orDash(string(res.Status.Phase)))
		return nil
	}
	patch := client.MergeFrom(res.DeepCopy())
	if res.Annotations == nil {
		res.Annotations = map[string]string{}
	}
	res.Annotations[conchv1.AnnotationRepair] = a.Now().UTC().Format(time.RFC3339Nano)
	if err := c.Patch(ctx, res, patch); err != nil {
		return fail("asking for the repair of %s: %w", name, err)
	}
	what := "marked healthy"
	if res.Spec.HealthCheck != nil {
		what = "checked again"
	}
	fmt.Fprintf(a.Out, "resource.conch.dev/%s: repair requested; it will be %s\n", name, what)
	if wait <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(res), res); err == nil {
			if h := meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionHealthy); h != nil &&
				h.ObservedGeneration >= res.Generation && res.Status.Repair == res.Annotations[conchv1.AnnotationRepair] && res.Status.Turnover == nil {
				if h.Status == "True" {
					fmt.Fprintf(a.Out, "resource.conch.dev/%s is healthy (%s)\n", name, h.Reason)
					return nil
				}
				return &exitError{code: ExitFailure, err: fmt.Errorf("%s is still unhealthy: %s: %s", name, h.Reason, h.Message)}
			}
		}
		select {
		case <-ctx.Done():
			return &exitError{code: ExitFailure, err: fmt.Errorf("%s was not healthy within %s", name, wait)}
		case <-tick.C:
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
