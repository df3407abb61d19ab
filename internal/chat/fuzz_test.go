package chat

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
)

// fuzzSeeds are inputs of every shape the grammar knows, for both fuzz targets to mutate.
var fuzzSeeds = []string{
	"", "help", "list", "who staging", "staging", "on Staging-2 for 1h30m because testing <#C1|x>",
	"off staging", "release staging", "extend staging by 30m", "extend staging until 5:30pm",
	"staging until 17:00", "staging all day", "staging for 90 minutes", "staging 1.5h", "staging for 1 hour and 30 minutes",
	"staging for -5m", "staging for 0", "staging for 99999999999999999999d", "staging for .5s", "until 12am", "for 2h",
	"staging\u00a0because\u00a0é", "staging because \xff", "an hour", "1h30", "1w 2d", "till noon", "5:30 PM",
	"staging for 2h deploy pr-345", "staging deploy feature/x:1@sha256+b because y", "staging deploy", "staging deploy <@U1>",
	"staging deploy a deploy b", "deploy deploy deploy",
	"standup", "standup skip team 2026-12-4", "standup away until tomorrow", "standup run team today", "STANDUP Back",
	"stats staging", "stats staging 14d", "stats staging last 2 weeks", "stats 7d", "stats staging 99999d", "stats a week",
	"nudge staging", "NUDGE db.qa-1 now", "watch staging", "watch pool=web", "watch conch.dev/pool=Web_1", "watch pool=",
	"watch =x", "unwatch pool=web", "unwatch staging", "watch a=b=c", "on watch",
	"staging tomorrow 9:00 for 2h", "staging at 14:00 for 1h", "staging monday 9am until 11:00", "staging on 2026-12-24 at 9:00 pm",
	"staging at 2:30", "staging 2026-03-08 2:30", "staging for 1h urgent: hotfix for INC-42", "staging priority 20 because x",
	"staging urgent no-preempt because y", "staging priority 101", "calendar", "cal staging", "calendar pool=web", "at 9",
}

// fuzzNow turns a fuzzed number into a moment between 1970 and 2200, far enough from time's limits that the
// invariants below are about the grammar, not about arithmetic at the edge of the calendar.
func fuzzNow(seconds int64) time.Time {
	const span = 230 * 365 * 24 * 60 * 60
	seconds %= span
	if seconds < 0 {
		seconds += span
	}
	return time.Unix(seconds, seconds%1_000_000_007)
}

// FuzzParse checks that Parse never panics, that every failure is an *Error with a message, and that every
// success is a command the rest of Conch can act on without checking it again.
func FuzzParse(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, tuesday.Unix()+int64(i)*3607)
	}
	ny := newYork(f)
	f.Fuzz(func(t *testing.T, text string, seconds int64) {
		now := fuzzNow(seconds)
		for _, loc := range []*time.Location{time.UTC, ny, nil} {
			cmd, err := Parse(text, now, loc)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Message == "" {
					t.Fatalf("Parse(%q) error %#v is not an *Error with a message", text, err)
				}
				if cmd != (Command{}) {
					t.Fatalf("Parse(%q) failed with %v but returned %+v", text, err, cmd)
				}
				continue
			}
			checkCommand(t, text, now, cmd)
		}
	})
}

