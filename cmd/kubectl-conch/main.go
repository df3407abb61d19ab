// Command kubectl-conch is the kubectl plugin `kubectl conch`: put it on the PATH and kubectl finds it. The
// commands live in internal/plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/conch-dev/conch/internal/plugin"
)

func main() {
	os.Exit(run())
}

// run runs the command and returns its exit code; main exits with it once run's deferred calls have run.
func run() int {
	// Ctrl-C and SIGTERM (a cancelled CI job) end the context; a waiting or running command then cancels or
	// releases its Reservation before it exits.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return plugin.Run(ctx, os.Args[1:], plugin.DefaultOptions())
}
