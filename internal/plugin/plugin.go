// Package plugin is `kubectl conch`, Conch's kubectl plugin for people and pipelines: take a turn on a Resource
// (on), give it back (off), extend it, see who has what (list, who), and hold a Resource exactly as long as a
// command runs (run), with heartbeats so that a crashed job does not keep it. cmd/kubectl-conch only wires it to
// the process.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// Exit codes of kubectl conch. `run` exits with its command's code when the command ran to its end and the hold
// was never lost.
const (
	// ExitFailure: the Reservation was rejected, timed out waiting, ended or lost its hold while in use, or a
	// request to the API server failed.
	ExitFailure = 1
	// ExitUsage: bad arguments or flags.
	ExitUsage = 2
	// ExitInterrupted: stopped by Ctrl-C or SIGTERM before it was done (the Reservation was cancelled).
	ExitInterrupted = 130
)

// Options are what the commands take from the process. Tests replace them.
type Options struct {
	genericiooptions.IOStreams
	// Getenv reads the environment (for the default holder).
	Getenv func(string) string
	// Hostname returns the machine's name (for the default holder).
	Hostname func() (string, error)
	// Now is the clock for durations typed as times of day and for the times printed.
	Now func() time.Time
	// Location is the time zone of "until 17:00" and of the times printed.
	Location *time.Location
	// GracePeriod is how long `run` waits for its command to stop after SIGTERM before it kills it.
	GracePeriod time.Duration
}

// DefaultOptions returns Options for the current process.
func DefaultOptions() Options {
	return Options{
		IOStreams:   genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr},
		Getenv:      os.Getenv,
		Hostname:    os.Hostname,
		Now:         time.Now,
		Location:    time.Local,
		GracePeriod: 10 * time.Second,
	}
}

// exitError ends the command with a code. A nil err prints nothing (a command run by `run` said what it had to).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// fail returns an error that exits with ExitFailure.
func fail(format string, args ...any) error {
	return &exitError{code: ExitFailure, err: fmt.Errorf(format, args...)}
}

// Run runs kubectl conch with args (without the program name) and returns the process's exit code. ctx ends on
// Ctrl-C or SIGTERM; commands that are waiting or running then cancel what they started.
func Run(ctx context.Context, args []string, o Options) int {
	cmd := NewCommand(o)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(o.ErrOut, "error:", ee.err)
		}
		return ee.code
	}
	// Errors from cobra itself: unknown commands and flags, wrong number of arguments.
	fmt.Fprintln(o.ErrOut, "error:", err)
	return ExitUsage
}

// app holds what every subcommand shares: the options, the kubeconfig flags and the holder flag.
type app struct {
	Options
	flags  *genericclioptions.ConfigFlags
	holder string
}

// NewCommand returns the kubectl conch command tree.
func NewCommand(o Options) *cobra.Command {
	a := &app{Options: o, flags: genericclioptions.NewConfigFlags(true)}
	root := &cobra.Command{
		Use:   "kubectl-conch",
		Short: "Take turns on shared things: reserve a Conch Resource, wait for your turn, give it back",
		Long: `kubectl conch takes turns on Conch Resources (the staging server, a test cluster, a device).

  kubectl conch on staging --for 2h --wait        reserve staging, wait for the turn
  kubectl conch on staging --at "tomorrow 9:00" --for 2h   book it ahead (also --at 14:00, RFC 3339, --tz)
  kubectl conch on staging --priority 10 --reason "hotfix for INC-42"   go ahead of lower priorities
  kubectl conch run staging -- ./deploy.sh        hold staging while ./deploy.sh runs, then release it
  kubectl conch off staging                       give it back
  kubectl conch extend staging 30m                hold it 30 minutes longer
  kubectl conch who staging                       who holds it and who waits
  kubectl conch list                              every Resource, who holds it, how many wait
  kubectl conch calendar staging                  the next 7 days: holds, the queue's turns, bookings
  kubectl conch watch staging --timeout 1h        wait until staging is free, without queueing
  kubectl conch repair staging                    take an Unhealthy Resource back after fixing it

The holder is --holder, else $CONCH_HOLDER, else the CI job ("ci:<job>#<run>" on GitHub Actions, GitLab CI,
CircleCI, Jenkins and Buildkite), else $USER@<hostname>.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl conch"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(o.In)
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	a.flags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVar(&a.holder, "holder", "", "Who holds the Resource (default: $CONCH_HOLDER, the CI job, or $USER@<hostname>)")
	root.AddCommand(a.onCommand(), a.runCommand(), a.offCommand(), a.extendCommand(), a.listCommand(), a.whoCommand(), a.watchCommand(), a.repairCommand(), a.calendarCommand())
	return root
}

// whoAmI returns the holder of this invocation.
func (a *app) whoAmI() string {
	if a.holder != "" {
		return a.holder
	}
	return DefaultHolder(a.Getenv, a.Hostname)
}

// scheme knows Conch's kinds; the plugin reads and writes nothing else.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(conchv1.AddToScheme(s))
	return s
}()

// client returns a client for the cluster of the kubeconfig flags and the namespace to work in.
func (a *app) client() (client.WithWatch, string, error) {
	cfg, err := a.flags.ToRESTConfig()
	if err != nil {
		return nil, "", fail("%w", err)
	}
	ns, _, err := a.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", fail("%w", err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fail("connecting to the cluster: %w", err)
	}
	return c, ns, nil
}
