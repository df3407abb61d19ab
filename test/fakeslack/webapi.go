package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// result is a successful answer; the handler adds "ok": true.
type result map[string]any

// apiHandler answers one Web API method. It runs with s.mu held and returns either a result or an error code.
type apiHandler func(s *Server, c *Call) (result, string)

var apiHandlers = map[string]apiHandler{
	"apps.connections.open":        (*Server).appsConnectionsOpen,
	"auth.test":                    (*Server).authTest,
	"chat.postMessage":             (*Server).chatPostMessage,
	"chat.postEphemeral":           (*Server).chatPostEphemeral,
	"chat.update":                  (*Server).chatUpdate,
	"chat.delete":                  (*Server).chatDelete,
	"conversations.open":           (*Server).conversationsOpen,
	"files.getUploadURLExternal":   (*Server).filesGetUploadURLExternal,
	"files.completeUploadExternal": (*Server).filesCompleteUploadExternal,
	"users.info":                   (*Server).usersInfo,
	"users.lookupByEmail":          (*Server).usersLookupByEmail,
	"usergroups.users.list":        (*Server).usergroupsUsersList,
	"views.open":                   (*Server).viewsOpen,
	"views.update":                 (*Server).viewsUpdate,
	"views.publish":                (*Server).viewsPublish,
}

// handleAPI serves /api/<method>. It records the call, checks the token, applies injected faults, then runs
// the method's handler; unknown methods are recorded and answered unknown_method.
func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	call, token, err := parseCall(method, r)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}

	s.mu.Lock()
	var (
		res       result
		code      string
		limited   bool
		retryWait time.Duration
	)
	handler, known := apiHandlers[method]
	if known {
		code = s.checkToken(method, token)
	} else {
		code = "unknown_method"
	}
	if code == "" {
		if f, ok := s.takeFaultLocked(method, &call); ok {
			code, limited, retryWait = f.code, f.rateLimit, f.retryAfter
		}
	}
	if code == "" {
		res, code = handler(s, &call)
	}
	call.Error = code
	s.calls = append(s.calls, call)
	s.mu.Unlock()

	switch {
	case limited:
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryWait.Seconds()))))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": code})
	case code != "":
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
	default:
		res["ok"] = true
		writeJSON(w, http.StatusOK, res)
	}
}

// checkToken returns the error code Slack gives for the token, "" if it is the right one: the app-level token
// for apps.connections.open, the bot token for everything else.
func (s *Server) checkToken(method, token string) string {
	want, other := s.cfg.botToken, s.cfg.appToken
	if method == "apps.connections.open" {
		want, other = other, want
	}
	switch token {
	case want:
		return ""
	case "":
		return "not_authed"
	case other:
		return "not_allowed_token_type"
	default:
		return "invalid_auth"
	}
}

// parseCall reads a request the way slack-go sends it: a form (token in the "token" field) or a JSON body
// (token in the Authorization header), or a GET with query parameters.
func parseCall(method string, r *http.Request) (Call, string, error) {
	c := Call{Method: method, Time: time.Now(), Params: url.Values{}}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ctype {
	case "application/json":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return c, "", err
		}
		if len(bytes.TrimSpace(body)) > 0 {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(body, &fields); err != nil {
				return c, "", err
			}
			c.Body = body
			for k, v := range fields {
				var str string
				if json.Unmarshal(v, &str) == nil {
					c.Params.Set(k, str)
					continue
				}
				var buf bytes.Buffer
				if json.Compact(&buf, v) == nil {
					c.Params.Set(k, buf.String())
				}
			}
		}
		for k, vs := range r.URL.Query() {
			c.Params[k] = append(c.Params[k], vs...)
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return c, "", err
		}
		c.Params = r.Form
	default:
		if err := r.ParseForm(); err != nil {
			return c, "", err
		}
		c.Params = r.Form
	}

	token := c.Params.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	c.Params.Del("token")

	c.Channel, c.User, c.Text = c.Params.Get("channel"), c.Params.Get("user"), c.Params.Get("text")
	c.ThreadTS, c.TS = c.Params.Get("thread_ts"), c.Params.Get("ts")
	c.Blocks = jsonOrNil(c.Params.Get("blocks"))
	if v := c.Params.Get("view"); v != "" {
		var view struct {
			Blocks json.RawMessage `json:"blocks"`
		}
		if json.Unmarshal([]byte(v), &view) == nil {
			c.Blocks = jsonOrNil(string(view.Blocks))
		}
	}
	return c, token, nil
}

