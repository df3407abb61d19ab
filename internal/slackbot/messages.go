package slackbot

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"k8s.io/apimachinery/pkg/api/meta"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/text"
)

// This file holds pure functions that turn Conch's objects into what people read in Slack.

// Action IDs of the buttons Conch puts on messages. A button's value is "<namespace>/<reservation>" for release
// and "<namespace>/<reservation>/<duration>" for extend.
const (
	ActionRelease = "conch_release"
	ActionExtend  = "conch_extend"
)

// escape makes text safe to show in Slack mrkdwn: &, < and > become the entities Slack reads, so that
// "<!channel>" notifies nobody and "<https://x|y>" is no link; everything else is left as it is. It is for text
// whose formatting is welcome: messages Conch writes and what people type into Slack for others to read
// (stand-up answers). Free text from elsewhere is shown with literal.
func escape(text string) string { return entities.Replace(text) }

var entities = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// literal makes free text that did not come from Slack (a Reservation's reason, a Resource's description, a
// condition's message: written with kubectl or by CI) show in mrkdwn as written, inside any formatting around it.
// It escapes &, < and > as escape does; the characters mrkdwn formats with, which it gives no way to escape,
// become look-alikes it leaves alone (* ∗, _ ˍ, ~ ∼, ` ˋ), and line breaks and tabs become spaces (a line of
// its own would end the italics, and one starting with > would be a quote). So "_care_" cannot end the italics
// it is shown in, nor "*" start bold that runs into Conch's own text.
func literal(text string) string { return plain.Replace(text) }

var plain = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	"*", "\u2217", "_", "\u02cd", "~", "\u223c", "`", "\u02cb",
	"\r\n", " ", "\n", " ", "\r", " ", "\t", " ",
)

// reasonNote is a Reservation's reason in italics after a message, or "" when it has none.
func reasonNote(r *conchv1.Reservation) string {
	if r.Spec.Reason == "" {
		return ""
	}
	return " _" + literal(r.Spec.Reason) + "_"
}

// deployNote says which revision a Reservation deploys (its parameter revision), or "" when it names none.
func deployNote(r *conchv1.Reservation) string {
	rev, ok := r.Spec.Parameter(conchv1.ParameterRevision)
	if !ok {
		return ""
	}
	return " Deploying `" + literal(rev) + "` to it."
}

// SlackUserOf returns the Slack user ID of a holder "slack:<id>", or "".
func SlackUserOf(holder string) string {
	if id, ok := strings.CutPrefix(holder, conchv1.SlackHolderPrefix); ok {
		return id
	}
	return ""
}

// Who renders a holder for a message: a mention for Slack users, the holder string otherwise, escaped (it is free
// text: "<!channel>" in it must not notify a channel) and with no backtick to end its code span early.
func Who(holder string) string {
	if id := SlackUserOf(holder); id != "" && slackID.MatchString(id) {
		return "<@" + id + ">"
	}
	return "`" + strings.ReplaceAll(escape(holder), "`", "'") + "`"
}

// slackID matches a Slack user ID, the only thing Conch puts inside a mention.
var slackID = regexp.MustCompile(`^[A-Z0-9]+$`)

// mention returns by when it is a mention of one Slack user ("<@U0123>", as Conch writes it), and by escaped
// otherwise: an annotation anyone with patch on Reservations can write.
func mention(by string) string {
	if id, ok := strings.CutPrefix(by, "<@"); ok {
		if id, ok := strings.CutSuffix(id, ">"); ok && slackID.MatchString(id) {
			return by
		}
	}
	return literal(by)
}

// When renders a time that Slack shows in each reader's own time zone, with a UTC fallback for clients that
// cannot.
func When(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// ShortDuration renders d as people write it: 2h, 1h30m, 45m, 30s.
func ShortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 || b.Len() == 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

func ref(r *conchv1.Reservation) string { return r.Namespace + "/" + r.Name }

func button(actionID, value, text string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, slack.NewTextBlockObject(slack.PlainTextType, text, false, false))
	b.Style = style
	return b
}

