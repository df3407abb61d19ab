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
	if got := m[`workqueue_depth{controller="reservation",name="reservation"}`]; got != 3 {
		t.Errorf("a labelled sample = %v; want 3", got)
	}
	if got := m[`controller_runtime_reconcile_total{controller="resource",result="error"}`]; got != 2 {
		t.Errorf("a labelled counter = %v; want 2", got)
	}
	if got := m[`weird{label="has spaces } inside"}`]; got != 7 {
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

func TestParseLabels(t *testing.T) {
	got := parseLabels(`code="200",component="apiserver",group="conch.dev",resource="reservations",subresource="status",verb="PATCH"}`)
	want := map[string]string{"code": "200", "component": "apiserver", "group": "conch.dev", "resource": "reservations",
		"subresource": "status", "verb": "PATCH"}
	if len(got) != len(want) {
		t.Fatalf("parseLabels = %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q; want %q", k, got[k], v)
		}
	}
	if got := parseLabels(`subresource="",verb="GET"}`); got["subresource"] != "" || got["verb"] != "GET" {
		t.Errorf("an empty value: %v", got)
	}
}

func TestWritesOn(t *testing.T) {
	c := counts{ByKind: map[string]int{"POST reservations": 5, "PATCH reservations/status": 2, "POST namespaces": 1, "POST events": 3}}
	if got := c.writesOn(conchKinds); got != 10 {
		t.Errorf("writesOn = %d; want 10 (namespaces are not Conch's)", got)
	}
}

func TestGrantsPerSec(t *testing.T) {
	// The field notes' figures: creates 1,096/s and status patches 417/s from 16 clients allow about 175 grants/s.
	if got := grantsPerSec(1096, 417, 417); got < 174 || got > 176 {
		t.Errorf("grantsPerSec = %.1f; want about 175", got)
	}
	if got := grantsPerSec(0, 417, 417); got != 0 {
		t.Errorf("without a create rate: %v; want 0", got)
	}
}
