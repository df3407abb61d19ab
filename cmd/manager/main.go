// Command manager runs Conch's controllers against the cluster of the current kubeconfig (or the in-cluster
// config).
package main

import (
	"flag"
	"os"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/slackbot"
)

func main() {
	var opts manager.Options
	var namespaces string
	var qps float64
	flag.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":8080", `Address of the metrics endpoint; "0" turns it off.`)
	flag.StringVar(&opts.ProbeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.BoolVar(&opts.LeaderElection, "leader-elect", true, "Elect a leader among replicas; only the leader runs the controllers.")
	flag.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the manager's own).")
	flag.StringVar(&namespaces, "namespaces", "", "Comma-separated namespaces to manage (default: all).")
	flag.Float64Var(&qps, "kube-api-qps", manager.DefaultQPS, "Requests per second to the API server.")
	flag.IntVar(&opts.Burst, "kube-api-burst", manager.DefaultBurst, "Burst of requests to the API server.")
	flag.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-reconciles", 2, "Reconciles run at once per controller.")
	var channelNamespaces, admins string
	flag.StringVar(&opts.SlackSecret, "slack-secret", "", "Secret (namespace/name) with the Slack tokens in keys bot-token and app-token; else $SLACK_BOT_TOKEN and $SLACK_APP_TOKEN.")
	flag.StringVar(&opts.Slack.APIURL, "slack-api-url", "", "Base URL of the Slack Web API, ending in / (default: Slack's).")
	flag.StringVar(&opts.Slack.Command, "slack-command", "/dibs", "The slash command.")
	flag.StringVar(&opts.Slack.DefaultNamespace, "slack-namespace", "default", "Namespace Slack commands act on.")
	flag.StringVar(&channelNamespaces, "slack-channel-namespaces", "", "Per-channel namespaces: C0123ABC=team-a,C0456DEF=team-b.")
	flag.StringVar(&admins, "slack-admins", "", "Comma-separated Slack user IDs that may release anyone's hold.")
	flag.DurationVar(&opts.Slack.WarnBefore, "slack-warn-before", 10*time.Minute, "How long before a hold ends its holder is warned.")
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("setup")
	opts.QPS = float32(qps)
	opts.Namespaces = splitList(namespaces)

	opts.Slack.TokensFromEnv()
	var err error
	if opts.Slack.ChannelNamespaces, err = slackbot.ParseChannelNamespaces(channelNamespaces); err != nil {
		log.Error(err, "Bad --slack-channel-namespaces")
		os.Exit(2)
	}
	opts.Slack.Admins = splitList(admins)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "Cannot find a cluster to connect to")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	if err := manager.Run(ctx, cfg, opts); err != nil {
		log.Error(err, "Manager stopped")
		os.Exit(1)
	}
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
