// Command run is `make run`: it runs Conch's manager against the cluster of the current kubeconfig, or, when no
// cluster answers, against a local control plane (etcd and kube-apiserver built by hack/envtest.sh) that it starts
// itself and keeps between runs. Either way it installs the CRDs first and prints how to reach the cluster.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/conch-dev/conch/internal/board"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

func main() {
	local := flag.Bool("local", false, "Always start a local control plane, even when the kubeconfig reaches a cluster.")
	metrics := flag.String("metrics-bind-address", ":8080", "Address of the metrics endpoint.")
	boardAddr := flag.String("board-bind-address", "127.0.0.1:8082", `Address of the web board; "0" turns it off.`)
	zopts := zap.Options{Development: true, Level: zapcore.InfoLevel}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))

	if err := run(*local, *metrics, *boardAddr); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
}

func run(forceLocal bool, metricsAddr, boardAddr string) error {
	ctx := ctrl.SetupSignalHandler()
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	cfg, where := reachableCluster()
	if forceLocal || cfg == nil {
		stop, localCfg, err := startLocal(root)
		if err != nil {
			return err
		}
		defer stop()
		cfg = localCfg
	} else {
		fmt.Printf("Using the cluster of the current kubeconfig (%s). Installing Conch's CRDs there.\n", where)
		if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
			Paths: []string{filepath.Join(root, "config", "crd", "bases")}, ErrorIfPathMissing: true,
		}); err != nil {
			return fmt.Errorf("installing the CRDs: %w", err)
		}
	}
	fmt.Println("Then try:  kubectl apply -f config/samples/ && kubectl get resources,reservations")
	if boardAddr != "" && boardAddr != "0" {
		fmt.Printf("The board: http://%s\n", boardAddr)
	}
	fmt.Println("Stop with Ctrl-C.")
	return manager.Run(ctx, cfg, manager.Options{
		MetricsAddr: metricsAddr,
		ProbeAddr:   "0",
		QPS:         manager.DefaultQPS,
		Burst:       manager.DefaultBurst,
		Board:       board.Options{Addr: boardAddr},
	})
}

// reachableCluster returns the current kubeconfig's config when its API server answers within a few seconds.
func reachableCluster() (*rest.Config, string) {
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil)
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, ""
	}
	probe := rest.CopyConfig(cfg)
	probe.Timeout = 3 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(probe)
	if err != nil {
		return nil, ""
	}
	if _, err := dc.ServerVersion(); err != nil {
		fmt.Printf("No cluster answers at %s (%v); starting a local control plane instead.\n", cfg.Host, err)
		return nil, ""
	}
	return cfg, cfg.Host
}

// startLocal starts etcd and kube-apiserver with their state under the user's cache directory, installs the CRDs
// and writes a kubeconfig for kubectl.
func startLocal(root string) (func(), *rest.Config, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, nil, err
	}
	state := filepath.Join(cache, "conch", "dev")
	if err := os.MkdirAll(filepath.Join(state, "etcd"), 0o700); err != nil {
		return nil, nil, err
	}
	fmt.Println("Starting a local control plane (etcd + kube-apiserver); state in", state)
	env, err := testenv.Start(testenv.Options{DataDir: filepath.Join(state, "etcd")})
	if err != nil {
		return nil, nil, err
	}
	stop := func() { _ = env.Stop() }
	user, err := env.AddUser(envtest.User{Name: "developer", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		stop()
		return nil, nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		stop()
		return nil, nil, err
	}
	kubeconfig := filepath.Join(state, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		stop()
		return nil, nil, err
	}
	assets, _ := testenv.AssetsDir(root)
	fmt.Printf("\nLocal control plane is up. In another terminal:\n\n  export KUBECONFIG=%s\n  export PATH=%s:$PATH   # kubectl built for you\n\n", kubeconfig, assets)
	return stop, env.Config, nil
}
