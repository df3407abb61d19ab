package fakeslack

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Call is one request to a Web API method or a response URL, as the fake received it.
type Call struct {
	// Method is the Web API method ("chat.postMessage"), or "response_url" for a POST to a response URL.
	Method string
	Time   time.Time
	// Params holds the form fields, or the top-level fields of a JSON body (strings as they are, anything else
	// as compact JSON). The token is left out.
	Params url.Values
	// Body is the JSON body, for methods slack-go calls with one (views.*, apps.connections.open, response URLs).
	Body json.RawMessage
	// Channel, User, Text, ThreadTS and TS copy the parameters of those names.
	Channel, User, Text, ThreadTS, TS string
	// Blocks is the decoded "blocks" parameter, or the blocks of the "view" of views.* calls.
	Blocks json.RawMessage
	// Error is the error code the fake answered with ("ratelimited" for an HTTP 429); empty on success.
	Error string
}

// Message is a message the app posted, updated, or sent through a response URL. Messages returns them in order.
type Message struct {
	// Method is chat.postMessage, chat.postEphemeral, chat.update or response_url.
	Method  string
	Channel string
	// User is who sees an ephemeral message (chat.postEphemeral, or the user behind a response URL).
	User string
	// TS is the message's timestamp; for chat.update and replace_original, that of the message replaced.
	TS       string
	ThreadTS string
	Text     string
	// Blocks is the message's blocks as JSON, nil without blocks.
	Blocks    json.RawMessage
	Ephemeral bool
	// ResponseType, ReplaceOriginal and DeleteOriginal are those of a response URL post.
	ResponseType    string
	ReplaceOriginal bool
	DeleteOriginal  bool
	// RespondingTo is the user whose command or click a response URL post answers, whoever sees it.
	RespondingTo string
	Time         time.Time
}

// textKeys are the JSON keys whose string values BlockTexts returns.
var textKeys = map[string]bool{"text": true, "action_id": true, "value": true, "alt_text": true}

// BlockTexts returns, in document order, every string in the blocks under the keys text, action_id, value and
// alt_text: section and button texts, action IDs and button values.
func (m Message) BlockTexts() []string {
	if len(m.Blocks) == 0 {
		return nil
	}
	var out []string
	dec := json.NewDecoder(bytes.NewReader(m.Blocks))
	var walk func(key string) error
	walk = func(key string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			for dec.More() {
				k := key
				if v == '{' {
					kt, err := dec.Token()
					if err != nil {
						return err
					}
					k, _ = kt.(string)
				}
				if err := walk(k); err != nil {
					return err
				}
			}
			_, err = dec.Token() // the closing delimiter
			return err
		case string:
			if textKeys[key] {
				out = append(out, v)
			}
		}
		return nil
	}
	_ = walk("") // blocks that fail to parse yield what was read before the error
	return out
}

// AllText is the message's text followed by its BlockTexts, one per line: what a test greps for.
func (m Message) AllText() string {
	return strings.Join(append([]string{m.Text}, m.BlockTexts()...), "\n")
}

// Button is a button in a message's blocks.
type Button struct {
	BlockID, ActionID, Value, Text, Style, URL string
}

// Buttons returns the buttons of the message's blocks, in order.
func (m Message) Buttons() []Button {
	var blocks []any
	if json.Unmarshal(m.Blocks, &blocks) != nil {
		return nil
	}
	var out []Button
	var walk func(v any, blockID string)
	walk = func(v any, blockID string) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e, blockID)
			}
		case map[string]any:
			if id, ok := v["block_id"].(string); ok {
				blockID = id
			}
			if v["type"] == "button" {
				b := Button{BlockID: blockID}
				b.ActionID, _ = v["action_id"].(string)
				b.Value, _ = v["value"].(string)
				b.Style, _ = v["style"].(string)
				b.URL, _ = v["url"].(string)
				if t, ok := v["text"].(map[string]any); ok {
					b.Text, _ = t["text"].(string)
				}
				out = append(out, b)
				return
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k], blockID)
			}
		}
	}
	walk(blocks, "")
	return out
}

