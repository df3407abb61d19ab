package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/conch-dev/conch/internal/testenv"
)

// subManager is the manager built from ./cmd/manager, run as a subprocess (the memory and scale phases): its heap
// is its own, not shared with the bench's client, and it runs with the flags it ships with.
type subManager struct {
	cmd        *exec.Cmd
	exited     chan struct{} // closed when the process has exited
	exitErr    error
	metricsURL string
	readyURL   string
	logPath    string
	started    time.Time
}

// prepareSubprocess builds the manager once and writes a kubeconfig for it (an administrator of the envtest API
// server), in a temporary directory that cleanup removes.
func (b *bench) prepareSubprocess(ctx context.Context) error {
	if b.managerBin != "" {
		return nil
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	if b.tmp == "" {
		if b.tmp, err = os.MkdirTemp("", "conch-bench-"); err != nil {
			return err
		}
	}
	bin := filepath.Join(b.tmp, "manager")
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
	b.kubeconfig = filepath.Join(b.tmp, "kubeconfig")
	if err := os.WriteFile(b.kubeconfig, kc, 0o600); err != nil {
		return err
	}
	b.managerBin = bin
	return nil
}

// startSubManager starts the manager subprocess limited to namespace ns (--namespaces), so that its cache holds
// exactly that namespace's objects. Its client limits are the flag defaults, what cmd/manager ships with, unless
// -kube-api-qps or -kube-api-burst say otherwise. It returns at once; ready waits for its caches.
func (b *bench) startSubManager(ctx context.Context, ns, logName string) (*subManager, error) {
	if err := b.prepareSubprocess(ctx); err != nil {
		return nil, err
	}
	mport, err := freePort()
	if err != nil {
		return nil, err
	}
	pport, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &subManager{
		exited:     make(chan struct{}),
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport),
		readyURL:   fmt.Sprintf("http://127.0.0.1:%d/readyz", pport),
		logPath:    filepath.Join(b.tmp, logName+".log"),
	}
	logFile, err := os.Create(m.logPath)
	if err != nil {
		return nil, err
	}
	args := []string{"--leader-elect=false", fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", mport),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", pport), "--namespaces=" + ns}
	if !b.opts.shipped() {
		args = append(args, fmt.Sprintf("--kube-api-qps=%g", b.opts.qps), fmt.Sprintf("--kube-api-burst=%d", b.opts.burst))
	}
	if b.opts.maxConcurrentReconciles > 0 {
		args = append(args, fmt.Sprintf("--max-concurrent-reconciles=%d", b.opts.maxConcurrentReconciles))
	}
	m.cmd = exec.Command(b.managerBin, args...)
	m.cmd.Env = append(append(os.Environ(), "KUBECONFIG="+b.kubeconfig), b.opts.managerEnv...)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	m.started = time.Now()
	if err := m.cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	go func() { m.exitErr = m.cmd.Wait(); _ = logFile.Close(); close(m.exited) }()
	return m, nil
}

// ready waits until the subprocess answers /readyz (its caches are synced) and returns how long after its start.
func (m *subManager) ready(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	if err := waitHTTP(ctx, m.readyURL, timeout, m.exited); err != nil {
		select {
		case <-m.exited:
			err = fmt.Errorf("%w (the manager exited: %v)", err, m.exitErr)
		default:
		}
		return 0, m.fail(err)
	}
	return time.Since(m.started), nil
}

// fail adds the end of the subprocess's log to err.
func (m *subManager) fail(err error) error {
	tail, _ := tailFile(m.logPath, 20)
	return fmt.Errorf("%w; the manager's log ends:\n%s", err, tail)
}

