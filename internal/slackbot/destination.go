package slackbot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/notify"
)

// Destination tells people in Slack about their Reservations: a DM with buttons when their turn comes, a warning
// before the hold ends, a DM when it ended without them, and a handover post in the Resource's channel. It is a
// notify.Destination: the Dispatcher decides what is due from Reservation status alone (so Reservations made with
// kubectl or by CI are announced too), delivers it at least once, and records it in status.deliveries.
type Destination struct {
	bot *Bot

	mu  sync.Mutex
	dms map[string]string // user ID → DM channel ID
}

var _ notify.Destination = (*Destination)(nil)

// Destination returns the bot's notify.Destination.
func (b *Bot) Destination() *Destination { return &Destination{bot: b, dms: map[string]string{}} }

// Sinks returns, for a Reservation, its holder's DM when the holder is a person ("slack:<id>" or an e-mail
// address) and its Resource's channel when the Resource names one. A Resource's channel also hears when it turns
// unhealthy and healthy again.
func (d *Destination) Sinks(_ context.Context, obj client.Object, res client.Object) ([]notify.Sink, error) {
	if rs, ok := obj.(*conchv1.Resource); ok && rs.Spec.SlackChannel != "" {
		channel := rs.Spec.SlackChannel
		return []notify.Sink{{
			Name: conchv1.DeliverySlackChannel, Lane: "slack-channel/" + channel, Interval: d.bot.cfg.PostInterval,
			Wants: func(ev notify.Event) bool {
				return (ev.Type == conchv1.EventResourceUnhealthy || ev.Type == conchv1.EventResourceHealthy) && !stale(ev, d.bot.clock.Now())
			},
			Send: func(ctx context.Context, ev notify.Event) error {
				return d.post(ctx, channel, HealthPost(ev.Resource, ev.Type == conchv1.EventResourceUnhealthy))
			},
		}}, nil
	}
	r, ok := obj.(*conchv1.Reservation)
	if !ok {
		return nil, nil
	}
	interval := d.bot.cfg.PostInterval
	var sinks []notify.Sink
	if isPerson(r.Spec.Holder) {
		holder := r.Spec.Holder
		sinks = append(sinks, notify.Sink{
			Name: conchv1.DeliverySlackDM, Lane: "slack-dm/" + holder, Interval: interval,
			Wants: func(ev notify.Event) bool { return wantsDM(ev, d.bot.clock.Now()) },
			Send:  func(ctx context.Context, ev notify.Event) error { return d.sendDM(ctx, holder, ev) },
		})
	}
	if rs, ok := res.(*conchv1.Resource); ok && rs.Spec.SlackChannel != "" {
		channel := rs.Spec.SlackChannel
		sinks = append(sinks, notify.Sink{
			Name: conchv1.DeliverySlackChannel, Lane: "slack-channel/" + channel, Interval: interval,
			Wants: func(ev notify.Event) bool {
				return (ev.Type == conchv1.EventReservationGranted || ev.Type == conchv1.EventReservationPreempting) &&
					!stale(ev, d.bot.clock.Now())
			},
			Send: func(ctx context.Context, ev notify.Event) error {
				if ev.Type == conchv1.EventReservationPreempting {
					return d.post(ctx, channel, PreemptionPost(ev.Reservation, ev.Resource))
				}
				return d.post(ctx, channel, HandoverPost(ev.Reservation))
			},
		})
	}
	return sinks, nil
}

// isPerson reports whether a holder is someone Slack can DM: "slack:<id>", or an e-mail address Slack may know.
// Other holders ("ci:deploy") are no person: they get channel posts only.
func isPerson(holder string) bool { return SlackUserOf(holder) != "" || isEmail(holder) }

// staleAfter is how old a grant or an end may be and still be told in Slack: news of an hour ago (a manager that
// was down that long, Slack turned on for an existing installation) is no longer news, and a person would get a
// flood of it.
const staleAfter = time.Hour

// stale reports whether ev happened more than staleAfter before now. Warnings are timed by the Dispatcher, never
// stale.
func stale(ev notify.Event, now time.Time) bool {
	return ev.Type != conchv1.EventReservationExpiring && now.Sub(ev.Time) > staleAfter
}

