package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Results of rows.
const (
	pass    = "PASS"
	miss    = "MISS"
	failed  = "ERROR"
	todo    = "TODO"
	noCheck = ""
)

// row is one line of the results table.
type row struct {
	Phase  string `json:"phase"`
	Metric string `json:"metric"`
	Value  string `json:"value"`
	Target string `json:"target,omitempty"`
	Result string `json:"result,omitempty"`
	// Number is Value as a number, in Unit, for tools.
	Number float64 `json:"number"`
	Unit   string  `json:"unit,omitempty"`
	// Ratio is Number as a ratio to the same run's floor, where the target is one.
	Ratio float64 `json:"ratio,omitempty"`
}

// report collects the rows and details of a run.
type report struct {
	Started  time.Time         `json:"started"`
	Duration string            `json:"duration"`
	Quick    bool              `json:"quick"`
	Machine  machine           `json:"machine"`
	Rows     []row             `json:"rows"`
	Details  map[string]string `json:"details"`
}

type machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpuModel"`
	MemTotal string `json:"memTotal"`
	Go       string `json:"go"`
	OS       string `json:"os"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb float64
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err == nil {
					m.MemTotal = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	return m
}

// info adds a row without a target.
func (r *report) info(phase, metric, value string, number float64, unit string) {
	r.Rows = append(r.Rows, row{Phase: phase, Metric: metric, Value: value, Number: number, Unit: unit})
}

// check adds a row with a target; ok says whether it is met.
func (r *report) check(phase, metric, value string, number float64, unit, target string, ok bool) {
	res := miss
	if ok {
		res = pass
	}
	r.Rows = append(r.Rows, row{Phase: phase, Metric: metric, Value: value, Number: number, Unit: unit, Target: target, Result: res})
}

// latency adds a row for a latency, checked against limit when limit > 0.
func (r *report) latency(phase, metric string, d, limit time.Duration) {
	if limit <= 0 {
		r.info(phase, metric, fmtDur(d), ms(d), "ms")
		return
	}
	r.check(phase, metric, fmtDur(d), ms(d), "ms", "≤ "+fmtDur(limit), d <= limit)
}

// latencyFactor is how far above the floor's latency a latency target lies.
const latencyFactor = 1.5

// floorLatency adds a row for a latency checked against latencyFactor × the floor's latency: in ms and as a ratio.
// Without a floor (the baseline failed) it is a MISS: there is nothing to say it is good.
func (b *bench) floorLatency(phase, metric string, d time.Duration) {
	target := fmt.Sprintf("≤ %.1f× floor", latencyFactor)
	if b.floor == nil || b.floor.latency <= 0 {
		b.rep.check(phase, metric, fmtDur(d)+" (no floor measured)", ms(d), "ms", target, false)
		return
	}
	ratio := float64(d) / float64(b.floor.latency)
	limit := time.Duration(latencyFactor * float64(b.floor.latency))
	b.rep.check(phase, metric, fmt.Sprintf("%s = %.2f× floor", fmtDur(d), ratio), ms(d), "ms",
		fmt.Sprintf("%s (%s)", target, fmtDur(limit)), d <= limit)
	b.rep.Rows[len(b.rep.Rows)-1].Ratio = ratio
}

// floorRate adds a row for a throughput checked against a share of the floor's grants/s.
func (b *bench) floorRate(phase, metric string, rate, share float64, check bool) {
	target := fmt.Sprintf("≥ %.0f %% of floor", 100*share)
	if b.floor == nil || b.floor.grantsPerSec <= 0 {
		if check {
			b.rep.check(phase, metric, fmt.Sprintf("%.0f/s (no floor measured)", rate), math.NaN(), "%", target, false)
		} else {
			b.rep.info(phase, metric, fmt.Sprintf("%.0f/s (no floor measured)", rate), math.NaN(), "%")
		}
		return
	}
	ratio := rate / b.floor.grantsPerSec
	value := fmt.Sprintf("%.0f %% (%.0f/s of %.0f/s)", 100*ratio, rate, b.floor.grantsPerSec)
	if check {
		b.rep.check(phase, metric, value, 100*ratio, "%", target, ratio >= share)
	} else {
		b.rep.info(phase, metric, value, 100*ratio, "%")
	}
	b.rep.Rows[len(b.rep.Rows)-1].Ratio = ratio
}

// fail adds a row saying a phase could not complete.
func (r *report) fail(phase string, err error) {
	r.Rows = append(r.Rows, row{Phase: phase, Metric: "error", Value: err.Error(), Result: failed, Number: math.NaN()})
}

func (r *report) detail(key, format string, args ...any) {
	r.Details[key] = fmt.Sprintf(format, args...)
}

// print writes the table.
func (r *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tMETRIC\tVALUE\tTARGET\tRESULT")
	for _, x := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.Phase, x.Metric, x.Value, x.Target, x.Result)
	}
	_ = tw.Flush()
	met, total := 0, 0
	var missed []string
	for _, x := range r.Rows {
		switch x.Result {
		case pass:
			met++
			total++
		case miss, failed:
			total++
			missed = append(missed, x.Phase+": "+x.Metric)
		}
	}
	fmt.Fprintf(w, "\n%d of %d targets met.\n", met, total)
	if len(missed) > 0 {
		fmt.Fprintf(w, "Missed: %s.\n", strings.Join(missed, "; "))
	}
}

// writeJSON writes the report as JSON to path.
func (r *report) writeJSON(path string) error {
	rows := make([]row, len(r.Rows))
	for i, x := range r.Rows {
		if math.IsNaN(x.Number) || math.IsInf(x.Number, 0) {
			x.Number = 0 // JSON has no NaN
		}
		rows[i] = x
	}
	out := *r
	out.Rows = rows
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (r *report) errors() int {
	n := 0
	for _, x := range r.Rows {
		if x.Result == failed {
			n++
		}
	}
	return n
}

// fmtDur formats a latency for the table: microseconds below 1 ms, ms with one decimal below 100 ms, then ms, then
// seconds with two decimals from 10 s.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtDur(-d)
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", ms(d))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", ms(d))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b float64) float64 { return b / (1 << 20) }