// jsonOrNil returns s as JSON when it is JSON other than null, nil otherwise.
func jsonOrNil(s string) json.RawMessage {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" || !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// appsConnectionsOpen hands out a one-use websocket URL, as Slack does.
func (s *Server) appsConnectionsOpen(_ *Call) (result, string) {
	ticket := s.nextIDLocked("ticket-")
	s.tickets[ticket] = true
	u := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/link/?ticket=" + ticket + "&app_id=" + s.cfg.appID
	return result{"url": u}, ""
}

func (s *Server) authTest(_ *Call) (result, string) {
	return result{
		"url":  "https://" + s.cfg.teamDomain + ".slack.com/",
		"team": s.cfg.teamDomain, "user": "conch", "team_id": s.cfg.teamID,
		"user_id": s.cfg.botUserID, "bot_id": s.cfg.botID,
	}, ""
}

// checkMessage returns the error Slack gives for a message without content or with blocks that are not a JSON
// array.
func checkMessage(c *Call) string {
	if raw := c.Params.Get("blocks"); raw != "" {
		var blocks []json.RawMessage
		if json.Unmarshal([]byte(raw), &blocks) != nil {
			return "invalid_blocks"
		}
	}
	if c.Text == "" && len(c.Blocks) == 0 && c.Params.Get("attachments") == "" {
		return "no_text"
	}
	return ""
}

// resolveChannel turns a user ID into the DM channel with that user, as chat.postMessage does.
func (s *Server) resolveChannel(ch string) string {
	if isUserID(ch) {
		ch = dmChannel(ch)
		s.ims[ch] = true
	}
	return ch
}

// messageObject is the "message" object chat.postMessage and chat.update return.
func (s *Server) messageObject(m Message) map[string]any {
	obj := map[string]any{
		"type": "message", "user": s.cfg.botUserID, "bot_id": s.cfg.botID, "app_id": s.cfg.appID,
		"text": m.Text, "ts": m.TS, "team": s.cfg.teamID,
	}
	if m.ThreadTS != "" {
		obj["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		obj["blocks"] = m.Blocks
	}
	return obj
}

func (s *Server) chatPostMessage(c *Call) (result, string) {
	if c.Channel == "" {
		return nil, "channel_not_found"
	}
	if code := checkMessage(c); code != "" {
		return nil, code
	}
	m := Message{
		Method: c.Method, Channel: s.resolveChannel(c.Channel), TS: s.nextTSLocked(), ThreadTS: c.ThreadTS,
		Text: c.Text, Blocks: c.Blocks, Time: c.Time,
	}
	s.messages = append(s.messages, m)
	s.current[msgKey{m.Channel, m.TS}] = m
	return result{"channel": m.Channel, "ts": m.TS, "message": s.messageObject(m)}, ""
}

func (s *Server) chatPostEphemeral(c *Call) (result, string) {
	if c.Channel == "" {
		return nil, "channel_not_found"
	}
	if c.User == "" {
		return nil, "user_not_found"
	}
	if code := checkMessage(c); code != "" {
		return nil, code
	}
	m := Message{
		Method: c.Method, Channel: s.resolveChannel(c.Channel), User: c.User, TS: s.nextTSLocked(),
		ThreadTS: c.ThreadTS, Text: c.Text, Blocks: c.Blocks, Ephemeral: true, Time: c.Time,
	}
	s.messages = append(s.messages, m)
	return result{"message_ts": m.TS}, ""
}

func (s *Server) chatUpdate(c *Call) (result, string) {
	key := msgKey{c.Channel, c.TS}
	if _, ok := s.current[key]; !ok {
		return nil, "message_not_found"
	}
	if code := checkMessage(c); code != "" {
		return nil, code
	}
	m := Message{Method: c.Method, Channel: c.Channel, TS: c.TS, Text: c.Text, Blocks: c.Blocks, Time: c.Time}
	m.ThreadTS = s.current[key].ThreadTS
	s.messages = append(s.messages, m)
	s.current[key] = m
	return result{"channel": m.Channel, "ts": m.TS, "text": m.Text, "message": s.messageObject(m)}, ""
}

func (s *Server) chatDelete(c *Call) (result, string) {
	key := msgKey{c.Channel, c.TS}
	if _, ok := s.current[key]; !ok {
		return nil, "message_not_found"
	}
	delete(s.current, key)
	return result{"channel": c.Channel, "ts": c.TS}, ""
}

// conversationsOpen opens the DM with one user (D<user ID>) or a group DM with several.
func (s *Server) conversationsOpen(c *Call) (result, string) {
	id := c.Channel
	if id == "" {
		users := strings.Split(c.Params.Get("users"), ",")
		switch {
		case users[0] == "":
			return nil, "users_list_not_supplied"
		case len(users) == 1:
			id = dmChannel(users[0])
		default:
			id = "G" + strings.Join(users, "")
		}
	}
	already := s.ims[id]
	s.ims[id] = true
	return result{"channel": map[string]any{"id": id}, "no_op": already, "already_open": already}, ""
}

func (s *Server) slackUser(u User) slack.User {
	return slack.User{
		ID: u.ID, TeamID: s.cfg.teamID, Name: u.Name, RealName: u.RealName, Deleted: u.Deleted, IsBot: u.IsBot,
		TZ: u.TZ, TZLabel: u.TZLabel, TZOffset: u.TZOffset,
		Profile: slack.UserProfile{
			RealName: u.RealName, RealNameNormalized: u.RealName,
			DisplayName: u.DisplayName, DisplayNameNormalized: u.DisplayName, Email: u.Email,
		},
	}
}

func (s *Server) usersInfo(c *Call) (result, string) {
	u, ok := s.users[c.User]
	if !ok {
		return nil, "user_not_found"
	}
	return result{"user": s.slackUser(u)}, ""
}

func (s *Server) usersLookupByEmail(c *Call) (result, string) {
	email := strings.ToLower(c.Params.Get("email"))
	for _, u := range s.users {
		if email != "" && strings.ToLower(u.Email) == email {
			return result{"user": s.slackUser(u)}, ""
		}
	}
	return nil, "users_not_found"
}

func (s *Server) usergroupsUsersList(c *Call) (result, string) {
	members, ok := s.groups[c.Params.Get("usergroup")]
	if !ok {
		return nil, "no_such_subteam"
	}
	if members == nil {
		members = []string{}
	}
	return result{"users": members}, ""
}

// trigger is a trigger_id the fake issued with a slash command or an interaction.
type trigger struct {
	user   string
	issued time.Time
	used   bool
}

// NewTriggerID issues a trigger_id for userID, as Slack does with each slash command and interaction, for a
// test that calls views.open directly.
func (s *Server) NewTriggerID(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newTriggerLocked(userID)
}

func (s *Server) newTriggerLocked(userID string) string {
	s.seq++
	id := fmt.Sprintf("%d.%d.%016x", time.Now().Unix(), s.seq, s.seq)
	s.triggers[id] = &trigger{user: userID, issued: time.Now()}
	return id
}

// view is a stored view; Raw holds the app's view object.
type view struct {
	View
}

func (v *view) snapshot() View {
	out := v.View
	out.Blocks, out.Raw = bytes.Clone(out.Blocks), bytes.Clone(out.Raw)
	return out
}

// viewObject is the view as Slack returns it: the app's fields plus those Slack owns, with state as given
// (empty values when nil).
func (s *Server) viewObject(v *view, state any) json.RawMessage {
	obj := map[string]any{}
	_ = json.Unmarshal(v.Raw, &obj)
	if state == nil {
		state = map[string]any{"values": map[string]any{}}
	}
	for k, val := range map[string]any{
		"id": v.ID, "team_id": s.cfg.teamID, "type": v.Type, "hash": v.Hash, "state": state,
		"root_view_id": v.ID, "previous_view_id": nil, "app_id": s.cfg.appID, "bot_id": s.cfg.botID,
		"app_installed_team_id": s.cfg.teamID, "callback_id": v.CallbackID,
		"private_metadata": v.PrivateMetadata, "external_id": v.ExternalID,
	} {
		obj[k] = val
	}
	if _, ok := obj["blocks"]; !ok {
		obj["blocks"] = []any{}
	}
	raw, _ := json.Marshal(obj)
	return raw
}

// setViewLocked stores the app's view object into v and gives it a new hash.
func (s *Server) setViewLocked(v *view, raw string, blocks json.RawMessage) string {
	var fields struct {
		Type            string `json:"type"`
		CallbackID      string `json:"callback_id"`
		PrivateMetadata string `json:"private_metadata"`
		ExternalID      string `json:"external_id"`
	}
	if raw == "" || json.Unmarshal([]byte(raw), &fields) != nil {
		return "invalid_arguments"
	}
	v.Raw, v.Blocks = json.RawMessage(raw), blocks
	v.Type, v.CallbackID, v.PrivateMetadata, v.ExternalID = fields.Type, fields.CallbackID, fields.PrivateMetadata, fields.ExternalID
	v.Hash = fmt.Sprintf("%d.%s", time.Now().Unix(), s.nextIDLocked("h"))
	return ""
}

// viewsOpen opens a modal. Its trigger_id must be one the fake issued, unused and younger than the trigger TTL.
func (s *Server) viewsOpen(c *Call) (result, string) {
	tr, ok := s.triggers[c.Params.Get("trigger_id")]
	switch {
	case !ok:
		return nil, "invalid_trigger_id"
	case tr.used:
		return nil, "exchanged_trigger_id"
	case s.cfg.triggerTTL > 0 && c.Time.Sub(tr.issued) > s.cfg.triggerTTL:
		return nil, "expired_trigger_id"
	}
	v := &view{View: View{ID: s.nextIDLocked("V"), UserID: tr.user}}
	if code := s.setViewLocked(v, c.Params.Get("view"), c.Blocks); code != "" {
		return nil, code
	}
	tr.used = true
	s.views[v.ID] = v
	s.viewIDs = append(s.viewIDs, v.ID)
	return result{"view": s.viewObject(v, nil)}, ""
}

// findViewLocked finds a view by view_id or external_id.
func (s *Server) findViewLocked(viewID, externalID string) *view {
	if v, ok := s.views[viewID]; ok {
		return v
	}
	for _, v := range s.views {
		if externalID != "" && v.ExternalID == externalID {
			return v
		}
	}
	return nil
}

// viewsUpdate replaces a view; a hash that is not the view's current one is a conflict, as on Slack.
func (s *Server) viewsUpdate(c *Call) (result, string) {
	v := s.findViewLocked(c.Params.Get("view_id"), c.Params.Get("external_id"))
	if v == nil {
		return nil, "not_found"
	}
	if h := c.Params.Get("hash"); h != "" && h != v.Hash {
		return nil, "hash_conflict"
	}
	if code := s.setViewLocked(v, c.Params.Get("view"), c.Blocks); code != "" {
		return nil, code
	}
	v.Updates++
	return result{"view": s.viewObject(v, nil)}, ""
}

// viewsPublish sets a user's home tab.
func (s *Server) viewsPublish(c *Call) (result, string) {
	userID := c.Params.Get("user_id")
	if userID == "" {
		return nil, "invalid_arguments"
	}
	v, ok := s.views[s.homes[userID]]
	if ok {
		if h := c.Params.Get("hash"); h != "" && h != v.Hash {
			return nil, "hash_conflict"
		}
		v.Updates++
	} else {
		v = &view{View: View{ID: s.nextIDLocked("V"), UserID: userID}}
	}
	if code := s.setViewLocked(v, c.Params.Get("view"), c.Blocks); code != "" {
		return nil, code
	}
	if !ok {
		s.views[v.ID] = v
		s.viewIDs = append(s.viewIDs, v.ID)
		s.homes[userID] = v.ID
	}
	return result{"view": s.viewObject(v, nil)}, ""
}

// responseURL is a response URL the fake issued, and what it answers for.
type responseURL struct {
	channel, user string
	messageTS     string // the message a button was clicked on, for replace_original
	ephemeral     bool   // that message was ephemeral
	uses          int
}

// maxResponseURLUses is how many times Slack accepts a response URL.
const maxResponseURLUses = 5

func (s *Server) newResponseURLLocked(r responseURL) string {
	id := s.nextIDLocked("R")
	s.replies[id] = &r
	return s.http.URL + "/response/" + id
}

// handleResponseURL serves POSTs to response URLs: each becomes a Message in the channel and for the user the
// URL was issued for. Ephemeral unless response_type is in_channel; replace_original and delete_original act on
// the message a button was clicked on.
func (s *Server) handleResponseURL(w http.ResponseWriter, r *http.Request) {
	const method = "response_url"
	id := strings.TrimPrefix(r.URL.Path, "/response/")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var msg struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
		ThreadTS        string          `json:"thread_ts"`
	}
	parseErr := json.Unmarshal(body, &msg)
	c := Call{
		Method: method, Time: time.Now(), Params: url.Values{"id": {id}}, Body: body,
		Text: msg.Text, ThreadTS: msg.ThreadTS, Blocks: jsonOrNil(string(msg.Blocks)),
	}

	s.mu.Lock()
	ru, ok := s.replies[id]
	f, faulted := s.takeFaultLocked(method, nil)
	switch {
	case faulted:
		c.Error = f.code
	case !ok:
		c.Error = "invalid_url"
	case parseErr != nil:
		c.Error = "invalid_payload"
	case ru.uses >= maxResponseURLUses:
		c.Error = "used_url"
	default:
		ru.uses++
		c.Channel, c.User = ru.channel, ru.user
		s.respondLocked(ru, &c, msg.ResponseType, msg.ReplaceOriginal, msg.DeleteOriginal)
	}
	s.calls = append(s.calls, c)
	s.mu.Unlock()

	switch {
	case faulted && f.rateLimit:
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.retryAfter.Seconds()))))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": c.Error})
	case c.Error == "invalid_payload":
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": c.Error})
	case c.Error != "":
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": c.Error})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}
}

// respondLocked turns a response URL post into a Message, and applies replace_original and delete_original.
func (s *Server) respondLocked(ru *responseURL, c *Call, responseType string, replace, del bool) {
	m := Message{
		Method: c.Method, Channel: ru.channel, User: ru.user, ThreadTS: c.ThreadTS, Text: c.Text,
		Blocks: c.Blocks, ResponseType: responseType, Ephemeral: responseType != slack.ResponseTypeInChannel,
		ReplaceOriginal: replace, DeleteOriginal: del, Time: c.Time, RespondingTo: ru.user,
	}
	key := msgKey{ru.channel, ru.messageTS}
	switch {
	case (replace || del) && ru.messageTS != "":
		// The replaced message keeps its visibility, whatever response_type says.
		m.TS, m.Ephemeral = ru.messageTS, ru.ephemeral
		if _, ok := s.current[key]; ok {
			if del {
				delete(s.current, key)
			} else {
				m.User = ""
				s.current[key] = m
			}
		}
	default:
		m.TS = s.nextTSLocked()
		if !m.Ephemeral {
			m.User = ""
			s.current[msgKey{m.Channel, m.TS}] = m
		}
	}
	s.messages = append(s.messages, m)
}
