package slackbot

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/standup"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with what the message builders produce now")

// hostile is free text with every character that means something in Slack mrkdwn: the three Slack asks to be
// escaped (&, <, >; "<!channel>" would notify a whole channel) and the formatting ones, which mrkdwn cannot escape.
const hostile = "<!channel> & <https://evil.example|click> *bold* _italic_ `code` ~strike~"

// golden compares what a builder produced in each scenario with testdata/<name>.json, or rewrites the file when
// the tests run with -update. The file holds, by scenario, the JSON Slack is sent; it is compared unmarshalled, so
// that only its content counts.
func golden(t *testing.T, name string, got map[string]any) {
	t.Helper()
	path := filepath.Join("testdata", name+".json")
	raw := marshal(t, got)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	stored, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (write it with go test ./internal/slackbot/ -update)", err)
	}
	var want, have map[string]any
	if err := json.Unmarshal(stored, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(raw, &have); err != nil {
		t.Fatal(err)
	}
	for _, scenario := range slices.Sorted(maps.Keys(map[string]bool(union(want, have)))) {
		t.Run(scenario, func(t *testing.T) {
			if diff := cmp.Diff(want[scenario], have[scenario]); diff != "" {
				t.Errorf("%s (-golden +got; rewrite with -update if the change is meant):\n%s", path, diff)
			}
		})
	}
}

func union(a, b map[string]any) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// marshal writes v as indented JSON, with <, > and & as they are (Go would write \u003c), so that the golden
// files read as Slack receives them.
func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// wire is a message as chat.postMessage receives it: the notification text and the blocks.
func wire(msgs ...Message) any {
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = map[string]any{"text": m.Text, "blocks": m.Blocks}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

// Times of the golden messages: grantedAt and its expiry.
var (
	grantedAt = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	expiresAt = grantedAt.Add(2 * time.Hour)
)

// holdOf is a Reservation of staging granted to holder at grantedAt until expiresAt.
func holdOf(holder, reason string) *conchv1.Reservation {
	g, e := metav1.NewMicroTime(grantedAt), metav1.NewMicroTime(expiresAt)
	return &conchv1.Reservation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "r1"},
		Spec:       conchv1.ReservationSpec{ResourceName: "staging", Holder: holder, Reason: reason},
		Status: conchv1.ReservationStatus{
			State: conchv1.StateGranted, ResourceName: "staging", GrantedAt: &g, ExpiresAt: &e,
		},
	}
}

func TestGrantedDMGolden(t *testing.T) {
	golden(t, "GrantedDM", map[string]any{
		"no reason":                  wire(GrantedDM(holdOf("slack:UALICE", ""))),
		"a reason":                   wire(GrantedDM(holdOf("slack:UALICE", "deploying PR #345"))),
		"a reason with mrkdwn in it": wire(GrantedDM(holdOf("slack:UALICE", hostile))),
		"a holder who is no person":  wire(GrantedDM(holdOf("ci:deploy-web", ""))),
		"shortened to end at a booking": wire(GrantedDM(func() *conchv1.Reservation {
			r := holdOf("slack:UALICE", "")
			r.Status.Conditions = []metav1.Condition{{Type: conchv1.ConditionGranted, Status: metav1.ConditionTrue, Reason: conchv1.ReasonShortenedForBooking}}
			return r
		}())),
		"in another namespace, named": wire(GrantedDM(func() *conchv1.Reservation {
			r := holdOf("slack:UALICE", "")
			r.Namespace, r.Name = "qa", "nightly"
			return r
		}())),
	})
}

func TestHandoverPostGolden(t *testing.T) {
	golden(t, "HandoverPost", map[string]any{
		"a Slack user, a reason":       wire(HandoverPost(holdOf("slack:UALICE", "deploying PR #345"))),
		"a pipeline, as code":          wire(HandoverPost(holdOf("ci:deploy-web", ""))),
		"a holder and a reason mrkdwn": wire(HandoverPost(holdOf("ci:"+hostile, hostile))),
		"by priority, with its reason": wire(HandoverPost(func() *conchv1.Reservation {
			r := holdOf("ci:hotfix", hostile)
			p := int32(10)
			r.Spec.Priority = &p
			return r
		}())),
	})
}

