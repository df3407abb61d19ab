// Command bench measures Conch against the API server's own limits and prints a table of figures, targets and
// PASS/MISS (`make bench`). It starts a control plane (envtest: etcd and kube-apiserver), measures the API server's
// floor for a grant (its write rate and latency for a create and two status patches) before any manager runs, then
// measures grant latency, handover, timed release, restart, bursts and steady state against the real manager in
// this process, with the client limits it ships with, and finally the memory of the manager run as a subprocess,
// and (-scale) how these costs grow with the number of Reservations. docs/performance.md explains the method.
//
// Usage:
//
//	go run ./test/bench [-quick] [-scale] [-json results.json] [-cpuprofile-dir dir] [-only phase,phase] [-v]
//	                    [-apiserver-cpuprofile phase] [-max-concurrent-reconciles n] [-manager-env NAME=value,...]
//	                    [-kube-api-qps q] [-kube-api-burst b]
//
// It talks only to 127.0.0.1, and every loop is bounded in count and time.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

// phases in the order they run. The baseline runs before the manager starts; memory and scale run after the
// in-process manager stops, each with the manager as a subprocess. scale runs only when asked for (-scale or -only
// scale): it takes about as long as everything else together.
var phases = []string{"baseline", "grant", "handover", "timed", "restart", "burst", "memory", "scale"}

// needFloor are the phases whose targets are ratios to the baseline's floor: selecting one with -only runs the
// baseline too.
var needFloor = map[string]bool{"grant": true, "handover": true, "burst": true, "scale": true}

// options are the command line.
type options struct {
	quick      bool
	scale      bool
	jsonPath   string
	profileDir string
	only       map[string]bool
	verbose    bool
	// maxConcurrentReconciles is passed to the manager (0: its default), to try other settings.
	maxConcurrentReconciles int
	// qps and burst are the manager's client limits: by default those cmd/manager ships with
	// (manager.DefaultQPS, manager.DefaultBurst), which the chart does not change.
	qps   float64
	burst int
	// managerEnv is added to the environment of the manager subprocesses (memory and scale), to try GOGC or
	// GOMEMLIMIT.
	managerEnv []string
	// apiserverProfile names a phase during whose first apiserverProfileFor kube-apiserver's CPU is profiled.
	apiserverProfile    string
	apiserverProfileFor time.Duration
}

// shipped reports whether the manager runs with the client limits cmd/manager ships with.
func (o options) shipped() bool {
	return o.qps == manager.DefaultQPS && o.burst == manager.DefaultBurst
}

// sizes are the loads of a run; -quick makes them smaller.
type sizes struct {
	baselineOps1, baselineOps16 int           // operations per baseline measurement, 1 and 16 clients
	baselineMax                 time.Duration // the longest one baseline measurement may take
	grantRate                   int           // Reservations per second in the grant-latency phase
	grantFor                    time.Duration // how long the paced load lasts
	grantResources              int
	handoverQueue               int           // Reservations queued behind the first holder
	handoverMax                 time.Duration // the longest the whole drain may take
	timedN                      int           // holds in the timed-release phase
	timedResources              int           // Resources they are spread over (capacity timedN/timedResources)
	timedFirst                  time.Duration
	timedSpread                 time.Duration // expiries are spread over this long after timedFirst
	restartN, restartResources  int
	restartObjects              int // the cluster holds at least this many Resources and Reservations at the restart
	bursts                      []int
	burstResources              int
	burstMax                    time.Duration // the longest wait for a burst above 1,000
	memoryMax                   time.Duration // the longest wait for the subprocess to process everything
	steadyFor                   time.Duration
	memoryResources, memoryN    int
	scaleLevels                 []int         // Reservations in the cluster at each step of the scale phase
	scaleProbe                  int           // grants paced at grantRate at each step
	scaleEnded                  int           // holds ended while the manager is down at each step's restart
	scaleMax                    time.Duration // the longest the scale phase may take
}

// idleMax bounds the wait for the manager to go idle after a burst of n was processed.
func (s sizes) idleMax(n int) time.Duration {
	if n <= 1000 {
		return 30 * time.Second
	}
	return 2 * time.Minute
}

// burstLimit bounds the wait for a burst of n to be processed, so that a slow machine still ends the run in time.
func (s sizes) burstLimit(n int) time.Duration {
	if n <= 1000 {
		return time.Minute
	}
	return s.burstMax
}

func fullSizes() sizes {
	return sizes{
		baselineOps1: 1000, baselineOps16: 4000, baselineMax: 6 * time.Second,
		grantRate: 50, grantFor: 20 * time.Second, grantResources: 100,
		handoverQueue: 200, handoverMax: 4 * time.Minute,
		timedN: 1000, timedResources: 100, timedFirst: 10 * time.Second, timedSpread: 60 * time.Second,
		restartN: 1000, restartResources: 100, restartObjects: 3000,
		bursts: []int{1000, 10000}, burstResources: 1000, burstMax: 4 * time.Minute,
		memoryMax:       3 * time.Minute,
		steadyFor:       10 * time.Second,
		memoryResources: 1000, memoryN: 10000,
		scaleLevels: []int{1000, 10000, 30000}, scaleProbe: 500, scaleEnded: 100, scaleMax: 25 * time.Minute,
	}
}

