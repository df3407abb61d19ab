package plugin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// DefaultHeartbeatTimeout is spec.heartbeatTimeout of Reservations made with --heartbeat and by run: a holder
// that stops renewing for this long loses its hold.
const DefaultHeartbeatTimeout = time.Minute

// onOptions are the flags of on and run.
type onOptions struct {
	duration         string
	reason           string
	selector         string
	wait             bool
	timeout          time.Duration
	heartbeat        bool
	heartbeatTimeout time.Duration
	heldBy           string
	params           []string
	// Bookings and priorities (docs/bookings.md).
	at          string
	tz          string
	priority    int32
	preemptible string
	noPreempt   bool
	// timeoutSet is true when --timeout was given: a booking's wait then counts from now, not from its start.
	timeoutSet bool
}

func (o *onOptions) addFlags(cmd *cobra.Command, forRun bool) {
	f := cmd.Flags()
	f.StringVar(&o.duration, "for", "", `How long to hold it once granted: 30m, 2h, 1h30m, "90 minutes", "until 17:00", "all day" (default: the Resource's defaultDuration)`)
	f.StringVar(&o.reason, "reason", "", "Why, for the people waiting")
	f.StringVarP(&o.selector, "selector", "l", "", "Take any Resource of a pool by label (pool=qa) instead of naming one")
	f.DurationVar(&o.timeout, "timeout", 30*time.Minute, "How long to wait for the turn before giving up and cancelling the Reservation (for a booking, counted from its start unless given)")
	f.StringVar(&o.heldBy, "held-by", "", "The object whose work holds it (pod/NAME, job/NAME, pipelinerun/NAME, taskrun/NAME, workflow/NAME, or pod for this Pod from $POD_NAME): released the moment it finishes or is gone")
	f.StringArrayVar(&o.params, "param", nil, "A value for the Resource's deploy patch, NAME=VALUE (revision=pr-345); repeat for more (docs/deploy.md)")
	f.StringVar(&o.at, "at", "", `Book it ahead: when the hold starts, as RFC 3339 (2026-12-24T09:00:00+01:00) or "tomorrow 9:00", "14:00" (the next 14:00), "monday 9am", "2026-12-24 9:00" in the local time zone or --tz`)
	f.StringVar(&o.tz, "tz", "", "The IANA time zone of --at, of \"until 17:00\" in --for and of the times printed (default: the local one)")
	f.Int32Var(&o.priority, "priority", 0, "Go ahead of lower priorities in the queue, where the Resource allows it: 0 to 100; above 0 needs --reason")
	f.StringVar(&o.preemptible, "preemptible", "", "Never keeps a higher priority from taking this hold; Allowed is the default")
	f.BoolVar(&o.noPreempt, "no-preempt", false, "The same as --preemptible=Never")
	f.DurationVar(&o.heartbeatTimeout, "heartbeat-timeout", DefaultHeartbeatTimeout, "With heartbeats: how long without a renewal ends the hold (5s to 1h); renewals come every third of it")
	if !forRun {
		f.BoolVar(&o.wait, "wait", false, "Wait until granted, showing the place in the queue; cancel the Reservation on timeout or Ctrl-C")
		f.BoolVar(&o.heartbeat, "heartbeat", false, "Hold only while this command runs: wait, then renew until stopped (Ctrl-C, SIGTERM), then release")
	}
}

func (a *app) onCommand() *cobra.Command {
	var o onOptions
	cmd := &cobra.Command{
		Use:   "on [RESOURCE] [--for DURATION] [--wait]",
		Short: "Reserve a Resource (or any Resource of a pool with --selector)",
		Example: `  kubectl conch on staging --for 2h --reason "deploying PR #345" --wait
  kubectl conch on --selector pool=qa --for 45m --wait --timeout 10m
  kubectl conch on staging --heartbeat &    # hold staging until this background job is stopped
  kubectl conch on staging --held-by pod    # in a pipeline step: released when this Pod ends ($POD_NAME)
  kubectl conch on staging --param revision=pr-345 --wait   # deploy pr-345 to staging while holding it
  kubectl conch on staging --at "tomorrow 9:00" --for 2h --no-preempt --reason "customer demo"   # book it ahead
  kubectl conch on staging --at 2026-12-24T09:00:00+01:00 --for "until 12:00" --tz Europe/Berlin
  kubectl conch on staging --for 1h --priority 10 --reason "hotfix for INC-42"   # go ahead of the queue`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.timeoutSet = cmd.Flags().Changed("timeout")
			return a.on(cmd.Context(), args, o)
		},
	}
	o.addFlags(cmd, false)
	return cmd
}

