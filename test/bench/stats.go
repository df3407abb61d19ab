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
