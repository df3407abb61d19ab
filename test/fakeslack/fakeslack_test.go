package fakeslack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// wait bounds every Eventually: far more than anything here needs, even under -race.
const wait = 5 * time.Second

// client is a real slack-go socket-mode client running against the fake, with the events it emitted.
type client struct {
	api *slack.Client
	sm  *socketmode.Client

	mu     sync.Mutex
	events []socketmode.Event
	seen   int
	err    error // what RunContext returned
}

// startClient runs a socket-mode client against s until the test ends.
func startClient(t *testing.T, s *Server, opts ...socketmode.Option) *client {
	t.Helper()
	return startClientWith(t, s, s.AppToken(), opts...)
}

func startClientWith(t *testing.T, s *Server, appToken string, opts ...socketmode.Option) *client {
	t.Helper()
	api := slack.New(s.BotToken(), slack.OptionAPIURL(s.URL()), slack.OptionAppLevelToken(appToken))
	c := &client{api: api, sm: socketmode.New(api, opts...)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		err := c.sm.RunContext(ctx)
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
	})
	wg.Go(func() {
		for {
			select {
			case e := <-c.sm.Events:
				c.mu.Lock()
				c.events = append(c.events, e)
				c.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return c
}

// next waits for the next event of type typ, skipping others.
func (c *client) next(t *testing.T, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	var got socketmode.Event
	NewWithT(t).Eventually(func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for c.seen < len(c.events) {
			e := c.events[c.seen]
			c.seen++
			if e.Type == typ {
				got = e
				return true
			}
		}
		return false
	}).WithTimeout(wait).Should(BeTrue(), "no %s event", typ)
	return got
}

// count returns how many events of type typ the client emitted so far.
func (c *client) count(typ socketmode.EventType) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func (c *client) runErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// lookup is Server.Lookup for a message the test knows exists.
func lookup(s *Server, channel, ts string) Message {
	m, _ := s.Lookup(channel, ts)
	return m
}

func newAPI(s *Server) *slack.Client {
	return slack.New(s.BotToken(), slack.OptionAPIURL(s.URL()), slack.OptionAppLevelToken(s.AppToken()))
}

// slashPayload decodes the payload of a slash command envelope the fake sent.
func slashPayload(t *testing.T, s *Server, id string) slack.SlashCommand {
	t.Helper()
	env, ok := s.Envelope(id)
	if !ok {
		t.Fatalf("no envelope %s", id)
	}
	var cmd slack.SlashCommand
	if err := json.Unmarshal(env.Payload, &cmd); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestHelloSlashCommandAndAck(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	c := startClient(t, s)

	c.next(t, socketmode.EventTypeConnected)
	hello := c.next(t, socketmode.EventTypeHello)
	g.Expect(hello.Request.NumConnections).To(Equal(1))
	g.Expect(hello.Request.ConnectionInfo.AppID).To(Equal(s.AppID()))
	g.Expect(hello.Request.DebugInfo.Host).NotTo(BeEmpty())

	id := s.SendSlashCommand(SlashCommand{Command: "/dibs", Text: "take gpu-1", UserID: "U1", ChannelID: "C1"})
	evt := c.next(t, socketmode.EventTypeSlashCommand)
	g.Expect(evt.Request.EnvelopeID).To(Equal(id))
	g.Expect(evt.Request.AcceptsResponsePayload).To(BeTrue())
	g.Expect(evt.Request.RetryAttempt).To(Equal(0))
	cmd, ok := evt.Data.(slack.SlashCommand)
	g.Expect(ok).To(BeTrue(), "data is %T", evt.Data)
	g.Expect(cmd.Command).To(Equal("/dibs"))
	g.Expect(cmd.Text).To(Equal("take gpu-1"))
	g.Expect(cmd.UserID).To(Equal("U1"))
	g.Expect(cmd.ChannelID).To(Equal("C1"))
	g.Expect(cmd.TeamID).To(Equal(s.TeamID()))
	g.Expect(cmd.APIAppID).To(Equal(s.AppID()))
	g.Expect(cmd.TriggerID).NotTo(BeEmpty())
	g.Expect(cmd.ResponseURL).To(HavePrefix(strings.TrimSuffix(s.URL(), "api/") + "response/"))

	g.Expect(c.sm.Ack(*evt.Request, map[string]string{"response_type": "ephemeral", "text": "You are first"})).To(Succeed())
	g.Eventually(func() bool { _, ok := s.AckFor(id); return ok }).WithTimeout(wait).Should(BeTrue())
	ack, _ := s.AckFor(id)
	g.Expect(ack.Known).To(BeTrue())
	g.Expect(ack.Connection).To(Equal(1))
	g.Expect(ack.RetryAttempt).To(Equal(0))
	g.Expect(ack.Latency).To(And(BeNumerically(">", 0), BeNumerically("<", 3*time.Second)))
	g.Expect(string(ack.Payload)).To(MatchJSON(`{"response_type":"ephemeral","text":"You are first"}`))

	g.Expect(s.Calls("apps.connections.open")).To(HaveLen(1))
	g.Expect(s.Connections()).To(Equal(1))
}

func TestResponseURL(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	id := s.SendSlashCommand(SlashCommand{Command: "/dibs", Text: "list", UserID: "U1", ChannelID: "C1"})
	url := slashPayload(t, s, id).ResponseURL
	ctx := context.Background()

	g.Expect(slack.PostWebhookContext(ctx, url, &slack.WebhookMessage{Text: "only you", ResponseType: slack.ResponseTypeEphemeral})).To(Succeed())
	g.Expect(slack.PostWebhookContext(ctx, url, &slack.WebhookMessage{Text: "everyone", ResponseType: slack.ResponseTypeInChannel})).To(Succeed())
	// The reply slack-go's chat helpers send to a response URL (a JSON Msg) is understood too.
	_, _, err := newAPI(s).PostMessageContext(ctx, "", slack.MsgOptionResponseURL(url, slack.ResponseTypeEphemeral), slack.MsgOptionText("via chat", false))
	g.Expect(err).NotTo(HaveOccurred())

	msgs := s.Messages()
	g.Expect(msgs).To(HaveLen(3))
	g.Expect(msgs[0]).To(And(
		HaveField("Method", "response_url"), HaveField("Channel", "C1"), HaveField("User", "U1"),
		HaveField("Text", "only you"), HaveField("Ephemeral", true), HaveField("ResponseType", "ephemeral")))
	g.Expect(msgs[1]).To(And(HaveField("Text", "everyone"), HaveField("Ephemeral", false), HaveField("User", "")))
	g.Expect(msgs[2]).To(And(HaveField("Text", "via chat"), HaveField("Ephemeral", true)))
	g.Expect(lookup(s, "C1", msgs[1].TS)).To(HaveField("Text", "everyone"))

	// Slack takes five posts per response URL.
	g.Expect(slack.PostWebhookContext(ctx, url, &slack.WebhookMessage{Text: "4"})).To(Succeed())
	g.Expect(slack.PostWebhookContext(ctx, url, &slack.WebhookMessage{Text: "5"})).To(Succeed())
	var codeErr slack.StatusCodeError
	g.Expect(errors.As(slack.PostWebhookContext(ctx, url, &slack.WebhookMessage{Text: "6"}), &codeErr)).To(BeTrue())
	g.Expect(codeErr.Code).To(Equal(404))
	g.Expect(s.Calls("response_url")).To(HaveLen(6))
	g.Expect(s.Calls("response_url")[5].Error).To(Equal("used_url"))
}

func TestBlockActionsRoundTrip(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	s.AddUser(User{ID: "U1", Name: "ada"})
	c := startClient(t, s)
	c.next(t, socketmode.EventTypeHello)

	blocks := slack.MsgOptionBlocks(
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*gpu-1* is free", false, false), nil, nil),
		slack.NewActionBlock("actions", slack.NewButtonBlockElement("take", "gpu-1", slack.NewTextBlockObject(slack.PlainTextType, "Take it", false, false))),
	)
	channel, ts, err := c.api.PostMessage("C1", blocks, slack.MsgOptionText("gpu-1 is free", false))
	g.Expect(err).NotTo(HaveOccurred())
	msg, ok := s.Lookup(channel, ts)
	g.Expect(ok).To(BeTrue())
	click, ok := msg.Click("U1", "take")
	g.Expect(ok).To(BeTrue())

	id := s.ClickButton(click)
	evt := c.next(t, socketmode.EventTypeInteractive)
	g.Expect(evt.Request.EnvelopeID).To(Equal(id))
	g.Expect(evt.Request.AcceptsResponsePayload).To(BeFalse())
	cb, ok := evt.Data.(slack.InteractionCallback)
	g.Expect(ok).To(BeTrue(), "data is %T", evt.Data)
	g.Expect(cb.Type).To(Equal(slack.InteractionTypeBlockActions))
	g.Expect(cb.User.ID).To(Equal("U1"))
	g.Expect(cb.User.Name).To(Equal("ada"))
	g.Expect(cb.Channel.ID).To(Equal("C1"))
	g.Expect(cb.Container.MessageTs).To(Equal(ts))
	g.Expect(cb.Message.Timestamp).To(Equal(ts))
	g.Expect(cb.Message.Text).To(Equal("gpu-1 is free"))
	g.Expect(cb.TriggerID).NotTo(BeEmpty())
	g.Expect(cb.ActionCallback.BlockActions).To(HaveLen(1))
	g.Expect(*cb.ActionCallback.BlockActions[0]).To(And(
		HaveField("ActionID", "take"), HaveField("BlockID", "actions"), HaveField("Value", "gpu-1"),
		HaveField("Text.Text", "Take it")))

	g.Expect(c.sm.Ack(*evt.Request)).To(Succeed())
	g.Eventually(func() bool { _, ok := s.AckFor(id); return ok }).WithTimeout(wait).Should(BeTrue())
	ack, _ := s.AckFor(id)
	g.Expect(ack.Payload).To(BeNil())

	// replace_original through the click's response URL replaces the message clicked on.
	g.Expect(slack.PostWebhook(cb.ResponseURL, &slack.WebhookMessage{Text: "ada took gpu-1", ReplaceOriginal: true})).To(Succeed())
	g.Expect(lookup(s, channel, ts)).To(And(HaveField("Text", "ada took gpu-1"), HaveField("Ephemeral", false)))
}

func TestSendInteraction(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	c := startClient(t, s)
	c.next(t, socketmode.EventTypeHello)

	cb := slack.InteractionCallback{Type: slack.InteractionTypeBlockActions, User: slack.User{ID: "U1"}}
	cb.Channel.ID = "C1"
	cb.ActionCallback.BlockActions = []*slack.BlockAction{{ActionID: "release", Value: "r-1", Type: "button"}}
	id := s.SendInteraction(cb)
	evt := c.next(t, socketmode.EventTypeInteractive)
	g.Expect(evt.Request.EnvelopeID).To(Equal(id))
	got := evt.Data.(slack.InteractionCallback)
	g.Expect(got.ActionCallback.BlockActions).To(ConsistOf(HaveField("ActionID", "release")))
	g.Expect(got.APIAppID).To(Equal(s.AppID()), "filled in")
	g.Expect(got.TriggerID).NotTo(BeEmpty(), "filled in")
	g.Expect(slack.PostWebhook(got.ResponseURL, &slack.WebhookMessage{Text: "released"})).To(Succeed())
	g.Expect(s.Messages()).To(ConsistOf(And(HaveField("Channel", "C1"), HaveField("User", "U1"), HaveField("Text", "released"))))

	id = s.SendInteractionJSON(json.RawMessage(`{"type":"shortcut","callback_id":"book","user":{"id":"U2"}}`))
	evt = c.next(t, socketmode.EventTypeInteractive)
	g.Expect(evt.Request.EnvelopeID).To(Equal(id))
	g.Expect(evt.Request.AcceptsResponsePayload).To(BeTrue())
	g.Expect(evt.Data.(slack.InteractionCallback)).To(And(HaveField("Type", slack.InteractionTypeShortcut), HaveField("CallbackID", "book")))
}

func TestViewSubmission(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	c := startClient(t, s)
	c.next(t, socketmode.EventTypeHello)

	s.SendSlashCommand(SlashCommand{Command: "/dibs", Text: "book", UserID: "U1", ChannelID: "C1"})
	cmd := c.next(t, socketmode.EventTypeSlashCommand).Data.(slack.SlashCommand)
	modal := slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: "book", PrivateMetadata: "gpu-1",
		Title: slack.NewTextBlockObject(slack.PlainTextType, "Book", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewInputBlock("dur",
			slack.NewTextBlockObject(slack.PlainTextType, "For how long", false, false), nil,
			slack.NewPlainTextInputBlockElement(nil, "dur_input"))}},
	}
	resp, err := c.api.OpenView(cmd.TriggerID, modal)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.View.ID).NotTo(BeEmpty())
	g.Expect(resp.View.CallbackID).To(Equal("book"))
	g.Expect(s.Views()).To(ConsistOf(And(HaveField("ID", resp.View.ID), HaveField("UserID", "U1"), HaveField("PrivateMetadata", "gpu-1"))))
	g.Expect(s.Calls("views.open")[0].Blocks).To(ContainSubstring(`"dur_input"`))

	id := s.SubmitView(Submission{UserID: "U1", ViewID: resp.View.ID, Values: map[string]map[string]slack.BlockAction{
		"dur": {"dur_input": {Type: "plain_text_input", Value: "2h"}},
	}})
	evt := c.next(t, socketmode.EventTypeInteractive)
	g.Expect(evt.Request.EnvelopeID).To(Equal(id))
	g.Expect(evt.Request.AcceptsResponsePayload).To(BeTrue())
	cb := evt.Data.(slack.InteractionCallback)
	g.Expect(cb.Type).To(Equal(slack.InteractionTypeViewSubmission))
	g.Expect(cb.User.ID).To(Equal("U1"))
	g.Expect(cb.View.ID).To(Equal(resp.View.ID))
	g.Expect(cb.View.CallbackID).To(Equal("book"))
	g.Expect(cb.View.PrivateMetadata).To(Equal("gpu-1"))
	g.Expect(cb.View.State.Values["dur"]["dur_input"].Value).To(Equal("2h"))

	g.Expect(c.sm.Ack(*evt.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"dur": "Too long"}))).To(Succeed())
	g.Eventually(func() bool { _, ok := s.AckFor(id); return ok }).WithTimeout(wait).Should(BeTrue())
	ack, _ := s.AckFor(id)
	g.Expect(string(ack.Payload)).To(MatchJSON(`{"response_action":"errors","errors":{"dur":"Too long"}}`))

	// The app can update the view it opened; a stale hash is a conflict.
	_, err = c.api.UpdateView(modal, "", resp.View.Hash, resp.View.ID)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.api.UpdateView(modal, "", resp.View.Hash, resp.View.ID)
	g.Expect(err).To(MatchError("hash_conflict"))
}