// Click returns the click of userID on the button with actionID in this message, for Server.ClickButton.
func (m Message) Click(userID, actionID string) (Click, bool) {
	for _, b := range m.Buttons() {
		if b.ActionID == actionID {
			return Click{
				UserID: userID, ChannelID: m.Channel, MessageTS: m.TS, Ephemeral: m.Ephemeral,
				ActionID: b.ActionID, BlockID: b.BlockID, Value: b.Value, Text: b.Text,
			}, true
		}
	}
	return Click{}, false
}

// Ack is an acknowledgement the app sent over the socket.
type Ack struct {
	EnvelopeID string
	// Payload is the ack's payload as sent (an immediate response to a slash command, a view_submission
	// response_action), nil when the ack had none.
	Payload json.RawMessage
	// Raw is the whole websocket message.
	Raw        json.RawMessage
	ReceivedAt time.Time
	// Known is false for an ack of an envelope the fake never sent.
	Known bool
	// RetryAttempt is the retry_attempt of the last delivery sent before this ack.
	RetryAttempt int
	// Latency is the time from writing that delivery to the socket to receiving the ack. Slack wants it under 3 s.
	Latency time.Duration
	// Connection is the number (1, 2, …) of the connection the ack came on.
	Connection int
}

// Envelope is a socket-mode envelope the fake sent, with each time it went out.
type Envelope struct {
	ID                     string
	Type                   string // slash_commands, interactive or events_api
	Payload                json.RawMessage
	AcceptsResponsePayload bool
	Deliveries             []Delivery
}

// Delivery is one sending of an envelope: the first, or a Redeliver.
type Delivery struct {
	RetryAttempt int
	RetryReason  string
	// Queued is true when no client was connected at the time: the envelope waited for the next connection.
	Queued bool
	// SentAt is when it was written to a socket; zero while it waits.
	SentAt time.Time
	// Connection is the number of the connection that carried it; zero while it waits.
	Connection int
}

// User is a member of the fake workspace, as users.info and users.lookupByEmail return it.
type User struct {
	ID, Name              string
	RealName, DisplayName string
	Email                 string
	// TZ is the IANA name ("Europe/Paris"), TZLabel its description, TZOffset seconds east of UTC.
	TZ, TZLabel    string
	TZOffset       int
	IsBot, Deleted bool
}

// View is a modal or home tab the app opened, updated or published, in its current state.
type View struct {
	ID         string
	Type       string // modal or home
	UserID     string // who sees it: the user of the trigger, or of views.publish
	CallbackID string
	// PrivateMetadata and ExternalID are the app's, as last sent.
	PrivateMetadata string
	ExternalID      string
	Hash            string
	Blocks          json.RawMessage
	// Raw is the view object as the app last sent it.
	Raw json.RawMessage
	// Updates counts the views.update (or repeated views.publish) calls that changed it.
	Updates int
}

type msgKey struct{ channel, ts string }

type fault struct {
	code       string
	rateLimit  bool
	retryAfter time.Duration
}

// FailNext makes the next n calls of method answer {"ok":false,"error":errorCode}. method is a Web API method
// name, "response_url" (which answers HTTP 404, as Slack does for a used or expired URL) or "upload_url" (a POST
// of a file's bytes, which answers HTTP 500). Faults of a method
// are used in the order they were set.
func (s *Server) FailNext(method string, n int, errorCode string) {
	s.addFaults(method, n, fault{code: errorCode})
}

// RateLimitNext makes the next n calls of method answer HTTP 429 with a Retry-After of retryAfter, rounded up to
// whole seconds; slack-go returns *slack.RateLimitedError.
func (s *Server) RateLimitNext(method string, n int, retryAfter time.Duration) {
	s.addFaults(method, n, fault{code: "ratelimited", rateLimit: true, retryAfter: retryAfter})
}