func TestWarningDMGolden(t *testing.T) {
	r := holdOf("slack:UALICE", "")
	golden(t, "WarningDM", map[string]any{
		"ten minutes left":                    wire(WarningDM(r, expiresAt.Add(-10*time.Minute))),
		"9m30s left reads 10m, rounded up":    wire(WarningDM(r, expiresAt.Add(-9*time.Minute-30*time.Second))),
		"an hour and a half left":             wire(WarningDM(r, expiresAt.Add(-90*time.Minute))),
		"half a minute left reads 30s":        wire(WarningDM(r, expiresAt.Add(-30*time.Second))),
		"past its expiry reads 0s, not below": wire(WarningDM(r, expiresAt.Add(time.Minute))),
	})
}

func TestEndedDMGolden(t *testing.T) {
	r := holdOf("slack:UALICE", "")
	releasedBy := func(by string) *conchv1.Reservation {
		r := holdOf("slack:UALICE", "")
		r.Annotations = map[string]string{conchv1.AnnotationReleasedBy: by}
		return r
	}
	golden(t, "EndedDM", map[string]any{
		"expired":                            wire(EndedDM(r, conchv1.ReasonExpired)),
		"heartbeat missed":                   wire(EndedDM(r, conchv1.ReasonHeartbeatMissed)),
		"its Resource deleted":               wire(EndedDM(r, conchv1.ReasonResourceDeleted)),
		"released":                           wire(EndedDM(r, conchv1.ReasonReleased)),
		"released by someone else":           wire(EndedDM(releasedBy("<@UBOB>"), conchv1.ReasonReleased)),
		"released by, mrkdwn in the annot.":  wire(EndedDM(releasedBy(hostile), conchv1.ReasonReleased)),
		"deleted: said as a release":         wire(EndedDM(r, conchv1.ReasonDeleted)),
		"a reason it does not know: release": wire(EndedDM(r, "Unheard")),
	})
}

func TestResourceLineGolden(t *testing.T) {
	res := func(paused bool, waiting int32, holders ...string) *conchv1.Resource {
		r := &conchv1.Resource{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "staging"}}
		if paused {
			r.Spec.Granting = conchv1.GrantingPaused
		}
		for i, h := range holders {
			r.Status.Holders = append(r.Status.Holders, conchv1.ResourceHolder{
				Reservation: "r" + string(rune('1'+i)), Holder: h,
				Since: metav1.NewMicroTime(grantedAt), Until: metav1.NewMicroTime(expiresAt.Add(time.Duration(i) * time.Hour)),
			})
		}
		r.Status.Waiting = waiting
		return r
	}
	golden(t, "ResourceLine", map[string]any{
		"free":                           ResourceLine(res(false, 0)),
		"free and paused":                ResourceLine(res(true, 0)),
		"held by a Slack user":           ResourceLine(res(false, 0, "slack:UALICE")),
		"held by two, three waiting":     ResourceLine(res(false, 3, "slack:UALICE", "ci:deploy-web")),
		"held, one waiting, paused":      ResourceLine(res(true, 1, "slack:UALICE")),
		"paused and empty, two waiting":  ResourceLine(res(true, 2)),
		"held by a holder with mrkdwn":   ResourceLine(res(false, 0, "ci:"+hostile)),
		"held by a holder with backtick": ResourceLine(res(false, 0, "a`b")),
		"held, and booked next":          ResourceLine(booked(res(false, 1, "slack:UALICE"), "ci:"+hostile)),
	})
}

// booked records in status that holder booked the Resource from an hour after the current hold ends.
func booked(r *conchv1.Resource, holder string) *conchv1.Resource {
	r.Status.NextBooking = &conchv1.NextBooking{
		Reservation: "b1", Holder: holder,
		StartTime: metav1.NewTime(expiresAt.Add(time.Hour)), EndTime: metav1.NewTime(expiresAt.Add(3 * time.Hour)),
	}
	return r
}

// summaryOf is a run of the team stand-up (Europe/Paris) asking alice, bob and carol; dave is away.
func summaryOf(answers map[string][]string, envs standup.Environments) []Message {
	st := &conchv1.Standup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "team"},
		Spec: conchv1.StandupSpec{
			Channel: "CTEAM", TimeZone: "Europe/Paris", Questions: []string{"Yesterday?", "Today?", "Blockers <if any> & risks?"},
		},
	}
	at := metav1.NewTime(grantedAt)
	run := &conchv1.StandupRun{
		Spec: conchv1.StandupRunSpec{
			ID: "20261123T090000Z", ScheduledTime: at, Deadline: metav1.NewTime(grantedAt.Add(time.Hour)), Questions: st.Spec.Questions,
		},
		Status: conchv1.StandupRunStatus{Away: []string{"UDAVE"}},
	}
	for _, u := range []string{"UALICE", "UBOB", "UCAROL"} {
		p := conchv1.StandupParticipant{User: u, Prompted: true}
		if a, ok := answers[u]; ok {
			p.AnsweredAt, p.Answers = &at, a
		}
		run.Status.Participants = append(run.Status.Participants, p)
	}
	return StandupSummary(st, run, envs)
}