func section(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

// Message is a text (the notification fallback) with optional blocks.
type Message struct {
	Text   string
	Blocks []slack.Block
}

// GrantedDM tells a holder their turn has come, with Release and Extend 1h buttons.
func GrantedDM(r *conchv1.Reservation) Message {
	text := fmt.Sprintf("You now hold *%s* until %s.", r.Status.ResourceName, When(r.Status.ExpiresAt.Time)) + reasonNote(r)
	if c := meta.FindStatusCondition(r.Status.Conditions, conchv1.ConditionGranted); c != nil && c.Reason == conchv1.ReasonShortenedForBooking {
		text += " That is shorter than you asked: a booking starts then."
	}
	return Message{Text: text, Blocks: []slack.Block{
		section(text),
		slack.NewActionBlock("grant",
			button(ActionRelease, ref(r), "Release", slack.StyleDanger),
			button(ActionExtend, ref(r)+"/1h", "Extend 1h", slack.StylePrimary)),
	}}
}

// WarningDM warns a holder that the hold ends soon, with Extend 30m/1h/2h and Release now.
func WarningDM(r *conchv1.Reservation, now time.Time) Message {
	// Whole minutes, rounded up: "ends in 10m" reads better than "ends in 9m59s".
	left := max(r.Status.ExpiresAt.Sub(now), 0)
	if left > time.Minute {
		left = (left + time.Minute - 1).Truncate(time.Minute)
	}
	text := fmt.Sprintf("Your hold on *%s* ends in %s (%s). Extend it?", r.Status.ResourceName, ShortDuration(left), When(r.Status.ExpiresAt.Time))
	return Message{Text: text, Blocks: []slack.Block{
		section(text),
		slack.NewActionBlock("warn",
			button(ActionExtend, ref(r)+"/30m", "Extend 30m", ""),
			button(ActionExtend, ref(r)+"/1h", "Extend 1h", slack.StylePrimary),
			button(ActionExtend, ref(r)+"/2h", "Extend 2h", ""),
			button(ActionRelease, ref(r), "Release now", slack.StyleDanger)),
	}}
}

// NudgeDM asks a holder to hand their hold over: asker (a Slack user ID) would like the Resource, and waiting
// Reservations are in its queue. Its Release and Extend 1h buttons are those of the grant DM.
func NudgeDM(r *conchv1.Reservation, asker string, waiting int32) Message {
	queue := "nobody is in its queue yet"
	switch {
	case waiting == 1:
		queue = "1 waits in its queue"
	case waiting > 1:
		queue = fmt.Sprintf("%d wait in its queue", waiting)
	}
	text := fmt.Sprintf(":wave: %s would like *%s*, which you hold until %s (%s). Done with it? Release it, or extend it if you still need it.",
		Who(conchv1.SlackHolderPrefix+asker), r.Status.ResourceName, When(r.Status.ExpiresAt.Time), queue)
	return Message{Text: text, Blocks: []slack.Block{
		section(text),
		slack.NewActionBlock("nudge",
			button(ActionRelease, ref(r), "Release", slack.StyleDanger),
			button(ActionExtend, ref(r)+"/1h", "Extend 1h", "")),
	}}
}

// WatchDM tells a watcher (`/dibs watch`) that what they watch is free: the Resource res, found free, and pool
// ("label=value") when they watched a pool.
func WatchDM(res *conchv1.Resource, pool, command string) Message {
	text := fmt.Sprintf(":bell: *%s* is free now. Take it: `%s %s`", res.Name, command, res.Name)
	if pool != "" {
		text = fmt.Sprintf(":bell: *%s* of the pool %s is free now. Take it: `%s %s`", res.Name, poolText(pool), command, res.Name)
	}
	return Message{Text: text, Blocks: []slack.Block{section(text)}}
}

// EndedDM tells a holder their hold ended without them releasing it.
func EndedDM(r *conchv1.Reservation, reason string) Message {
	res := r.Status.ResourceName
	var text string
	switch reason {
	case conchv1.ReasonExpired:
		text = fmt.Sprintf("Your hold on *%s* expired at %s.", res, When(r.Status.ExpiresAt.Time))
	case conchv1.ReasonHeartbeatMissed:
		text = fmt.Sprintf("Your hold on *%s* ended: its holder stopped renewing it.", res)
	case conchv1.ReasonResourceDeleted:
		text = fmt.Sprintf("Your hold on *%s* ended: the Resource was deleted.", res)
	case conchv1.ReasonPreempted:
		text = fmt.Sprintf("Your hold on *%s* ended: it was preempted by a higher priority after its grace period.", res)
	default:
		text = fmt.Sprintf("Your hold on *%s* was released.", res)
		if by := r.Annotations[conchv1.AnnotationReleasedBy]; by != "" {
			text = fmt.Sprintf("Your hold on *%s* was released by %s.", res, mention(by))
		}
	}
	return Message{Text: text, Blocks: []slack.Block{section(text)}}
}

// HandoverPost announces in a Resource's channel who holds it now; a hold asked for with a priority says so, so
// that going ahead of the queue is seen with its reason.
func HandoverPost(r *conchv1.Reservation) Message {
	text := fmt.Sprintf(":arrows_counterclockwise: *%s* is now held by %s until %s.", r.Status.ResourceName, Who(r.Spec.Holder), When(r.Status.ExpiresAt.Time)) +
		reasonNote(r)
	if r.Spec.Priority != nil && *r.Spec.Priority > 0 {
		text = fmt.Sprintf(":rotating_light: *%s* is now held by %s until %s, by priority %d:", r.Status.ResourceName,
			Who(r.Spec.Holder), When(r.Status.ExpiresAt.Time), *r.Spec.Priority) + reasonNote(r)
	}
	return Message{Text: text, Blocks: []slack.Block{section(text)}}
}

// preemptionOf returns the preemption recorded in res's ledger for the hold of r, or nil.
func preemptionOf(r *conchv1.Reservation, res *conchv1.Resource) *conchv1.Preemption {
	if res == nil {
		return nil
	}
	for _, h := range res.Status.Holders {
		if h.UID == string(r.UID) {
			return h.Preemption
		}
	}
	return nil
}

// preemptor says who takes the slot and why, escaped: "dave (_INC-42_)".
func preemptor(p *conchv1.Preemption) string {
	if p == nil {
		return "a Reservation with a higher priority"
	}
	who := Who(p.Holder)
	if p.Reason != "" {
		who += " (_" + literal(p.Reason) + "_)"
	}
	return who
}

// PreemptingDM warns a holder that a higher priority takes their slot: the hold ends at its new end, after the
// Resource's grace period, unless they hand it over now.
func PreemptingDM(r *conchv1.Reservation, res *conchv1.Resource, now time.Time) Message {
	left := max(r.Status.ExpiresAt.Sub(now), 0)
	if left > time.Minute {
		left = (left + time.Minute - 1).Truncate(time.Minute) // "in 5m", rounded up as the expiry warning is
	}
	text := fmt.Sprintf(":warning: %s needs *%s* before your turn ends. Your hold now ends in %s (%s). Please wrap up, and release it as soon as you can.",
		preemptor(preemptionOf(r, res)), r.Status.ResourceName, ShortDuration(left), When(r.Status.ExpiresAt.Time))
	return Message{Text: text, Blocks: []slack.Block{
		section(text),
		slack.NewActionBlock("preempt", button(ActionRelease, ref(r), "Release now", slack.StyleDanger)),
	}}
}

// PreemptionPost tells a Resource's channel who takes it from whom, and why.
func PreemptionPost(r *conchv1.Reservation, res *conchv1.Resource) Message {
	text := fmt.Sprintf(":rotating_light: %s is taking *%s* from %s by priority; %s's hold ends at %s.",
		preemptor(preemptionOf(r, res)), r.Status.ResourceName, Who(r.Spec.Holder), Who(r.Spec.Holder), When(r.Status.ExpiresAt.Time))
	return Message{Text: text, Blocks: []slack.Block{section(text)}}
}

// HealthPost tells a Resource's channel that it became unhealthy (nobody is granted it, with why and how to repair
// it) or is healthy again.
func HealthPost(res *conchv1.Resource, unhealthy bool) Message {
	msg := fmt.Sprintf(":white_check_mark: *%s* is healthy again; the queue moves on.", res.Name)
	if unhealthy {
		why := ""
		if c := meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionHealthy); c != nil {
			why = fmt.Sprintf(" (%s: %s)", c.Reason, literal(text.Truncate(c.Message, 500, text.Ellipsis)))
		}
		msg = fmt.Sprintf(":warning: *%s* is unhealthy%s. Nobody is granted it until it passes a check or an admin runs `kubectl conch repair %s -n %s`.",
			res.Name, why, res.Name, res.Namespace)
	}
	return Message{Text: msg, Blocks: []slack.Block{section(msg)}}
}

