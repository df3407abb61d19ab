package slackbot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Bot is the socket-mode connection to Slack and what answers it: it acks every envelope at once and handles
// commands and button clicks in their own goroutines, so a slow API server or Slack never delays an ack.
type Bot struct {
	cfg      Config
	client   client.Client
	reader   client.Reader // uncached, for the rare read the cache may be too young for
	recorder events.EventRecorder
	clock    clock.WithTicker
	api      *slack.Client
	people   *people
	out      *outbox
	log      logr.Logger

	seen *recent // envelope IDs handled lately: Slack redelivers an envelope whose ack it missed
	wg   sync.WaitGroup
}

var (
	_ manager.Runnable               = (*Bot)(nil)
	_ manager.LeaderElectionRunnable = (*Bot)(nil)
)

// New returns a Bot. c should be the manager's client (reads from its cache) and reader its API reader.
func New(cfg Config, c client.Client, reader client.Reader, recorder events.EventRecorder, clk clock.WithTicker) (*Bot, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.AppToken)}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
	}
	api := slack.New(cfg.BotToken, opts...)
	log := ctrl.Log.WithName("slack")
	return &Bot{
		cfg: cfg, client: c, reader: reader, recorder: recorder, clock: clk, api: api, log: log,
		people: newPeople(api, clk),
		out:    newOutbox(api, clk, log),
		seen:   newRecent(4096),
	}, nil
}

// NeedLeaderElection is true: only the leader talks to Slack, so every command is answered once.
func (b *Bot) NeedLeaderElection() bool { return true }

// Start connects to Slack and serves until ctx ends. A connection refused for good (a revoked token) is logged and
// retried with back-off: the queue keeps working without Slack.
func (b *Bot) Start(ctx context.Context) error {
	var sopts []socketmode.Option
	if b.cfg.PingInterval > 0 {
		sopts = append(sopts, socketmode.OptionPingInterval(b.cfg.PingInterval))
	}
	sm := socketmode.New(b.api, sopts...)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.out.run(runCtx)
	go func() {
		backoff := time.Second
		for runCtx.Err() == nil {
			err := sm.RunContext(runCtx)
			if runCtx.Err() != nil {
				return
			}
			b.log.Error(err, "Slack socket-mode connection failed; retrying", "after", backoff)
			select {
			case <-runCtx.Done():
			case <-b.clock.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
		}
	}()

	b.log.Info("Slack is on", "command", b.cfg.Command, "namespace", b.cfg.DefaultNamespace)
	for {
		select {
		case <-ctx.Done():
			b.wg.Wait()
			return nil
		case evt := <-sm.Events:
			b.dispatch(runCtx, sm, evt)
		}
	}
}

// dispatch acks an envelope and hands its work to a goroutine.
func (b *Bot) dispatch(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.log.Info("Connected to Slack")
	case socketmode.EventTypeInvalidAuth:
		b.log.Error(nil, "Slack refused the app-level token (invalid_auth); check the Secret")
	case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		if err := sm.Ack(*evt.Request); err != nil {
			b.log.Error(err, "Cannot ack a Slack envelope", "envelope", evt.Request.EnvelopeID)
		}
		if !b.seen.add(evt.Request.EnvelopeID) {
			b.log.V(1).Info("Ignoring a redelivered envelope", "envelope", evt.Request.EnvelopeID, "retry", evt.Request.RetryAttempt)
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			switch data := evt.Data.(type) {
			case slack.SlashCommand:
				b.handleCommand(ctx, data)
			case slack.InteractionCallback:
				b.handleInteraction(ctx, data)
			}
		}()
	}
}

// requestKey derives a stable key from a Slack request (its trigger ID, which a redelivery repeats), so that a
// retried request finds what it already did, even after a restart of the manager.
func requestKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// recent is a bounded set of strings, forgetting the oldest first.
type recent struct {
	mu    sync.Mutex
	set   map[string]struct{}
	order []string
	max   int
}

func newRecent(max int) *recent { return &recent{set: map[string]struct{}{}, max: max} }

// add adds s and reports whether it was new.
func (r *recent) add(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[s]; ok {
		return false
	}
	r.set[s] = struct{}{}
	r.order = append(r.order, s)
	if len(r.order) > r.max {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
	return true
}
