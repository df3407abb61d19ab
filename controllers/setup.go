// Package controllers holds Conch's reconcilers: Resource (it keeps the ledger of holds and decides grants),
// Reservation, the position refresher and Standup, each with the pure status computations beside it. Setup and
// SetupStandups register them with a manager.
package controllers

import (
	"context"
	"net/http"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/workqueue"
)

// DefaultMaxConcurrentReconciles is how many Resources (and Reservations) are reconciled at once by default. A
// reconcile mostly waits for the API server, and one Resource is never reconciled twice at once, so several run
// side by side safely: with 2, grants at 50/s queued behind each other.
const DefaultMaxConcurrentReconciles = 8

// Options configure the controllers.
type Options struct {
	// Clock tells the time and times the work queues' delays (RequeueAfter). Defaults to the real clock.
	Clock clock.WithTicker
	// MaxConcurrentReconciles per controller. One Resource is never reconciled twice at once whatever this is.
	MaxConcurrentReconciles int
	// PositionRefresh is the least time between two rewrites of one Resource's waiting Reservations;
	// DefaultPositionRefresh when zero.
	PositionRefresh time.Duration
	// Namespaces are the namespaces the manager serves (nil: all), for the caches a controller keeps of its own.
	Namespaces []string
	// HookHTTP makes the requests of Resources' HTTP hooks; a client that follows no redirect when nil.
	HookHTTP *http.Client
}

// Setup registers the field indexes and both reconcilers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.MaxConcurrentReconciles < 1 {
		opts.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	if err := index.Setup(ctx, mgr); err != nil {
		return err
	}
	copts := controller.Options{
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		NewQueue:                workqueue.New(opts.Clock),
	}
	if err := (&ResourceReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("conch-resource"),
		Clock:     opts.Clock,
	}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	if err := (&ReservationReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("conch-reservation"),
		Clock:     opts.Clock,
	}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	if err := (&PositionReconciler{
		Client: mgr.GetClient(),
		Clock:  opts.Clock,
		Every:  opts.PositionRefresh,
	}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	if err := (&HolderReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("conch-holder"),
		Clock:     opts.Clock,
	}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	if err := (&TurnoverReconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Recorder:   mgr.GetEventRecorder("conch-turnover"),
		Clock:      opts.Clock,
		HTTP:       opts.HookHTTP,
		Namespaces: opts.Namespaces,
	}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	// Deploy on grant follows the ledger the ResourceReconciler writes, off its path.
	if err := (&DeployReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("conch-deploy"),
		Clock:     opts.Clock,
	}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	return mgr.Add(NewStateCollector(mgr.GetCache(), opts.Clock))
}