func quickSizes() sizes {
	return sizes{
		baselineOps1: 300, baselineOps16: 1500, baselineMax: 3 * time.Second,
		grantRate: 50, grantFor: 8 * time.Second, grantResources: 100,
		handoverQueue: 50, handoverMax: time.Minute,
		timedN: 200, timedResources: 20, timedFirst: 5 * time.Second, timedSpread: 10 * time.Second,
		restartN: 200, restartResources: 20, restartObjects: 1000,
		// No burst of 10,000: the manager's memory is measured on the 1,000 of the burst, without a target.
		bursts: []int{1000}, burstResources: 1000, burstMax: time.Minute,
		memoryMax:       time.Minute,
		steadyFor:       10 * time.Second,
		memoryResources: 1000, memoryN: 1000,
		scaleLevels: []int{1000, 3000}, scaleProbe: 200, scaleEnded: 50, scaleMax: 8 * time.Minute,
	}
}

func main() {
	var o options
	var only string
	flag.BoolVar(&o.quick, "quick", false, "Smaller loads and no burst of 10,000: a run of about three minutes instead of about ten.")
	flag.BoolVar(&o.scale, "scale", false, "Also run the scale phase (1,000, 10,000 and 30,000 Reservations): about ten minutes more.")
	flag.StringVar(&o.jsonPath, "json", "", "Also write the results as JSON to this file.")
	flag.StringVar(&o.profileDir, "cpuprofile-dir", "", "Write a CPU profile of each in-process phase (<phase>.cpu.pprof) into this directory.")
	flag.StringVar(&only, "only", "", "Run only these phases (comma-separated): "+strings.Join(phases, ", ")+
		". The baseline runs too when a phase compares with its floor ("+strings.Join(slices.Sorted(maps.Keys(needFloor)), ", ")+").")
	flag.BoolVar(&o.verbose, "v", false, "Show the manager's logs on stderr.")
	flag.StringVar(&o.apiserverProfile, "apiserver-cpuprofile", "", "Also profile kube-apiserver's CPU during this phase (needs -cpuprofile-dir).")
	flag.DurationVar(&o.apiserverProfileFor, "apiserver-cpuprofile-for", 20*time.Second, "How long to profile kube-apiserver from the start of the phase.")
	var managerEnv string
	flag.StringVar(&managerEnv, "manager-env", "", "Comma-separated NAME=value pairs for the manager subprocesses of the memory and scale phases (GOMEMLIMIT=80MiB).")
	flag.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", 0, "Reconciles at once per controller in the manager under test (0: the manager's default).")
	flag.Float64Var(&o.qps, "kube-api-qps", manager.DefaultQPS, "The manager's client limit, requests per second (default: what cmd/manager ships with).")
	flag.IntVar(&o.burst, "kube-api-burst", manager.DefaultBurst, "The manager's client burst (default: what cmd/manager ships with).")
	flag.Parse()
	for kv := range strings.SplitSeq(managerEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			o.managerEnv = append(o.managerEnv, kv)
		}
	}
	if only != "" {
		o.only = map[string]bool{}
		for p := range strings.SplitSeq(only, ",") {
			p = strings.TrimSpace(p)
			if !slices.Contains(phases, p) {
				fmt.Fprintf(os.Stderr, "bench: unknown phase %q; phases are %s\n", p, strings.Join(phases, ", "))
				os.Exit(2)
			}
			o.only[p] = true
		}
	}
	// The in-process manager logs as in production (JSON, info level), so that the cost of logging is measured,
	// but to nowhere unless -v.
	logTo := io.Discard
	if o.verbose {
		logTo = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logTo)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, o)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, o options) int {
	rep := &report{Started: time.Now(), Quick: o.quick, Machine: describeMachine(), Details: map[string]string{}}
	sz := fullSizes()
	if o.quick {
		sz = quickSizes()
	}
	fmt.Printf("Conch benchmark (%s run) on %d CPUs (%s), %s memory, %s\n", map[bool]string{true: "quick", false: "full"}[o.quick],
		rep.Machine.CPUs, rep.Machine.CPUModel, rep.Machine.MemTotal, rep.Machine.Go)
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}

	start := time.Now()
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: starting the control plane:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	fmt.Printf("Control plane up in %v at %s\n", time.Since(start).Round(time.Millisecond), env.Config.Host)
	limits := "as shipped"
	if !o.shipped() {
		limits = "not as shipped"
	}
	rep.detail("manager", "--kube-api-qps=%g --kube-api-burst=%d (%s), --max-concurrent-reconciles=%s", o.qps, o.burst, limits,
		map[bool]string{true: fmt.Sprint(o.maxConcurrentReconciles), false: "default"}[o.maxConcurrentReconciles > 0])
	if len(o.managerEnv) > 0 {
		rep.detail("manager subprocess environment", "%s", strings.Join(o.managerEnv, " "))
	}

	b, err := newBench(env, o, sz, rep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer b.cleanup()
	b.runAll(ctx)

	rep.Duration = time.Since(rep.Started).Round(time.Second).String()
	fmt.Println()
	rep.print(os.Stdout)
	fmt.Println()
	for _, k := range slices.Sorted(maps.Keys(rep.Details)) {
		fmt.Printf("%s: %s\n", k, rep.Details[k])
	}
	fmt.Printf("\nTotal run time %s.\n", rep.Duration)
	if o.jsonPath != "" {
		if err := rep.writeJSON(o.jsonPath); err != nil {
			fmt.Fprintln(os.Stderr, "bench: writing JSON:", err)
			return 1
		}
		fmt.Println("Results written to", o.jsonPath)
	}
	if rep.errors() > 0 || ctx.Err() != nil {
		return 1
	}
	return 0
}