func (s *Server) addFaults(method string, n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], f)
	}
}

type limitWindow struct {
	until      time.Time
	retryAfter time.Duration
}

// RateLimitFor makes every call of method answer HTTP 429 with a Retry-After of retryAfter for the next d, as
// Slack does to an app that keeps posting too fast.
func (s *Server) RateLimitFor(method string, d, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitedUntil[method] = limitWindow{until: time.Now().Add(d), retryAfter: retryAfter}
}

// Refuse makes every call of method whose parameter param is value answer {"ok":false,"error":errorCode}, for
// good: a user who left ("users", "user_not_found"), a channel the bot is not in ("channel", "not_in_channel").
func (s *Server) Refuse(method, param, value, errorCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused[method] == nil {
		s.refused[method] = map[string]string{}
	}
	s.refused[method][param+"="+value] = errorCode
}

// takeFaultLocked removes and returns the next fault set for method, or the standing one that applies to c.
func (s *Server) takeFaultLocked(method string, c *Call) (fault, bool) {
	if w, ok := s.limitedUntil[method]; ok && time.Now().Before(w.until) {
		return fault{code: "ratelimited", rateLimit: true, retryAfter: w.retryAfter}, true
	}
	if c != nil {
		for pv, code := range s.refused[method] {
			param, value, _ := strings.Cut(pv, "=")
			if c.Params.Get(param) == value || (param == "channel" && c.Channel == value) {
				return fault{code: code}, true
			}
		}
	}
	q := s.faults[method]
	if len(q) == 0 {
		return fault{}, false
	}
	s.faults[method] = q[1:]
	return q[0], true
}

// AddUser adds or replaces a member of the workspace.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// AddUserGroup adds or replaces a user group (subteam) and its members, for usergroups.users.list.
func (s *Server) AddUserGroup(id string, userIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = slices.Clone(userIDs)
}

// Calls returns the calls of method so far, oldest first; all calls when method is "".
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			c.Params = cloneValues(c.Params)
			c.Body = bytes.Clone(c.Body)
			c.Blocks = bytes.Clone(c.Blocks)
			out = append(out, c)
		}
	}
	return out
}

// Messages returns the messages posted, updated or sent through response URLs so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.Blocks = bytes.Clone(m.Blocks)
		out[i] = m
	}
	return out
}

// Lookup returns a message as it stands now, after updates, by channel and ts; false if it was never posted or
// was deleted. Ephemeral messages are not kept: like Slack, the fake cannot update them with chat.update.
func (s *Server) Lookup(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.current[msgKey{channel, ts}]
	m.Blocks = bytes.Clone(m.Blocks)
	return m, ok
}

// Acks returns the acks received so far, oldest first.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ack, len(s.acks))
	for i, a := range s.acks {
		a.Payload, a.Raw = bytes.Clone(a.Payload), bytes.Clone(a.Raw)
		out[i] = a
	}
	return out
}

// AckFor returns the first ack of an envelope.
func (s *Server) AckFor(envelopeID string) (Ack, bool) {
	for _, a := range s.Acks() {
		if a.EnvelopeID == envelopeID {
			return a, true
		}
	}
	return Ack{}, false
}

// Envelope returns an envelope the fake sent, with its deliveries.
func (s *Server) Envelope(id string) (Envelope, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.envelopes[id]
	if !ok {
		return Envelope{}, false
	}
	out := e.Envelope
	out.Payload = bytes.Clone(out.Payload)
	out.Deliveries = slices.Clone(out.Deliveries)
	return out, true
}

// Views returns the views the app opened or published, in their current state, oldest first.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.viewIDs))
	for _, id := range s.viewIDs {
		out = append(out, s.views[id].snapshot())
	}
	return out
}

// Connections counts the socket connections accepted so far, including closed ones.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// OpenConnections counts the sockets open now.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Pongs counts the pongs the clients sent back to the fake's pings.
func (s *Server) Pongs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pongs
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
