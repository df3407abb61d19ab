package main

import (
	"math"
	"testing"
	"time"
)

func millis(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, v := range n {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100, 99, ..., 1: unsorted on purpose
	}
	cases := map[string]struct {
		samples []time.Duration
		p       float64
		want    time.Duration
		ok      bool
	}{
		"no samples":                              {samples: nil, p: 50, ok: false},
		"p out of range (0)":                      {samples: millis(1, 2), p: 0, ok: false},
		"p out of range (above 100)":              {samples: millis(1, 2), p: 101, ok: false},
		"one sample is every quantile":            {samples: millis(7), p: 99, want: 7 * time.Millisecond, ok: true},
		"median of an odd count":                  {samples: millis(5, 1, 3), p: 50, want: 3 * time.Millisecond, ok: true},
		"median of an even count takes the lower": {samples: millis(4, 1, 3, 2), p: 50, want: 2 * time.Millisecond, ok: true},
		"p100 is the max":                         {samples: millis(4, 9, 1), p: 100, want: 9 * time.Millisecond, ok: true},
		"p99 of 100 is the 99th":                  {samples: millis(hundred...), p: 99, want: 99 * time.Millisecond, ok: true},
		"p90 of 100 is the 90th":                  {samples: millis(hundred...), p: 90, want: 90 * time.Millisecond, ok: true},
		"p99 of 10 is the max (nearest rank)":     {samples: millis(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 99, want: 10 * time.Millisecond, ok: true},
		"p1 of 100 is the min":                    {samples: millis(hundred...), p: 1, want: 1 * time.Millisecond, ok: true},
		"tiny p still takes the first sample":     {samples: millis(3, 2, 1), p: 0.001, want: 1 * time.Millisecond, ok: true},
		"negative latencies (early) sort first":   {samples: millis(-5, 10, 0), p: 1, want: -5 * time.Millisecond, ok: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := Percentile(tc.samples, tc.p)
			if ok != tc.ok || got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, %v; want %v, %v", tc.samples, tc.p, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestPercentileKeepsSampleOrder(t *testing.T) {
	s := millis(3, 1, 2)
	if _, ok := Percentile(s, 50); !ok {
		t.Fatal("no percentile")
	}
	if s[0] != 3*time.Millisecond || s[1] != time.Millisecond {
		t.Errorf("samples were reordered: %v", s)
	}
}

func TestSummarize(t *testing.T) {
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	cases := map[string]struct {
		samples []time.Duration
		want    Summary
	}{
		"empty": {samples: nil, want: Summary{}},
		"1..100 ms": {samples: millis(hundred...), want: Summary{
			N: 100, Min: 1 * time.Millisecond, P50: 50 * time.Millisecond, P90: 90 * time.Millisecond,
			P99: 99 * time.Millisecond, Max: 100 * time.Millisecond, Mean: 50500 * time.Microsecond,
		}},
		"one outlier shows in max and p99 of few": {samples: millis(1, 1, 1, 1000), want: Summary{
			N: 4, Min: time.Millisecond, P50: time.Millisecond, P90: time.Second, P99: time.Second, Max: time.Second,
			Mean: 250750 * time.Microsecond,
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Summarize(tc.samples); got != tc.want {
				t.Errorf("Summarize = %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestNearestRank(t *testing.T) {
	cases := map[string]struct {
		n    int
		p    float64
		want int
	}{
		"p50 of 4":                         {4, 50, 2},
		"p99 of 100 (no float noise)":      {100, 99, 99},
		"p99 of 1000":                      {1000, 99, 990},
		"p99.9 of 1000":                    {1000, 99.9, 999},
		"p90 of 7 rounds up":               {7, 90, 7},
		"p100 of 5 is the last":            {5, 100, 5},
		"never below the first of several": {5, 0.0001, 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := nearestRank(tc.n, tc.p); got != tc.want {
				t.Errorf("nearestRank(%d, %v) = %d; want %d", tc.n, tc.p, got, tc.want)
			}
		})
	}
}

func TestGrowth(t *testing.T) {
	cases := map[string]struct {
		n0, n1 int
		v0, v1 float64
		word   string
	}{
		"the same cost is flat":                      {1000, 10000, 20, 20, "flat"},
		"ten times for ten times the size is linear": {1000, 10000, 5, 50, "linear"},
		"three times for three times is linear":      {10000, 30000, 30, 90, "linear"},
		"square root is sublinear":                   {1000, 10000, 10, 31.6, "sublinear"},
		"a hundred times for ten is worse":           {1000, 10000, 1, 100, "worse than linear"},
		"less is flat":                               {1000, 10000, 50, 40, "flat"},
		"zero to zero is flat":                       {1000, 10000, 0, 0, "flat"},
		"from zero is worse":                         {1000, 10000, 0, 1, "worse than linear"},
		"unknown":                                    {1000, 10000, math.NaN(), 1, "unknown"},
	}
	for name, c := range cases {
		if _, word := growth(c.n0, c.n1, c.v0, c.v1); word != c.word {
			t.Errorf("%s: growth = %q; want %q", name, word, c.word)
		}
	}
	if k, _ := growth(1000, 10000, 5, 50); math.Abs(k-1) > 1e-9 {
		t.Errorf("exponent of linear growth = %v; want 1", k)
	}
}
