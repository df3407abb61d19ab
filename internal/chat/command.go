// Package chat is the grammar of the /dibs chat command: it turns what a person types after the command name into
// a Command, or into an Error whose message can be shown back to them as is. It is pure (no client, no clock, no
// Slack) so that the Slack front end and the kubectl plugin, which reuses ParseDuration, read every word the same
// way, and so that every rule is a row in a table test.
package chat

import (
	"time"
)

// DefaultCommand is the slash command people type when the Slack app is not configured with another name.
const DefaultCommand = "/dibs"

// Limits on what Parse accepts. The reason and duration limits mirror the Reservation API, so that a command that
// parses is one the API server takes and the front end never has to explain a rejection from further down.
const (
	// MaxInputLength bounds the text Parse and ParseDuration read, in characters (runes), as people count. It is
	// checked before any other work, so that a pasted log file costs next to nothing.
	MaxInputLength = 4000
	// MaxReasonLength bounds a reason in characters, as the API server counts spec.reason's maxLength: every
	// reason that parses fits, and every one that fits parses.
	MaxReasonLength = 1024
	// MinDuration is the shortest duration, as for spec.duration.
	MinDuration = time.Second
	// MaxDuration is the longest duration, as for spec.duration (720h).
	MaxDuration = 30 * 24 * time.Hour
	// maxNameBytes is the longest Kubernetes object name (a DNS-1123 subdomain).
	maxNameBytes = 253
	// MaxRevisionLength bounds the revision after "deploy", as the API bounds a parameter's value.
	MaxRevisionLength = 256
)

// Verb says what a Command asks for.
type Verb string

// The verbs of the grammar. Their values are the words people type, so they read well in logs.
const (
	// VerbTake takes the Resource, or joins its queue when someone holds it.
	VerbTake Verb = "take"
	// VerbRelease gives the Resource back, or leaves its queue.
	VerbRelease Verb = "release"
	// VerbExtend makes the caller's current hold longer.
	VerbExtend Verb = "extend"
	// VerbList shows every Resource with its holder and queue.
	VerbList Verb = "list"
	// VerbWho shows one Resource's holder and queue.
	VerbWho Verb = "who"
	// VerbHelp shows the grammar (see Help).
	VerbHelp Verb = "help"
	// VerbStats posts charts of a Resource's contention over the last Command.Days days.
	VerbStats Verb = "stats"
	// VerbNudge tells the holders of a Resource that someone is waiting for it, with buttons to release or
	// extend.
	VerbNudge Verb = "nudge"
	// VerbWatch asks for a DM once the Resource (or any Resource of Command.Pool) is free, without queueing.
	VerbWatch Verb = "watch"
	// VerbUnwatch takes such a request back.
	VerbUnwatch Verb = "unwatch"
	// VerbCalendar shows the coming days of a Resource (Command.Resource), of a pool (Command.Pool) or of every
	// Resource (neither): who holds it until when, who waits and when they expect their turn, and the bookings.
	VerbCalendar Verb = "calendar"

	// The stand-up verbs follow "standup" (see parseStandup). They name a Standup in Command.Standup and a day in
	// Command.Date.

	// VerbStandupList shows the stand-ups of the namespace, when they run and what they are doing.
	VerbStandupList Verb = "standup list"
	// VerbStandupHelp shows the stand-up commands (see StandupHelp).
	VerbStandupHelp Verb = "standup help"
	// VerbStandupSkip adds a day to a Standup's skip dates, cancelling its run of that day if one is collecting.
	VerbStandupSkip Verb = "standup skip"
	// VerbStandupUnskip takes a skipped day back.
	VerbStandupUnskip Verb = "standup unskip"
	// VerbStandupAway marks the person away through Date, from the Standup named or from every one they are in.
	VerbStandupAway Verb = "standup away"
	// VerbStandupBack ends the person's time away.
	VerbStandupBack Verb = "standup back"
	// VerbStandupRun starts a run of a Standup now.
	VerbStandupRun Verb = "standup run"
)

// IsStandup reports whether v is one of the stand-up verbs.
func (v Verb) IsStandup() bool {
	switch v {
	case VerbStandupList, VerbStandupHelp, VerbStandupSkip, VerbStandupUnskip, VerbStandupAway, VerbStandupBack, VerbStandupRun:
		return true
	}
	return false
}

// Command is one parsed chat command. Fields a verb does not use are zero.
type Command struct {
	// Verb is what the person asks for.
	Verb Verb
	// Resource is the name of the Resource, lower-cased and a valid Kubernetes object name; empty for list and
	// help. Whether such a Resource exists is for the caller to find out (and Suggest to help with).
	Resource string
	// Duration is how long to take the Resource for (take) or how much longer to hold it (extend); 0 when the
	// person named none, so that the Resource's default applies. When Until is set, Duration is the time from now
	// to Until.
	Duration time.Duration
	// Until is set when the person named a wall-clock end ("until 17:00", "all day"), in their time zone, so the
	// reply can echo it back. For extend it means "end the hold at Until" rather than "add Duration".
	Until time.Time
	// Pool is the pool a watch or unwatch command names instead of a Resource, as "label=value" (pool=web): the
	// label and value its member Resources have (see PoolLabel). Exactly one of Resource and Pool is set for
	// those verbs; Pool is empty for every other.
	Pool string
	// Reason is the text after "because" (or "urgent:"), verbatim but trimmed; empty when none was given.
	Reason string
	// Start is when a booking starts ("tomorrow 9:00", "at 14:00": see start.go), in the person's time zone, always
	// after now; zero for a hold asked for now. With Start, Duration and Until count from Start.
	Start time.Time
	// StartRepeats is true when the wall time of Start comes twice that day (clocks go back) and Start is the
	// first of the two, so that the reply can say so.
	StartRepeats bool
	// Priority is the priority asked for ("priority 20", or "urgent", which is UrgentPriority), 0 to 100; 0 when
	// none was asked for. A priority above 0 always comes with a Reason, as the API requires.
	Priority int32
	// NoPreempt is true when the hold must not be preempted by a higher priority ("no-preempt").
	NoPreempt bool
	// Revision is the word after "deploy" ("/dibs staging deploy pr-345"): the Reservation's parameter revision,
	// which the Resource's deploy patch puts in place during the hold. Empty when none was given.
	Revision string
	// Standup is the name of the Standup a stand-up command names, lower-cased; empty when it names none, and the
	// caller picks one (the channel's, or the only one). Whether it exists is for the caller to find out.
	Standup string
	// Days is the period a stats command looks back over, in days: DefaultStatsDays unless the person named one,
	// and never more than MaxStatsDays. Zero for every other verb.
	Days int
	// Date is the day a stand-up command is about: "today", "tomorrow" or a YYYY-MM-DD date that exists; empty
	// when none was given (skip and unskip mean "today" then). The caller reads relative dates in each Standup's
	// time zone.
	Date string
}

// Error is a malformed command or duration. Message is written for the person who typed it, ready to be shown
// to them alone (an ephemeral Slack message, a CLI error); the caller may append Help. Message quotes what was
// typed, so a Slack front end must escape it like any other text before sending it.
type Error struct {
	// Message says what is wrong and how to write it instead.
	Message string
	// Standup is true for an error in a stand-up command ("standup ..."), whose help is StandupHelp, not Help.
	Standup bool

	// unrecognised marks a duration error where the text did not look like a duration at all, so that Parse can
	// explain it in terms of the words around it ("for" needs a duration ...) instead.
	unrecognised bool
}

// Error implements error.
func (e *Error) Error() string { return e.Message }
