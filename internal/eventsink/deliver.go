package eventsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/notify"
)

// DefaultTimeout bounds a delivery attempt when the EventSink names none (its API default is the same).
const DefaultTimeout = 10 * time.Second

// maxRetryAfter caps the wait a receiver may ask for: longer than the Dispatcher's own longest backoff is no use.
const maxRetryAfter = 10 * time.Minute

// userAgent names Conch to receivers.
const userAgent = "conch-eventsink/v1alpha1"

// NewHTTPClient returns the client deliveries use: it dials through g, ignores HTTP(S)_PROXY (a proxy would
// connect where g refuses), and follows no redirect (a redirect is an answer to report, not a second address to
// send a signed body to).
func NewHTTPClient(g *Guard) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           g.Dialer().DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Address returns the URL an EventSink delivers to: spec.url, or http://<service>.<namespace>.svc:<port><path>.
// A Service of another namespace is refused: a sink delivers its namespace's events to its namespace.
func Address(s *conchv1.EventSink) (*url.URL, error) {
	if s.Spec.URL != "" {
		u, err := url.Parse(s.Spec.URL)
		if err != nil {
			return nil, fmt.Errorf("spec.url does not parse: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return nil, errors.New("spec.url must be an absolute http or https URL")
		}
		return u, nil
	}
	svc := s.Spec.Service
	if svc.Name == "" {
		return nil, errors.New("set spec.url or spec.service")
	}
	if svc.Namespace != "" && svc.Namespace != s.Namespace {
		return nil, fmt.Errorf("spec.service.namespace is %q: a sink may only deliver to Services of its own namespace, %q", svc.Namespace, s.Namespace)
	}
	port := svc.Port
	if port == 0 {
		port = 80
	}
	path := svc.Path
	if path == "" {
		path = "/"
	}
	return url.Parse(fmt.Sprintf("http://%s.%s.svc:%d%s", svc.Name, s.Namespace, port, path))
}

// ShownURL is what status.url shows of an address: scheme, host and port, with "/…" standing for a path or query
// (the token of an incoming-webhook URL lives there). A Service's address is shown whole: it holds no secret.
func ShownURL(s *conchv1.EventSink, u *url.URL) string {
	if s.Spec.URL == "" {
		return u.String()
	}
	shown := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		shown += "/…"
	}
	return shown
}

// request is one delivery attempt, made by post.
type request struct {
	url     string
	format  conchv1.EventSinkFormat
	key     []byte // nil: not signed
	timeout time.Duration
}

// post delivers ev once and classifies the outcome (classify).
func post(ctx context.Context, hc *http.Client, r request, ev notify.Event, now time.Time) (int, error) {
	h, body, err := encode(r.format, ev)
	if err != nil {
		return 0, notify.Permanent(err)
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return 0, notify.Permanent(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", userAgent)
	sign(req.Header, r.key, ev.ID, now, body)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, transportError(err)
	}
	defer func() { _ = resp.Body.Close() }()
	// Read a little of the answer, for the error message and so that the connection can be reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, classify(resp.StatusCode, resp.Header.Get("Retry-After"), snippet, now)
}

// transportError classifies an error before any response: refused by the guard is permanent (only an
// administrator's flag changes it); anything else (refused, reset, timed out, DNS) is transient.
func transportError(err error) error {
	var ae *AddressError
	if errors.As(err, &ae) {
		return notify.Permanent(ae)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("no answer in time: %w", err)
	}
	return err
}

// classify turns a response into the Dispatcher's outcome: nil for 2xx; transient for 408, 429 and 5xx (after
// Retry-After when a 429 or 503 names one); permanent for the rest (other 4xx, and 1xx/3xx, which a webhook
// receiver does not answer).
func classify(code int, retryAfter string, body []byte, now time.Time) error {
	if code >= 200 && code < 300 {
		return nil
	}
	err := fmt.Errorf("HTTP %d", code)
	if s := bodySnippet(body); s != "" {
		err = fmt.Errorf("HTTP %d: %s", code, s)
	}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := parseRetryAfter(retryAfter, now); ok {
			return notify.RetryAfter(err, d)
		}
		return err
	case code == http.StatusRequestTimeout || code >= 500:
		return err
	default:
		return notify.Permanent(err)
	}
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date; capped at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}
