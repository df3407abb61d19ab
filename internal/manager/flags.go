package manager

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/conch-dev/conch/controllers"
	"github.com/conch-dev/conch/internal/eventsink"
	"github.com/conch-dev/conch/internal/history"
	"github.com/conch-dev/conch/internal/slackbot"
)

// Defaults of the leader election timings, as in client-go's examples, Kueue and Cluster API: a leader that stops
// renewing is replaced within about 15 s; one that cannot renew for 10 s stops leading before another may start.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// inClusterNamespaceFile is where a Pod finds its own namespace; controller-runtime reads it for the Lease when no
// leader election namespace is given.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Flags is the manager binary's command line. BindFlags registers it on a FlagSet; once that is parsed, Options
// turns it into the manager's Options.
type Flags struct {
	fs   *flag.FlagSet
	opts Options
	qps  float64
	// namespaces, channelNamespaces and admins are lists, split by Options.
	namespaces, channelNamespaces, admins string
	// eventSinkAllowedCIDRs is a list, parsed by Options.
	eventSinkAllowedCIDRs string
	// boardNamespaces is a list and boardTokenFile a file, both read by Options.
	boardNamespaces, boardTokenFile string
	// namespaceFile is inClusterNamespaceFile; tests point it elsewhere.
	namespaceFile string
}

// BindFlags registers the manager's flags on fs with their defaults. --kubeconfig, which ctrl.GetConfig reads, is
// controller-runtime's flag on the command line; it is added to fs only when fs lacks it (a FlagSet of a test).
func BindFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, namespaceFile: inClusterNamespaceFile}
	o := &f.opts
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", `Address of the metrics endpoint; "0" turns it off.`)
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.BoolVar(&o.LeaderElection, "leader-elect", true, "Elect a leader among replicas; only the leader runs the controllers.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease (default: the manager's own in a cluster; out of cluster, the kubeconfig context's, else default).")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", DefaultLeaseDuration,
		"How long the other replicas wait, after the leader last renewed its Lease, before one takes over.")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", DefaultRenewDeadline,
		"How long the leader keeps trying to renew its Lease before it stops leading; shorter than the lease duration.")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", DefaultRetryPeriod,
		"How often replicas try to take or renew the Lease.")
	fs.StringVar(&f.namespaces, "namespaces", "", "Comma-separated namespaces to manage (default: all).")
	fs.Float64Var(&f.qps, "kube-api-qps", DefaultQPS, "Requests per second to the API server.")
	fs.IntVar(&o.Burst, "kube-api-burst", DefaultBurst, "Burst of requests to the API server.")
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles, "Reconciles run at once per controller.")
	fs.StringVar(&o.SlackSecret, "slack-secret", "", "Secret (namespace/name) with the Slack tokens in keys bot-token and app-token; else $SLACK_BOT_TOKEN and $SLACK_APP_TOKEN.")
	fs.StringVar(&o.Slack.APIURL, "slack-api-url", "", "Base URL of the Slack Web API, ending in / (default: Slack's).")
	fs.StringVar(&o.Slack.Command, "slack-command", "/dibs", "The slash command.")
	fs.StringVar(&o.Slack.DefaultNamespace, "slack-namespace", "default", "Namespace Slack commands act on.")
	fs.StringVar(&f.channelNamespaces, "slack-channel-namespaces", "", "Per-channel namespaces: C0123ABC=team-a,C0456DEF=team-b.")
	fs.StringVar(&f.admins, "slack-admins", "", "Comma-separated Slack user IDs that may release anyone's hold.")
	fs.DurationVar(&o.Slack.WarnBefore, "slack-warn-before", 10*time.Minute, "How long before a hold ends its holder is warned.")
	fs.DurationVar(&o.Slack.NudgeInterval, "slack-nudge-interval", slackbot.DefaultNudgeInterval,
		"The least time between two nudges (/dibs nudge) of one holder about one hold.")
	fs.StringVar(&f.eventSinkAllowedCIDRs, "event-sink-allowed-cidrs", "",
		"Comma-separated CIDRs EventSinks may deliver to, and Resources' HTTP hooks may reach, although the manager refuses them by default (loopback, link-local and cloud metadata, the API server), e.g. 127.0.0.0/8 for a receiver beside a development manager.")
	fs.DurationVar(&o.HistoryRetention, "history-retention", history.DefaultRetention,
		"How long the history of ended holds (ConfigMaps conch-history-<resource>) keeps a hold; the board's and the charts' furthest look back.")
	fs.StringVar(&o.Board.Addr, "board-bind-address", "",
		`Address of the read-only web board, such as ":8082"; off when empty or "0". Put it behind the cluster's auth proxy (docs/board.md).`)
	fs.StringVar(&f.boardNamespaces, "board-namespaces", "", "Comma-separated namespaces the board shows (default: all the manager manages).")
	fs.StringVar(&f.boardTokenFile, "board-token-file", "",
		"File holding a bearer token every request to the board must carry (Authorization: Bearer <token>); read at start.")
	if fs.Lookup("kubeconfig") == nil {
		fs.String("kubeconfig", "", "Paths to a kubeconfig. Only required if out-of-cluster.")
	}
	return f
}

