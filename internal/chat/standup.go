package chat

import (
	"fmt"
	"regexp"
	"time"
)

// The stand-up commands are a subcommand of the slash command, `/dibs standup …`, rather than a slash command of
// their own: one command to install and remember. "standup" is therefore a command word: a Resource named standup
// is taken with `/dibs on standup`.

// standupVerbs maps the word after "standup" to its verb; no word lists.
var standupVerbs = map[string]Verb{
	"": VerbStandupList, "list": VerbStandupList, "ls": VerbStandupList, "status": VerbStandupList,
	"help": VerbStandupHelp, "skip": VerbStandupSkip, "unskip": VerbStandupUnskip, "away": VerbStandupAway,
	"back": VerbStandupBack, "run": VerbStandupRun, "start": VerbStandupRun, "now": VerbStandupRun,
}

var (
	// standupDate is a date as people type it: 2026-12-24, or 2026-12-4.
	standupDate = regexp.MustCompile(`^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$`)
	// standupName is what may name a Standup; whether one exists is for the caller to say.
	standupName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
)

// parseStandup reads what follows "standup": a verb, then in any order a Standup's name and a date ("today",
// "tomorrow" or YYYY-MM-DD), with "until", "on" and "for" allowed as filler ("away until 2026-12-01").
func parseStandup(args []token) (Command, *Error) {
	verb := ""
	if len(args) > 0 {
		verb, args = args[0].lower, args[1:]
	}
	c := Command{Verb: standupVerbs[verb]}
	if c.Verb == "" {
		return Command{}, standupErrorf("I do not know `standup %s`. I know `skip`, `unskip`, `away`, `back`, `run` and `list`", verb)
	}
	for _, arg := range args {
		switch w := arg.lower; {
		case w == "until" || w == "on" || w == "for":
		case w == "today" || w == "tomorrow":
			c.Date = w
		case standupDate.MatchString(w):
			d, err := time.Parse("2006-1-2", w)
			if err != nil {
				return Command{}, standupErrorf("%q is not a date I know; write YYYY-MM-DD, such as 2026-12-24", w)
			}
			c.Date = d.Format(time.DateOnly)
		case standupName.MatchString(w) && c.Standup == "":
			c.Standup = w
		default:
			return Command{}, standupErrorf("I did not understand %q: name one stand-up, and a date as YYYY-MM-DD, `today` or `tomorrow`", w)
		}
	}
	switch c.Verb {
	case VerbStandupAway:
		if c.Date == "" {
			return Command{}, standupErrorf("Away until when? Give the last day you are away: `standup away 2026-12-01`")
		}
	case VerbStandupSkip, VerbStandupUnskip:
		if c.Date == "" {
			c.Date = "today"
		}
	default:
		if c.Date != "" {
			return Command{}, standupErrorf("`%s` takes no date; to skip a day, use `standup skip %s`", c.Verb, c.Date)
		}
	}
	return c, nil
}

func standupErrorf(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...), Standup: true}
}
