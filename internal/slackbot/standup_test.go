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
	prompt := StandupPromptDM(st, run, "U000")
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

// TestStandupSummaryBlockersAndLinks: the blocker question's answers that report a blocker are highlighted, with
// the streak when it is two runs or more; answers that say "none" are not; issue keys and pull requests become
// links, and the text around them stays escaped.
func TestStandupSummaryBlockersAndLinks(t *testing.T) {
	st, run := testStandup(3, "none", true)
	q := int32(2)
	st.Spec.BlockerQuestion = &q
	st.Spec.Links = []conchv1.StandupLink{
		{Pattern: `\b[A-Z][A-Z0-9]+-[0-9]+\b`, URL: "https://jira.example.com/browse/$0"},
		{Pattern: `\b([\w.-]+)/([\w.-]+)#([0-9]+)\b`, URL: "https://github.com/$1/$2/pull/$3"},
	}
	run.Status.Participants[0].Answers = []string{"Merged conch-dev/conch#45", "OPS-7", "Waiting on OPS-7 & <the> DBA", "", ""}
	run.Status.Participants[1].Answers = []string{"a", "b", "Blocked on review", "", ""}
	st.Status.Blockers = []conchv1.StandupBlocker{
		{User: "U000", Since: metav1.NewTime(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)), Runs: 3, LastRun: run.Spec.ID},
		{User: "U001", Since: run.Spec.ScheduledTime, Runs: 1, LastRun: run.Spec.ID},
	}
	var all strings.Builder
	for _, m := range StandupSummary(st, run, standup.Environments{}) {
		for _, b := range blockTexts(m) {
			all.WriteString(b + "\n")
		}
	}
	got := all.String()
	for _, want := range []string{
		"Merged <https://github.com/conch-dev/conch/pull/45|conch-dev/conch#45>",
		"*Blockers?*\n:no_entry: Waiting on <https://jira.example.com/browse/OPS-7|OPS-7> &amp; &lt;the&gt; DBA _(blocked for 3 stand-ups in a row, since Saturday 21 November)_",
		"*Blockers?*\n:no_entry: Blocked on review\n",
		"*Blockers?*\nnone\n",
		"3 of 3 answered · :no_entry: 2 blocked",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}

	esc := StandupEscalationPost(st, conchv1.StandupBlocker{User: "U000", Since: st.Status.Blockers[0].Since, Runs: 3, Text: "Waiting on OPS-7 & <the> DBA"})
	if want := ":rotating_light: <@U000> has been blocked for 3 stand-ups of *team* in a row (since Saturday 21 November)."; esc.Text != want {
		t.Errorf("escalation %q, want %q", esc.Text, want)
	}
	if body := blockTexts(esc)[1]; body != "> Waiting on <https://jira.example.com/browse/OPS-7|OPS-7> &amp; &lt;the&gt; DBA" {
		t.Errorf("escalation body %q", body)
	}
}

// blockTexts returns the mrkdwn of a message's section and context blocks.
func blockTexts(m Message) []string {
	var out []string
	raw, _ := json.Marshal(m.Blocks)
	var blocks []struct {
		Text     *struct{ Text string }  `json:"text"`
		Elements []struct{ Text string } `json:"elements"`
	}
	_ = json.Unmarshal(raw, &blocks)
	for _, b := range blocks {
		if b.Text != nil {
			out = append(out, b.Text.Text)
		}
		for _, e := range b.Elements {
			out = append(out, e.Text)
		}
	}
	return out
}
