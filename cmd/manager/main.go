// Command manager runs Conch's controllers against the cluster of the current kubeconfig (or the in-cluster
// config).
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/conch-dev/conch/internal/manager"
)

func main() {
	flags := manager.BindFlags(flag.CommandLine)
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("setup")
	opts, err := flags.Options(log)
	if err != nil {
		log.Error(err, "Bad flags")
		os.Exit(2)
	}
	opts.Slack.TokensFromEnv()

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
