package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// requestCounter counts the HTTP requests a client sends to the API server. Wrapped around the manager's
// rest.Config (WrapTransport) it tells how many writes the controllers make: every method but GET, HEAD and
// OPTIONS is a write (GET covers get, list and watch).
type requestCounter struct {
	mu        sync.Mutex
	writes    int
	reads     int
	conflicts int            // writes answered 409 Conflict
	noops     int            // patches that change nothing (an empty merge patch, or one with only a resourceVersion)
	byKind    map[string]int // writes by "METHOD resource[/subresource]"
	// statusPatches counts status patches by object path, to find objects written more than once.
	statusPatches map[string]int
}

func newRequestCounter() *requestCounter {
	return &requestCounter{byKind: map[string]int{}, statusPatches: map[string]int{}}
}

// wrap is a rest.Config WrapTransport function.
func (c *requestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return countingTransport{next: rt, c: c}
}

type countingTransport struct {
	next http.RoundTripper
	c    *requestCounter
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	write := !isRead(req.Method)
	noop := false
	if req.Method == http.MethodPatch && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		// A RoundTripper must not modify the request: send a copy with the body it read.
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		noop = isNoopPatch(body)
	}
	t.c.mu.Lock()
	if write {
		t.c.writes++
		kind := apiResource(req.URL.Path)
		t.c.byKind[req.Method+" "+kind]++
		if noop {
			t.c.noops++
		}
		if req.Method == http.MethodPatch && strings.HasSuffix(kind, "/status") {
			t.c.statusPatches[req.URL.Path]++
		}
	} else {
		t.c.reads++
	}
	t.c.mu.Unlock()
	resp, err := t.next.RoundTrip(req)
	if write && err == nil && resp.StatusCode == http.StatusConflict {
		t.c.mu.Lock()
		t.c.conflicts++
		t.c.mu.Unlock()
	}
	return resp, err
}

// isNoopPatch reports whether a JSON merge patch changes nothing but the resourceVersion it is conditioned on.
func isNoopPatch(body []byte) bool {
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		return false
	}
	if md, ok := p["metadata"].(map[string]any); ok {
		delete(md, "resourceVersion")
		if len(md) == 0 {
			delete(p, "metadata")
		}
	}
	return len(p) == 0
}

func isRead(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// apiResource returns "resource" or "resource/subresource" of an API path such as
// /apis/conch.dev/v1alpha1/namespaces/ns/reservations/name/status.
func apiResource(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return path
	}
	if len(rest) >= 2 && rest[0] == "namespaces" && len(rest) > 2 {
		rest = rest[2:]
	}
	switch len(rest) {
	case 0:
		return path
	case 1, 2:
		return rest[0]
	default:
		return rest[0] + "/" + rest[2]
	}
}

// counts is a snapshot of a requestCounter.
type counts struct {
	Writes    int            `json:"writes"`
	Reads     int            `json:"reads"`
	Conflicts int            `json:"conflicts"`
	Noops     int            `json:"noopPatches"`
	ByKind    map[string]int `json:"byKind"`
	// Rewritten counts objects whose status was patched more than once, by resource ("reservations").
	Rewritten     map[string]int `json:"rewritten"`
	statusPatches map[string]int
}

func (c *requestCounter) snapshot() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return counts{Writes: c.writes, Reads: c.reads, Conflicts: c.conflicts, Noops: c.noops,
		ByKind: maps.Clone(c.byKind), statusPatches: maps.Clone(c.statusPatches)}
}

// sub returns what was counted between before and c.
func (c counts) sub(before counts) counts {
	out := counts{Writes: c.Writes - before.Writes, Reads: c.Reads - before.Reads,
		Conflicts: c.Conflicts - before.Conflicts, Noops: c.Noops - before.Noops,
		ByKind: map[string]int{}, Rewritten: map[string]int{}}
	for k, v := range c.ByKind {
		if d := v - before.ByKind[k]; d != 0 {
			out.ByKind[k] = d
		}
	}
	for path, v := range c.statusPatches {
		if v-before.statusPatches[path] > 1 {
			out.Rewritten[apiResource(path)]++
		}
	}
	return out
}

// writesOn returns the writes on the given resources (subresources included).
func (c counts) writesOn(resources map[string]bool) int {
	n := 0
	for k, v := range c.ByKind {
		_, kind, _ := strings.Cut(k, " ")
		base, _, _ := strings.Cut(kind, "/")
		if resources[base] {
			n += v
		}
	}
	return n
}

// events returns the Events written.
func (c counts) events() int { return c.ByKind["POST events"] + c.ByKind["PATCH events"] }

// String lists the writes by kind, most first.
func (c counts) String() string {
	keys := slices.Collect(maps.Keys(c.ByKind))
	slices.SortFunc(keys, func(a, b string) int {
		if c.ByKind[a] != c.ByKind[b] {
			return c.ByKind[b] - c.ByKind[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, c.ByKind[k]))
	}
	var re []string
	for _, k := range slices.Sorted(maps.Keys(c.Rewritten)) {
		re = append(re, fmt.Sprintf("%s %d", k, c.Rewritten[k]))
	}
	return fmt.Sprintf("%d writes (%s), %d of them no-op patches, %d conflicts; objects with status patched more than once: [%s]; %d reads",
		c.Writes, strings.Join(parts, ", "), c.Noops, c.Conflicts, strings.Join(re, ", "), c.Reads)
}
