package slackbot

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/standup"
	"github.com/conch-dev/conch/internal/text"
)

// This file holds pure functions that turn Standups into what people read in Slack: the prompt and reminder
// DMs, the answer modal, and the summary posted in the channel.

// Identifiers of the stand-up's interactive parts. The Answer button's value and the modal's private metadata
// are "<namespace>/<standup>/<run ID>".
const (
	ActionStandupAnswer = "conch_standup_answer"
	StandupCallbackID   = "conch_standup"
	// standupAnswerAction is the action ID of each answer input; its block ID is "q<index>".
	standupAnswerAction = "answer"
)

// Slack's limits on what Conch sends: characters in a section's text, blocks in a message.
const (
	maxSectionText   = 3000
	maxMessageBlocks = 50
)

// standupRef is the value of an Answer button: which run of which Standup.
func standupRef(st *conchv1.Standup, run *conchv1.StandupRun) string {
	return st.Namespace + "/" + st.Name + "/" + run.Spec.ID
}

// parseStandupRef splits a standupRef.
func parseStandupRef(v string) (ns, name, runID string, ok bool) {
	parts := strings.Split(v, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)

// channelLink renders a Standup's channel: a link for an ID, the name otherwise.
func channelLink(channel string) string {
	if channelID.MatchString(channel) {
		return "<#" + channel + ">"
	}
	return "#" + strings.TrimPrefix(channel, "#")
}

// deadlineOf is when run stops taking user's answers: their own deadline (timing Participant) or the run's.
func deadlineOf(run *conchv1.StandupRun, user string) time.Time {
	for _, p := range run.Status.Participants {
		if p.User == user && p.Deadline != nil {
			return p.Deadline.Time
		}
	}
	return run.Spec.Deadline.Time
}

// runDay is the run's date in the Standup's time zone: "Monday 23 November".
func runDay(st *conchv1.Standup, run *conchv1.StandupRun) string {
	return run.Spec.ScheduledTime.In(standup.Location(st)).Format("Monday 2 January")
}

func answerButton(st *conchv1.Standup, run *conchv1.StandupRun, text string) *slack.ActionBlock {
	return slack.NewActionBlock("standup", button(ActionStandupAnswer, standupRef(st, run), text, slack.StylePrimary))
}

// StandupPromptDM asks a person the run's questions: the questions, the deadline, and an Answer button that
// opens them in a modal.
func StandupPromptDM(st *conchv1.Standup, run *conchv1.StandupRun, user string) Message {
	intro := fmt.Sprintf(":wave: Time for the *%s* stand-up (%s). Please answer by %s; the summary goes to %s at %s.",
		st.Name, runDay(st, run), When(deadlineOf(run, user)), channelLink(st.Spec.Channel), When(run.Spec.Deadline.Time))
	if deadlineOf(run, user).Equal(run.Spec.Deadline.Time) {
		intro = fmt.Sprintf(":wave: Time for the *%s* stand-up (%s). Please answer by %s; the summary goes to %s then.",
			st.Name, runDay(st, run), When(run.Spec.Deadline.Time), channelLink(st.Spec.Channel))
	}
	var qs strings.Builder
	for _, q := range run.Spec.Questions {
		qs.WriteString("• " + literal(q) + "\n")
	}
	return Message{Text: intro, Blocks: []slack.Block{
		section(intro),
		section(text.Truncate(strings.TrimSuffix(qs.String(), "\n"), maxSectionText, text.MoreLines)),
		answerButton(st, run, "Answer"),
	}}
}

// StandupReminderDM reminds a person who has not answered.
func StandupReminderDM(st *conchv1.Standup, run *conchv1.StandupRun, user string) Message {
	text := fmt.Sprintf(":alarm_clock: Reminder: the *%s* stand-up closes %s, and I have no answers from you yet.",
		st.Name, When(deadlineOf(run, user)))
	return Message{Text: text, Blocks: []slack.Block{section(text), answerButton(st, run, "Answer now")}}
}

// StandupCancelledPost says in the channel that a run was cancelled.
func StandupCancelledPost(st *conchv1.Standup, run *conchv1.StandupRun) Message {
	text := fmt.Sprintf(":no_entry_sign: The *%s* stand-up of %s was cancelled (the day is skipped); there is no summary.",
		st.Name, runDay(st, run))
	return Message{Text: text, Blocks: []slack.Block{section(text)}}
}

// StandupAnswerModal is the modal with the run's questions, filled with the answers given so far.
func StandupAnswerModal(st *conchv1.Standup, run *conchv1.StandupRun, answers []string) slack.ModalViewRequest {
	plain := func(s string, n int) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, text.Truncate(s, n, text.Ellipsis), false, false)
	}
	about := fmt.Sprintf("*%s* stand-up, %s. Answers go to %s at %s; you can change them until then, and after: the summary is updated.",
		st.Name, runDay(st, run), channelLink(st.Spec.Channel), When(run.Spec.Deadline.Time))
	if run.Status.State == conchv1.RunCompleted {
		about = fmt.Sprintf("*%s* stand-up, %s. The summary is in %s; saving updates it.", st.Name, runDay(st, run), channelLink(st.Spec.Channel))
	}
	blocks := []slack.Block{
		slack.NewContextBlock("about", slack.NewTextBlockObject(slack.MarkdownType, about, false, false)),
	}
	for i, q := range run.Spec.Questions {
		in := slack.NewPlainTextInputBlockElement(nil, standupAnswerAction)
		in.Multiline, in.MaxLength = true, conchv1.MaxStandupAnswerLength
		if i < len(answers) {
			in.InitialValue = answers[i]
		}
		blocks = append(blocks, slack.NewInputBlock(fmt.Sprintf("q%d", i), plain(q, 2000), nil, in))
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain("Stand-up: "+st.Name, 24),
		Submit:          plain("Save", 24),
		Close:           plain("Cancel", 24),
		CallbackID:      StandupCallbackID,
		PrivateMetadata: standupRef(st, run),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

// StandupSummary is the summary of a finished run, as one message or, for a large team, several (Slack allows
// 50 blocks a message): a header; one block per person who answered, with their answers and their environments;
// who did not answer and who was away, with theirs; and every hold in the namespace that ends today.
func StandupSummary(st *conchv1.Standup, run *conchv1.StandupRun, envs standup.Environments) []Message {
	answered := 0
	for _, p := range run.Status.Participants {
		if p.AnsweredAt != nil {
			answered++
		}
	}
	title := fmt.Sprintf("Stand-up %s, %s", st.Name, runDay(st, run))
	counts := fmt.Sprintf("%d of %d answered", answered, len(run.Status.Participants))
	if len(run.Status.Away) > 0 {
		counts += fmt.Sprintf(" · %d away", len(run.Status.Away))
	}
	if n := blockedCount(st, run); n > 0 {
		counts += fmt.Sprintf(" · :no_entry: %d blocked", n)
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, text.Truncate(title, 150, text.Ellipsis), false, false)),
		slack.NewContextBlock("counts", slack.NewTextBlockObject(slack.MarkdownType, counts, false, false)),
	}

	links, _ := standup.CompileLinks(st.Spec.Links) // invalid links stop runs (Ready says why): none get here
	var silent []string
	for _, p := range run.Status.Participants {
		if p.AnsweredAt == nil {
			silent = append(silent, p.User)
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "*<@%s>*", p.User)
		for i, q := range run.Spec.Questions {
			a := ""
			if i < len(p.Answers) {
				a = strings.TrimSpace(p.Answers[i])
			}
			switch {
			case a == "":
				a = "_(no answer)_"
			case isBlockerQuestion(st, i) && standup.IsBlocker(a):
				a = ":no_entry: " + linkify(a, links) + streakNote(st, run, p.User)
			default:
				a = linkify(a, links)
			}
			fmt.Fprintf(&b, "\n*%s*\n%s", literal(q), a)
		}
		if line := holdingsLine(envs.ByUser[p.User]); line != "" {
			b.WriteString("\n" + line)
		}
		for _, chunk := range splitText(b.String(), maxSectionText) {
			blocks = append(blocks, section(chunk))
		}
	}

	var rest strings.Builder
	if len(silent) > 0 {
		fmt.Fprintf(&rest, "*No answer:* %s", mentions(silent))
	}
	if len(run.Status.Away) > 0 {
		if rest.Len() > 0 {
			rest.WriteString("\n")
		}
		fmt.Fprintf(&rest, "*Away:* %s", mentions(run.Status.Away))
	}
	for _, u := range append(append([]string(nil), silent...), run.Status.Away...) {
		if line := holdingsLine(envs.ByUser[u]); line != "" {
			fmt.Fprintf(&rest, "\n<@%s>: %s", u, line)
		}
	}
	if len(envs.EndingToday) > 0 {
		parts := make([]string, 0, len(envs.EndingToday))
		for _, h := range envs.EndingToday {
			parts = append(parts, fmt.Sprintf("*%s* (%s, %s)", h.Resource, Who(h.Holder), When(h.Until)))
		}
		if rest.Len() > 0 {
			rest.WriteString("\n")
		}
		rest.WriteString(":hourglass_flowing_sand: *Ending today:* " + strings.Join(parts, ", "))
	}
	if rest.Len() > 0 {
		blocks = append(blocks, slack.NewDividerBlock())
		for _, chunk := range splitText(rest.String(), maxSectionText) {
			blocks = append(blocks, section(chunk))
		}
	}

	fallback := fmt.Sprintf("%s: %s", title, counts)
	var out []Message
	for len(blocks) > 0 {
		n := min(len(blocks), maxMessageBlocks)
		out = append(out, Message{Text: fallback, Blocks: blocks[:n]})
		blocks = blocks[n:]
		fallback = title + " (continued)"
	}
	return out
}