func TestStandupSummaryGolden(t *testing.T) {
	envs := standup.Environments{
		ByUser: map[string][]standup.Holding{
			"UALICE": {
				{Resource: "staging", Holder: "slack:UALICE", State: conchv1.StateGranted, Until: expiresAt, EndsToday: true},
				{Resource: "qa", Holder: "slack:UALICE", State: conchv1.StateQueued, Position: 2},
			},
			"UBOB":  {{Resource: "perf", Holder: "slack:UBOB", State: conchv1.StatePending}},
			"UDAVE": {{Resource: "demo", Holder: "slack:UDAVE", State: conchv1.StateGranted, Until: expiresAt.Add(48 * time.Hour)}},
		},
		EndingToday: []standup.Holding{
			{Resource: "staging", Holder: "slack:UALICE", State: conchv1.StateGranted, Until: expiresAt, EndsToday: true},
			{Resource: "load", Holder: "ci:" + hostile, State: conchv1.StateGranted, Until: expiresAt.Add(time.Hour), EndsToday: true},
		},
	}
	golden(t, "StandupSummary", map[string]any{
		"one answered with mrkdwn, one silent, one without answers, one away; holds and holds ending today": wire(summaryOf(
			map[string][]string{"UALICE": {"Fixed the <build> & tests", hostile, "  "}, "UCAROL": {}}, envs)...),
		"nobody answered, nothing held": wire(summaryOf(nil, standup.Environments{})...),
		"everyone answered":             wire(summaryOf(map[string][]string{"UALICE": {"a", "b", "c"}, "UBOB": {"d"}, "UCAROL": {"e", "f", "g", "h"}}, standup.Environments{})...),
	})
}

// TestMrkdwnEscaping checks that each piece of free text that reaches a mrkdwn field gets to Slack escaped
// (&amp; &lt; &gt;, the only escapes mrkdwn has), so that it notifies nobody ("<!channel>") and shows no link that
// reads as something else. Free text from outside Slack (reasons, descriptions, questions, annotations) is shown as
// written: *, _, ~ and `, which mrkdwn cannot escape, become look-alikes, so that they cannot end or start the
// formatting around the text. What people type into Slack for others to read (stand-up answers) keeps its
// formatting; a holder is shown in a code span, where only a backtick counts (it becomes ').
func TestMrkdwnEscaping(t *testing.T) {
	withAnnotation := holdOf("slack:UALICE", "")
	withAnnotation.Annotations = map[string]string{conchv1.AnnotationReleasedBy: hostile}
	holding := func(holder string) *conchv1.Resource {
		r := &conchv1.Resource{ObjectMeta: metav1.ObjectMeta{Name: "staging"}}
		r.Status.Holders = []conchv1.ResourceHolder{{Holder: holder, Until: metav1.NewMicroTime(expiresAt)}}
		return r
	}
	described := &conchv1.Resource{ObjectMeta: metav1.ObjectMeta{Name: "staging"}}
	described.Spec.Description = hostile
	const (
		kept    = "kept"    // formatting characters pass as they are
		code    = "code"    // in a code span: a backtick becomes '
		literal = "literal" // formatting characters become look-alikes
	)
	cases := map[string]struct {
		text       []Message
		formatting string
	}{
		"StandupSummary: answers": {
			text: summaryOf(map[string][]string{"UALICE": {hostile}}, standup.Environments{}), formatting: kept,
		},
		"StandupSummary: questions": {
			text: func() []Message {
				st := &conchv1.Standup{ObjectMeta: metav1.ObjectMeta{Name: "team"}}
				run := &conchv1.StandupRun{
					Spec: conchv1.StandupRunSpec{Questions: []string{hostile}},
					Status: conchv1.StandupRunStatus{Participants: []conchv1.StandupParticipant{
						{User: "UALICE", AnsweredAt: &metav1.Time{Time: grantedAt}, Answers: []string{"ok"}},
					}},
				}
				return StandupSummary(st, run, standup.Environments{})
			}(),
			formatting: literal,
		},
		"GrantedDM: spec.reason": {text: []Message{GrantedDM(holdOf("slack:UALICE", hostile))}, formatting: literal},
		"HandoverPost, in a channel: spec.reason": {
			text: []Message{HandoverPost(holdOf("slack:UALICE", hostile))}, formatting: literal,
		},
		"HandoverPost, in a channel: spec.holder": {
			text: []Message{HandoverPost(holdOf("ci:"+hostile, ""))}, formatting: code,
		},
		"EndedDM: the released-by annotation (Conch writes a mention there)": {
			text: []Message{EndedDM(withAnnotation, conchv1.ReasonReleased)}, formatting: literal,
		},
		"ResourceLine: spec.holder": {
			text: []Message{{Text: ResourceLine(holding("ci:" + hostile))}}, formatting: code,
		},
		"ResourceDetail: spec.description": {
			text: []Message{{Text: ResourceDetail(described, nil)}}, formatting: literal,
		},
		"StandupSummary, in a channel: the holder of a hold ending today": {
			text: summaryOf(nil, standup.Environments{EndingToday: []standup.Holding{
				{Resource: "load", Holder: "ci:" + hostile, State: conchv1.StateGranted, Until: expiresAt, EndsToday: true},
			}}),
			formatting: code,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sent := string(marshal(t, wire(tc.text...)))
			if strings.Contains(sent, "<!channel>") || strings.Contains(sent, "<https://evil.example|click>") || strings.Contains(sent, " & ") ||
				!strings.Contains(sent, "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;") {
				t.Errorf("free text reaches Slack unescaped:\n%s", sent)
			}
			want := map[string][]string{
				kept:    {"*bold*", "_italic_", "`code`", "~strike~"},
				code:    {"*bold*", "_italic_", "'code'", "~strike~"},
				literal: {"\u2217bold\u2217", "\u02cditalic\u02cd", "\u02cbcode\u02cb", "\u223cstrike\u223c"},
			}[tc.formatting]
			for _, f := range want {
				if !strings.Contains(sent, f) {
					t.Errorf("the formatting %s is not shown as %s:\n%s", tc.formatting, f, sent)
				}
			}
		})
	}
}