// wantsDM reports whether a holder is told of ev at now: their turn and the warning before its end; the end of a
// hold, unless they released or deleted it themselves (they know); nothing about a Reservation never granted, and
// no news older than staleAfter.
func wantsDM(ev notify.Event, now time.Time) bool {
	r := ev.Reservation
	if r == nil || r.Status.GrantedAt == nil || stale(ev, now) {
		return false
	}
	switch ev.Type {
	case conchv1.EventReservationGranted, conchv1.EventReservationExpiring, conchv1.EventReservationPreempting:
		return true
	case conchv1.EventReservationReleased, conchv1.EventReservationExpired, conchv1.EventReservationRejected:
		why := endReason(r)
		return (why != conchv1.ReasonReleased && why != conchv1.ReasonDeleted) || r.Annotations[conchv1.AnnotationReleasedBy] != ""
	}
	return false
}

func endReason(r *conchv1.Reservation) string {
	if c := meta.FindStatusCondition(r.Status.Conditions, conchv1.ConditionReady); c != nil {
		return c.Reason
	}
	return string(r.Status.State)
}

// dmFor returns the message a holder gets for ev.
func (d *Destination) dmFor(ev notify.Event) Message {
	r := ev.Reservation
	switch ev.Type {
	case conchv1.EventReservationGranted:
		return GrantedDM(r)
	case conchv1.EventReservationExpiring:
		return WarningDM(r, d.bot.clock.Now())
	case conchv1.EventReservationPreempting:
		return PreemptingDM(r, ev.Resource, d.bot.clock.Now())
	default:
		return EndedDM(r, endReason(r))
	}
}

// sendDM finds the holder's Slack user (an e-mail is looked up; an address Slack does not know is a permanent
// failure) and sends them the DM for ev.
func (d *Destination) sendDM(ctx context.Context, holder string, ev notify.Event) error {
	user, err := d.bot.people.userOf(ctx, holder)
	switch {
	case err != nil:
		return classify(err)
	case user == "":
		return notify.Permanent(fmt.Errorf("no Slack user has the e-mail address %s", holder))
	}
	channel, err := d.dm(ctx, user)
	if err != nil {
		return classify(err)
	}
	return d.post(ctx, channel, d.dmFor(ev))
}

func (d *Destination) post(ctx context.Context, channel string, m Message) error {
	_, _, err := d.bot.API().PostMessageContext(ctx, channel, slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...))
	return classify(err)
}

// dm returns the DM channel with a user, opening it once.
func (d *Destination) dm(ctx context.Context, user string) (string, error) {
	d.mu.Lock()
	ch, ok := d.dms[user]
	d.mu.Unlock()
	if ok {
		return ch, nil
	}
	c, _, _, err := d.bot.API().OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}})
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	d.dms[user] = c.ID
	d.mu.Unlock()
	return c.ID, nil
}

// permanentErrors are the Slack error codes that retrying cannot fix: the person or channel does not exist, the
// bot may not post there, or the message itself is refused. Token and scope errors are not among them: an admin
// fixes those, and what was due is delivered then.
var permanentErrors = map[string]bool{
	"user_not_found": true, "users_not_found": true, "user_disabled": true, "cannot_dm_bot": true,
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "restricted_action": true,
	"msg_too_long": true, "no_text": true, "invalid_blocks": true, "too_many_attachments": true,
}

// classify marks a Slack error for the Dispatcher: a rate limit waits as long as Slack asks, a permanent error is
// not retried, anything else (a timeout, a 5xx, internal_error) is retried with backoff.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return notify.RetryAfter(err, rl.RetryAfter)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && permanentErrors[se.Err] {
		return notify.Permanent(err)
	}
	if permanentErrors[err.Error()] {
		return notify.Permanent(err)
	}
	return err
}

// SetupWithManager registers the Bot with mgr, and the watcher that tells people who watch a Resource when it is
// free; both run on the leader only. Its notifications are delivered by the notify.Dispatcher, through
// Destination.
func (b *Bot) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.Add(b); err != nil {
		return err
	}
	return b.setupWatcher(mgr)
}