// holdingsLine says what a person holds and waits for: "holds *staging* until … (ends today) · waits for *qa*
// (number 2)".
func holdingsLine(hs []standup.Holding) string {
	if len(hs) == 0 {
		return ""
	}
	parts := make([]string, 0, len(hs))
	for _, h := range hs {
		switch h.State {
		case conchv1.StateGranted:
			p := fmt.Sprintf("holds *%s* until %s", h.Resource, When(h.Until))
			if h.EndsToday {
				p += " (ends today)"
			}
			parts = append(parts, p)
		case conchv1.StateQueued:
			parts = append(parts, fmt.Sprintf("waits for *%s* (number %d)", h.Resource, h.Position))
		default:
			parts = append(parts, fmt.Sprintf("waits for *%s* (%s)", h.Resource, strings.ToLower(string(h.State))))
		}
	}
	return ":computer: " + strings.Join(parts, " · ")
}

func mentions(users []string) string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = "<@" + u + ">"
	}
	return strings.Join(out, ", ")
}

// splitText cuts s into pieces of at most n bytes, at line ends where it can, never inside a UTF-8 sequence.
func splitText(s string, n int) []string {
	var out []string
	for len(s) > n {
		cut := strings.LastIndexByte(s[:n], '\n')
		if cut <= 0 {
			cut = n
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
		}
		out = append(out, s[:cut])
		s = strings.TrimPrefix(s[cut:], "\n")
	}
	return append(out, s)
}

