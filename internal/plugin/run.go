package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func (a *app) runCommand() *cobra.Command {
	var o onOptions
	cmd := &cobra.Command{
		Use:   "run [RESOURCE] [flags] -- COMMAND [ARGS...]",
		Short: "Hold a Resource while a command runs: wait for the turn, run it with heartbeats, release when it exits",
		Long: `run reserves a Resource with a heartbeat, waits for the turn, runs COMMAND, and releases the Resource when
COMMAND exits, with COMMAND's exit code. While COMMAND runs, run renews the Reservation every third of
--heartbeat-timeout, so a job that dies (and run with it) loses its hold within --heartbeat-timeout instead of
holding the Resource for its whole duration.

If the hold ends while COMMAND runs (its duration ran out, someone released it, the heartbeat could not get
through), run says so loudly on stderr, stops COMMAND (SIGTERM, then SIGKILL after 10s) and exits 1, whatever
COMMAND's exit code. COMMAND sees CONCH_RESERVATION, CONCH_RESOURCE (the Resource granted, also for --selector),
CONCH_NAMESPACE and CONCH_HOLDER in its environment.`,
		Example: `  kubectl conch run staging --for 1h --reason "deploy ${GITHUB_SHA}" -- ./deploy.sh
  kubectl conch run --selector pool=qa --timeout 20m -- sh -c 'make e2e CLUSTER=$CONCH_RESOURCE'`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash < 0 || dash == len(args) {
				return errors.New("give the command to run after --, as in: kubectl conch run staging -- ./deploy.sh")
			}
			if dash > 1 {
				return fmt.Errorf("name at most one Resource before --, got %v", args[:dash])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			o.heartbeat, o.wait = true, true
			o.timeoutSet = cmd.Flags().Changed("timeout")
			return a.run(cmd.Context(), args[:dash], args[dash:], o)
		},
	}
	o.addFlags(cmd, true)
	return cmd
}

// run holds a Resource while command runs; see runCommand.
func (a *app) run(ctx context.Context, resource, command []string, o onOptions) error {
	c, ns, err := a.client()
	if err != nil {
		return err
	}
	r, err := a.newReservation(ns, resource, o)
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
	fmt.Fprintf(a.ErrOut, "reservation.conch.dev/%s created\n", r.Name)

	hbCtx, stopHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHeartbeat()
	lost := make(chan error, 1)
	go func() { lost <- a.heartbeat(hbCtx, c, key, o.heartbeatTimeout) }()
	granted, err := a.acquire(ctx, c, key, a.waitFor(r, o), lost)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.ErrOut, a.grantedLine(granted))

	// The command stops when ctx ends (Ctrl-C, SIGTERM) or the hold is lost: SIGTERM first, SIGKILL after the
	// grace period.
	cmdCtx, stopCommand := context.WithCancel(ctx)
	defer stopCommand()
	child := exec.CommandContext(cmdCtx, command[0], command[1:]...)
	child.Stdin, child.Stdout, child.Stderr = a.In, a.Out, a.ErrOut
	child.Env = append(os.Environ(),
		"CONCH_RESERVATION="+r.Name, "CONCH_RESOURCE="+granted.Status.ResourceName,
		"CONCH_NAMESPACE="+ns, "CONCH_HOLDER="+r.Spec.Holder)
	child.Cancel = func() error { return child.Process.Signal(syscall.SIGTERM) }
	child.WaitDelay = a.GracePeriod
	if err := child.Start(); err != nil {
		stopHeartbeat()
		_ = release(c, key)
		return fail("starting %s: %w; released %s", command[0], err, granted.Status.ResourceName)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	ended := make(chan error, 1)
	go func() { ended <- a.watchHold(hbCtx, c, key) }()

	var lostWhy error
	var waitErr error
	select {
	case waitErr = <-exited:
	case lostWhy = <-lost:
	case lostWhy = <-ended:
	}
	if lostWhy != nil {
		// The hold is gone while the command still runs: stop it, and fail whatever it returns.
		fmt.Fprintf(a.ErrOut, "\n*** kubectl conch: LOST THE HOLD on %s while %s runs: %v. Stopping it. ***\n\n",
			granted.Status.ResourceName, command[0], lostWhy)
		stopCommand()
		<-exited //nolint:errcheck // the hold is lost: the run fails whatever the command's exit status was
		stopHeartbeat()
		_ = release(c, key)
		return &exitError{code: ExitFailure, err: fmt.Errorf("%w on %s: %v", errHoldLost, granted.Status.ResourceName, lostWhy)}
	}
	stopHeartbeat()
	if rerr := release(c, key); rerr != nil {
		fmt.Fprintf(a.ErrOut, "warning: releasing %s failed: %v; without heartbeats it ends within %s\n", key, rerr, o.heartbeatTimeout)
	} else {
		fmt.Fprintf(a.ErrOut, "Released %s.\n", granted.Status.ResourceName)
	}
	switch code := exitCode(waitErr); {
	case ctx.Err() != nil:
		return &exitError{code: ExitInterrupted, err: fmt.Errorf("interrupted: %s stopped (%v)", command[0], waitErr)}
	case code < 0:
		return &exitError{code: ExitFailure, err: fmt.Errorf("%s: %w", command[0], waitErr)}
	case code > 0:
		return &exitError{code: code} // the command said what went wrong
	}
	return nil
}

// exitCode returns the exit code of a finished command: 0, its code, or -1 when it did not exit normally (killed
// by a signal, or Wait failed).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
