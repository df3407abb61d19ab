package slackbot

import (
	"context"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/workqueue"
)

// Notifier tells people in Slack about their Reservations: a DM with buttons when their turn comes, a warning
// before the hold ends, a DM when it ended without them, and a handover post in the Resource's channel. It is
// driven by Reservation status alone, so Reservations made with kubectl or by CI are announced too.
//
// Each notification is recorded in status.notified before it is sent (with optimistic concurrency, so two
// managers cannot both claim it): a restart never sends one twice. The price is that a notification whose
// sending is cut short by a crash is lost rather than repeated.
type Notifier struct {
	client client.Client
	bot    *Bot
	clock  clock.PassiveClock
}

var _ reconcile.Reconciler = (*Notifier)(nil)

// The Notifier reads Reservations and their Resources from the cache and records what it announced in
// Reservation status (status.notified).
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=reservations/status,verbs=patch
// +kubebuilder:rbac:groups=conch.dev,resources=resources,verbs=get;list;watch

// Reconcile sends what is due for one Reservation and wakes again when the expiry warning is due.
func (n *Notifier) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r := &conchv1.Reservation{}
	if err := n.client.Get(ctx, req.NamespacedName, r); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if beforeGrant(r) {
		return ctrl.Result{}, nil // nothing to tell before a grant
	}
	now := n.clock.Now()
	user, err := n.recipient(ctx, r.Spec.Holder)
	if err != nil {
		return ctrl.Result{}, err
	}
	channel := ""
	res := &conchv1.Resource{}
	if err := n.client.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: r.Status.ResourceName}, res); err == nil {
		channel = res.Spec.SlackChannel
	}

	d := due(r, user, channel, n.bot.cfg.WarnBefore, now)
	if len(d.msgs) == 0 {
		return ctrl.Result{RequeueAfter: d.requeue}, nil
	}

	patch := client.MergeFromWithOptions(r.DeepCopy(), client.MergeFromWithOptimisticLock{})
	r.Status.Notified = d.record
	if err := n.client.Status().Patch(ctx, r, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Notifying", "messages", len(d.msgs), "state", r.Status.State)
	for _, m := range d.msgs {
		n.bot.out.enqueue(m)
	}
	return ctrl.Result{RequeueAfter: d.requeue}, nil
}

// notices is what the Notifier owes the people of one Reservation at one moment.
type notices struct {
	// msgs are the messages to send now, in order.
	msgs []outMsg
	// record is status.notified once msgs are claimed; the Notifier writes it (only when there is something to
	// send) before it sends them.
	record *conchv1.Notified
	// requeue is how long until the expiry warning is due; zero when nothing is timed.
	requeue time.Duration
}

// beforeGrant reports that r was never granted (or is bound to no Resource): there is nothing to tell yet.
func beforeGrant(r *conchv1.Reservation) bool {
	return r.Status.GrantedAt == nil || r.Status.ResourceName == ""
}

// due decides what is due now about r, from its status and status.notified alone: a grant not announced yet (a
// DM to its holder, the Slack user user, and a handover post in channel; either may be "" for none), the expiry
// warning warnBefore its expiry (each expiry time warned once: an extension is warned again, an old expiry never),
// and the end of a hold (once). It is pure, so that what is sent when is table-tested.
func due(r *conchv1.Reservation, user, channel string, warnBefore time.Duration, now time.Time) notices {
	if beforeGrant(r) {
		return notices{}
	}
	record := r.Status.Notified.DeepCopy()
	if record == nil {
		record = &conchv1.Notified{}
	}
	d := notices{record: record}
	switch st := r.Status.State; {
	case st == conchv1.StateGranted && (r.Status.GrantedAt == nil || r.Status.ExpiresAt == nil):
		// Not a status the controllers write; nothing to tell until it is whole.
	case st == conchv1.StateGranted:
		granted := *r.Status.GrantedAt
		if record.Granted == nil || !record.Granted.Equal(&granted) {
			record.Granted = &granted
			if user != "" {
				d.msgs = append(d.msgs, outMsg{user: user, msg: GrantedDM(r)})
			}
			if channel != "" {
				d.msgs = append(d.msgs, outMsg{channel: channel, msg: HandoverPost(r)})
			}
		}
		expires := *r.Status.ExpiresAt
		warnAt := expires.Add(-warnBefore)
		// Holds shorter than the warning period get none: the grant DM already says when they end.
		if user != "" && expires.Sub(granted.Time) > warnBefore && (record.Warned == nil || !record.Warned.Equal(&expires)) {
			if now.Before(warnAt) {
				d.requeue = warnAt.Sub(now)
			} else if now.Before(expires.Time) {
				record.Warned = &expires
				d.msgs = append(d.msgs, outMsg{user: user, msg: WarningDM(r, now)})
			}
		}
	case st.IsFinal() && record.Ended == "":
		reason := endReason(r)
		record.Ended = st
		if user != "" && (reason != conchv1.ReasonReleased || r.Annotations[conchv1.AnnotationReleasedBy] != "") {
			d.msgs = append(d.msgs, outMsg{user: user, msg: EndedDM(r, reason)})
		}
	}
	return d
}

// recipient returns the Slack user a holder is: "slack:<id>", or an e-mail address Slack knows. Other holders
// ("ci:deploy") are no person: they get channel posts only.
func (n *Notifier) recipient(ctx context.Context, holder string) (string, error) {
	if id := SlackUserOf(holder); id != "" {
		return id, nil
	}
	if strings.Contains(holder, "@") && !strings.ContainsAny(holder, " :") {
		p, ok, err := n.bot.people.byEmail(ctx, holder)
		if err != nil || !ok {
			return "", err
		}
		return p.ID, nil
	}
	return "", nil
}

func endReason(r *conchv1.Reservation) string {
	if c := meta.FindStatusCondition(r.Status.Conditions, conchv1.ConditionReady); c != nil {
		return c.Reason
	}
	return string(r.Status.State)
}

// SetupWithManager registers the Bot and the Notifier with mgr. Both run on the leader only.
func (b *Bot) SetupWithManager(mgr ctrl.Manager, clk clock.WithTicker) error {
	if err := mgr.Add(b); err != nil {
		return err
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("slack-notifier").
		For(&conchv1.Reservation{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2, NewQueue: workqueue.New(clk)}).
		Complete(&Notifier{client: mgr.GetClient(), bot: b, clock: clk})
}