func TestViewsOpenTriggers(t *testing.T) {
	modal := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject(slack.PlainTextType, "T", false, false)}
	for name, tc := range map[string]struct {
		opts    []Option
		trigger func(s *Server) string
		want    string
	}{
		"unknown":   {trigger: func(*Server) string { return "12.34.abc" }, want: "invalid_trigger_id"},
		"expired":   {opts: []Option{WithTriggerTTL(time.Nanosecond)}, trigger: func(s *Server) string { return s.NewTriggerID("U1") }, want: "expired_trigger_id"},
		"exchanged": {trigger: func(s *Server) string { return s.NewTriggerID("U1") }, want: "exchanged_trigger_id"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			s := New(t, tc.opts...)
			api := newAPI(s)
			trigger := tc.trigger(s)
			if tc.want == "exchanged_trigger_id" {
				_, err := api.OpenView(trigger, modal)
				g.Expect(err).NotTo(HaveOccurred())
			}
			_, err := api.OpenView(trigger, modal)
			g.Expect(err).To(MatchError(tc.want))
		})
	}
}

func TestRedeliver(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	c := startClient(t, s)
	c.next(t, socketmode.EventTypeHello)

	id := s.SendSlashCommand(SlashCommand{Command: "/dibs", Text: "take gpu-1", UserID: "U1", ChannelID: "C1"})
	first := c.next(t, socketmode.EventTypeSlashCommand)
	g.Expect(c.sm.Ack(*first.Request)).To(Succeed())
	g.Eventually(s.Acks).WithTimeout(wait).Should(HaveLen(1))

	s.Redeliver(id)
	again := c.next(t, socketmode.EventTypeSlashCommand)
	g.Expect(again.Request.EnvelopeID).To(Equal(id))
	g.Expect(again.Request.RetryAttempt).To(Equal(1))
	g.Expect(again.Request.RetryReason).To(Equal("timeout"))
	g.Expect(again.Data.(slack.SlashCommand).TriggerID).To(Equal(first.Data.(slack.SlashCommand).TriggerID))
	g.Expect(c.sm.Ack(*again.Request)).To(Succeed())

	g.Eventually(s.Acks).WithTimeout(wait).Should(HaveLen(2))
	acks := s.Acks()
	g.Expect([]int{acks[0].RetryAttempt, acks[1].RetryAttempt}).To(Equal([]int{0, 1}))
	env, _ := s.Envelope(id)
	g.Expect(env.Deliveries).To(HaveLen(2))
	g.Expect(env.Deliveries[1]).To(And(HaveField("RetryAttempt", 1), HaveField("RetryReason", "timeout"), HaveField("Connection", 1)))
}

