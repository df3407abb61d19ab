package slackbot

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/slack-go/slack"
	"k8s.io/utils/clock"

	"github.com/conch-dev/conch/internal/notify"
)

// outbox sends stand-up messages one at a time, in order, away from the command path and from reconciles: a 429
// from Slack makes it wait Retry-After (as long as Slack keeps asking), a permanent error (a user who left, a
// channel the bot is not in) is given up at once, and other errors are tried five times. Reservations'
// notifications do not use it: the notify.Dispatcher delivers them, durably.
type outbox struct {
	api   func() *slack.Client
	clock clock.Clock
	log   logr.Logger
	queue chan outMsg

	mu  sync.Mutex
	dms map[string]string // user ID → DM channel ID
}

type outMsg struct {
	user    string // a DM to this user, or
	channel string // a post in this channel
	msg     Message
	// do, when set, is sent instead of msg: work that posts in the channel itself (a stand-up's charts), retried
	// as a post is.
	do func(ctx context.Context) error
	// ts, when set, is the timestamp of a message in channel to update (chat.update) instead of posting.
	ts string
	// posted, when set, is told where the message went once Slack took it.
	posted func(channel, ts string)
}

const (
	outboxSize     = 1024
	maxSendRetries = 5
)

func newOutbox(api func() *slack.Client, clk clock.Clock, log logr.Logger) *outbox {
	return &outbox{api: api, clock: clk, log: log, queue: make(chan outMsg, outboxSize), dms: map[string]string{}}
}

// enqueue adds a message; when the outbox is full the message is dropped and logged rather than blocking a
// reconcile.
func (o *outbox) enqueue(m outMsg) {
	select {
	case o.queue <- m:
	default:
		o.log.Info("Slack outbox full; dropping a notification", "user", m.user, "channel", m.channel)
	}
}

// run sends until ctx ends.
func (o *outbox) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-o.queue:
			o.send(ctx, m)
		}
	}
}

func (o *outbox) send(ctx context.Context, m outMsg) {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		err := o.post(ctx, m)
		if err == nil {
			return
		}
		wait := backoff
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) {
			wait = rl.RetryAfter
			attempt-- // Slack asked to wait, and will take it then
		} else {
			backoff *= 2
		}
		if attempt >= maxSendRetries || ctx.Err() != nil || notify.IsPermanent(classify(err)) {
			o.log.Error(err, "Giving up on a Slack notification", "user", m.user, "channel", m.channel, "attempts", attempt)
			return
		}
		o.log.V(1).Info("Retrying a Slack notification", "error", err.Error(), "after", wait)
		select {
		case <-ctx.Done():
			return
		case <-o.clock.After(wait):
		}
	}
}

func (o *outbox) post(ctx context.Context, m outMsg) error {
	if m.do != nil {
		return m.do(ctx)
	}
	channel := m.channel
	if m.user != "" {
		var err error
		if channel, err = o.dm(ctx, m.user); err != nil {
			return err
		}
	}
	opts := []slack.MsgOption{slack.MsgOptionText(m.msg.Text, false), slack.MsgOptionBlocks(m.msg.Blocks...)}
	if m.ts != "" {
		_, _, _, err := o.api().UpdateMessageContext(ctx, channel, m.ts, opts...)
		return err
	}
	ch, ts, err := o.api().PostMessageContext(ctx, channel, opts...)
	if err == nil && m.posted != nil {
		m.posted(ch, ts)
	}
	return err
}

// dm returns the DM channel with a user, opening it once.
func (o *outbox) dm(ctx context.Context, user string) (string, error) {
	o.mu.Lock()
	ch, ok := o.dms[user]
	o.mu.Unlock()
	if ok {
		return ch, nil
	}
	c, _, _, err := o.api().OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}})
	if err != nil {
		return "", err
	}
	o.mu.Lock()
	o.dms[user] = c.ID
	o.mu.Unlock()
	return c.ID, nil
}
