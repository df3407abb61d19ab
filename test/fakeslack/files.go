package fakeslack

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Slack's file upload flow, as slack-go's UploadFileContext drives it:
//
//  1. files.getUploadURLExternal (form: filename, length, optional alt_txt and snippet_type) answers an
//     upload_url and a file_id;
//  2. the app POSTs the bytes to upload_url as multipart/form-data, in a part named "file" (slack-go sends the
//     bot token as a Bearer header, and refuses to send it to a URL that is not on the API's host, so the fake
//     serves upload URLs on its own server);
//  3. files.completeUploadExternal (form: files, a JSON array of {"id","title"}; channel_id or channels;
//     initial_comment; thread_ts; blocks) shares the file, and Slack posts it in the channel.
//
// Each completed upload is recorded as an Upload per file, and as one Message (method
// files.completeUploadExternal, with initial_comment as its text) in each channel the files were shared to.

// MaxUploadBytes is the largest file the fake takes; larger uploads answer HTTP 413.
const MaxUploadBytes = 16 << 20

// uploadMethod is the Call.Method of a POST to an upload URL, for FailNext and Calls.
const uploadMethod = "upload_url"

// Upload is a file the app uploaded and shared with files.completeUploadExternal.
type Upload struct {
	// FileID is the ID files.getUploadURLExternal handed out.
	FileID string
	// Filename, Length, AltText and SnippetType are what files.getUploadURLExternal was given.
	Filename    string
	Length      int
	AltText     string
	SnippetType string
	// PartFilename is the file name of the multipart part the bytes came in.
	PartFilename string
	// Bytes are the bytes POSTed to the upload URL.
	Bytes []byte
	// Title is the file's title given to files.completeUploadExternal.
	Title string
	// Channel is channel_id; Channels are the channels it was shared to (channel_id and channels), resolved
	// as chat.postMessage resolves them (a user ID is their DM).
	Channel  string
	Channels []string
	// InitialComment, ThreadTS and Blocks are those of files.completeUploadExternal.
	InitialComment string
	ThreadTS       string
	Blocks         json.RawMessage
	// TS is the timestamp of the message that shares the file (and the others completed with it) in its first
	// channel; empty when shared nowhere.
	TS   string
	Time time.Time
}

// pendingFile is a file between files.getUploadURLExternal and files.completeUploadExternal.
type pendingFile struct {
	Upload
	uploaded bool
}

// filesGetUploadURLExternal hands out a file ID and the URL to POST its bytes to.
func (s *Server) filesGetUploadURLExternal(c *Call) (result, string) {
	name := c.Params.Get("filename")
	length, err := strconv.Atoi(c.Params.Get("length"))
	if name == "" || err != nil || length <= 0 {
		return nil, "invalid_arguments"
	}
	if length > MaxUploadBytes {
		return nil, "file_too_large"
	}
	id := s.nextIDLocked("F")
	s.files[id] = &pendingFile{Upload: Upload{
		FileID: id, Filename: name, Length: length,
		AltText: c.Params.Get("alt_txt"), SnippetType: c.Params.Get("snippet_type"),
	}}
	return result{"upload_url": s.http.URL + "/upload/" + id, "file_id": id}, ""
}

// handleUpload takes the bytes POSTed to an upload URL. Slack answers "OK - <length>" in plain text.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	c := Call{Method: uploadMethod, Time: time.Now(), Params: url.Values{"file_id": {id}}}
	status, body := http.StatusOK, ""
	var (
		data     []byte
		partName string
	)
	if r.Method != http.MethodPost {
		status, c.Error = http.StatusMethodNotAllowed, "method_not_allowed"
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBytes+1<<20)
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			status, c.Error = http.StatusBadRequest, "invalid_form_data"
		} else if f, hdr, err := formFile(r); err != nil {
			status, c.Error = http.StatusBadRequest, "no_file_data"
		} else {
			data, err = io.ReadAll(f)
			_ = f.Close()
			partName = hdr.Filename
			if err != nil {
				status, c.Error = http.StatusBadRequest, "invalid_form_data"
			}
		}
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && c.Error == "" && token != s.cfg.botToken {
		status, c.Error = http.StatusUnauthorized, "invalid_auth"
	}

	s.mu.Lock()
	f, known := s.files[id]
	fault, faulted := s.takeFaultLocked(uploadMethod, &c)
	switch {
	case c.Error != "":
	case faulted:
		c.Error = fault.code
		status = http.StatusInternalServerError
		if fault.rateLimit {
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(fault.retryAfter.Seconds()))))
		}
	case !known:
		status, c.Error = http.StatusNotFound, "file_not_found"
	default:
		f.Bytes, f.PartFilename, f.uploaded = data, partName, true
		body = "OK - " + strconv.Itoa(len(data))
	}
	s.calls = append(s.calls, c)
	s.mu.Unlock()

	if c.Error != "" {
		body = c.Error
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// formFile returns the part named "file" of a parsed multipart form, and removes the form's temporary files.
func formFile(r *http.Request) (io.ReadCloser, *multipart.FileHeader, error) {
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return nil, nil, err
	}
	// Read it all before the temporary files go.
	data, err := io.ReadAll(f)
	_ = f.Close()
	return io.NopCloser(bytes.NewReader(data)), hdr, err
}

// filesCompleteUploadExternal shares uploaded files in channels: each file becomes an Upload, and each channel
// gets one Message that shares them all.
func (s *Server) filesCompleteUploadExternal(c *Call) (result, string) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(c.Params.Get("files")), &files); err != nil || len(files) == 0 {
		return nil, "invalid_arguments"
	}
	for _, f := range files {
		p, ok := s.files[f.ID]
		if !ok || !p.uploaded {
			return nil, "file_not_found"
		}
	}
	var channels []string
	if ch := c.Params.Get("channel_id"); ch != "" {
		channels = append(channels, s.resolveChannel(ch))
	}
	for ch := range strings.SplitSeq(c.Params.Get("channels"), ",") {
		if ch = strings.TrimSpace(ch); ch != "" {
			channels = append(channels, s.resolveChannel(ch))
		}
	}
	blocks := jsonOrNil(c.Params.Get("blocks"))
	comment := c.Params.Get("initial_comment")
	// One message per channel shares all the files, as on Slack.
	ts := ""
	for i, ch := range channels {
		m := Message{Method: c.Method, Channel: ch, TS: s.nextTSLocked(), ThreadTS: c.ThreadTS, Text: comment, Blocks: blocks, Time: c.Time}
		if i == 0 {
			ts = m.TS
		}
		s.messages = append(s.messages, m)
		s.current[msgKey{m.Channel, m.TS}] = m
	}
	summaries := make([]map[string]any, 0, len(files))
	for _, f := range files {
		p := s.files[f.ID]
		delete(s.files, f.ID)
		u := p.Upload
		u.Title, u.Channel, u.Channels, u.TS = f.Title, c.Params.Get("channel_id"), channels, ts
		u.InitialComment, u.ThreadTS, u.Blocks, u.Time = comment, c.ThreadTS, blocks, c.Time
		s.uploads = append(s.uploads, u)
		summaries = append(summaries, map[string]any{"id": u.FileID, "title": u.Title})
	}
	return result{"files": summaries}, ""
}

// Uploads returns the files shared so far, oldest first.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, len(s.uploads))
	for i, u := range s.uploads {
		u.Bytes, u.Blocks = bytes.Clone(u.Bytes), bytes.Clone(u.Blocks)
		u.Channels = append([]string(nil), u.Channels...)
		out[i] = u
	}
	return out
}