// on creates a Reservation; with --wait it waits for the grant, and with --heartbeat it then keeps the hold
// alive until stopped.
func (a *app) on(ctx context.Context, args []string, o onOptions) error {
	c, ns, err := a.client()
	if err != nil {
		return err
	}
	r, err := a.newReservation(ns, args, o)
	if err != nil {
		return err
	}
	if err := resolveHeldBy(ctx, c, ns, &r.Spec.HeldBy, a.ErrOut); err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	if err := c.Create(ctx, r); err != nil {
		return fail("creating the Reservation: %w", err)
	}
	key := client.ObjectKeyFromObject(r)
	fmt.Fprintf(a.Out, "reservation.conch.dev/%s created\n", r.Name)
	if r.Spec.StartTime != nil {
		fmt.Fprintln(a.ErrOut, a.bookedLine(r))
	}
	if !o.wait && !o.heartbeat {
		return nil
	}

	// The heartbeat outlives ctx, so that a Ctrl-C is handled by releasing, not by a heartbeat that stopped.
	hbCtx, stopHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHeartbeat()
	lost := make(chan error, 1)
	if o.heartbeat {
		go func() { lost <- a.heartbeat(hbCtx, c, key, o.heartbeatTimeout) }()
	}
	granted, err := a.acquire(ctx, c, key, a.waitFor(r, o), lost)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.ErrOut, a.grantedLine(granted))
	if !o.heartbeat {
		return nil
	}

	// Heartbeat mode: hold until stopped, or until the hold ends by itself.
	fmt.Fprintf(a.ErrOut, "Holding %s while this command runs, renewing every %s; stop it (Ctrl-C, kill) to release.\n",
		granted.Status.ResourceName, o.heartbeatTimeout/3)
	ended := make(chan error, 1)
	go func() { ended <- a.watchHold(hbCtx, c, key) }()
	select {
	case <-ctx.Done():
		stopHeartbeat()
		if err := release(c, key); err != nil {
			return fail("releasing %s: %w", key, err)
		}
		fmt.Fprintf(a.ErrOut, "Released %s.\n", granted.Status.ResourceName)
		return nil
	case err := <-lost:
		return a.holdLost(c, key, err)
	case err := <-ended:
		return a.holdLost(c, key, err)
	}
}

// newReservation builds the Reservation that on and run create.
func (a *app) newReservation(ns string, args []string, o onOptions) (*conchv1.Reservation, error) {
	if (len(args) == 1) == (o.selector != "") {
		return nil, &exitError{code: ExitUsage, err: errors.New("name a Resource, or give --selector for any Resource of a pool, not both")}
	}
	r := &conchv1.Reservation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns},
		Spec:       conchv1.ReservationSpec{Holder: a.whoAmI(), Reason: o.reason},
	}
	if len(args) == 1 {
		r.Spec.ResourceName = args[0]
		r.GenerateName = generateName(args[0])
	} else {
		sel, err := metav1.ParseToLabelSelector(o.selector)
		if err != nil {
			return nil, &exitError{code: ExitUsage, err: fmt.Errorf("--selector: %w", err)}
		}
		r.Spec.Selector = sel
		r.GenerateName = "pool-"
	}
	if err := a.plan(r, o); err != nil {
		return nil, err
	}
	if o.heldBy != "" {
		h, err := parseHeldBy(o.heldBy, a.Getenv)
		if err != nil {
			return nil, &exitError{code: ExitUsage, err: err}
		}
		r.Spec.HeldBy = *h
	}
	params, err := parseParams(o.params)
	if err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	r.Spec.Parameters = params
	if o.heartbeat {
		r.Spec.HeartbeatTimeout = &metav1.Duration{Duration: o.heartbeatTimeout}
		now := metav1.NewMicroTime(a.Now())
		r.Spec.RenewTime = &now
	}
	return r, nil
}

// parseParams reads --param NAME=VALUE flags into spec.parameters, with the API's rules, so that a mistake is a
// usage error that names the flag rather than the API server's refusal.
func parseParams(flags []string) ([]conchv1.Parameter, error) {
	if len(flags) > conchv1.MaxParameters {
		return nil, fmt.Errorf("--param: at most %d, not %d", conchv1.MaxParameters, len(flags))
	}
	var out []conchv1.Parameter
	for _, f := range flags {
		name, value, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("--param %q: write NAME=VALUE, such as revision=pr-345", f)
		case !paramName.MatchString(name):
			return nil, fmt.Errorf("--param %q: the name is letters, digits and '_', not starting with a digit, at most 63", f)
		case value == "" || len(value) > 256:
			return nil, fmt.Errorf("--param %q: the value is 1 to 256 characters", f)
		case slices.ContainsFunc(out, func(p conchv1.Parameter) bool { return p.Name == name }):
			return nil, fmt.Errorf("--param %s is given twice", name)
		}
		out = append(out, conchv1.Parameter{Name: name, Value: value})
	}
	return out, nil
}

