package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc: 100 on every Linux this runs on.
const clockTicks = 100

// cpuSample is the CPU time used so far by the machine and by this process and its children (kube-apiserver,
// etcd, a manager subprocess), to tell afterwards how much of the machine a phase had: the machine is shared, and
// a phase that ran while something else was busy is slower for it.
type cpuSample struct {
	at         time.Time
	busy       float64            // seconds of CPU used by everything on the machine
	byProcess  map[string]float64 // seconds by command name, for this process ("bench") and its children
	readFailed bool
}

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now(), byProcess: map[string]float64{}}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		s.readFailed = true
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		s.readFailed = true
		return s
	}
	var total, idle float64
	for i, f := range fields[1:9] { // user nice system idle iowait irq softirq steal
		v, _ := strconv.ParseFloat(f, 64)
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	s.busy = (total - idle) / clockTicks
	self := os.Getpid()
	if _, t, ok := procTimes(self); ok {
		s.byProcess["bench"] = t
	}
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil || pid == self {
			continue
		}
		comm, t, ok := procTimes(pid)
		if ok && parentOf(pid) == self {
			s.byProcess[comm] += t
		}
	}
	return s
}

// procTimes returns the command name and user+system CPU seconds of a process.
func procTimes(pid int) (string, float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0, false
	}
	fields := strings.Fields(s[closing+1:]) // state ppid ... utime(12th) stime(13th)
	if len(fields) < 13 {
		return "", 0, false
	}
	u, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return s[open+1 : closing], (u + st) / clockTicks, true
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	closing := strings.LastIndexByte(s, ')')
	if closing < 0 {
		return 0
	}
	fields := strings.Fields(s[closing+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// cpuUse says how the machine's CPU was used between two samples.
func cpuUse(before, after cpuSample, cpus int) string {
	if before.readFailed || after.readFailed {
		return "unknown"
	}
	wall := after.at.Sub(before.at).Seconds()
	var parts []string
	ours := 0.0
	for _, name := range slices.Sorted(maps.Keys(after.byProcess)) {
		d := after.byProcess[name] - before.byProcess[name]
		if d < 0 { // a child that ended is missing from after; its time is unknown here
			continue
		}
		ours += d
		parts = append(parts, fmt.Sprintf("%s %.1f s", name, d))
	}
	others := max(0, after.busy-before.busy-ours)
	return fmt.Sprintf("%.0f s on %d CPUs (%.0f CPU-s): %s; other processes %.1f s (%.0f %% of the machine)",
		wall, cpus, wall*float64(cpus), strings.Join(parts, ", "), others, 100*others/(wall*float64(cpus)))
}

// loadAvg returns the first field of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
