package chat

import (
	"strings"
)

// The calendar command shows the coming days:
//
//	calendar               every Resource here ("cal" too)
//	calendar <resource>    one Resource
//	calendar <label>=<value>  the Resources of a pool (calendar pool=web)
//
// "calendar" and "cal" are command words: a Resource named so is taken with "on calendar".

// parseCalendar reads what follows "calendar": nothing, one resource name, or one pool as label=value.
func parseCalendar(verb token, args []token) (Command, *Error) {
	switch {
	case len(args) == 0:
		return Command{Verb: VerbCalendar}, nil
	case len(args) > 1:
		return Command{}, errorf("%s takes one resource name or one pool, such as calendar staging or calendar pool=web; I don't understand %s",
			quote(verb.text), quote(joinTokens(args[1:])))
	}
	if key, value, ok := strings.Cut(args[0].text, "="); ok {
		pool, err := poolSelector(args[0], key, value)
		if err != nil {
			return Command{}, err
		}
		return Command{Verb: VerbCalendar, Pool: pool}, nil
	}
	name, err := resourceName(args[0])
	if err != nil {
		return Command{}, err
	}
	return Command{Verb: VerbCalendar, Resource: name}, nil
}
