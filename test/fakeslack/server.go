// Package fakeslack is an in-process Slack for tests of code that uses the real slack-go client.
//
// It serves the Web API methods Conch calls (file uploads included: see files.go), the response URLs of slash commands and button clicks, and a
// socket-mode websocket that speaks the protocol slack-go's socketmode client expects: a hello on connect,
// websocket pings (without which the client drops the socket), envelopes, acks and disconnect requests. It
// records every call, message and ack for assertions, and can fail or rate-limit chosen calls.
//
// slack-go's own slacktest is not enough for socket mode: it sends no hello and no pings, blocks on unread
// acks, and lacks views.* and conversations.open.
//
// Wire a client to it the way production code does:
//
//	s := fakeslack.New(t)
//	api := slack.New(s.BotToken(), slack.OptionAPIURL(s.URL()), slack.OptionAppLevelToken(s.AppToken()))
//	sm := socketmode.New(api)
package fakeslack

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults for the identities the fake answers with; the options override them.
const (
	DefaultBotToken     = "xoxb-fakeslack-bot-token"
	DefaultAppToken     = "xapp-fakeslack-app-token"
	DefaultAppID        = "AFAKEAPP01"
	DefaultTeamID       = "TFAKETEAM1"
	DefaultTeamDomain   = "fakeslack"
	DefaultBotUserID    = "UFAKEBOT01"
	DefaultBotID        = "BFAKEBOT01"
	DefaultPingInterval = 5 * time.Second
	// DefaultTriggerTTL is how long Slack lets an app use a trigger_id for views.open.
	DefaultTriggerTTL = 3 * time.Second
	// verificationToken is the deprecated per-app token Slack still puts in payloads.
	verificationToken = "fakeslack-verification-token"
)

// Option changes how a Server is set up.
type Option func(*config)

type config struct {
	botToken, appToken string
	appID              string
	teamID, teamDomain string
	botUserID, botID   string
	pingInterval       time.Duration
	triggerTTL         time.Duration
}

// WithBotToken sets the bot token (xoxb-) the Web API methods accept.
func WithBotToken(token string) Option { return func(c *config) { c.botToken = token } }

// WithAppToken sets the app-level token (xapp-) apps.connections.open accepts.
func WithAppToken(token string) Option { return func(c *config) { c.appToken = token } }

// WithAppID sets the app ID sent in hello and in payloads.
func WithAppID(id string) Option { return func(c *config) { c.appID = id } }

// WithTeam sets the workspace ID and domain sent in payloads and by auth.test.
func WithTeam(id, domain string) Option {
	return func(c *config) { c.teamID, c.teamDomain = id, domain }
}

// WithPingInterval sets how often the fake pings each socket (default 5 s). slack-go's client reconnects when it
// gets no ping within its own interval (OptionPingInterval, 30 s by default), so tests that shorten the client's
// interval shorten this one too. Zero or less turns pings off, to test what the client does without them.
func WithPingInterval(d time.Duration) Option { return func(c *config) { c.pingInterval = d } }

// WithTriggerTTL sets how long a trigger_id stays valid for views.open (default 3 s, as on Slack). Zero or less
// never expires them.
func WithTriggerTTL(d time.Duration) Option { return func(c *config) { c.triggerTTL = d } }

