package standup

import (
	"slices"
	"strings"
	"unicode"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/text"
)

// noBlocker lists what people answer to "anything blocking you?" when nothing is (compared lower case, without
// trailing punctuation).
var noBlocker = map[string]bool{
	"": true, "-": true, "--": true, "no": true, "nope": true, "none": true, "nothing": true, "n/a": true, "na": true,
	"nil": true, "no blockers": true, "no blocker": true, "nothing blocking": true, "not blocked": true,
	"all good": true, "nothing so far": true, "none so far": true, "no blockers so far": true, ":+1:": true, "👍": true,
}

// IsBlocker reports whether an answer to the blocker question reports a blocker: it is not empty and does not
// say there is none.
func IsBlocker(answer string) bool {
	a := strings.ToLower(strings.TrimSpace(answer))
	a = strings.TrimRightFunc(a, func(r rune) bool { return r == '.' || r == '!' || unicode.IsSpace(r) })
	return !noBlocker[a]
}

// BlockerAnswer returns a participant's answer to the blocker question of run (index q), "" when they gave none.
func BlockerAnswer(p conchv1.StandupParticipant, q *int32) string {
	if q == nil || p.AnsweredAt == nil || int(*q) >= len(p.Answers) || *q < 0 {
		return ""
	}
	return p.Answers[*q]
}

// maxBlockerText is how much of a blocker answer a streak keeps.
const maxBlockerText = 300

// Streaks is the outcome of a completed run for the blocker streaks.
type Streaks struct {
	// Open are the streaks after the run, in the order of the previous ones then new ones.
	Open []conchv1.StandupBlocker
	// Closed counts the streaks the run ended: someone answered that nothing blocks them any more.
	Closed int
	// Escalate are the streaks that reached escalateAfter runs in this run and were not escalated before; they
	// are marked escalated in Open.
	Escalate []conchv1.StandupBlocker
}

// UpdateStreaks counts a completed run into the blocker streaks. Someone who answers with a blocker extends their
// streak (or starts one); someone who answers without one ends it. Someone who was asked but did not answer, or
// was away, or was not in the run, keeps their streak as it was: a skipped day says nothing about the blocker.
// Runs that did not happen (holidays, missed runs) are never counted. escalateAfter 0 escalates nothing. A run
// counted before (the same ID as a streak's lastRun) changes nothing, so that counting is idempotent.
func UpdateStreaks(prev []conchv1.StandupBlocker, run *conchv1.StandupRun, blockerQuestion *int32, escalateAfter int) Streaks {
	out := Streaks{Open: slices.Clone(prev)}
	if blockerQuestion == nil {
		return out
	}
	for _, p := range run.Status.Participants {
		if p.AnsweredAt == nil {
			continue
		}
		i := slices.IndexFunc(out.Open, func(b conchv1.StandupBlocker) bool { return b.User == p.User })
		if i >= 0 && out.Open[i].LastRun == run.Spec.ID {
			continue
		}
		answer := BlockerAnswer(p, blockerQuestion)
		if !IsBlocker(answer) {
			if i >= 0 {
				out.Open = slices.Delete(out.Open, i, i+1)
				out.Closed++
			}
			continue
		}
		if i < 0 {
			out.Open = append(out.Open, conchv1.StandupBlocker{User: p.User, Since: run.Spec.ScheduledTime})
			i = len(out.Open) - 1
		}
		b := &out.Open[i]
		b.Runs++
		b.LastRun = run.Spec.ID
		b.Text = text.Truncate(strings.TrimSpace(answer), maxBlockerText, text.Ellipsis)
		if escalateAfter > 0 && int(b.Runs) >= escalateAfter && !b.Escalated {
			b.Escalated = true
			out.Escalate = append(out.Escalate, *b)
		}
	}
	if len(out.Open) > conchv1.MaxStandupParticipants {
		// The oldest streaks of people long gone make room; bounded like every list of the status.
		slices.SortStableFunc(out.Open, func(a, b conchv1.StandupBlocker) int { return b.Since.Compare(a.Since.Time) })
		out.Open = out.Open[:conchv1.MaxStandupParticipants]
	}
	return out
}

// StreakOf returns user's open streak, if any.
func StreakOf(blockers []conchv1.StandupBlocker, user string) (conchv1.StandupBlocker, bool) {
	for _, b := range blockers {
		if b.User == user {
			return b, true
		}
	}
	return conchv1.StandupBlocker{}, false
}