// runAll runs the selected phases in order. A phase that fails adds an ERROR row; the next phases still run when
// they can.
func (b *bench) runAll(ctx context.Context) {
	want := func(p string) bool {
		if b.opts.only != nil {
			return b.opts.only[p]
		}
		return p != "scale" || b.opts.scale
	}
	step := func(name string, f func(context.Context) error) {
		if ctx.Err() != nil {
			return
		}
		fmt.Printf("== %s (%s, load average %s)\n", name, time.Now().Format("15:04:05"), loadAvg())
		stopProfile := b.profile(name)
		if b.opts.profileDir != "" && b.opts.apiserverProfile == name {
			go b.profileAPIServer(ctx, name, b.opts.apiserverProfileFor)
		}
		before := sampleCPU()
		err := f(ctx)
		use := cpuUse(before, sampleCPU(), b.rep.Machine.CPUs)
		stopProfile()
		b.rep.detail("cpu "+name, "%s", use)
		fmt.Printf("   CPU: %s\n", use)
		if err != nil {
			fmt.Printf("   %s: ERROR %v\n", name, err)
			b.rep.fail(name, err)
		}
	}

	floor := want("baseline")
	for p := range needFloor {
		floor = floor || want(p)
	}
	if floor {
		step("baseline", b.baseline)
	}
	inProcess := []struct {
		name string
		f    func(context.Context) error
	}{{"grant", b.grantLatency}, {"handover", b.handover}, {"timed", b.timedRelease}, {"restart", b.restart}, {"burst", b.bursts}}
	needManager := false
	for _, p := range inProcess {
		needManager = needManager || want(p.name)
	}
	if needManager {
		if err := b.startManager(ctx); err != nil {
			b.rep.fail("manager", err)
			return
		}
		step("warmup", b.warmup)
		for _, p := range inProcess {
			if !want(p.name) {
				continue
			}
			if b.mgr == nil { // the restart phase failed between stopping a manager and starting the next
				if err := b.startManager(ctx); err != nil {
					b.rep.fail("manager", err)
					return
				}
			}
			step(p.name, p.f)
		}
		if err := b.stopManager(); err != nil {
			b.rep.fail("manager", err)
		}
	}
	if want("memory") {
		step("memory", b.memory)
	}
	if want("scale") {
		step("scale", b.scalePhase)
	}
	b.rep.Rows = append(b.rep.Rows, row{Phase: "slack", Metric: "Slack (issue 3)", Value: "measured in test/slack benchmarks",
		Target: "ack p99 ≤ 100 ms", Result: todo})
}

// profileAPIServer saves kube-apiserver's CPU profile (its /debug/pprof, as an administrator) for d into
// <dir>/<phase>.apiserver.cpu.pprof.
func (b *bench) profileAPIServer(ctx context.Context, phase string, d time.Duration) {
	hc, err := rest.HTTPClientFor(b.env.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: apiserver profile:", err)
		return
	}
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(b.env.Config.Host, "/"), int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: apiserver profile:", err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "bench: apiserver profile:", resp.Status)
		return
	}
	f, err := os.Create(fmt.Sprintf("%s/%s.apiserver.cpu.pprof", b.opts.profileDir, phase))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: apiserver profile:", err)
		return
	}
	defer func() { _ = f.Close() }()
	_, _ = io.Copy(f, resp.Body)
}

// profile starts a CPU profile of a phase when -cpuprofile-dir is set and returns the function that stops it.
func (b *bench) profile(phase string) func() {
	if b.opts.profileDir == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s/%s.cpu.pprof", b.opts.profileDir, phase))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
