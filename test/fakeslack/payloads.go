package fakeslack

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// SlashCommand is a slash command a user typed. Empty TeamID, TriggerID and ResponseURL are filled in: a fresh
// trigger for UserID, and a response URL on the fake for ChannelID and UserID.
type SlashCommand struct {
	Command     string // "/dibs"
	Text        string // what follows the command
	UserID      string
	UserName    string
	ChannelID   string
	ChannelName string
	TeamID      string
	ResponseURL string
	TriggerID   string
}

// SendSlashCommand sends a slash_commands envelope and returns its ID. The payload is slack.SlashCommand's JSON.
func (s *Server) SendSlashCommand(cmd SlashCommand) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := slack.SlashCommand{
		Token: verificationToken, TeamID: cmd.TeamID, TeamDomain: s.cfg.teamDomain,
		ChannelID: cmd.ChannelID, ChannelName: cmd.ChannelName, UserID: cmd.UserID, UserName: cmd.UserName,
		Command: cmd.Command, Text: cmd.Text, ResponseURL: cmd.ResponseURL, TriggerID: cmd.TriggerID,
		APIAppID: s.cfg.appID,
	}
	if p.TeamID == "" {
		p.TeamID = s.cfg.teamID
	}
	if p.UserName == "" {
		p.UserName = s.users[p.UserID].Name
	}
	if p.TriggerID == "" {
		p.TriggerID = s.newTriggerLocked(p.UserID)
	}
	if p.ResponseURL == "" {
		p.ResponseURL = s.newResponseURLLocked(responseURL{channel: p.ChannelID, user: p.UserID})
	}
	return s.sendJSONLocked("slash_commands", p, true)
}

// sendJSONLocked marshals payload and sends it in an envelope.
func (s *Server) sendJSONLocked(typ string, payload any, accepts bool) string {
	raw, err := json.Marshal(payload)
	if err != nil {
		s.t.Errorf("fakeslack: marshalling a %s payload: %v", typ, err)
		return ""
	}
	return s.sendLocked(typ, raw, accepts)
}

// SendInteraction sends an interactive envelope with cb as its payload and returns its ID. Empty APIAppID,
// Team.ID and TriggerID are filled in, and for block_actions an empty ResponseURL too. ClickButton and
// SubmitView build the usual payloads.
func (s *Server) SendInteraction(cb slack.InteractionCallback) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cb.APIAppID == "" {
		cb.APIAppID = s.cfg.appID
	}
	if cb.Team.ID == "" {
		cb.Team.ID, cb.Team.Domain = s.cfg.teamID, s.cfg.teamDomain
	}
	if cb.Token == "" {
		cb.Token = verificationToken
	}
	if cb.TriggerID == "" {
		cb.TriggerID = s.newTriggerLocked(cb.User.ID)
	}
	if cb.Type == slack.InteractionTypeBlockActions && cb.ResponseURL == "" {
		cb.ResponseURL = s.newResponseURLLocked(responseURL{
			channel: cb.Channel.ID, user: cb.User.ID, messageTS: cb.Container.MessageTs, ephemeral: cb.Container.IsEphemeral,
		})
	}
	// InteractionCallback's MarshalJSON has a pointer receiver: marshalling the value would skip it.
	return s.sendJSONLocked("interactive", &cb, acceptsResponse(string(cb.Type)))
}

// SendInteractionJSON sends an interactive envelope with a payload written by hand, unchanged.
func (s *Server) SendInteractionJSON(payload json.RawMessage) string {
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(payload, &head)
	return s.SendEnvelope("interactive", payload, acceptsResponse(head.Type))
}

// acceptsResponse reports whether Slack lets the app answer an interaction in its ack: it does for view
// submissions and suggestions, not for button clicks.
func acceptsResponse(interactionType string) bool {
	return interactionType != string(slack.InteractionTypeBlockActions)
}

// Click is a user clicking a button on a message; Message.Click builds one from a posted message.
type Click struct {
	UserID    string
	UserName  string // defaults to the registered user's name
	ChannelID string
	MessageTS string
	Ephemeral bool // the message was ephemeral
	ActionID  string
	BlockID   string
	Value     string
	Text      string // the button's label
}