// ResourceLine summarises a Resource in one line for `/dibs list`.
func ResourceLine(res *conchv1.Resource) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*", res.Name)
	switch {
	case len(res.Status.Holders) == 0 && res.Spec.Granting == conchv1.GrantingPaused:
		b.WriteString(" — paused")
	case len(res.Status.Holders) == 0:
		b.WriteString(" — free")
	default:
		var hs []string
		for _, h := range res.Status.Holders {
			hs = append(hs, fmt.Sprintf("%s until %s", Who(h.Holder), When(h.Until.Time)))
		}
		b.WriteString(" — held by " + strings.Join(hs, ", "))
	}
	if res.Status.Waiting > 0 {
		fmt.Fprintf(&b, " · %d waiting", res.Status.Waiting)
	}
	if nb := res.Status.NextBooking; nb != nil {
		fmt.Fprintf(&b, " · booked from %s by %s", When(nb.StartTime.Time), Who(nb.Holder))
	}
	if res.Spec.Granting == conchv1.GrantingPaused && len(res.Status.Holders) > 0 {
		b.WriteString(" · paused")
	}
	switch res.Status.Phase {
	case conchv1.PhaseUnhealthy:
		b.WriteString(" · unhealthy")
	case conchv1.PhaseCleaning:
		b.WriteString(" · being cleaned")
	case conchv1.PhaseChecking:
		b.WriteString(" · being checked")
	}
	return b.String()
}

// ResourceDetail describes a Resource for `/dibs who`: its holders and its queue with estimated times.
func ResourceDetail(res *conchv1.Resource, queued []conchv1.Reservation) string {
	var b strings.Builder
	b.WriteString(ResourceLine(res))
	if res.Spec.Description != "" {
		b.WriteString("\n_" + literal(res.Spec.Description) + "_")
	}
	for i, q := range queued {
		fmt.Fprintf(&b, "\n%d. %s for %s", i+1, Who(q.Spec.Holder), ShortDuration(durationOf(&q)))
		if q.Status.EstimatedGrantTime != nil {
			fmt.Fprintf(&b, ", expected around %s", When(q.Status.EstimatedGrantTime.Time))
		}
	}
	return b.String()
}

func durationOf(r *conchv1.Reservation) time.Duration {
	if r.Status.Duration != nil {
		return r.Status.Duration.Duration
	}
	if r.Spec.Duration != nil {
		return r.Spec.Duration.Duration
	}
	return 0
}