// TestLiteralKeepsTextOnOneLine: a line break in free text would end the italics it is shown in, and a line
// starting with > would be a quote.
func TestLiteralKeepsTextOnOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"deploy\n> quoted": "deploy &gt; quoted",
		"a\r\nb\tc\rd":     "a b c d",
		"plain words, é ✓": "plain words, é ✓",
	} {
		if got := literal(in); got != want {
			t.Errorf("literal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHealthPost(t *testing.T) {
	res := &conchv1.Resource{ObjectMeta: metav1.ObjectMeta{Name: "staging", Namespace: "web"}}
	res.Status.Conditions = []metav1.Condition{{
		Type: conchv1.ResourceConditionHealthy, Status: metav1.ConditionFalse, Reason: conchv1.ReasonCleanupFailed,
		Message: "Job staging-clean-3 failed: BackoffLimitExceeded: <!channel> *wiped*",
	}}
	cases := map[string]struct {
		unhealthy bool
		want      string
	}{
		"unhealthy: why, escaped, and how to repair": {
			unhealthy: true,
			want: ":warning: *staging* is unhealthy (CleanupFailed: Job staging-clean-3 failed: BackoffLimitExceeded: &lt;!channel&gt; \u2217wiped\u2217). " +
				"Nobody is granted it until it passes a check or an admin runs `kubectl conch repair staging -n web`.",
		},
		"healthy again": {want: ":white_check_mark: *staging* is healthy again; the queue moves on."},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, HealthPost(res, tc.unhealthy).Text); diff != "" {
				t.Errorf("text (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPreemptionMessagesGolden(t *testing.T) {
	r := holdOf("slack:UALICE", "")
	res := &conchv1.Resource{Status: conchv1.ResourceStatus{Holders: []conchv1.ResourceHolder{{UID: string(r.UID),
		Preemption: &conchv1.Preemption{Reservation: "hotfix", Holder: "ci:" + hostile, Reason: hostile}}}}}
	golden(t, "Preemption", map[string]any{
		"the holder's DM, 5 minutes before":      wire(PreemptingDM(r, res, expiresAt.Add(-4*time.Minute-30*time.Second))),
		"the channel, who takes it and why":      wire(PreemptionPost(r, res)),
		"the DM when the ledger is not seen yet": wire(PreemptingDM(r, nil, expiresAt.Add(-time.Minute))),
		"the end":                                wire(EndedDM(r, conchv1.ReasonPreempted)),
	})
}
