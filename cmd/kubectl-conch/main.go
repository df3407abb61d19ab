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
	// Ctrl-C and SIGTERM (a cancelled CI job) end the context; a waiting or running command then cancels or
	// releases its Reservation before it exits.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(plugin.Run(ctx, os.Args[1:], plugin.DefaultOptions()))
}