// Server is a fake Slack workspace with one app installed. All its methods are safe for concurrent use.
type Server struct {
	t     testing.TB
	cfg   config
	http  *httptest.Server
	start time.Time

	// wg counts the socket handlers: httptest does not wait for hijacked connections.
	wg sync.WaitGroup

	mu     sync.Mutex
	closed bool
	seq    int
	lastTS int64 // microseconds of the last ts handed out, so that every ts is unique and increasing

	calls    []Call
	messages []Message
	current  map[msgKey]Message // messages that still exist, by channel and ts, after updates and deletes
	users    map[string]User
	groups   map[string][]string
	faults   map[string][]fault
	// limitedUntil rate-limits every call of a method until a time; refused fails calls that name a user or
	// channel, by method and parameter value.
	limitedUntil map[string]limitWindow
	refused      map[string]map[string]string
	ims          map[string]bool
	triggers     map[string]*trigger
	replies      map[string]*responseURL
	views        map[string]*view
	viewIDs      []string          // creation order
	homes        map[string]string // user ID → view ID of the published home tab
	tickets      map[string]bool
	files        map[string]*pendingFile // by file ID, until files.completeUploadExternal
	uploads      []Upload

	envelopes   map[string]*envelope
	pending     []*frame // envelopes waiting for a connection
	cur         *conn    // the connection new envelopes go to; nil while none is up
	conns       map[*conn]struct{}
	connections int
	acks        []Ack
	pongs       int
}

// New starts a fake Slack on 127.0.0.1 and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{
		botToken: DefaultBotToken, appToken: DefaultAppToken, appID: DefaultAppID,
		teamID: DefaultTeamID, teamDomain: DefaultTeamDomain,
		botUserID: DefaultBotUserID, botID: DefaultBotID,
		pingInterval: DefaultPingInterval, triggerTTL: DefaultTriggerTTL,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		t: t, cfg: cfg, start: time.Now(),
		current: map[msgKey]Message{}, users: map[string]User{}, groups: map[string][]string{},
		faults: map[string][]fault{}, limitedUntil: map[string]limitWindow{}, refused: map[string]map[string]string{}, ims: map[string]bool{}, triggers: map[string]*trigger{},
		replies: map[string]*responseURL{}, views: map[string]*view{}, homes: map[string]string{},
		tickets: map[string]bool{}, files: map[string]*pendingFile{}, envelopes: map[string]*envelope{}, conns: map[*conn]struct{}{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.handleAPI)
	mux.HandleFunc("/response/", s.handleResponseURL)
	mux.HandleFunc("/link/", s.handleSocket)
	mux.HandleFunc("/upload/", s.handleUpload)
	s.http = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// URL is the Web API base URL to pass to slack.OptionAPIURL; it ends with "/" as slack-go requires.
func (s *Server) URL() string { return s.http.URL + "/api/" }

// BotToken is the token the Web API methods accept.
func (s *Server) BotToken() string { return s.cfg.botToken }

// AppToken is the app-level token apps.connections.open accepts.
func (s *Server) AppToken() string { return s.cfg.appToken }

// AppID is the ID of the fake's app.
func (s *Server) AppID() string { return s.cfg.appID }

// TeamID is the ID of the fake's workspace.
func (s *Server) TeamID() string { return s.cfg.teamID }

// BotUserID is the user ID of the app's bot, as auth.test reports it.
func (s *Server) BotUserID() string { return s.cfg.botUserID }

// Close drops every socket and stops the server. It is safe to call more than once; New registers it with
// t.Cleanup. Clients still running afterwards see connection errors and keep retrying until their context ends.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.cur = nil
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, c := range conns {
		c.stop()
		_ = c.ws.Close()
	}
	s.wg.Wait()
	s.http.Close()
}

// nextIDLocked returns a new ID: prefix and a counter, unique within this server.
func (s *Server) nextIDLocked(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%07X", prefix, s.seq)
}

// nextTSLocked returns a new message timestamp in Slack's "seconds.micros" form, unique and increasing.
func (s *Server) nextTSLocked() string {
	us := max(time.Now().UnixMicro(), s.lastTS+1)
	s.lastTS = us
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// dmChannel is the ID of the direct-message channel between the bot and a user.
func dmChannel(userID string) string { return "D" + userID }

// isUserID reports whether a channel argument is in fact a user ID, which Slack turns into the DM with that user.
func isUserID(id string) bool { return strings.HasPrefix(id, "U") || strings.HasPrefix(id, "W") }