// isBlockerQuestion reports whether question i is the Standup's blocker question.
func isBlockerQuestion(st *conchv1.Standup, i int) bool {
	return st.Spec.BlockerQuestion != nil && int(*st.Spec.BlockerQuestion) == i
}

// blockedCount counts the people of a run whose answer to the blocker question reports a blocker.
func blockedCount(st *conchv1.Standup, run *conchv1.StandupRun) int {
	n := 0
	for _, p := range run.Status.Participants {
		if standup.IsBlocker(standup.BlockerAnswer(p, st.Spec.BlockerQuestion)) {
			n++
		}
	}
	return n
}

// streakNote says how long someone has been blocked, when this run extended a streak of two runs or more:
// " _(blocked for 3 stand-ups in a row, since Monday 23 November)_".
func streakNote(st *conchv1.Standup, run *conchv1.StandupRun, user string) string {
	b, ok := standup.StreakOf(st.Status.Blockers, user)
	if !ok || b.Runs < 2 || b.LastRun != run.Spec.ID {
		return ""
	}
	return fmt.Sprintf(" _(blocked for %d stand-ups in a row, since %s)_", b.Runs, b.Since.In(standup.Location(st)).Format("Monday 2 January"))
}

// linkify renders an answer in mrkdwn: its text escaped, and what the Standup's links match as links.
func linkify(answer string, links []standup.Link) string {
	var b strings.Builder
	for _, seg := range standup.Linkify(answer, links) {
		if seg.URL == "" {
			b.WriteString(escape(seg.Text))
			continue
		}
		b.WriteString("<" + seg.URL + "|" + escape(seg.Text) + ">")
	}
	return b.String()
}

