package eventsink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/notify"
	"github.com/conch-dev/conch/internal/text"
)

// This file turns an event into the body and headers of a request, for each format. It is pure.

// Source returns the CloudEvents source of ev: the path of the object it is about in the Kubernetes API,
// /apis/conch.dev/v1alpha1/namespaces/<ns>/reservations/<name> (or .../resources/<name>). With the event's id it
// is unique, as CloudEvents asks of source + id.
func Source(ev notify.Event) string {
	kind, name := "resources", ""
	switch {
	case ev.Reservation != nil:
		kind, name = "reservations", ev.Reservation.Name
	case ev.Resource != nil:
		name = ev.Resource.Name
	}
	return "/apis/" + conchv1.GroupVersion.String() + "/namespaces/" + ev.Namespace() + "/" + kind + "/" + name
}

// CloudEvent returns ev as a CloudEvent: type, id (stable across retries), source (Source), subject (the name of
// the Resource, when known), time, and the JSON payload of ev.Data().
func CloudEvent(ev notify.Event) (cloudevents.Event, error) {
	ce := cloudevents.NewEvent()
	ce.SetID(ev.ID)
	ce.SetType(ev.Type)
	ce.SetSource(Source(ev))
	if r := ev.ResourceName(); r != "" {
		ce.SetSubject(r)
	}
	ce.SetTime(ev.Time.UTC())
	if err := ce.SetData(cloudevents.ApplicationJSON, ev.Data()); err != nil {
		return ce, err
	}
	return ce, ce.Validate()
}

// encode returns the headers and body of the request that carries ev in format f.
func encode(f conchv1.EventSinkFormat, ev notify.Event) (http.Header, []byte, error) {
	switch f {
	case conchv1.FormatSlack:
		b, err := json.Marshal(SlackMessage(ev))
		return jsonHeader(), b, err
	case conchv1.FormatTeams:
		b, err := json.Marshal(TeamsMessage(ev))
		return jsonHeader(), b, err
	}
	ce, err := CloudEvent(ev)
	if err != nil {
		return nil, nil, fmt.Errorf("building the CloudEvent: %w", err)
	}
	ctx := binding.WithForceBinary(context.Background())
	if f == conchv1.FormatCloudEventsStructured {
		ctx = binding.WithForceStructured(context.Background())
	}
	req := &http.Request{Header: http.Header{}}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ce), req); err != nil {
		return nil, nil, fmt.Errorf("encoding the CloudEvent: %w", err)
	}
	var body []byte
	if req.Body != nil {
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, nil, err
		}
	}
	return req.Header, body, nil
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": []string{"application/json"}}
}

// SlackPayload is a Slack incoming-webhook message; Mattermost and Rocket.Chat read the same.
type SlackPayload struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is a section (Text) or context (Elements) block of Block Kit.
type SlackBlock struct {
	Type     string       `json:"type"`
	Text     *SlackText   `json:"text,omitempty"`
	Elements []*SlackText `json:"elements,omitempty"`
}

// SlackText is a mrkdwn text object.
type SlackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// maxChatText bounds the text of one chat message: Slack's section blocks take 3,000 characters.
const maxChatText = 3000

// SlackMessage renders ev for a Slack-compatible incoming webhook: the sentence a person reads, and a context
// line naming the object and the event type. Every piece of user text in it is escaped by EscapeSlack.
func SlackMessage(ev notify.Event) SlackPayload {
	msg := text.Truncate(sentence(ev, EscapeSlack, func(s string) string { return "*" + s + "*" }), maxChatText, text.Ellipsis)
	ctx := EscapeSlack(ev.Namespace()+"/"+objectName(ev)) + " · " + ev.Type
	return SlackPayload{Text: msg, Blocks: []SlackBlock{
		{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: msg}},
		{Type: "context", Elements: []*SlackText{{Type: "mrkdwn", Text: ctx}}},
	}}
}

// TeamsPayload is a Microsoft Teams workflow webhook message with one Adaptive Card.
type TeamsPayload struct {
	Type        string            `json:"type"`
	Attachments []TeamsAttachment `json:"attachments"`
}

// TeamsAttachment is an Adaptive Card attachment.
type TeamsAttachment struct {
	ContentType string    `json:"contentType"`
	Content     TeamsCard `json:"content"`
}

// TeamsCard is an Adaptive Card of text blocks.
type TeamsCard struct {
	Schema  string           `json:"$schema"`
	Type    string           `json:"type"`
	Version string           `json:"version"`
	Body    []TeamsTextBlock `json:"body"`
}

// TeamsTextBlock is an Adaptive Card TextBlock.
type TeamsTextBlock struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Wrap     bool   `json:"wrap"`
	Size     string `json:"size,omitempty"`
	IsSubtle bool   `json:"isSubtle,omitempty"`
}

// TeamsMessage renders ev as an Adaptive Card for a Teams workflow webhook: the sentence, then a subtle line
// naming the object and the event type. Every piece of user text in it is escaped by EscapeTeams.
func TeamsMessage(ev notify.Event) TeamsPayload {
	msg := text.Truncate(sentence(ev, EscapeTeams, func(s string) string { return "**" + s + "**" }), maxChatText, text.Ellipsis)
	return TeamsPayload{Type: "message", Attachments: []TeamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content: TeamsCard{
			Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
			Body: []TeamsTextBlock{
				{Type: "TextBlock", Text: msg, Wrap: true},
				{Type: "TextBlock", Text: EscapeTeams(ev.Namespace()+"/"+objectName(ev)) + " · " + EscapeTeams(ev.Type), Wrap: true, Size: "Small", IsSubtle: true},
			},
		},
	}}}
}

