package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/internal/standup"
	"github.com/conch-dev/conch/internal/workqueue"
)

// StandupReconciler runs stand-ups: it starts runs on schedule (or on request), records the prompts, reminders
// and summary in status before sending them, and closes runs at their deadline. It owns status.currentRun's
// lifecycle and status.history; the Slack front end writes only the answers into status.currentRun.
type StandupReconciler struct {
	// Client reads Standups and Reservations from the manager's cache and writes status.
	client.Client
	// Recorder emits Events on Standups (RunStarted, RunSkipped, SummaryPosted, …).
	Recorder events.EventRecorder
	// Clock tells the time; tests inject a clock they can step.
	Clock clock.PassiveClock
	// Messenger sends to Slack; nil when Slack is off, and then no run starts (Ready is False, SlackDisabled).
	Messenger standup.Messenger
}

var _ reconcile.Reconciler = (*StandupReconciler)(nil)

// The StandupReconciler reads Standups, lists Reservations from the cache (what each person holds, for the
// summary) and writes Standup status; it never writes a spec.
// +kubebuilder:rbac:groups=conch.dev,resources=standups,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=standups/status,verbs=patch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a Standup's runs along: it ends the current run at its deadline, reminds on time, starts runs
// that are due (on schedule or requested), and wakes at the earliest of the next run, reminder or deadline. It
// writes status once per pass, with optimistic concurrency (the Slack front end writes answers into the same
// status), and only then sends what the new status records as sent.
func (r *StandupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	st := &conchv1.Standup{}
	if err := r.Get(ctx, req.NamespacedName, st); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p := &standupPass{Standup: st.DeepCopy(), now: r.Clock.Now()}
	p.sched, p.specErr = schedule.Parse(st.Spec.Schedule, st.Spec.TimeZone)

	// Step 1: end the current run: at its deadline with a summary, or cancelled when its date became a skip date.
	if err := r.finishRun(ctx, p); err != nil {
		return ctrl.Result{}, err
	}
	// Step 2: remind those who have not answered.
	p.remind()
	// Steps 3 and 4: a requested run, then the scheduled ones. Neither starts without a valid spec and Slack.
	if p.specErr == nil && r.Messenger != nil {
		if err := r.requestedRun(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.scheduledRuns(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	// Step 5: conditions, nextRunTime and observedGeneration.
	p.setConditions(r.Messenger != nil)

	if !equality.Semantic.DeepEqual(p.Status, st.Status) {
		patch := client.MergeFromWithOptions(st, client.MergeFromWithOptimisticLock{})
		if err := r.Status().Patch(ctx, p.Standup, patch); err != nil {
			if apierrors.IsConflict(err) {
				// Someone (the front end, storing an answer) wrote since the cache's copy: nothing was sent, and
				// the watch event of that write brings this Standup back with it.
				ctrl.LoggerFrom(ctx).V(1).Info("Standup changed meanwhile; starting over")
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, ignoreGone(err)
		}
	}
	// Step 6: send what the status now records as sent. (Without Slack no run starts; one that was running when
	// the manager restarted without it ends in silence.)
	for _, send := range p.sends {
		if r.Messenger != nil {
			send(r.Messenger)
		}
	}
	for _, e := range p.events {
		r.Recorder.Eventf(p.Standup, nil, e.typ, e.reason, e.action, "%s", e.note)
	}

	if p.specErr != nil && p.Status.CurrentRun == nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Standup spec cannot run", "error", p.specErr.Error())
		return ctrl.Result{}, reconcile.TerminalError(p.specErr)
	}
	return p.requeue(), nil
}

// SetupWithManager runs the reconciler for every Standup. It needs no other watch: the Slack front end's writes
// to a Standup wake it, and Reservations are read only when a summary is written.
func (r *StandupReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("standup").
		For(&conchv1.Standup{}).
		WithOptions(opts).
		Complete(r)
}

// SetupStandups registers the StandupReconciler with mgr; messenger is the Slack front end, or nil when Slack is
// off.
func SetupStandups(mgr ctrl.Manager, opts Options, messenger standup.Messenger) error {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return (&StandupReconciler{
		Client:    mgr.GetClient(),
		Recorder:  mgr.GetEventRecorder("conch-standup"),
		Clock:     opts.Clock,
		Messenger: messenger,
	}).SetupWithManager(mgr, controller.Options{
		MaxConcurrentReconciles: max(opts.MaxConcurrentReconciles, 1),
		NewQueue:                workqueue.New(opts.Clock),
	})
}