func TestDisconnectReconnectsAndDeliversQueued(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	c := startClient(t, s)
	c.next(t, socketmode.EventTypeHello)

	g.Expect(s.Disconnect()).To(BeTrue())
	// No client is connected now: this envelope waits for the next connection.
	id := s.SendSlashCommand(SlashCommand{Command: "/dibs", Text: "queued", UserID: "U1", ChannelID: "C1"})

	connected := c.next(t, socketmode.EventTypeConnected)
	g.Expect(connected.Data.(*socketmode.ConnectedEvent).ConnectionCount).To(Equal(1)) // slack-go counts from 0
	c.next(t, socketmode.EventTypeHello)
	evt := c.next(t, socketmode.EventTypeSlashCommand)
	g.Expect(evt.Request.EnvelopeID).To(Equal(id))

	g.Expect(s.Connections()).To(Equal(2))
	g.Expect(s.Calls("apps.connections.open")).To(HaveLen(2))
	g.Eventually(s.OpenConnections).WithTimeout(wait).Should(Equal(1))
	env, _ := s.Envelope(id)
	g.Expect(env.Deliveries).To(ConsistOf(And(HaveField("Queued", true), HaveField("Connection", 2))))
}

func TestDropReconnects(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	c := startClient(t, s)
	c.next(t, socketmode.EventTypeHello)

	g.Expect(s.Drop()).To(BeTrue())
	c.next(t, socketmode.EventTypeHello)
	g.Expect(s.Connections()).To(Equal(2))
	g.Expect(s.Disconnect()).To(BeTrue(), "the new connection is the current one")
}