func checkCommand(t *testing.T, text string, now time.Time, cmd Command) {
	t.Helper()
	if (cmd.Verb == VerbStats) != (cmd.Days != 0) {
		t.Fatalf("Parse(%q) %s has days %d", text, cmd.Verb, cmd.Days)
	}
	switch cmd.Verb {
	case VerbStats:
		checkStatsCommand(t, text, cmd)
		return
	case VerbWatch, VerbUnwatch, VerbCalendar:
		checkWatchCommand(t, text, cmd)
	case VerbTake, VerbRelease, VerbExtend, VerbWho, VerbNudge:
		if !isDNSSubdomain(cmd.Resource) {
			t.Fatalf("Parse(%q) resource %q is not a valid name", text, cmd.Resource)
		}
	case VerbList, VerbHelp:
		if cmd.Resource != "" {
			t.Fatalf("Parse(%q) %s has resource %q", text, cmd.Verb, cmd.Resource)
		}
	default:
		if !cmd.Verb.IsStandup() {
			t.Fatalf("Parse(%q) verb %q is unknown", text, cmd.Verb)
		}
		checkStandupCommand(t, text, cmd)
		return
	}
	if cmd.Pool != "" && cmd.Verb != VerbWatch && cmd.Verb != VerbUnwatch && cmd.Verb != VerbCalendar {
		t.Fatalf("Parse(%q) %s has pool %q", text, cmd.Verb, cmd.Pool)
	}
	if cmd.Standup != "" || cmd.Date != "" {
		t.Fatalf("Parse(%q) %s names a stand-up %q or a date %q", text, cmd.Verb, cmd.Standup, cmd.Date)
	}

	wantDuration := cmd.Verb == VerbExtend
	mayHaveDuration := cmd.Verb == VerbTake || cmd.Verb == VerbExtend
	switch {
	case cmd.Duration == 0 && !wantDuration:
	case !mayHaveDuration:
		t.Fatalf("Parse(%q) %s has duration %v", text, cmd.Verb, cmd.Duration)
	case cmd.Duration < MinDuration || cmd.Duration > MaxDuration:
		t.Fatalf("Parse(%q) duration %v is out of bounds", text, cmd.Duration)
	}
	from := now
	if !cmd.Start.IsZero() {
		from = cmd.Start
	}
	if !cmd.Until.IsZero() && !cmd.Until.Equal(from.Add(cmd.Duration)) {
		t.Fatalf("Parse(%q) until %v is not the start %v + duration %v", text, cmd.Until, from, cmd.Duration)
	}
	checkPlanning(t, text, now, cmd)

	checkTakeText(t, text, cmd)
}

// checkPlanning checks what only a take carries about planning: a start ahead of now and at most MaxStartAhead
// away, and a priority within the API's bounds that has a reason when above 0.
func checkPlanning(t *testing.T, text string, now time.Time, cmd Command) {
	t.Helper()
	if cmd.Verb != VerbTake && (!cmd.Start.IsZero() || cmd.StartRepeats || cmd.Priority != 0 || cmd.NoPreempt) {
		t.Fatalf("Parse(%q) %s has planning fields: %+v", text, cmd.Verb, cmd)
	}
	if !cmd.Start.IsZero() && (!cmd.Start.After(now) || cmd.Start.Sub(now) > MaxStartAhead) {
		t.Fatalf("Parse(%q) start %v is not ahead of now %v within a year", text, cmd.Start, now)
	}
	if cmd.StartRepeats && cmd.Start.IsZero() {
		t.Fatalf("Parse(%q) repeats a start it does not have", text)
	}
	if cmd.Priority < 0 || cmd.Priority > MaxPriority || (cmd.Priority > 0 && cmd.Reason == "") {
		t.Fatalf("Parse(%q) priority %d is out of bounds or has no reason", text, cmd.Priority)
	}
}

// checkStatsCommand checks a stats command: a Resource name, days within bounds, nothing of other verbs.
func checkStatsCommand(t *testing.T, text string, cmd Command) {
	t.Helper()
	if !isDNSSubdomain(cmd.Resource) || cmd.Days < 1 || cmd.Days > MaxStatsDays {
		t.Fatalf("Parse(%q) stats of %q over %d days is out of bounds", text, cmd.Resource, cmd.Days)
	}
	if cmd.Duration != 0 || !cmd.Until.IsZero() || cmd.Reason != "" || cmd.Standup != "" || cmd.Date != "" || !cmd.Start.IsZero() || cmd.Priority != 0 || cmd.NoPreempt {
		t.Fatalf("Parse(%q) stats has fields of other verbs: %+v", text, cmd)
	}
}