// ClickButton sends the block_actions interaction Slack sends when a user clicks a button, with a fresh trigger
// and a response URL bound to the message (for replace_original), and returns the envelope ID. When the fake
// holds the message, it goes in the payload's "message", as on Slack.
func (s *Server) ClickButton(c Click) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := c.UserName
	if name == "" {
		name = s.users[c.UserID].Name
	}
	now := time.Now()
	actionTS := strconv.FormatFloat(float64(now.UnixMicro())/1e6, 'f', 6, 64)
	payload := map[string]any{
		"type":                  slack.InteractionTypeBlockActions,
		"user":                  map[string]any{"id": c.UserID, "username": name, "name": name, "team_id": s.cfg.teamID},
		"api_app_id":            s.cfg.appID,
		"token":                 verificationToken,
		"container":             map[string]any{"type": "message", "message_ts": c.MessageTS, "channel_id": c.ChannelID, "is_ephemeral": c.Ephemeral},
		"trigger_id":            s.newTriggerLocked(c.UserID),
		"team":                  map[string]any{"id": s.cfg.teamID, "domain": s.cfg.teamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]any{"id": c.ChannelID},
		"state":                 map[string]any{"values": map[string]any{}},
		"response_url": s.newResponseURLLocked(responseURL{
			channel: c.ChannelID, user: c.UserID, messageTS: c.MessageTS, ephemeral: c.Ephemeral,
		}),
		"actions": []any{map[string]any{
			"action_id": c.ActionID, "block_id": c.BlockID, "value": c.Value, "type": "button", "action_ts": actionTS,
			"text": map[string]any{"type": slack.PlainTextType, "text": c.Text, "emoji": true},
		}},
	}
	if m, ok := s.current[msgKey{c.ChannelID, c.MessageTS}]; ok {
		payload["message"] = s.messageObject(m)
	}
	return s.sendJSONLocked("interactive", payload, false)
}

// Submission is a user submitting a modal.
type Submission struct {
	UserID   string
	UserName string
	// ViewID is the view submitted. When the fake holds it (from views.open or views.update), its callback_id,
	// private_metadata and blocks go into the payload.
	ViewID string
	// CallbackID and PrivateMetadata, when set, override the view's.
	CallbackID      string
	PrivateMetadata string
	// Values is the view's state: block_id → action_id → what the user entered or chose.
	Values map[string]map[string]slack.BlockAction
}

// SubmitView sends the view_submission interaction Slack sends when a user submits a modal, and returns the
// envelope ID. The app may answer it in its ack (response_action), which the Ack records.
func (s *Server) SubmitView(sub Submission) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[sub.ViewID]
	if !ok {
		v = &view{View: View{ID: sub.ViewID, Type: string(slack.VTModal), Raw: json.RawMessage(`{"type":"modal"}`)}}
		if v.ID == "" {
			v.ID = s.nextIDLocked("V")
		}
	}
	cp := *v
	if sub.CallbackID != "" {
		cp.CallbackID = sub.CallbackID
	}
	if sub.PrivateMetadata != "" {
		cp.PrivateMetadata = sub.PrivateMetadata
	}
	values := sub.Values
	if values == nil {
		values = map[string]map[string]slack.BlockAction{}
	}
	name := sub.UserName
	if name == "" {
		name = s.users[sub.UserID].Name
	}
	payload := map[string]any{
		"type":                  slack.InteractionTypeViewSubmission,
		"team":                  map[string]any{"id": s.cfg.teamID, "domain": s.cfg.teamDomain},
		"user":                  map[string]any{"id": sub.UserID, "username": name, "name": name, "team_id": s.cfg.teamID},
		"api_app_id":            s.cfg.appID,
		"token":                 verificationToken,
		"trigger_id":            s.newTriggerLocked(sub.UserID),
		"view":                  s.viewObject(&cp, slack.ViewState{Values: values}),
		"response_urls":         []any{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	return s.sendJSONLocked("interactive", payload, true)
}

// SendEvent sends an events_api envelope whose inner event is event (a slackevents type such as
// slackevents.AppMentionEvent, or a map with a "type"), wrapped in an event_callback as Slack does, and returns
// the envelope ID.
func (s *Server) SendEvent(event any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	inner, err := json.Marshal(event)
	if err != nil {
		s.t.Errorf("fakeslack: marshalling an event: %v", err)
		return ""
	}
	now := time.Now()
	payload := map[string]any{
		"token":      verificationToken,
		"team_id":    s.cfg.teamID,
		"api_app_id": s.cfg.appID,
		"event":      json.RawMessage(inner),
		"type":       "event_callback",
		"event_id":   s.nextIDLocked("Ev"),
		"event_time": now.Unix(),
		"authorizations": []any{map[string]any{
			"team_id": s.cfg.teamID, "user_id": s.cfg.botUserID, "is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
	}
	return s.sendJSONLocked("events_api", payload, false)
}