func TestPings(t *testing.T) {
	t.Run("the fake's pings keep the client connected past its ping timeout", func(t *testing.T) {
		t.Parallel()
		g := NewWithT(t)
		s := New(t, WithPingInterval(100*time.Millisecond))
		c := startClient(t, s, socketmode.OptionPingInterval(600*time.Millisecond))
		c.next(t, socketmode.EventTypeHello)
		g.Consistently(s.Connections).WithTimeout(2 * time.Second).Should(Equal(1))
		g.Expect(s.Pongs()).To(BeNumerically(">=", 5))
	})
	t.Run("without pings the client reconnects", func(t *testing.T) {
		t.Parallel()
		g := NewWithT(t)
		s := New(t, WithPingInterval(0))
		c := startClient(t, s, socketmode.OptionPingInterval(300*time.Millisecond))
		c.next(t, socketmode.EventTypeHello)
		g.Eventually(s.Connections).WithTimeout(wait).Should(BeNumerically(">=", 2))
		g.Expect(s.Pongs()).To(BeZero())
	})
}

func TestEventsAPI(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	c := startClient(t, s)
	c.next(t, socketmode.EventTypeHello)

	id := s.SendEvent(slackevents.AppMentionEvent{Type: "app_mention", User: "U1", Channel: "C1", Text: "<@UFAKEBOT01> hi"})
	evt := c.next(t, socketmode.EventTypeEventsAPI)
	g.Expect(evt.Request.EnvelopeID).To(Equal(id))
	outer := evt.Data.(slackevents.EventsAPIEvent)
	g.Expect(outer.Type).To(Equal(slackevents.CallbackEvent))
	g.Expect(outer.APIAppID).To(Equal(s.AppID()))
	mention, ok := outer.InnerEvent.Data.(*slackevents.AppMentionEvent)
	g.Expect(ok).To(BeTrue(), "inner event is %T", outer.InnerEvent.Data)
	g.Expect(*mention).To(And(HaveField("User", "U1"), HaveField("Text", "<@UFAKEBOT01> hi")))
}