// Options returns the Options the parsed flags ask for. With leader election on and no
// --leader-election-namespace, it picks the Lease's namespace and logs which: in a cluster the manager's own, as
// controller-runtime would; out of cluster, where controller-runtime has none and would refuse to start, the
// namespace of the kubeconfig's current context, else "default".
func (f *Flags) Options(log logr.Logger) (Options, error) {
	o := f.opts
	o.QPS = float32(f.qps)
	o.Namespaces = splitList(f.namespaces)
	o.Slack.Admins = splitList(f.admins)
	var err error
	if o.EventSinkAllowedCIDRs, err = eventsink.ParseCIDRs(f.eventSinkAllowedCIDRs); err != nil {
		return Options{}, fmt.Errorf("--event-sink-allowed-cidrs: %w", err)
	}
	o.Board.Namespaces = splitList(f.boardNamespaces)
	if f.boardTokenFile != "" {
		b, err := os.ReadFile(f.boardTokenFile)
		if err != nil {
			return Options{}, fmt.Errorf("--board-token-file: %w", err)
		}
		if o.Board.Token = strings.TrimSpace(string(b)); o.Board.Token == "" {
			return Options{}, fmt.Errorf("--board-token-file: %s is empty", f.boardTokenFile)
		}
	}
	if o.HistoryRetention <= 0 {
		return Options{}, fmt.Errorf("--history-retention must be positive, not %s", o.HistoryRetention)
	}
	if o.Slack.ChannelNamespaces, err = slackbot.ParseChannelNamespaces(f.channelNamespaces); err != nil {
		return Options{}, fmt.Errorf("--slack-channel-namespaces: %w", err)
	}
	if !o.LeaderElection {
		return o, nil
	}
	if err := checkLeaseTimings(o.LeaseDuration, o.RenewDeadline, o.RetryPeriod); err != nil {
		return Options{}, err
	}
	if o.LeaderElectionNamespace != "" {
		return o, nil
	}
	ns, from, err := f.leaseNamespace()
	if err != nil {
		return Options{}, err
	}
	o.LeaderElectionNamespace = ns
	log.Info("Leader election Lease namespace (--leader-election-namespace to choose another)", "namespace", ns, "from", from)
	return o, nil
}

// leaseNamespace picks the leader election namespace when none is given, and says where it comes from.
func (f *Flags) leaseNamespace() (ns, from string, err error) {
	if b, err := os.ReadFile(f.namespaceFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns, "the manager's own namespace (in cluster)", nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", "", fmt.Errorf("reading the manager's namespace: %w", err)
	}
	// Out of cluster: the kubeconfig ctrl.GetConfig reads, --kubeconfig or else $KUBECONFIG and ~/.kube/config.
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kc := f.fs.Lookup("kubeconfig"); kc != nil {
		rules.ExplicitPath = kc.Value.String()
	}
	cfg, err := rules.Load()
	if err != nil {
		return "", "", fmt.Errorf("reading the kubeconfig for the leader election namespace: %w", err)
	}
	if c := cfg.Contexts[cfg.CurrentContext]; c != nil && c.Namespace != "" {
		return c.Namespace, fmt.Sprintf("the kubeconfig's context %q", cfg.CurrentContext), nil
	}
	return "default", "the default namespace (the kubeconfig's context names none)", nil
}

// checkLeaseTimings refuses timings client-go's leader election would refuse only once the manager starts.
func checkLeaseTimings(lease, renew, retry time.Duration) error {
	switch {
	case retry <= 0:
		return fmt.Errorf("--leader-elect-retry-period must be positive, not %s", retry)
	case renew <= time.Duration(1.2*float64(retry)): // 1.2 is client-go's JitterFactor
		return fmt.Errorf("--leader-elect-renew-deadline (%s) must be longer than 1.2 × --leader-elect-retry-period (%s)", renew, retry)
	case lease <= renew:
		return fmt.Errorf("--leader-elect-lease-duration (%s) must be longer than --leader-elect-renew-deadline (%s)", lease, renew)
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
