package fakeslack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// writeWait bounds each websocket write, so a stuck client cannot hang the fake.
	writeWait = 5 * time.Second
	// closeGrace is how long the fake waits for a client to answer its close frame after a disconnect.
	closeGrace = 2 * time.Second
)

// envelopeFrame is a socket-mode envelope on the wire. The field names are those of slack-go's
// socketmode.Request, which the client decodes it into.
type envelopeFrame struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

type debugInfo struct {
	Host                      string `json:"host"`
	BuildNumber               int    `json:"build_number,omitempty"`
	ApproximateConnectionTime int    `json:"approximate_connection_time,omitempty"`
}

type helloFrame struct {
	Type           string `json:"type"`
	NumConnections int    `json:"num_connections"`
	ConnectionInfo struct {
		AppID string `json:"app_id"`
	} `json:"connection_info"`
	DebugInfo debugInfo `json:"debug_info"`
}

type disconnectFrame struct {
	Type      string    `json:"type"`
	Reason    string    `json:"reason"`
	DebugInfo debugInfo `json:"debug_info"`
}

// envelope is a sent envelope; its Deliveries are updated as the copies are written.
type envelope struct {
	Envelope
}

// frame is one websocket message waiting to be written. env and delivery are set for envelopes, so that the
// write can be stamped on the delivery and a frame that never made it can be queued again.
type frame struct {
	data     []byte
	env      *envelope
	delivery int
}

// conn is one socket-mode connection. Its writer goroutine is the only one that writes to ws; the handler
// goroutine reads acks from it.
type conn struct {
	s  *Server
	id int
	ws *websocket.Conn

	queue   []*frame // guarded by s.mu
	closing bool     // guarded by s.mu: send a close frame once the queue is written

	wake     chan struct{}
	quit     chan struct{}
	quitOnce sync.Once
}

func (c *conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) stop() { c.quitOnce.Do(func() { close(c.quit) }) }

var upgrader = websocket.Upgrader{
	// slack-go dials with Origin https://api.slack.com, which the default check would refuse.
	CheckOrigin: func(*http.Request) bool { return true },
}

// handleSocket serves the URL apps.connections.open handed out: it sends hello and any queued envelopes, makes
// the connection the one new envelopes go to, pings it, and records the acks it reads until the socket ends.
func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	ok := s.tickets[ticket] && !s.closed
	delete(s.tickets, ticket)
	if ok {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	defer s.wg.Done()

	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{s: s, ws: ws, wake: make(chan struct{}, 1), quit: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.connections++
	c.id = s.connections
	s.conns[c] = struct{}{}
	hello := helloFrame{Type: "hello", NumConnections: len(s.conns)}
	hello.ConnectionInfo.AppID = s.cfg.appID
	hello.DebugInfo = debugInfo{Host: fmt.Sprintf("fakeslack-%d", c.id), BuildNumber: 1, ApproximateConnectionTime: 18060}
	data, _ := json.Marshal(hello)
	c.queue = append([]*frame{{data: data}}, s.pending...)
	s.pending = nil
	s.cur = c
	s.mu.Unlock()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(s.cfg.pingInterval)
	}()

	ws.SetPongHandler(func(string) error {
		s.mu.Lock()
		s.pongs++
		s.mu.Unlock()
		return nil
	})
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			break
		}
		s.recordAck(c, msg)
	}

	c.stop()
	_ = ws.Close()
	<-writerDone

	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.cur == c {
		s.cur = nil
	}
	// Envelopes this connection never wrote wait for the next one.
	for _, f := range c.queue {
		if f.env != nil {
			f.env.Deliveries[f.delivery] = Delivery{
				RetryAttempt: f.env.Deliveries[f.delivery].RetryAttempt,
				RetryReason:  f.env.Deliveries[f.delivery].RetryReason,
				Queued:       true,
			}
			s.enqueueLocked(f)
		}
	}
	c.queue = nil
}

// writeLoop writes queued frames in order and pings while idle, until quit; after a disconnect it sends a close
// frame once the queue is written.
func (c *conn) writeLoop(pingInterval time.Duration) {
	var tick <-chan time.Time
	if pingInterval > 0 {
		t := time.NewTicker(pingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		f, closing := c.next()
		switch {
		case f != nil:
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
				c.unwrite(f)
				c.stop()
				_ = c.ws.Close()
				return
			}
			continue
		case closing:
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "refresh_requested")
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait))
			// The reader ends when the client answers the close frame, or at this deadline.
			_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
			<-c.quit
			return
		}
		select {
		case <-c.wake:
		case <-tick:
			if err := c.ws.WriteControl(websocket.PingMessage, []byte("fakeslack"), time.Now().Add(writeWait)); err != nil {
				c.stop()
				_ = c.ws.Close()
				return
			}
		case <-c.quit:
			return
		}
	}
}

