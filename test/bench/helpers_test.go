package main

import (
	"strings"
	"testing"
	"time"
)

func TestAPIResource(t *testing.T) {
	cases := map[string]string{
		"/apis/conch.dev/v1alpha1/namespaces/ns/reservations/r1/status": "reservations/status",
		"/apis/conch.dev/v1alpha1/namespaces/ns/reservations/r1":        "reservations",
		"/apis/conch.dev/v1alpha1/namespaces/ns/reservations":           "reservations",
		"/apis/events.k8s.io/v1/namespaces/ns/events":                   "events",
		"/api/v1/namespaces/ns":                                         "namespaces",
		"/api/v1/namespaces":                                            "namespaces",
		"/healthz":                                                      "/healthz",
	}
	for path, want := range cases {
		if got := apiResource(path); got != want {
			t.Errorf("apiResource(%q) = %q; want %q", path, got, want)
		}
	}
}

func TestIsNoopPatch(t *testing.T) {
	cases := map[string]bool{
		`{}`:                                    true,
		`{"metadata":{"resourceVersion":"42"}}`: true,
		`{"metadata":{"resourceVersion":"42"},"status":{"waiting":1}}`: false,
		`{"metadata":{"finalizers":["conch.dev/release"]}}`:            false,
		`{"status":{"nextRelease":"2026-11-23T10:00:00Z"}}`:            false,
		`[{"op":"replace","path":"/status/waiting","value":1}]`:        false, // a JSON patch, not a merge patch
		`not json`: false,
	}
	for body, want := range cases {
		if got := isNoopPatch([]byte(body)); got != want {
			t.Errorf("isNoopPatch(%s) = %v; want %v", body, got, want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 71
process_resident_memory_bytes 1.79253248e+08
workqueue_depth{controller="resource",name="resource"} 0
workqueue_depth{controller="reservation",name="reservation"} 3
controller_runtime_reconcile_total{controller="resource",result="success"} 1000
controller_runtime_reconcile_total{controller="resource",result="error"} 2
weird{label="has spaces } inside"} 7
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if m["go_goroutines"] != 71 || m["process_resident_memory_bytes"] != 179253248 {
		t.Errorf("unlabelled samples: %v", m)
	}
	if got := sumSeries(m, "workqueue_depth"); got != 3 {
		t.Errorf("workqueue_depth sum = %v; want 3", got)
	}
	if got := sumSeries(m, "controller_runtime_reconcile_total", `controller="resource"`); got != 1002 {
		t.Errorf("resource reconciles = %v; want 1002", got)
	}
	if got := sumSeries(m, "weird"); got != 7 {
		t.Errorf("a label value with a brace and spaces: %v; want 7", got)
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q; want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		500 * time.Microsecond:   "500 µs",
		12340 * time.Microsecond: "12.3 ms",
		250 * time.Millisecond:   "250 ms",
		12345 * time.Millisecond: "12.35 s",
		-3 * time.Millisecond:    "-3.0 ms",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q; want %q", d, got, want)
		}
	}
}
