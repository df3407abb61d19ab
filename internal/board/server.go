// Package board serves Conch's web board: a read-only view of the Resources, their holders and queues, a
// timeline of each Resource's holds and the contention over the last weeks. Pages are rendered on the server
// from the manager's cache (and the history of ended holds) and work without JavaScript; with it, a page listens
// to server-sent events and swaps in the fragment the server renders again after each change in the cache. The
// board never writes, never reads Secrets, and costs the API server nothing per viewer: Resources and
// Reservations come from the cache, histories through a short-lived shared cache of reads.
package board

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/history"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Defaults of Options.
const (
	// DefaultCoalesce is how long the board gathers changes of the cache before pages re-render: a burst of
	// grants costs one render per viewer, and a change shows within a second.
	DefaultCoalesce = 200 * time.Millisecond
	// DefaultHistoryTTL is how long a Resource's history, once read, is reused for every viewer.
	DefaultHistoryTTL = 15 * time.Second
	// MaxStreams bounds the live pages served at once; more are refused (they still load, without updates).
	MaxStreams = 256
	// keepAlive is how often an idle live page gets a comment (so that proxies keep the stream open) and a fresh
	// render (times such as "in 5m", and the history, move without a change in the cache).
	keepAlive = 15 * time.Second
)

// Options configure the board.
type Options struct {
	// Addr is the address to listen on, such as ":8082".
	Addr string
	// Namespaces limits the board to these namespaces; empty shows every namespace the manager's cache holds.
	Namespaces []string
	// Token, when set, is the bearer token every request must carry (Authorization: Bearer <token>).
	Token string
	// Clock tells the time; the real clock when nil.
	Clock clock.WithTicker
	// Coalesce is DefaultCoalesce when zero.
	Coalesce time.Duration
	// HistoryTTL is DefaultHistoryTTL when zero.
	HistoryTTL time.Duration
}

// Server is the board: a manager Runnable that every replica runs (it needs no leadership: it only reads).
type Server struct {
	opts    Options
	cache   cache.Cache
	history history.Reader
	log     logr.Logger
	pages   *pages
	changes *notifier
	streams atomic.Int32
}

var (
	_ manager.Runnable               = (*Server)(nil)
	_ manager.LeaderElectionRunnable = (*Server)(nil)
)

// New returns a board over the manager's cache c, reading histories with apiReader (through a shared cache).
func New(opts Options, c cache.Cache, apiReader client.Reader) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Coalesce <= 0 {
		opts.Coalesce = DefaultCoalesce
	}
	if opts.HistoryTTL <= 0 {
		opts.HistoryTTL = DefaultHistoryTTL
	}
	p, err := newPages()
	if err != nil {
		return nil, err
	}
	return &Server{
		opts:    opts,
		cache:   c,
		history: &history.CachedReader{Reader: history.ConfigMaps{Client: apiReader}, TTL: opts.HistoryTTL, Clock: opts.Clock},
		pages:   p,
		changes: newNotifier(),
	}, nil
}

// NeedLeaderElection is false: every replica serves the board from its own cache.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves the board until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	s.log = ctrl.LoggerFrom(ctx).WithName("board")
	for _, obj := range []client.Object{&conchv1.Resource{}, &conchv1.Reservation{}} {
		inf, err := s.cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("board: watching %T: %w", obj, err)
		}
		reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { s.changes.poke() },
			UpdateFunc: func(any, any) { s.changes.poke() },
			DeleteFunc: func(any) { s.changes.poke() },
		})
		if err != nil {
			return fmt.Errorf("board: watching %T: %w", obj, err)
		}
		defer func() { _ = inf.RemoveEventHandler(reg) }()
	}
	go s.changes.run(ctx, s.opts.Clock, s.opts.Coalesce)

	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.log.Info("Serving the board", "address", ln.Addr().String(), "namespaces", s.opts.Namespaces, "token", s.opts.Token != "")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("board: %w", err)
	}
}

// Handler is the board's HTTP handler: the pages, the live stream and the static assets, GET and HEAD only.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.FS(static))))
	mux.HandleFunc("GET /events", s.serveEvents)
	mux.HandleFunc("GET /", s.servePage)
	return s.secure(mux)
}

// secure adds the headers every answer gets and checks the token.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if s.opts.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.opts.Token)) != 1 {
				h.Set("WWW-Authenticate", `Bearer realm="conch"`)
				http.Error(w, "This board needs a bearer token (Authorization: Bearer ...).", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// servePage renders a whole page.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	v, status := s.view(r.Context(), r.URL)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if err := s.pages.page(w, v); err != nil {
		s.log.Error(err, "Rendering a page", "path", r.URL.Path)
	}
}

// serveEvents streams the content of the page named by ?page= as server-sent events: one "fragment" event with
// the page's main content each time it changes.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	target, err := url.Parse(r.URL.Query().Get("page"))
	if err != nil || !strings.HasPrefix(target.Path, "/") || target.Host != "" || target.Scheme != "" {
		http.Error(w, "?page= must be a path of this board", http.StatusBadRequest)
		return
	}
	if s.streams.Add(1) > MaxStreams {
		s.streams.Add(-1)
		http.Error(w, "too many live pages: reload to see the latest", http.StatusServiceUnavailable)
		return
	}
	defer s.streams.Add(-1)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	ctx := r.Context()
	// A client that reconnects waits 2 s; a first message now tells it the stream is open.
	if _, err := fmt.Fprint(w, "retry: 2000\n: open\n\n"); err != nil {
		return
	}
	flusher.Flush()
	tick := s.opts.Clock.NewTicker(keepAlive)
	defer tick.Stop()
	var last string
	for {
		changed := s.changes.wait() // taken before the render, so that no change between the two is missed
		v, _ := s.view(ctx, target)
		var b strings.Builder
		if err := s.pages.fragment(&b, v); err != nil {
			s.log.Error(err, "Rendering a fragment", "page", target.String())
			return
		}
		msg := ": alive\n\n"
		if frag := b.String(); frag != last {
			last = frag
			msg = sseEvent("fragment", frag)
		}
		if _, err := fmt.Fprint(w, msg); err != nil {
			return
		}
		flusher.Flush()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C():
		}
	}
}

// sseEvent formats one server-sent event: each line of data on its own data: line.
func sseEvent(event, data string) string {
	var b strings.Builder
	b.WriteString("event: " + event + "\n")
	for line := range strings.SplitSeq(strings.ReplaceAll(data, "\r", ""), "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// allowed reports whether the board shows namespace ns.
func (s *Server) allowed(ns string) bool {
	return len(s.opts.Namespaces) == 0 || slices.Contains(s.opts.Namespaces, ns)
}

// notifier tells every live page that the cache changed, at most once per coalescing window.
type notifier struct {
	pokes chan struct{}
	mu    sync.Mutex
	ch    chan struct{} // closed on the next broadcast
}

func newNotifier() *notifier {
	return &notifier{pokes: make(chan struct{}, 1), ch: make(chan struct{})}
}

// poke notes a change; it never blocks (informer handlers call it).
func (n *notifier) poke() {
	select {
	case n.pokes <- struct{}{}:
	default:
	}
}

// wait returns a channel closed at the next broadcast.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

// run broadcasts a window after the first poke of each burst, until ctx ends.
func (n *notifier) run(ctx context.Context, clk clock.WithTicker, window time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.pokes:
		}
		select {
		case <-ctx.Done():
			return
		case <-clk.After(window):
		}
		n.mu.Lock()
		close(n.ch)
		n.ch = make(chan struct{})
		n.mu.Unlock()
	}
}
