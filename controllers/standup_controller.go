package controllers

import (
	"context"
	"errors"
	"fmt"

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

// StandupReconciler runs stand-ups: it starts runs on schedule (or on request) as StandupRun objects, records the
// prompts, reminders and summary in a run's status before sending them, closes runs at their deadline and prunes
// old ones. It owns the StandupRuns' lifecycle and the Standup's status; the Slack front end writes only the
// answers, into the runs' status.
type StandupReconciler struct {
	// Client reads Standups, StandupRuns and Reservations from the manager's cache and writes status and runs.
	client.Client
	// APIReader reads a StandupRun the cache may not have yet (one created in the previous pass).
	APIReader client.Reader
	// Recorder emits Events on Standups (RunStarted, RunSkipped, SummaryPosted, …).
	Recorder events.EventRecorder
	// Clock tells the time; tests inject a clock they can step.
	Clock clock.PassiveClock
	// Messenger sends to Slack; nil when Slack is off, and then no run starts (Ready is False, SlackDisabled).
	Messenger standup.Messenger
}

var _ reconcile.Reconciler = (*StandupReconciler)(nil)

// errInvalidLinks marks a spec.links entry that does not compile: like an invalid schedule, no run starts until
// it is fixed, so that nobody reads summaries with half their links.
var errInvalidLinks = errors.New("invalid links")

// errInvalidDigest marks a spec.digest.schedule the controller cannot use; like spec.schedule, no run starts.
var errInvalidDigest = errors.New("invalid digest schedule")

// The StandupReconciler reads Standups, creates, updates and deletes their StandupRuns, lists Reservations from
// the cache (what each person holds, for the summary) and writes Standup status; it never writes a spec.
// +kubebuilder:rbac:groups=conch.dev,resources=standups,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=standups/status,verbs=patch
// +kubebuilder:rbac:groups=conch.dev,resources=standupruns,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=conch.dev,resources=standupruns/status,verbs=patch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a Standup's runs along: it ends the active run at its deadline, updates an edited summary,
// prompts and reminds on time, starts runs that are due (on schedule or requested), posts the digest, and wakes at
// the earliest of the next run, prompt, reminder, deadline or digest. A run is created before the Standup's status points to it, and each run's status is
// written (with optimistic concurrency: the Slack front end writes answers there) before what it records is sent.
func (r *StandupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	st := &conchv1.Standup{}
	if err := r.Get(ctx, req.NamespacedName, st); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p := &standupPass{Standup: st.DeepCopy(), now: r.Clock.Now()}
	p.sched, p.specErr = schedule.Parse(st.Spec.Schedule, st.Spec.TimeZone)
	if _, err := standup.CompileLinks(st.Spec.Links); err != nil && p.specErr == nil {
		p.specErr = fmt.Errorf("%w: %w", errInvalidLinks, err)
	}
	if d := st.Spec.Digest; d != nil && p.specErr == nil {
		if _, err := schedule.Parse(d.Schedule, st.Spec.TimeZone); err != nil {
			p.specErr = fmt.Errorf("%w: %w", errInvalidDigest, err)
		}
	}

	// Step 1: an upgrade: the run an earlier version kept in status.currentRun becomes a StandupRun.
	// Step 2: read the active run, and the last run if an edit waits to be shown in its summary.
	// Step 3: end the active run: at its deadline with a summary, or cancelled when its date became a skip date.
	// Step 4: update the last run's posted summary after an edit.
	for _, step := range []func(context.Context, *standupPass) error{r.migrate, r.loadRuns, r.finishRun, r.updateSummary} {
		if err := step(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	// Step 5: prompt those whose own time has come (timing Participant), and remind those who have not answered.
	p.promptDue()
	p.remind()
	// Steps 6 and 7: a requested run, then the scheduled ones. Neither starts without a valid spec and Slack.
	if p.specErr == nil && r.Messenger != nil {
		if err := r.requestedRun(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.scheduledRuns(ctx, p); err != nil {
			r.flush(p.startSends)
			return ctrl.Result{}, err
		}
		// Step 8: the digest, when due.
		if err := r.digest(ctx, p); err != nil {
			r.flush(p.startSends)
			return ctrl.Result{}, err
		}
	}
	// Step 9: conditions, nextRunTime and observedGeneration.
	p.setConditions(r.Messenger != nil)

	// Step 10: write the runs, then the Standup, then send what the runs now record as sent: even when the
	// Standup's write fails (the next pass finds the runs and finishes the Standup's side without sending again).
	// What only the Standup's status records (the digest) goes out only once it is written.
	// (Without Slack no run starts; one that was running when the manager restarted without it ends in silence.)
	if err := r.writeRuns(ctx, p); err != nil {
		r.flush(p.startSends)
		return ctrl.Result{}, ignoreConflict(ctx, err)
	}
	var patchErr error
	if !equality.Semantic.DeepEqual(p.Status, st.Status) {
		patchErr = r.Status().Patch(ctx, p.Standup, client.MergeFromWithOptions(st, client.MergeFromWithOptimisticLock{}))
	}
	r.flush(p.startSends)
	r.flush(p.sends)
	for _, e := range p.events {
		r.Recorder.Eventf(p.Standup, nil, e.typ, e.reason, e.action, "%s", e.note)
	}
	if patchErr != nil {
		return ctrl.Result{}, ignoreConflict(ctx, ignoreGone(patchErr))
	}
	r.flush(p.standupSends)
	// Step 11: delete ended runs beyond the history limits.
	if err := r.prune(ctx, p.Standup); err != nil {
		return ctrl.Result{}, err
	}
	if p.specErr != nil && p.Status.ActiveRun == nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Standup spec cannot run", "error", p.specErr.Error())
		return ctrl.Result{}, reconcile.TerminalError(p.specErr)
	}
	return p.requeue(), nil
}

// flush sends messages through the Messenger, when Slack is on.
func (r *StandupReconciler) flush(sends []func(standup.Messenger)) {
	if r.Messenger == nil {
		return
	}
	for _, send := range sends {
		send(r.Messenger)
	}
}

// ignoreConflict turns a conflict into success: someone (the front end, storing an answer) wrote since the
// cache's copy, and the watch event of that write brings the Standup back.
func ignoreConflict(ctx context.Context, err error) error {
	if apierrors.IsConflict(err) {
		ctrl.LoggerFrom(ctx).V(1).Info("Standup or StandupRun changed meanwhile; starting over")
		return nil
	}
	return err
}

// SetupWithManager runs the reconciler for every Standup and the StandupRuns it owns: an answer the Slack front end
// writes into a run wakes its Standup. Reservations are read only when a summary is written.
func (r *StandupReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("standup").
		For(&conchv1.Standup{}).
		Owns(&conchv1.StandupRun{}).
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
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("conch-standup"),
		Clock:     opts.Clock,
		Messenger: messenger,
	}).SetupWithManager(mgr, controller.Options{
		MaxConcurrentReconciles: max(opts.MaxConcurrentReconciles, 1),
		NewQueue:                workqueue.New(opts.Clock),
	})
}
