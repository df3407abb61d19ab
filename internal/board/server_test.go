package board

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTokenAndReadOnly: with a token, a request without it (or with another) is refused before anything is read;
// with it, only GET and HEAD are served, and every answer forbids scripts and styles from elsewhere.
func TestTokenAndReadOnly(t *testing.T) {
	s, err := New(Options{Token: "s3cret"}, nil, nil) // no cache: nothing below may read one
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for name, tc := range map[string]struct {
		method, auth string
		want         int
	}{
		"no token":             {method: http.MethodGet, want: http.StatusUnauthorized},
		"another token":        {method: http.MethodGet, auth: "Bearer guess", want: http.StatusUnauthorized},
		"basic auth":           {method: http.MethodGet, auth: "Basic czNjcmV0", want: http.StatusUnauthorized},
		"a write, no token":    {method: http.MethodPost, want: http.StatusUnauthorized},
		"a write":              {method: http.MethodPost, auth: "Bearer s3cret", want: http.StatusMethodNotAllowed},
		"a delete":             {method: http.MethodDelete, auth: "Bearer s3cret", want: http.StatusMethodNotAllowed},
		"the stylesheet":       {method: http.MethodGet, auth: "Bearer s3cret", want: http.StatusOK},
		"HEAD without a token": {method: http.MethodHead, want: http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/static/board.css", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("%s with %q: %d, want %d", tc.method, tc.auth, rec.Code, tc.want)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/events?page=https://example.com/", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("the stream without a token: %d", rec.Code)
	}
}

// TestEventsRefusesOtherSites: the live stream renders only pages of the board.
func TestEventsRefusesOtherSites(t *testing.T) {
	s, err := New(Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"https://example.com/", "//example.com/x", "relative"} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/events?page="+page, nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("?page=%s: %d, want 400", page, rec.Code)
		}
	}
}