// stop sends SIGTERM to the subprocess and kills it if it has not exited after 10 s.
func (m *subManager) stop() {
	if m == nil {
		return
	}
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// memReading is the subprocess's memory, read once.
type memReading struct {
	rss, peak, heap float64 // bytes: VmRSS, VmHWM, go_memstats_heap_inuse_bytes
}

// readMemory reads the subprocess's memory once: its resident set (VmRSS) and peak (VmHWM) from /proc first,
// untouched by any request, then the heap in use from one scrape of its /metrics.
func (m *subManager) readMemory() (memReading, error) {
	rss, peak := procStatusBytes(m.cmd.Process.Pid, "VmRSS:"), procStatusBytes(m.cmd.Process.Pid, "VmHWM:")
	if rss == 0 {
		return memReading{}, errors.New("cannot read the manager's VmRSS from /proc")
	}
	metrics, err := scrape(m.metricsURL)
	if err != nil {
		return memReading{}, err
	}
	return memReading{rss: rss, peak: peak, heap: metrics["go_memstats_heap_inuse_bytes"]}, nil
}

// procStatusBytes reads a "kB" field of /proc/<pid>/status, in bytes; 0 when unknown.
func procStatusBytes(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// conchKinds are the resources whose requests tell what a manager does: its own kinds and the Events it writes.
var conchKinds = map[string]bool{"reservations": true, "resources": true, "events": true}

// apiCounts are the API server's own counts of the requests it served on conchKinds (apiserver_request_total),
// from every client: writes (every verb but GET, LIST and WATCH) and reads (GET, LIST).
type apiCounts struct {
	writes, reads float64
	// byKind counts the writes by "VERB resource[/subresource]".
	byKind map[string]float64
}

// sub returns what was counted between before and c, the writes by kind as in counts.String.
func (c apiCounts) sub(before apiCounts) apiCounts {
	out := apiCounts{writes: c.writes - before.writes, reads: c.reads - before.reads, byKind: map[string]float64{}}
	for k, v := range c.byKind {
		if d := v - before.byKind[k]; d != 0 {
			out.byKind[k] = d
		}
	}
	return out
}

// String lists the writes by kind.
func (c apiCounts) String() string {
	keys := slices.Sorted(maps.Keys(c.byKind))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, c.byKind[k]))
	}
	return fmt.Sprintf("%.0f writes (%s), %.0f reads", c.writes, strings.Join(parts, ", "), c.reads)
}

// apiRequests reads apiserver_request_total from the API server's /metrics, as an administrator. It counts a
// manager subprocess's requests from outside it; the bench's own are subtracted with its own counter.
func (b *bench) apiRequests(ctx context.Context) (apiCounts, error) {
	if b.apiHTTP == nil {
		hc, err := rest.HTTPClientFor(b.env.Config)
		if err != nil {
			return apiCounts{}, err
		}
		b.apiHTTP = hc
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(b.env.Config.Host, "/")+"/metrics", nil)
	if err != nil {
		return apiCounts{}, err
	}
	resp, err := b.apiHTTP.Do(req)
	if err != nil {
		return apiCounts{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return apiCounts{}, fmt.Errorf("kube-apiserver /metrics: %s", resp.Status)
	}
	m, err := parseMetrics(resp.Body)
	if err != nil {
		return apiCounts{}, err
	}
	c := apiCounts{byKind: map[string]float64{}}
	for series, v := range m {
		name, rest, ok := strings.Cut(series, "{")
		if !ok || name != "apiserver_request_total" {
			continue
		}
		l := parseLabels(rest)
		if !conchKinds[l["resource"]] {
			continue
		}
		switch l["verb"] {
		case "WATCH", "CONNECT":
		case "GET", "LIST":
			c.reads += v
		default:
			c.writes += v
			kind := l["resource"]
			if l["subresource"] != "" {
				kind += "/" + l["subresource"]
			}
			c.byKind[l["verb"]+" "+kind] += v
		}
	}
	return c, nil
}

// parseLabels parses `a="x",b="y"}` (the labels of a series after its opening brace). Values are taken up to the
// next `",` or `"}`; the API server's label values hold no quotes.
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	s = strings.TrimSuffix(s, "}")
	for s != "" {
		key, rest, ok := strings.Cut(s, `="`)
		if !ok {
			break
		}
		val, after, _ := strings.Cut(rest, `"`)
		out[strings.TrimLeft(key, ",")] = val
		s = after
	}
	return out
}

// waitAPIQuiet waits until the API server has served no request on conchKinds but watches for idleQuiet (the
// bench makes none meanwhile, so it is the manager subprocess that is idle), at most limit, and returns how long it
// took until the quiet began. The manager itself is not asked: a scrape of its /metrics makes it work.
func (b *bench) waitAPIQuiet(ctx context.Context, limit time.Duration) (time.Duration, error) {
	return waitQuiet(ctx, limit, 500*time.Millisecond, "still busy", func() (float64, bool, error) {
		c, err := b.apiRequests(ctx)
		return c.writes + c.reads, false, err
	})
}