// checkTakeText checks the free text only a take carries: a revision and a reason, both taken from the input.
func checkTakeText(t *testing.T, text string, cmd Command) {
	t.Helper()
	if cmd.Revision != "" {
		if cmd.Verb != VerbTake || checkRevision(cmd.Revision) != nil || !strings.Contains(text, cmd.Revision) {
			t.Fatalf("Parse(%q) revision %q is not a valid revision from the input of a take", text, cmd.Revision)
		}
	}
	if cmd.Reason != "" {
		if cmd.Verb != VerbTake {
			t.Fatalf("Parse(%q) %s has reason %q", text, cmd.Verb, cmd.Reason)
		}
		if utf8.RuneCountInString(cmd.Reason) > MaxReasonLength || !utf8.ValidString(cmd.Reason) ||
			strings.TrimSpace(cmd.Reason) != cmd.Reason || !strings.Contains(text, cmd.Reason) {
			t.Fatalf("Parse(%q) reason %q is not trimmed, bounded text from the input", text, cmd.Reason)
		}
	}
}

// checkWatchCommand checks a watch or unwatch command: a resource or a pool, and a pool that is a label selector
// Slack shows as written.
func checkWatchCommand(t *testing.T, text string, cmd Command) {
	t.Helper()
	label, value := PoolLabel(cmd.Pool)
	switch {
	case cmd.Resource != "" && cmd.Pool != "", cmd.Resource == "" && cmd.Pool == "" && cmd.Verb != VerbCalendar:
		t.Fatalf("Parse(%q) %s names both or neither of a resource and a pool: %+v", text, cmd.Verb, cmd)
	case cmd.Resource != "" && !isDNSSubdomain(cmd.Resource):
		t.Fatalf("Parse(%q) resource %q is not a valid name", text, cmd.Resource)
	case cmd.Pool != "" && (!ValidPool(cmd.Pool) || len(validation.IsQualifiedName(label)) > 0 || value == "" || len(validation.IsValidLabelValue(value)) > 0):
		t.Fatalf("Parse(%q) pool %q is no label selector", text, cmd.Pool)
	case strings.ContainsAny(cmd.Pool, "<>&*`~ "):
		t.Fatalf("Parse(%q) pool %q has characters mrkdwn reads", text, cmd.Pool)
	}
}

// checkStandupCommand checks a stand-up command: a name that may name a Standup, a date the caller can read, and
// nothing of the Resource grammar.
func checkStandupCommand(t *testing.T, text string, cmd Command) {
	t.Helper()
	if cmd.Resource != "" || cmd.Duration != 0 || !cmd.Until.IsZero() || cmd.Reason != "" || cmd.Revision != "" || !cmd.Start.IsZero() || cmd.Priority != 0 || cmd.NoPreempt {
		t.Fatalf("Parse(%q) %s has Resource fields: %+v", text, cmd.Verb, cmd)
	}
	if cmd.Standup != "" && !standupName.MatchString(cmd.Standup) {
		t.Fatalf("Parse(%q) stand-up %q is not a name", text, cmd.Standup)
	}
	switch cmd.Date {
	case "", "today", "tomorrow":
	default:
		if _, err := time.Parse(time.DateOnly, cmd.Date); err != nil {
			t.Fatalf("Parse(%q) date %q is not YYYY-MM-DD", text, cmd.Date)
		}
	}
	needsDate := cmd.Verb == VerbStandupAway || cmd.Verb == VerbStandupSkip || cmd.Verb == VerbStandupUnskip
	if needsDate != (cmd.Date != "") {
		t.Fatalf("Parse(%q) %s has date %q", text, cmd.Verb, cmd.Date)
	}
}

// FuzzParseDuration checks that ParseDuration never panics and returns either an *Error or a duration within
// bounds.
func FuzzParseDuration(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, tuesday.Unix()+int64(i)*3607)
	}
	ny := newYork(f)
	f.Fuzz(func(t *testing.T, text string, seconds int64) {
		now := fuzzNow(seconds)
		for _, loc := range []*time.Location{time.UTC, ny, nil} {
			d, err := ParseDuration(text, now, loc)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Message == "" || d != 0 {
					t.Fatalf("ParseDuration(%q) = %v, %#v; want 0 and an *Error with a message", text, d, err)
				}
				continue
			}
			if d < MinDuration || d > MaxDuration {
				t.Fatalf("ParseDuration(%q) = %v, out of bounds", text, d)
			}
		}
	})
}
