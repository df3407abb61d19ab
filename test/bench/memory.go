package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/conch-dev/conch/internal/testenv"
)

// memory runs the manager as a subprocess (the bench's own client would otherwise share its heap), built from
// ./cmd/manager and limited to one namespace holding memoryResources Resources and memoryN Reservations: the largest
// burst's, when it ran (the subprocess then starts on them as after a restart, listing and reconciling each once),
// else a fresh one it fills. It waits until every Reservation is processed and the manager is idle, and reads the
// manager's heap and RSS from its /metrics.
func (b *bench) memory(ctx context.Context) error {
	const phase = "memory"
	if b.mgr != nil {
		return errors.New("the in-process manager must be stopped first")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "conch-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	bin := filepath.Join(dir, "manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/manager")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/manager: %w\n%s", err, out)
	}
	user, err := b.env.AddUser(envtest.User{Name: "bench-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	// The manager holds exactly the largest burst's objects when that ran (it restarts on them: every object is
	// listed and reconciled once); otherwise it processes a burst of its own.
	ns, reuse := b.burstNS, b.burstNS != "" && b.burstN == b.sz.memoryN && b.sz.burstResources == b.sz.memoryResources
	if !reuse {
		if ns, err = b.namespace(ctx, phase); err != nil {
			return err
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	logPath := filepath.Join(dir, "manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	// --namespaces: the cache holds exactly this phase's objects, not the earlier phases'. QPS as the in-process
	// manager has (testenv's): at the flag default of 100 QPS, 10,000 Reservations take minutes.
	cmd := exec.Command(bin, "--leader-elect=false", "--metrics-bind-address="+fmt.Sprintf("127.0.0.1:%d", port),
		"--health-probe-bind-address=0", "--namespaces="+ns, "--kube-api-qps=1000", "--kube-api-burst=2000")
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfig), b.opts.managerEnv...)
	if b.opts.maxConcurrentReconciles > 0 {
		cmd.Args = append(cmd.Args, fmt.Sprintf("--max-concurrent-reconciles=%d", b.opts.maxConcurrentReconciles))
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{}) // closed when the process has exited
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	defer stopProcess(cmd, exited)
	fail := func(err error) error {
		tail, _ := tailFile(logPath, 20)
		return fmt.Errorf("%w; the manager's log ends:\n%s", err, tail)
	}
	if err := waitHTTP(ctx, metricsURL, 30*time.Second, exited); err != nil {
		select {
		case <-exited:
			err = fmt.Errorf("%w (the manager exited: %v)", err, exitErr)
		default:
		}
		return fail(err)
	}
	idle, err := scrape(metricsURL)
	if err != nil {
		return fail(err)
	}

	nres, n := b.sz.memoryResources, b.sz.memoryN
	tr, err := track(ctx, b.c, ns)
	if err != nil {
		return err
	}
	defer tr.stop()
	how := "a manager restarted on the burst's objects"
	if !reuse {
		how = "a manager that processed them as they came"
		if err := b.createResources(ctx, ns, "m", nres, 1, true); err != nil {
			return fail(err)
		}
		if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
			return b.c.Create(ctx, newReservation(ns, fmt.Sprintf("m-%05d", i), resourceName("m", i%nres), time.Hour))
		}); err != nil {
			return fail(fmt.Errorf("creating: %w", err))
		}
	}
	// Processed: every Reservation Granted or Queued, and the manager's work queues empty with no reconcile for 2 s
	// (after a restart it reconciles every object once even when nothing changes).
	if err := tr.wait(ctx, b.sz.memoryMax, "every Reservation processed", func(t *tracker) bool { return t.processed >= n }); err != nil {
		return fail(err)
	}
	m, err := waitIdle(ctx, metricsURL, nres, n, time.Until(start.Add(b.sz.memoryMax)))
	if err != nil {
		return fail(err)
	}
	took := time.Since(start)
	hwm := peakRSS(cmd.Process.Pid)

	heap, rss := m["go_memstats_heap_inuse_bytes"], m["process_resident_memory_bytes"]
	b.rep.info(phase, "objects in the manager's cache", fmt.Sprintf("%s Resources, %s Reservations (%s; done in %s)", thousands(nres), thousands(n), how, fmtDur(took)), float64(n), "Reservations")
	if !reuse {
		b.rep.info(phase, "manager heap in use, idle before any object", fmt.Sprintf("%.1f MiB", mib(idle["go_memstats_heap_inuse_bytes"])), mib(idle["go_memstats_heap_inuse_bytes"]), "MiB")
		b.rep.info(phase, "manager RSS, idle before any object", fmt.Sprintf("%.1f MiB", mib(idle["process_resident_memory_bytes"])), mib(idle["process_resident_memory_bytes"]), "MiB")
	}
	b.rep.info(phase, "manager heap in use", fmt.Sprintf("%.1f MiB", mib(heap)), mib(heap), "MiB")
	if n >= 10000 {
		b.rep.check(phase, "manager RSS", fmt.Sprintf("%.1f MiB", mib(rss)), mib(rss), "MiB", fmt.Sprintf("≤ %.0f MiB", rssTargetMiB), mib(rss) <= rssTargetMiB)
	} else {
		b.rep.info(phase, "manager RSS (the target is at 10,000 Reservations)", fmt.Sprintf("%.1f MiB", mib(rss)), mib(rss), "MiB")
	}
	if hwm > 0 {
		b.rep.info(phase, "manager peak RSS (VmHWM)", fmt.Sprintf("%.1f MiB", mib(hwm)), mib(hwm), "MiB")
	}
	b.rep.detail("memory", "heap_inuse=%.0f rss=%.0f vmhwm=%.0f go_goroutines=%.0f go_memstats_heap_objects=%.0f",
		heap, rss, hwm, m["go_goroutines"], m["go_memstats_heap_objects"])
	fmt.Printf("   heap %.1f MiB, RSS %.1f MiB, peak RSS %.1f MiB\n", mib(heap), mib(rss), mib(hwm))
	return nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200, the process exits, or timeout.
func waitHTTP(ctx context.Context, url string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v", url, timeout)
		}
		select {
		case <-exited:
			return errors.New("the manager exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitIdle scrapes the manager until both controllers have reconciled at least nres and n times, their work
// queues are empty and no reconcile happened for 2 s, and returns the last scrape.
func waitIdle(ctx context.Context, url string, nres, n int, timeout time.Duration) (map[string]float64, error) {
	deadline := time.Now().Add(timeout)
	var lastTotal float64 = -1
	var quietSince time.Time
	for {
		m, err := scrape(url)
		if err != nil {
			return nil, err
		}
		res := sumSeries(m, "controller_runtime_reconcile_total", `controller="resource"`)
		rsv := sumSeries(m, "controller_runtime_reconcile_total", `controller="reservation"`)
		depth := sumSeries(m, "workqueue_depth")
		switch {
		case res < float64(nres) || rsv < float64(n) || depth > 0 || res+rsv != lastTotal:
			quietSince = time.Time{}
		case quietSince.IsZero():
			quietSince = time.Now()
		case time.Since(quietSince) >= 2*time.Second:
			return m, nil
		}
		lastTotal = res + rsv
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the manager was still busy after %v (reconciles: %.0f resource, %.0f reservation; queued %.0f)", timeout, res, rsv, depth)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// sumSeries adds the samples of metric name whose labels contain every one of labels (`key="value"`).
func sumSeries(m map[string]float64, name string, labels ...string) float64 {
	total := 0.0
	for series, v := range m {
		metric, rest, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(rest, l)
		}
		if ok {
			total += v
		}
	}
	return total
}

// scrape reads the samples of a Prometheus text endpoint, keyed by series ("name" or "name{labels}").
func scrape(url string) (map[string]float64, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics returns the samples of Prometheus text exposition, keyed by series ("name" or "name{labels}").
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the series, after the closing brace of the labels when there are some (label values
		// may hold spaces).
		series, rest := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			series, rest = line[:i+1], line[i+1:]
		} else if j := strings.IndexByte(line, ' '); j >= 0 {
			series, rest = line[:j], line[j:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[series] = v
	}
	return out, sc.Err()
}

// peakRSS reads VmHWM (the peak resident set) of a process from /proc, in bytes; 0 when unknown.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// stopProcess sends SIGTERM to the subprocess this bench started and kills it if it has not exited after 10 s.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func tailFile(path string, lines int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n"), nil
}
