// Command manager runs Conch's controllers against the cluster of the current kubeconfig (or the in-cluster
// config).
package main

import (
	"flag"
	"os"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/conch-dev/conch/internal/manager"
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
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("setup")
	opts.QPS = float32(qps)
	for _, ns := range strings.Split(namespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			opts.Namespaces = append(opts.Namespaces, ns)
		}
	}

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
