package main

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p ≤ 100) of samples by the nearest-rank method: the smallest sample
// such that at least p % of the samples are less than or equal to it. It sorts a copy, so samples keep their order.
// With no samples it returns 0 and false.
func Percentile(samples []time.Duration, p float64) (time.Duration, bool) {
	if len(samples) == 0 || p <= 0 || p > 100 {
		return 0, false
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	return sorted[nearestRank(len(sorted), p)-1], true
}

// nearestRank is the 1-based rank of the p-th percentile among n sorted samples: ceil(p/100 × n), at least 1.
func nearestRank(n int, p float64) int {
	// Rounding p/100×n first keeps floating-point noise (99/100×100 = 99.00000000000001) from bumping the rank.
	r := int(math.Ceil(math.Round(p/100*float64(n)*1e9) / 1e9))
	return min(max(r, 1), n)
}

// Summary describes a set of latencies.
type Summary struct {
	N                       int
	Min, P50, P90, P99, Max time.Duration
	Mean                    time.Duration
}

// Summarize computes a Summary of samples by the nearest-rank method; the zero Summary when there are none.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var sum time.Duration
	for _, s := range sorted {
		sum += s
	}
	at := func(p float64) time.Duration { return sorted[nearestRank(len(sorted), p)-1] }
	return Summary{
		N:   len(sorted),
		Min: sorted[0], P50: at(50), P90: at(90), P99: at(99), Max: sorted[len(sorted)-1],
		Mean: sum / time.Duration(len(sorted)),
	}
}

// linearMax is the largest exponent still called linear: measurements on a shared machine are noisy.
const linearMax = 1.2

// growth says how a cost grew from v0 at size n0 to v1 at size n1: the exponent k of cost ∝ size^k, and a word
// for it (flat, sublinear, linear, worse than linear). A cost that starts at zero and grows is worse than linear
// (k is +Inf); one that is zero at both sizes is flat. NaN for an unknown cost.
func growth(n0, n1 int, v0, v1 float64) (float64, string) {
	switch {
	case math.IsNaN(v0) || math.IsNaN(v1) || n0 <= 0 || n1 <= n0:
		return math.NaN(), "unknown"
	case v0 <= 0 && v1 <= 0:
		return 0, "flat"
	case v0 <= 0:
		return math.Inf(1), "worse than linear"
	case v1 <= 0:
		return math.Inf(-1), "flat"
	}
	k := math.Log(v1/v0) / math.Log(float64(n1)/float64(n0))
	switch {
	case k < 0.2:
		return k, "flat"
	case k < 0.8:
		return k, "sublinear"
	case k <= linearMax:
		return k, "linear"
	default:
		return k, "worse than linear"
	}
}