func TestWebAPI(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	s.AddUser(User{ID: "U1", Name: "ada", RealName: "Ada Lovelace", DisplayName: "ada", Email: "ada@example.com",
		TZ: "Europe/London", TZLabel: "British Summer Time", TZOffset: 3600})
	s.AddUserGroup("S1", "U1", "U2")
	api := newAPI(s)
	ctx := context.Background()

	auth, err := api.AuthTestContext(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(auth.UserID).To(Equal(s.BotUserID()))
	g.Expect(auth.TeamID).To(Equal(s.TeamID()))

	ch, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U1"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ch.ID).To(Equal("DU1"))
	_, _, already, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U1"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(already).To(BeTrue())

	button := slack.NewButtonBlockElement("extend", "r-1", slack.NewTextBlockObject(slack.PlainTextType, "Extend 1h", false, false))
	_, ts, err := api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("Your turn", false), slack.MsgOptionTS("1.000001"),
		slack.MsgOptionBlocks(slack.NewActionBlock("b1", button)))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = api.PostEphemeralContext(ctx, "C1", "U1", slack.MsgOptionText("psst", false))
	g.Expect(err).NotTo(HaveOccurred())
	_, _, _, err = api.UpdateMessageContext(ctx, ch.ID, ts, slack.MsgOptionText("Your turn is over", false))
	g.Expect(err).NotTo(HaveOccurred())
	_, _, _, err = api.UpdateMessageContext(ctx, ch.ID, "9.000009", slack.MsgOptionText("nope", false))
	g.Expect(err).To(MatchError("message_not_found"))

	msgs := s.Messages()
	g.Expect(msgs).To(HaveLen(3))
	g.Expect(msgs[0]).To(And(HaveField("Method", "chat.postMessage"), HaveField("Channel", "DU1"), HaveField("TS", ts),
		HaveField("ThreadTS", "1.000001"), HaveField("Ephemeral", false)))
	g.Expect(msgs[0].BlockTexts()).To(Equal([]string{"Extend 1h", "extend", "r-1"}))
	g.Expect(msgs[0].Buttons()).To(Equal([]Button{{BlockID: "b1", ActionID: "extend", Value: "r-1", Text: "Extend 1h"}}))
	g.Expect(msgs[1]).To(And(HaveField("Method", "chat.postEphemeral"), HaveField("Channel", "C1"), HaveField("User", "U1"),
		HaveField("Text", "psst"), HaveField("Ephemeral", true)))
	g.Expect(msgs[2]).To(And(HaveField("Method", "chat.update"), HaveField("TS", ts), HaveField("Text", "Your turn is over")))
	g.Expect(msgs[1].TS).NotTo(Equal(msgs[0].TS))
	g.Expect(lookup(s, ch.ID, ts)).To(HaveField("Text", "Your turn is over"))
	g.Expect(s.Calls("chat.postMessage")).To(ConsistOf(And(HaveField("Channel", "DU1"), HaveField("Text", "Your turn"),
		HaveField("ThreadTS", "1.000001"), HaveField("Blocks", ContainSubstring(`"action_id":"extend"`)))))

	_, _, err = api.DeleteMessageContext(ctx, ch.ID, ts)
	g.Expect(err).NotTo(HaveOccurred())
	_, found := s.Lookup(ch.ID, ts)
	g.Expect(found).To(BeFalse())

	u, err := api.GetUserInfoContext(ctx, "U1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(*u).To(And(HaveField("Name", "ada"), HaveField("RealName", "Ada Lovelace"), HaveField("TZ", "Europe/London"),
		HaveField("TZOffset", 3600), HaveField("Profile.DisplayName", "ada"), HaveField("Profile.Email", "ada@example.com")))
	_, err = api.GetUserInfoContext(ctx, "U404")
	g.Expect(err).To(MatchError("user_not_found"))
	u, err = api.GetUserByEmailContext(ctx, "ADA@example.com")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(u.ID).To(Equal("U1"))
	members, err := api.GetUserGroupMembersContext(ctx, "S1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(members).To(Equal([]string{"U1", "U2"}))

	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Your reservations", false, false), nil, nil)}}}
	v1, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home})
	g.Expect(err).NotTo(HaveOccurred())
	v2, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v2.View.ID).To(Equal(v1.View.ID))
	g.Expect(s.Views()).To(ConsistOf(And(HaveField("Type", "home"), HaveField("UserID", "U1"), HaveField("Updates", 1))))

	// Unknown methods are answered and recorded, so a test sees what the app tried.
	g.Expect(api.SetUserPresenceContext(ctx, "away")).To(MatchError("unknown_method"))
	g.Expect(s.Calls("users.setPresence")).To(ConsistOf(HaveField("Params", HaveKeyWithValue("presence", []string{"away"}))))
	for _, c := range s.Calls("") {
		g.Expect(c.Params).NotTo(HaveKey("token"), "tokens are not recorded")
	}
}

