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
	"strconv"
	"strings"
	"time"
)

// memory runs the manager as a subprocess (the bench's own client would otherwise share its heap), built from
// ./cmd/manager with the flags it ships with and limited to one namespace holding memoryResources Resources and
// memoryN Reservations: the largest burst's, when it ran (the subprocess then starts on them as after a restart,
// listing and reconciling each once), else a fresh one it fills. It waits until every Reservation is processed and
// the API server has served the manager nothing for a while, without asking the manager anything, and only then
// reads its memory, once.
func (b *bench) memory(ctx context.Context) error {
	const phase = "memory"
	if b.mgr != nil {
		return errors.New("the in-process manager must be stopped first")
	}
	ns, reuse := b.burstNS, b.burstNS != "" && b.burstN == b.sz.memoryN && b.sz.burstResources == b.sz.memoryResources
	if !reuse {
		var err error
		if ns, err = b.namespace(ctx, phase); err != nil {
			return err
		}
	}
	start := time.Now()
	m, err := b.startSubManager(ctx, ns, phase)
	if err != nil {
		return err
	}
	defer m.stop()
	if _, err := m.ready(ctx, time.Minute); err != nil {
		return err
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
			return m.fail(err)
		}
		if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
			return b.c.Create(ctx, newReservation(ns, fmt.Sprintf("m-%05d", i), resourceName("m", i%nres), time.Hour))
		}); err != nil {
			return m.fail(fmt.Errorf("creating: %w", err))
		}
	}
	// Processed: every Reservation Granted or Queued, and then nothing asked of the API server for a while (after a
	// restart the manager reconciles every object once even when nothing changes).
	if err := tr.wait(ctx, b.sz.memoryMax, "every Reservation processed", func(t *tracker) bool { return t.processed >= n }); err != nil {
		return m.fail(err)
	}
	if _, err := b.waitAPIQuiet(ctx, time.Until(start.Add(b.sz.memoryMax))); err != nil {
		return m.fail(err)
	}
	took := time.Since(start)
	mem, err := m.readMemory()
	if err != nil {
		return m.fail(err)
	}
	b.rep.info(phase, "objects in the manager's cache", fmt.Sprintf("%s Resources, %s Reservations (%s; done in %s)", thousands(nres), thousands(n), how, fmtDur(took)), float64(n), "Reservations")
	b.rep.info(phase, "manager heap in use", fmt.Sprintf("%.1f MiB", mib(mem.heap)), mib(mem.heap), "MiB")
	if n >= 10000 {
		b.rep.check(phase, "manager RSS", fmt.Sprintf("%.1f MiB", mib(mem.rss)), mib(mem.rss), "MiB", fmt.Sprintf("≤ %.0f MiB at 10,000", rssTargetMiB), mib(mem.rss) <= rssTargetMiB)
	} else {
		b.rep.info(phase, "manager RSS (the target is at 10,000 Reservations)", fmt.Sprintf("%.1f MiB", mib(mem.rss)), mib(mem.rss), "MiB")
	}
	b.rep.info(phase, "manager peak RSS (VmHWM)", fmt.Sprintf("%.1f MiB", mib(mem.peak)), mib(mem.peak), "MiB")
	b.rep.detail("memory", "heap_inuse=%.0f rss=%.0f vmhwm=%.0f", mem.heap, mem.rss, mem.peak)
	fmt.Printf("   heap %.1f MiB, RSS %.1f MiB, peak RSS %.1f MiB\n", mib(mem.heap), mib(mem.rss), mib(mem.peak))
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

func tailFile(path string, lines int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n"), nil
}
