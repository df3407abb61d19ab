package slackbot

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/standup"
	"github.com/conch-dev/conch/internal/text"
)

// testStandup returns a Standup and a run of people, of whom every other one (all, with every) answered.
func testStandup(people int, answer string, every ...bool) (*conchv1.Standup, *conchv1.StandupRun) {
	st := &conchv1.Standup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "team"},
		Spec:       conchv1.StandupSpec{Channel: "CTEAM", TimeZone: "Europe/Paris", Questions: []string{"Yesterday?", "Today?", "Blockers?", "Mood?", "Anything else?"}},
	}
	at := metav1.NewTime(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	run := &conchv1.StandupRun{Spec: conchv1.StandupRunSpec{ID: "20261123T080000Z", ScheduledTime: at, Deadline: metav1.NewTime(at.Add(time.Hour)), Questions: st.Spec.Questions}}
	for i := range people {
		p := conchv1.StandupParticipant{User: fmt.Sprintf("U%03d", i), Prompted: true}
		if i%2 == 0 || len(every) > 0 {
			p.AnsweredAt, p.Answers = &at, []string{answer, answer, answer, answer, answer}
		}
		run.Status.Participants = append(run.Status.Participants, p)
	}
	return st, run
}

// TestStandupSummaryFitsSlack: whatever the team's size and answers' length, every message has at most 50 blocks
// and every section at most 3000 characters, and nothing is lost.
func TestStandupSummaryFitsSlack(t *testing.T) {
	cases := map[string]struct {
		people   int
		answer   string
		all      bool
		messages int
	}{
		"a small team":                        {people: 4, answer: "Fixed the build", messages: 1},
		"the largest team, half answered":     {people: 50, answer: "ok", messages: 1},
		"the largest team, everyone answered": {people: 50, answer: "ok", all: true, messages: 2},
		"long answers in several characters":  {people: 6, answer: strings.Repeat("déjà vu ✓ ", 100), messages: 1},
		"long answers from many, split":       {people: 30, answer: strings.Repeat("x", 1000), all: true, messages: 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var every []bool
			if tc.all {
				every = []bool{true}
			}
			st, run := testStandup(tc.people, tc.answer, every...)
			msgs := StandupSummary(st, run, standup.Environments{})
			if len(msgs) != tc.messages {
				t.Errorf("%d messages, want %d", len(msgs), tc.messages)
			}
			var all strings.Builder
			for _, m := range msgs {
				if len(m.Blocks) > maxMessageBlocks {
					t.Errorf("a message has %d blocks", len(m.Blocks))
				}
				raw, err := json.Marshal(m.Blocks)
				if err != nil {
					t.Fatal(err)
				}
				var blocks []struct {
					Text *struct{ Text string } `json:"text"`
				}
				if err := json.Unmarshal(raw, &blocks); err != nil {
					t.Fatal(err)
				}
				for _, b := range blocks {
					if b.Text != nil {
						if n := utf8.RuneCountInString(b.Text.Text); n > maxSectionText {
							t.Errorf("a block has %d characters", n)
						}
						all.WriteString(b.Text.Text)
					}
				}
			}
			answered := (tc.people + 1) / 2
			if tc.all {
				answered = tc.people
			}
			if got := strings.Count(all.String(), escape(strings.TrimSpace(tc.answer))); got != 5*answered {
				t.Errorf("the answer appears %d times, want %d", got, 5*answered)
			}
			if !tc.all && !strings.Contains(all.String(), "*No answer:* <@U001>") {
				t.Errorf("non-answerers missing")
			}
		})
	}
}

func TestStandupMessages(t *testing.T) {
	st, run := testStandup(1, "x")
	prompt := StandupPromptDM(st, run)
	if !strings.Contains(prompt.Text, "Time for the *team* stand-up (Monday 23 November)") || !strings.Contains(prompt.Text, "<#CTEAM>") {
		t.Errorf("prompt: %s", prompt.Text)
	}
	modal := StandupAnswerModal(st, run, []string{"before"})
	raw, _ := json.Marshal(modal)
	for _, want := range []string{`"callback_id":"conch_standup"`, `"private_metadata":"web/team/20261123T080000Z"`, `"block_id":"q1"`, `"initial_value":"before"`, `"max_length":1000`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("modal lacks %s: %s", want, raw)
		}
	}
	if ns, name, id, ok := parseStandupRef(standupRef(st, run)); !ok || ns != "web" || name != "team" || id != run.Spec.ID {
		t.Errorf("ref round trip: %s %s %s %v", ns, name, id, ok)
	}
	st.Spec.Channel = "#team-standup"
	if got := channelLink(st.Spec.Channel); got != "#team-standup" {
		t.Errorf("channel name: %s", got)
	}
	if got := text.Truncate("Stand-up: a-very-long-standup-name", 24, text.Ellipsis); utf8.RuneCountInString(got) != 24 || !strings.HasSuffix(got, "…") {
		t.Errorf("title %q", got)
	}
}