func TestFaults(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	s.AddUser(User{ID: "U1", Name: "ada"})
	api := newAPI(s)

	s.FailNext("chat.postMessage", 2, "channel_not_found")
	for range 2 {
		_, _, err := api.PostMessage("C1", slack.MsgOptionText("hi", false))
		var slackErr slack.SlackErrorResponse
		g.Expect(errors.As(err, &slackErr)).To(BeTrue(), "error is %v", err)
		g.Expect(slackErr.Err).To(Equal("channel_not_found"))
	}
	_, _, err := api.PostMessage("C1", slack.MsgOptionText("hi", false))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Messages()).To(HaveLen(1))

	s.RateLimitNext("users.info", 1, 1500*time.Millisecond)
	_, err = api.GetUserInfo("U1")
	var rl *slack.RateLimitedError
	g.Expect(errors.As(err, &rl)).To(BeTrue(), "error is %v", err)
	g.Expect(rl.RetryAfter).To(Equal(2 * time.Second))
	_, err = api.GetUserInfo("U1")
	g.Expect(err).NotTo(HaveOccurred())

	var codes []string
	for _, c := range s.Calls("") {
		codes = append(codes, c.Error)
	}
	g.Expect(codes).To(Equal([]string{"channel_not_found", "channel_not_found", "", "ratelimited", ""}))
}

