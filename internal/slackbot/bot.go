package slackbot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/contention"
)

// The Slack front end acts for people: it creates their Reservations, and releases or extends them (spec), and
// reads the Resources; it edits their annotation conch.dev/watchers (/dibs watch) and a holding Reservation's
// conch.dev/nudged-at (/dibs nudge). Standups' commands edit skip dates and away (spec); answers go into the current run
// (status). An admin's release is recorded as an Event.
// +kubebuilder:rbac:groups=conch.dev,resources=reservations,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=conch.dev,resources=resources,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=conch.dev,resources=standups,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=conch.dev,resources=standupruns,verbs=get;list;watch
// +kubebuilder:rbac:groups=conch.dev,resources=standupruns/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Bot is the socket-mode connection to Slack and what answers it: it acks every envelope at once and handles
// commands and button clicks in their own goroutines, so a slow API server or Slack never delays an ack.
type Bot struct {
	cfg    Config
	client client.Client
	reader client.Reader // uncached, for the rare read the cache may be too young for
	// informers are the client's cache, whose informers Start waits for before it takes commands; nil waits for
	// nothing.
	informers cache.Informers
	recorder  events.EventRecorder
	clock     clock.WithTicker
	people    *people
	out       *outbox
	stats     StatsSource // a Resource's contention, for /dibs stats and stand-up charts
	log       logr.Logger

	seen *recent // envelope IDs handled lately: Slack redelivers an envelope whose ack it missed
	wg   sync.WaitGroup

	// mu guards the Slack client and the tokens it was made with; a rotation of the tokens replaces the client and
	// closes rotated, which ends the socket-mode session so that a new one starts with the new tokens.
	mu      sync.RWMutex
	api     *slack.Client
	rotated chan struct{}
}

var (
	_ manager.Runnable               = (*Bot)(nil)
	_ manager.LeaderElectionRunnable = (*Bot)(nil)
)

// New returns a Bot. c should be the manager's client (reads from its cache), reader its API reader and informers
// its cache.
func New(cfg Config, c client.Client, reader client.Reader, informers cache.Informers, recorder events.EventRecorder, clk clock.WithTicker) (*Bot, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	b := &Bot{
		cfg: cfg, client: c, reader: reader, informers: informers, recorder: recorder, clock: clk, log: ctrl.Log.WithName("slack"),
		seen: newRecent(4096), rotated: make(chan struct{}),
	}
	b.api = b.newAPI(cfg.BotToken, cfg.AppToken)
	b.people = newPeople(b.API, clk)
	b.out = newOutbox(b.API, clk, b.log)
	b.stats = contention.CacheSource{Client: c}
	return b, nil
}

func (b *Bot) newAPI(botToken, appToken string) *slack.Client {
	opts := []slack.Option{slack.OptionAppLevelToken(appToken)}
	if b.cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(b.cfg.APIURL))
	}
	return slack.New(botToken, opts...)
}

// API returns the Slack Web API client made with the current tokens.
func (b *Bot) API() *slack.Client {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.api
}

// Rotate switches to new tokens (an updated Secret): calls made from now on use them, and the socket-mode
// connection is re-opened with them. Unchanged tokens change nothing. The tokens are never logged.
func (b *Bot) Rotate(botToken, appToken string) error {
	next := Config{BotToken: botToken, AppToken: appToken, APIURL: b.cfg.APIURL}
	if err := next.Validate(); err != nil {
		return err
	}
	if !next.Enabled() {
		return fmt.Errorf("the Slack Secret no longer holds both tokens; keeping the current ones")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if botToken == b.cfg.BotToken && appToken == b.cfg.AppToken {
		return nil
	}
	b.cfg.BotToken, b.cfg.AppToken = botToken, appToken
	b.api = b.newAPI(botToken, appToken)
	close(b.rotated)
	b.rotated = make(chan struct{})
	b.log.Info("Slack tokens rotated; reconnecting")
	return nil
}

func (b *Bot) session() (*slack.Client, <-chan struct{}) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.api, b.rotated
}

// NeedLeaderElection is true: only the leader talks to Slack, so every command is answered once.
func (b *Bot) NeedLeaderElection() bool { return true }

// Start connects to Slack and serves until ctx ends. A connection refused for good (a revoked token) is logged and
// retried with back-off: the queue keeps working without Slack.
//
// It connects only once the cache holds every kind the commands read: the manager starts the Bot beside the
// controllers, before their informers have synced, and a command taken then would wait for them, and its reply
// for a decision the controllers could not make yet. Until the Bot connects, Slack keeps the commands (socket
// mode) or tells people the app is not answering; neither is a wrong answer.
func (b *Bot) Start(ctx context.Context) error {
	if err := b.waitForCache(ctx); err != nil {
		return err
	}
	go b.out.run(ctx)
	b.log.Info("Slack is on", "command", b.cfg.Command, "namespace", b.cfg.DefaultNamespace)
	for {
		api, rotated := b.session()
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-rotated:
				cancel()
			case <-sctx.Done():
			}
		}()
		b.serve(ctx, sctx, api)
		cancel()
		if ctx.Err() != nil {
			b.wg.Wait()
			return nil
		}
	}
}

// waitForCache blocks until the informers of the kinds the Bot reads have synced, or ctx ends (not an error: the
// manager is stopping).
func (b *Bot) waitForCache(ctx context.Context) error {
	if b.informers == nil {
		return nil
	}
	for _, obj := range []client.Object{&conchv1.Reservation{}, &conchv1.Resource{}, &conchv1.Standup{}} {
		// GetInformer blocks until the informer has synced (cache.BlockUntilSynced defaults to true).
		if _, err := b.informers.GetInformer(ctx, obj); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("waiting for the cache of %T: %w", obj, err)
		}
	}
	if !b.informers.WaitForCacheSync(ctx) && ctx.Err() == nil {
		return errors.New("the cache did not sync")
	}
	return nil
}

// serve runs one socket-mode session with api until sctx ends; the work envelopes bring is done under ctx, so
// that a rotation does not cut a command short.
func (b *Bot) serve(ctx, sctx context.Context, api *slack.Client) {
	var sopts []socketmode.Option
	if b.cfg.PingInterval > 0 {
		sopts = append(sopts, socketmode.OptionPingInterval(b.cfg.PingInterval))
	}
	sm := socketmode.New(api, sopts...)
	go func() {
		backoff := time.Second
		for sctx.Err() == nil {
			err := sm.RunContext(sctx)
			if sctx.Err() != nil {
				return
			}
			b.log.Error(err, "Slack socket-mode connection failed; retrying", "after", backoff)
			select {
			case <-sctx.Done():
			case <-b.clock.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
		}
	}()
	for {
		select {
		case <-sctx.Done():
			return
		case evt := <-sm.Events:
			b.dispatch(ctx, sm, evt)
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
		if cb, ok := evt.Data.(slack.InteractionCallback); ok && isStandupSubmission(cb) {
			// Stand-up answers are stored before the ack, which carries any error back into the modal (standup.go).
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				b.submitStandup(ctx, sm, *evt.Request, cb)
			}()
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
				b.handleStandupAction(ctx, data)
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

func newRecent(size int) *recent { return &recent{set: map[string]struct{}{}, max: size} }

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
