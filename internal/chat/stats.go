package chat

import (
	"regexp"
	"strconv"
)

// The stats command asks for a Resource's contention as a chart: `/dibs stats staging` (the last DefaultStatsDays
// days) or `/dibs stats staging 14d`. "stats" is a command word: a Resource named stats is taken with
// `/dibs on stats`.

// Bounds of the period of `stats`, in days.
const (
	// DefaultStatsDays is the period when none is given: a working week and its weekend.
	DefaultStatsDays = 7
	// MaxStatsDays is the longest period: five weeks, as far back as Conch keeps a Resource's history (see
	// docs/charts.md), and as many bars as a chart shows legibly.
	MaxStatsDays = 35
)

var (
	// statsPeriod is a period as people type it after the resource: 7d, 7 days, 2w, 2 weeks, a week, 14.
	statsPeriod = regexp.MustCompile(`^(a|an|one|[0-9]{1,6}) ?(d|day|days|w|wk|wks|week|weeks)?$`)
	// statsFiller are words allowed before the period: "stats staging last 14 days", "over 2 weeks".
	statsFiller = map[string]bool{"for": true, "last": true, "over": true, "past": true, "the": true}
)

// parseStats reads what follows "stats": a resource, then optionally a period.
func parseStats(verb token, args []token) (Command, *Error) {
	example := "stats staging, or stats staging 14d for the last 14 days"
	if len(args) == 0 {
		return Command{}, errorf("%s needs a resource, such as %s", quote(verb.text), example)
	}
	if _, ok := statsDays(joinTokens(args)); ok && len(args) <= 2 {
		return Command{}, errorf("%s needs a resource before the period, such as stats staging %s", quote(verb.text), short(joinTokens(args)))
	}
	name, err := resourceName(args[0])
	if err != nil {
		return Command{}, err
	}
	rest := args[1:]
	for len(rest) > 0 && statsFiller[rest[0].lower] {
		rest = rest[1:]
	}
	c := Command{Verb: VerbStats, Resource: name, Days: DefaultStatsDays}
	if len(rest) == 0 {
		if len(args) > 1 {
			return Command{}, errorf("%s needs a period after it, such as stats %s 14d", quote(args[len(args)-1].text), name)
		}
		return c, nil
	}
	phrase := joinTokens(rest)
	days, ok := statsDays(phrase)
	switch {
	case !ok:
		return Command{}, errorf("%s is not a period; write a number of days or weeks after the resource, such as stats %s 14d or stats %s 2w (at most %d days)",
			quote(phrase), name, name, MaxStatsDays)
	case days < 1:
		return Command{}, errorf("%s is no time at all; stats looks back at least one day, such as stats %s 7d", quote(phrase), name)
	case days > MaxStatsDays:
		return Command{}, errorf("%s is too long: stats looks back at most %d days (5 weeks), such as stats %s %dd", quote(phrase), MaxStatsDays, name, MaxStatsDays)
	}
	c.Days = days
	return c, nil
}

// statsDays reads a period ("7d", "2 weeks", "a week", "14") as a number of days; ok is false for anything
// else. A number without a unit is days. Numbers are bounded by the pattern, so the result never overflows.
func statsDays(phrase string) (int, bool) {
	m := statsPeriod.FindStringSubmatch(asciiLower(phrase))
	if m == nil {
		return 0, false
	}
	n := 1
	if m[1] != "a" && m[1] != "an" && m[1] != "one" {
		n, _ = strconv.Atoi(m[1])
	} else if m[2] == "" {
		return 0, false // "a" alone is no period
	}
	switch m[2] {
	case "w", "wk", "wks", "week", "weeks":
		n *= 7
	}
	return n, true
}