func TestStandingFaults(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	api := newAPI(s)

	s.RateLimitFor("chat.postMessage", 300*time.Millisecond, time.Second)
	for range 3 {
		_, _, err := api.PostMessage("C1", slack.MsgOptionText("hi", false))
		var rl *slack.RateLimitedError
		g.Expect(errors.As(err, &rl)).To(BeTrue(), "every call in the window is limited; error is %v", err)
	}
	g.Eventually(func() error {
		_, _, err := api.PostMessage("C1", slack.MsgOptionText("hi", false))
		return err
	}).WithTimeout(2*time.Second).Should(Succeed(), "and none after it")

	s.Refuse("conversations.open", "users", "UGONE", "user_not_found")
	for range 2 {
		_, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"UGONE"}})
		g.Expect(err).To(MatchError("user_not_found"))
	}
	_, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"UHERE"}})
	g.Expect(err).NotTo(HaveOccurred())
}

func TestTokens(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	ctx := context.Background()

	_, err := slack.New("xoxb-wrong", slack.OptionAPIURL(s.URL())).AuthTestContext(ctx)
	g.Expect(err).To(MatchError("invalid_auth"))
	_, err = slack.New(s.AppToken(), slack.OptionAPIURL(s.URL())).AuthTestContext(ctx)
	g.Expect(err).To(MatchError("not_allowed_token_type"))

	// socketmode gives up on invalid_auth: RunContext returns.
	c := startClientWith(t, s, "xapp-wrong")
	g.Eventually(c.runErr).WithTimeout(wait).Should(MatchError("invalid_auth"))
	g.Expect(c.count(socketmode.EventTypeConnected)).To(BeZero())
	g.Expect(s.Connections()).To(BeZero())
}

func TestCloseStopsEverything(t *testing.T) {
	g := NewWithT(t)
	s := New(t, WithPingInterval(50*time.Millisecond))
	c := startClient(t, s)
	c.next(t, socketmode.EventTypeHello)
	s.SendSlashCommand(SlashCommand{Command: "/dibs", UserID: "U1", ChannelID: "C1"})
	c.next(t, socketmode.EventTypeSlashCommand)

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		s.Close()
	}()
	g.Eventually(closed).WithTimeout(wait).Should(BeClosed(), "Close hangs")
	g.Expect(s.OpenConnections()).To(BeZero())
	g.Eventually(fakeGoroutines).WithTimeout(wait).Should(BeZero())
	s.Close() // idempotent; New's cleanup calls it again
}

// fakeGoroutines counts the goroutines running the fake's own code.
func fakeGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "fakeslack.(*Server)") || strings.Contains(g, "fakeslack.(*conn)") {
			n++
		}
	}
	return n
}

func TestBlockTexts(t *testing.T) {
	for name, tc := range map[string]struct {
		blocks  string
		texts   []string
		buttons []Button
	}{
		"no blocks": {},
		"section with a button accessory": {
			blocks: `[{"type":"section","block_id":"s1","text":{"type":"mrkdwn","text":"*gpu-1*"},
				"accessory":{"type":"button","action_id":"release","value":"r-1","style":"danger","text":{"type":"plain_text","text":"Release"}}}]`,
			texts:   []string{"*gpu-1*", "release", "r-1", "Release"},
			buttons: []Button{{BlockID: "s1", ActionID: "release", Value: "r-1", Style: "danger", Text: "Release"}},
		},
		"context and image": {
			blocks: `[{"type":"context","elements":[{"type":"mrkdwn","text":"held by ada"},{"type":"image","image_url":"x","alt_text":"avatar"}]}]`,
			texts:  []string{"held by ada", "avatar"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			m := Message{Blocks: json.RawMessage(tc.blocks)}
			if tc.blocks == "" {
				m.Blocks = nil
			}
			g.Expect(m.BlockTexts()).To(Equal(tc.texts))
			g.Expect(m.Buttons()).To(Equal(tc.buttons))
		})
	}
}