// next pops the next frame to write and stamps its delivery; with an empty queue it reports whether the
// connection is to be closed.
func (c *conn) next() (*frame, bool) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if len(c.queue) == 0 {
		return nil, c.closing
	}
	f := c.queue[0]
	c.queue = c.queue[1:]
	if f.env != nil {
		// Stamped before the write, so that an ack cannot be read before its delivery has a time.
		d := &f.env.Deliveries[f.delivery]
		d.SentAt, d.Connection = time.Now(), c.id
	}
	return f, false
}

// unwrite puts back a frame whose write failed, for the handler to queue again.
func (c *conn) unwrite(f *frame) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.queue = append([]*frame{f}, c.queue...)
}

// enqueueLocked sends a frame on the current connection, or keeps it until one comes up.
func (s *Server) enqueueLocked(f *frame) {
	if s.cur != nil {
		s.cur.queue = append(s.cur.queue, f)
		s.cur.poke()
		return
	}
	s.pending = append(s.pending, f)
}

// recordAck records a message from the client: in socket mode, that is always an ack.
func (s *Server) recordAck(c *conn, msg []byte) {
	now := time.Now()
	var ack struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	_ = json.Unmarshal(msg, &ack)
	a := Ack{
		EnvelopeID: ack.EnvelopeID, Payload: jsonOrNil(string(ack.Payload)), Raw: msg,
		ReceivedAt: now, Connection: c.id,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if env, ok := s.envelopes[ack.EnvelopeID]; ok {
		a.Known = true
		for _, d := range env.Deliveries {
			if !d.SentAt.IsZero() && !d.SentAt.After(now) {
				a.RetryAttempt, a.Latency = d.RetryAttempt, now.Sub(d.SentAt)
			}
		}
	}
	s.acks = append(s.acks, a)
}

// SendEnvelope sends an envelope of any type with payload, and returns its ID. The typed senders below are
// what tests normally use.
func (s *Server) SendEnvelope(typ string, payload json.RawMessage, acceptsResponsePayload bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendLocked(typ, payload, acceptsResponsePayload)
}

func (s *Server) sendLocked(typ string, payload json.RawMessage, accepts bool) string {
	if s.closed {
		s.t.Errorf("fakeslack: sending a %s envelope after Close", typ)
		return ""
	}
	if !json.Valid(payload) {
		s.t.Errorf("fakeslack: the payload of a %s envelope is not JSON: %s", typ, payload)
		return ""
	}
	s.seq++
	id := fmt.Sprintf("%08x-fa4e-4c5a-8c4b-%012x", s.start.Unix()&0xffffffff, s.seq)
	env := &envelope{Envelope{ID: id, Type: typ, Payload: payload, AcceptsResponsePayload: accepts}}
	s.envelopes[id] = env
	s.deliverLocked(env, "")
	return id
}

// deliverLocked sends a copy of env: the first when reason is "", a retry otherwise.
func (s *Server) deliverLocked(env *envelope, reason string) {
	attempt := len(env.Deliveries)
	data, _ := json.Marshal(envelopeFrame{
		EnvelopeID: env.ID, Type: env.Type, Payload: env.Payload,
		AcceptsResponsePayload: env.AcceptsResponsePayload, RetryAttempt: attempt, RetryReason: reason,
	})
	env.Deliveries = append(env.Deliveries, Delivery{RetryAttempt: attempt, RetryReason: reason, Queued: s.cur == nil})
	s.enqueueLocked(&frame{data: data, env: env, delivery: attempt})
}

// Redeliver sends an envelope again, with the next retry_attempt and retry_reason "timeout", as Slack does when
// it missed the ack. The payload is the same, trigger_id included.
func (s *Server) Redeliver(envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	env, ok := s.envelopes[envelopeID]
	if !ok {
		s.t.Errorf("fakeslack: Redeliver of unknown envelope %q", envelopeID)
		return
	}
	s.deliverLocked(env, "timeout")
}

// Disconnect asks the connected client to reconnect, as Slack does every few hours: it sends
// {"type":"disconnect","reason":"refresh_requested"} and closes the socket. Envelopes sent from now on wait for
// the next connection. It returns false when no client was connected.
func (s *Server) Disconnect() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur
	if c == nil {
		return false
	}
	s.cur = nil
	data, _ := json.Marshal(disconnectFrame{
		Type: "disconnect", Reason: "refresh_requested", DebugInfo: debugInfo{Host: fmt.Sprintf("fakeslack-%d", c.id)},
	})
	c.queue = append(c.queue, &frame{data: data})
	c.closing = true
	c.poke()
	return true
}

// Drop closes the current socket without a word, like a network failure. Envelopes it had not written yet wait
// for the next connection. It returns false when no client was connected.
func (s *Server) Drop() bool {
	s.mu.Lock()
	c := s.cur
	s.cur = nil
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.stop()
	_ = c.ws.Close()
	return true
}