func objectName(ev notify.Event) string {
	if ev.Reservation != nil {
		return ev.Reservation.Name
	}
	if ev.Resource != nil {
		return ev.Resource.Name
	}
	return ""
}

// sentence says what happened in one line, as the Slack front end would: "alice has *staging* until 14:00 UTC
// (deploy pr-345)". esc escapes user text for the target; bold emphasises the Resource's name.
func sentence(ev notify.Event, esc, bold func(string) string) string {
	if ev.Reservation == nil {
		res := ev.Resource
		switch ev.Type {
		case conchv1.EventResourcePaused:
			s := bold(esc(res.Name)) + " is paused: it grants no new holds"
			if d, ok := ev.Data().(notify.ResourceData); ok && d.Message != "" {
				s += " (" + esc(d.Message) + ")"
			}
			return s
		case conchv1.EventResourceUnhealthy:
			s := bold(esc(res.Name)) + " is unhealthy: nobody is granted it until it passes a check or is repaired"
			if d, ok := ev.Data().(notify.ResourceData); ok && d.Health != "" {
				s += " (" + esc(d.Health) + ")"
			}
			return s
		case conchv1.EventResourceHealthy:
			return bold(esc(res.Name)) + " is healthy again and grants holds"
		}
		return bold(esc(res.Name)) + " grants holds again"
	}
	r := ev.Reservation
	who := esc(r.Spec.Holder)
	what := bold(esc(r.Status.ResourceName))
	if r.Status.ResourceName == "" {
		what = "a Resource (" + esc(r.Namespace+"/"+r.Name) + ")"
	}
	until := ""
	if r.Status.ExpiresAt != nil {
		until = timeOfDay(r.Status.ExpiresAt.Time, ev.Time)
	}
	var s string
	switch ev.Type {
	case conchv1.EventReservationQueued:
		s = who + " is waiting for " + what
		if r.Status.Position > 0 {
			s += fmt.Sprintf(" (number %d in line)", r.Status.Position)
		}
	case conchv1.EventReservationGranted:
		s = who + " has " + what + " until " + until
	case conchv1.EventReservationExpiring:
		s = who + "'s hold on " + what + " ends at " + until
	case conchv1.EventReservationExtended:
		s = who + " extended " + what + " until " + until
	case conchv1.EventReservationPreempting:
		s = who + "'s hold on " + what + " is preempted by a higher priority; it ends at " + until
	case conchv1.EventReservationReleased:
		s = who + " released " + what
		if r.Status.GrantedAt == nil {
			s = who + " stopped waiting for " + what
		}
	case conchv1.EventReservationExpired:
		s = who + "'s hold on " + what + " expired"
		if reason(r) == conchv1.ReasonHeartbeatMissed {
			s = who + "'s hold on " + what + " ended: its heartbeat stopped"
		}
	case conchv1.EventReservationRejected:
		s = who + " cannot have " + what
		if d, ok := ev.Data().(notify.ReservationData); ok && d.Message != "" {
			s += ": " + esc(d.Message)
		}
		return s
	default:
		s = who + ": " + esc(ev.Type) + " on " + what
	}
	if r.Spec.Reason != "" {
		s += " (" + esc(r.Spec.Reason) + ")"
	}
	return s
}

func reason(r *conchv1.Reservation) string {
	for _, c := range r.Status.Conditions {
		if c.Type == conchv1.ConditionReady {
			return c.Reason
		}
	}
	return ""
}

// timeOfDay renders t in UTC: the time of day when it is on the same day as now, with the date otherwise.
func timeOfDay(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04 UTC")
	}
	return t.Format("Jan 2 15:04 UTC")
}

// oneLine replaces control characters (newlines included) with spaces: user text never starts a line of its own,
// where it could begin a quote, a list or a heading.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// zwsp is a zero-width space: invisible, and it breaks the syntax it is put into.
const zwsp = "\u200b"

// slackEscaper escapes what Slack's mrkdwn treats as markup (&, <, >: links, mentions, <!channel>), and breaks
// what the other readers of Slack-compatible webhooks parse in plain text: @-mentions (Mattermost and
// Rocket.Chat notify @channel, @all, @here) and Markdown links ([text](url)).
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "@", "@"+zwsp, "](", "]"+zwsp+"(")

// EscapeSlack makes user text safe to put in a Slack-compatible message: on one line, with no link, mention or
// markup of its own.
func EscapeSlack(s string) string {
	return slackEscaper.Replace(oneLine(s))
}

// teamsEscaper escapes, with a backslash, the characters that start markup in an Adaptive Card's Markdown
// (emphasis, code, links, HTML-like tags), and breaks @-mentions the same way as for Slack.
var teamsEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "[", `\[`, "]", `\]`, "(", `\(`, ")", `\)`,
	"<", `\<`, ">", `\>`, "#", `\#`, "|", `\|`, "@", "@"+zwsp,
)

// EscapeTeams makes user text safe to put in an Adaptive Card TextBlock: on one line, with no Markdown of its own.
func EscapeTeams(s string) string {
	return teamsEscaper.Replace(oneLine(s))
}

// bodySnippet returns the start of a response body for an error message: one line, at most 200 characters.
func bodySnippet(b []byte) string {
	s := strings.TrimSpace(oneLine(string(bytes.ToValidUTF8(b, []byte("?")))))
	return text.Truncate(s, 200, text.Ellipsis)
}
