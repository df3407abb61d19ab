// Package manager builds and runs Conch's controller manager: the scheme, the cache, leader election, metrics and
// health endpoints, and the controllers. cmd/manager and the developer runner in hack/ both call Run.
package manager

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/controllers"
	"github.com/conch-dev/conch/internal/board"
	"github.com/conch-dev/conch/internal/contention"
	"github.com/conch-dev/conch/internal/eventsink"
	"github.com/conch-dev/conch/internal/history"
	"github.com/conch-dev/conch/internal/notify"
	"github.com/conch-dev/conch/internal/slackbot"
	"github.com/conch-dev/conch/internal/standup"
)

// Options are the manager's settings; cmd/manager fills them from flags.
type Options struct {
	// MetricsAddr serves Prometheus metrics ("0" turns them off).
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz.
	ProbeAddr string
	// LeaderElection makes replicas elect one leader that runs the controllers.
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease; empty means the namespace the manager runs in, which only a manager
	// in a cluster has (Flags.Options picks one out of cluster).
	LeaderElectionNamespace string
	// Namespaces limits the manager to these namespaces; empty watches all.
	Namespaces []string
	// QPS and Burst bound the client's request rate to the API server.
	QPS   float32
	Burst int
	// MaxConcurrentReconciles per controller.
	MaxConcurrentReconciles int
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election; each left zero keeps controller-runtime's
	// default (15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// KeepLeaseOnStop keeps the leader Lease when the manager stops, as a crash would; tests use it to measure
	// failover. By default a stopping leader releases the Lease so that another replica takes over at once.
	KeepLeaseOnStop bool
	// SeveralPerProcess allows more than one manager in a process (tests of restarts and failover), which
	// controller-runtime otherwise refuses because controller names must be unique.
	SeveralPerProcess bool
	// Slack configures the Slack front end; it is off unless both tokens are set.
	Slack slackbot.Config
	// SlackSecret names the Secret ("namespace/name") holding the Slack tokens; read at start.
	SlackSecret string
	// EventSinkAllowedCIDRs are ranges EventSinks may deliver to although the manager refuses them by default
	// (eventsink.Options.AllowedCIDRs).
	EventSinkAllowedCIDRs []netip.Prefix
	// HistoryRetention is how long the history keeps ended holds; history.DefaultRetention when zero.
	HistoryRetention time.Duration
	// Board configures the web board; it is served when Board.Addr is set (--board-bind-address).
	Board board.Options
	// HistoryEvery is the least time between two writes of one Resource's history; history.DefaultEvery when
	// zero. Tests shorten it.
	HistoryEvery time.Duration
}

// Scheme returns a scheme with the Kubernetes kinds and Conch's.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(conchv1.AddToScheme(s))
	return s
}