// paramName is the API's pattern of a parameter's name.
var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// generateName returns the prefix of a Reservation's generated name for a Resource: its name, shortened so that
// the generated suffix fits.
func generateName(resource string) string {
	const maxLen = 50
	if len(resource) > maxLen {
		resource = strings.TrimRight(resource[:maxLen], "-.")
	}
	return resource + "-"
}

// acquire waits up to timeout for the Reservation key to be granted. On timeout, Ctrl-C, a lost heartbeat or
// an end without a grant, it cancels the Reservation and returns an error that says why.
func (a *app) acquire(ctx context.Context, c client.WithWatch, key types.NamespacedName, timeout time.Duration, lost <-chan error) (*conchv1.Reservation, error) {
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	hbErr := make(chan error, 1)
	go func() {
		select {
		case err := <-lost:
			if err != nil { // nil: the heartbeat was stopped, not lost
				hbErr <- err
				cancel()
			}
		case <-wctx.Done():
		}
	}()
	granted, err := a.waitForGrant(wctx, c, key, a.ErrOut)
	if err == nil {
		return granted, nil
	}
	var why error
	code := ExitFailure
	select {
	case herr := <-hbErr:
		why = fmt.Errorf("heartbeat failed while waiting: %w", herr)
	default:
		switch {
		case ctx.Err() != nil:
			why, code = errors.New("interrupted while waiting"), ExitInterrupted
		case errors.Is(context.Cause(wctx), errTimeout):
			why = fmt.Errorf("timed out after %s waiting for the turn", timeout)
		default:
			// It ended without a grant: nothing to cancel, but say so.
			return nil, &exitError{code: ExitFailure, err: fmt.Errorf("reservation %s was not granted: %w", key, err)}
		}
	}
	if rerr := release(c, key); rerr != nil {
		return nil, &exitError{code: code, err: fmt.Errorf("%w; cancelling reservation %s failed too: %v", why, key, rerr)}
	}
	return nil, &exitError{code: code, err: fmt.Errorf("%w; cancelled reservation %s", why, key)}
}

var errTimeout = errors.New("timeout")

// heartbeat renews the Reservation key every timeout/3 until ctx ends. A failed renewal is retried every second;
// when no renewal succeeded for a whole timeout the hold is as good as gone, and heartbeat returns why.
func (a *app) heartbeat(ctx context.Context, c client.Client, key types.NamespacedName, timeout time.Duration) error {
	interval := timeout / 3
	lastOK := a.Now()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := renew(ctx, c, key, a.Now())
		switch {
		case err == nil:
			lastOK = a.Now()
			t.Reset(interval)
			continue
		case ctx.Err() != nil:
			return nil
		}
		if since := a.Now().Sub(lastOK); since >= timeout {
			return fmt.Errorf("no heartbeat got through for %s (heartbeatTimeout %s): %w", since.Round(time.Second), timeout, err)
		}
		fmt.Fprintf(a.ErrOut, "warning: renewing %s failed, retrying: %v\n", key, err)
		t.Reset(time.Second)
	}
}

// watchHold waits until the granted Reservation key stops being granted, and says why.
func (a *app) watchHold(ctx context.Context, c client.WithWatch, key types.NamespacedName) error {
	var why error
	err := watchReservation(ctx, c, key, func(r *conchv1.Reservation) (bool, error) {
		switch {
		case r == nil:
			why = fmt.Errorf("reservation %s was deleted", key)
		case r.Status.State != conchv1.StateGranted:
			why = fmt.Errorf("reservation %s is %s (%s): %s", key, r.Status.State, stateReason(r), a.stateMessage(r))
		default:
			return false, nil
		}
		return true, nil
	})
	if why != nil {
		return why
	}
	return err
}

// holdLost reports loudly that a hold in use ended, releases what is left of it, and returns the error to exit
// with.
func (a *app) holdLost(c client.Client, key types.NamespacedName, why error) error {
	if why == nil {
		why = errors.New("stopped watching it")
	}
	fmt.Fprintf(a.ErrOut, "\n*** kubectl conch: LOST THE HOLD: %v ***\n\n", why)
	_ = release(c, key)
	return &exitError{code: ExitFailure, err: fmt.Errorf("%w: %v", errHoldLost, why)}
}