// TestFileUpload drives slack-go's UploadFileContext (files.getUploadURLExternal, the POST of the bytes to the
// upload URL, files.completeUploadExternal) against the fake, and checks what it recorded.
func TestFileUpload(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	api := newAPI(s)
	ctx := context.Background()
	data := []byte("\x89PNG\r\n\x1a\n not really a chart, but bytes all the same")

	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("the thread", false))
	g.Expect(err).NotTo(HaveOccurred())
	file, err := api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader: bytes.NewReader(data), FileSize: len(data), Filename: "staging.png", Title: "staging, last 7 days",
		AltTxt: "held and waited hours", Channel: "C1", InitialComment: "*staging*: 12h held", ThreadTimestamp: ts,
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(*file).To(And(HaveField("ID", HavePrefix("F")), HaveField("Title", "staging, last 7 days")))

	g.Expect(s.Uploads()).To(ConsistOf(And(
		HaveField("FileID", file.ID), HaveField("Filename", "staging.png"), HaveField("PartFilename", "staging.png"),
		HaveField("Length", len(data)), HaveField("Bytes", Equal(data)), HaveField("AltText", "held and waited hours"),
		HaveField("Title", "staging, last 7 days"), HaveField("Channel", "C1"), HaveField("Channels", []string{"C1"}),
		HaveField("InitialComment", "*staging*: 12h held"), HaveField("ThreadTS", ts), HaveField("TS", Not(BeEmpty())),
	)))
	var methods []string
	for _, c := range s.Calls("") {
		methods = append(methods, c.Method)
	}
	g.Expect(methods).To(Equal([]string{"chat.postMessage", "files.getUploadURLExternal", "upload_url", "files.completeUploadExternal"}))
	msgs := s.Messages()
	g.Expect(msgs).To(HaveLen(2))
	g.Expect(msgs[1]).To(And(HaveField("Method", "files.completeUploadExternal"), HaveField("Channel", "C1"),
		HaveField("Text", "*staging*: 12h held"), HaveField("ThreadTS", ts)))

	// Shared to a user: their DM.
	_, err = api.UploadFileContext(ctx, slack.UploadFileParameters{Content: "x", FileSize: 1, Filename: "x.txt", Channel: "U1"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Uploads()[1].Channels).To(Equal([]string{"DU1"}))

	// Two files completed together are shared by one message.
	var shared []slack.FileSummary
	for _, name := range []string{"a.png", "b.png"} {
		u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: name, FileSize: 1})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Content: name[:1], Filename: name})).To(Succeed())
		shared = append(shared, slack.FileSummary{ID: u.FileID, Title: name})
	}
	done, err := api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: shared, Channel: "C2", InitialComment: "both"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done.Files).To(Equal(shared))
	both := s.Uploads()[2:]
	g.Expect(both).To(HaveExactElements(
		And(HaveField("Title", "a.png"), HaveField("Bytes", []byte("a"))), And(HaveField("Title", "b.png"), HaveField("Bytes", []byte("b")))))
	g.Expect(both[0].TS).To(Equal(both[1].TS))
	var inC2 []Message
	for _, m := range s.Messages() {
		if m.Channel == "C2" {
			inC2 = append(inC2, m)
		}
	}
	g.Expect(inC2).To(ConsistOf(And(HaveField("Text", "both"), HaveField("TS", both[0].TS))))
}

// TestFileUploadFaults checks the failures the flow can meet: a failed POST of the bytes, a file completed that
// was never uploaded, and a length that is not one.
func TestFileUploadFaults(t *testing.T) {
	g := NewWithT(t)
	s := New(t)
	api := newAPI(s)
	ctx := context.Background()
	params := slack.UploadFileParameters{Content: "chart", FileSize: 5, Filename: "c.png", Channel: "C1"}

	s.FailNext("upload_url", 1, "internal_error")
	_, err := api.UploadFileContext(ctx, params)
	var status slack.StatusCodeError
	g.Expect(errors.As(err, &status)).To(BeTrue(), "error is %v", err)
	g.Expect(status.Code).To(Equal(500))
	g.Expect(s.Uploads()).To(BeEmpty())

	s.RateLimitNext("files.getUploadURLExternal", 1, time.Second)
	_, err = api.UploadFileContext(ctx, params)
	var rl *slack.RateLimitedError
	g.Expect(errors.As(err, &rl)).To(BeTrue(), "error is %v", err)

	u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "c.png", FileSize: 5})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(u.UploadURL).To(HavePrefix(strings.TrimSuffix(s.URL(), "api/")))
	_, err = api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: u.FileID}}, Channel: "C1"})
	g.Expect(err).To(MatchError("file_not_found"), "completed before its bytes arrived")
	_, err = api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: "FNOPE"}}, Channel: "C1"})
	g.Expect(err).To(MatchError("file_not_found"))

	resp, err := http.PostForm(s.URL()+"files.getUploadURLExternal", url.Values{"token": {s.BotToken()}, "filename": {"c.png"}, "length": {"-3"}})
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	var answer struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	g.Expect(json.NewDecoder(resp.Body).Decode(&answer)).To(Succeed())
	g.Expect(answer).To(Equal(struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}{Error: "invalid_arguments"}))

	_, err = api.UploadFileContext(ctx, params)
	g.Expect(err).NotTo(HaveOccurred(), "and the flow works again")
	g.Expect(s.Uploads()).To(ConsistOf(HaveField("Bytes", []byte("chart"))))
}