// StandupEscalationPost tells the escalation channel or people that someone has been blocked for escalateAfter
// runs or more.
func StandupEscalationPost(st *conchv1.Standup, b conchv1.StandupBlocker) Message {
	links, _ := standup.CompileLinks(st.Spec.Links)
	since := b.Since.In(standup.Location(st)).Format("Monday 2 January")
	head := fmt.Sprintf(":rotating_light: <@%s> has been blocked for %d stand-ups of *%s* in a row (since %s).",
		b.User, b.Runs, st.Name, since)
	body := "> " + strings.ReplaceAll(linkify(b.Text, links), "\n", "\n> ")
	return Message{Text: head, Blocks: []slack.Block{section(head), section(text.Truncate(body, maxSectionText, text.Ellipsis))}}
}

// StandupDigestPost is the digest: the window, the runs held and skipped, the blockers opened and closed, and one
// line per person with their participation and the Resources they held longest.
func StandupDigestPost(st *conchv1.Standup, d standup.Digest) Message {
	loc := standup.Location(st)
	title := fmt.Sprintf("Stand-up digest: %s, %s – %s", st.Name, d.From.In(loc).Format("Mon 2 Jan"), d.To.In(loc).Format("Mon 2 Jan"))
	runs := fmt.Sprintf("*Runs:* %d held", d.Runs)
	if d.Skipped > 0 {
		reasons := make([]string, 0, len(d.SkippedBy))
		for _, r := range slices.Sorted(maps.Keys(d.SkippedBy)) {
			reasons = append(reasons, fmt.Sprintf("%d %s", d.SkippedBy[r], strings.ToLower(r)))
		}
		runs += fmt.Sprintf(", %d skipped (%s)", d.Skipped, strings.Join(reasons, ", "))
	}
	summary := runs
	if st.Spec.BlockerQuestion != nil {
		summary += fmt.Sprintf("\n*Blockers:* %d opened, %d closed, %d open now", d.BlockersOpened, d.BlockersClosed, len(st.Status.Blockers))
	}
	var people strings.Builder
	for _, p := range d.People {
		fmt.Fprintf(&people, "<@%s> answered %d of %d", p.User, p.Answered, p.Asked)
		if p.Away > 0 {
			fmt.Fprintf(&people, " · away %d", p.Away)
		}
		if p.Blocked > 0 {
			fmt.Fprintf(&people, " · :no_entry: blocked in %d", p.Blocked)
		}
		if len(p.Held) > 0 {
			held := make([]string, 0, len(p.Held))
			for _, h := range p.Held {
				held = append(held, fmt.Sprintf("*%s* (%s)", h.Resource, ShortDuration(h.For.Round(time.Minute))))
			}
			people.WriteString(" · :computer: held " + strings.Join(held, ", "))
		}
		people.WriteString("\n")
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, text.Truncate(title, 150, text.Ellipsis), false, false)),
		section(summary),
	}
	if people.Len() > 0 {
		for _, chunk := range splitText(strings.TrimSuffix(people.String(), "\n"), maxSectionText) {
			blocks = append(blocks, section(chunk))
		}
	}
	return Message{Text: title, Blocks: blocks[:min(len(blocks), maxMessageBlocks)]}
}