// managerOptions are controller-runtime's options for a manager with opts.
func managerOptions(opts Options) ctrl.Options {
	mopts := ctrl.Options{
		Scheme:                        Scheme(),
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:        opts.ProbeAddr,
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              "conch.conch.dev",
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: !opts.KeepLeaseOnStop,
		Controller:                    config.Controller{SkipNameValidation: ptr.To(opts.SeveralPerProcess)},
	}
	// The cache holds every Resource and Reservation; their managedFields are a third of each object, and kubectl's
	// last-applied-configuration annotation repeats the spec: nothing reads them.
	mopts.Cache.DefaultTransform = stripUnread
	if len(opts.Namespaces) > 0 {
		mopts.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range opts.Namespaces {
			mopts.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	if opts.LeaseDuration > 0 {
		mopts.LeaseDuration = ptr.To(opts.LeaseDuration)
	}
	if opts.RenewDeadline > 0 {
		mopts.RenewDeadline = ptr.To(opts.RenewDeadline)
	}
	if opts.RetryPeriod > 0 {
		mopts.RetryPeriod = ptr.To(opts.RetryPeriod)
	}
	return mopts
}

// New builds a manager with the controllers registered, ready to Start.
func New(ctx context.Context, cfg *rest.Config, opts Options) (manager.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	if opts.QPS != 0 {
		cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	}
	mgr, err := ctrl.NewManager(cfg, managerOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		Clock:                   opts.Clock,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		Namespaces:              opts.Namespaces,
		HookHTTP:                hookHTTPClient(ctx, cfg, opts),
	}); err != nil {
		return nil, fmt.Errorf("setting up the controllers: %w", err)
	}
	// The history of ended holds, which the board and the charts read: written by the leader, off the grant path.
	if err := mgr.Add(&history.Recorder{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Cache: mgr.GetCache(), Clock: opts.Clock,
		Retention: opts.HistoryRetention, Every: opts.HistoryEvery,
	}); err != nil {
		return nil, fmt.Errorf("setting up the history: %w", err)
	}
	if opts.Board.Addr != "" && opts.Board.Addr != "0" {
		b := opts.Board
		if b.Clock == nil {
			b.Clock = opts.Clock
		}
		srv, err := board.New(b, mgr.GetCache(), mgr.GetAPIReader())
		if err != nil {
			return nil, err
		}
		if err := mgr.Add(srv); err != nil {
			return nil, fmt.Errorf("setting up the board: %w", err)
		}
	}
	bot, err := setupSlack(ctx, mgr, opts)
	if err != nil {
		return nil, err
	}
	if err := setupNotify(ctx, mgr, opts, bot); err != nil {
		return nil, fmt.Errorf("setting up notifications: %w", err)
	}
	// Stand-ups happen in Slack; without it their controller only says so (Ready=False, SlackDisabled).
	var standups standup.Messenger
	if bot != nil {
		standups = bot.Standups()
	}
	if err := controllers.SetupStandups(mgr, controllers.Options{
		Clock:                   opts.Clock,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
	}, standups); err != nil {
		return nil, fmt.Errorf("setting up the stand-ups: %w", err)
	}
	if opts.ProbeAddr != "" && opts.ProbeAddr != "0" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
			if !mgr.GetCache().WaitForCacheSync(req.Context()) {
				return fmt.Errorf("cache not synced")
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// setupSlack adds the Slack front end when tokens are configured (from the Secret, else the environment), and says
// once that Slack is off otherwise (returning no Bot).
func setupSlack(ctx context.Context, mgr manager.Manager, opts Options) (*slackbot.Bot, error) {
	log := ctrl.Log.WithName("slack")
	cfg := opts.Slack
	cfg.Namespaces = opts.Namespaces
	if opts.SlackSecret != "" {
		if err := cfg.TokensFromSecret(ctx, mgr.GetAPIReader(), opts.SlackSecret); err != nil {
			return nil, err
		}
	}
	if !cfg.Enabled() {
		log.Info("Slack is off: no bot token (xoxb-) and app-level token (xapp-) configured")
		return nil, nil
	}
	bot, err := slackbot.New(cfg, mgr.GetClient(), mgr.GetAPIReader(), mgr.GetCache(), mgr.GetEventRecorder("conch-slack"), opts.Clock)
	if err != nil {
		return nil, fmt.Errorf("configuring Slack: %w", err)
	}
	// Charts read a Resource's ended holds from the history (kept for --history-retention, whether or not their
	// Reservations still exist), and the holds and waits going on from the cache.
	ended := &history.CachedReader{Reader: history.ConfigMaps{Client: mgr.GetAPIReader()}, TTL: 15 * time.Second, Clock: opts.Clock}
	bot.SetStats(contention.CacheSource{Client: mgr.GetClient(), Ended: ended.Holds})
	if opts.SlackSecret != "" {
		w, err := slackbot.NewSecretWatcher(bot, mgr.GetConfig(), opts.SlackSecret)
		if err != nil {
			return nil, err
		}
		if err := mgr.Add(w); err != nil {
			return nil, err
		}
	}
	return bot, bot.SetupWithManager(mgr)
}

// setupNotify adds the Dispatcher, which delivers what happens to Reservations and Resources to every destination:
// Slack when it is on, and the EventSinks of each namespace.
func setupNotify(ctx context.Context, mgr manager.Manager, opts Options, bot *slackbot.Bot) error {
	d := &notify.Dispatcher{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("conch-notify"), Clock: opts.Clock,
		WarnBefore: opts.Slack.WarnBefore,
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if bot != nil {
		d.Destinations = append(d.Destinations, bot.Destination())
	}
	sinks := eventsink.NewDestination(mgr.GetClient(), eventsink.Options{AllowedCIDRs: opts.EventSinkAllowedCIDRs, Clock: d.Clock})
	if err := sinks.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	d.Destinations = append(d.Destinations, sinks)
	return d.SetupWithManager(mgr)
}

// Run builds the manager and runs it until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	mgr, err := New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Starting the manager", "leaderElection", opts.LeaderElection,
		"leaderElectionNamespace", opts.LeaderElectionNamespace, "namespaces", opts.Namespaces)
	return mgr.Start(ctx)
}

// DefaultQPS and DefaultBurst leave the API server's own priority and fairness to protect it, as controller-runtime
// does since v0.21 (no client-side limit): a grant takes three writes and a read or two, so 1,000 requests/s allow
// the couple of hundred grants/s an API server on a small machine can take, and bursts twice that. The limit only
// bounds a runaway loop.
const (
	DefaultQPS   = 1000
	DefaultBurst = 2000
)

// stripUnread drops from objects entering the cache what the manager never reads.
func stripUnread(in any) (any, error) {
	if o, ok := in.(interface {
		SetManagedFields([]metav1.ManagedFieldsEntry)
		GetAnnotations() map[string]string
		SetAnnotations(map[string]string)
	}); ok {
		o.SetManagedFields(nil)
		if a := o.GetAnnotations(); a[corev1.LastAppliedConfigAnnotation] != "" {
			a = maps.Clone(a)
			delete(a, corev1.LastAppliedConfigAnnotation)
			o.SetAnnotations(a)
		}
	}
	return in, nil
}

// hookHTTPClient is the client of Resources' HTTP hooks: it dials through the same guard as event sinks (loopback,
// link-local, cloud metadata and the API server refused unless --event-sink-allowed-cidrs allows them), so that
// whoever may write a Resource cannot make the manager reach what they could not.
func hookHTTPClient(ctx context.Context, cfg *rest.Config, opts Options) *http.Client {
	return eventsink.NewHTTPClient(eventsink.NewGuard(opts.EventSinkAllowedCIDRs, eventsink.APIServerAddrs(ctx, cfg.Host)...))
}
