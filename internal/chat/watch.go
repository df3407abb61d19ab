package chat

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// The nudge and watch commands:
//
//	nudge <resource>           tell its holders that someone is waiting
//	watch <resource>           DM me once when it is free, without joining its queue
//	watch <label>=<value>      ... when any Resource with that label is free (a pool: watch pool=web)
//	unwatch <resource>         stop watching it (unwatch <label>=<value> for a pool)
//
// "nudge", "watch" and "unwatch" are command words: a Resource named so is taken with "on watch".

// parseNudge reads what follows "nudge": one resource name.
func parseNudge(verb token, args []token) (Command, *Error) {
	name, err := onlyResource(verb, args, "")
	if err != nil {
		return Command{}, err
	}
	return Command{Verb: VerbNudge, Resource: name}, nil
}

// parseWatch reads what follows "watch" or "unwatch": one resource name, or one pool as label=value.
func parseWatch(verb token, args []token, v Verb) (Command, *Error) {
	example := verb.lower + " staging, or " + verb.lower + " pool=web for any Resource of a pool"
	switch {
	case len(args) == 0:
		return Command{}, errorf("%s needs a resource, such as %s", quote(verb.text), example)
	case len(args) > 1:
		return Command{}, errorf("%s takes one resource name or one pool, such as %s; I don't understand %s",
			quote(verb.text), example, quote(joinTokens(args[1:])))
	}
	if key, value, ok := strings.Cut(args[0].text, "="); ok {
		pool, err := poolSelector(args[0], key, value)
		if err != nil {
			return Command{}, err
		}
		return Command{Verb: v, Pool: pool}, nil
	}
	name, err := resourceName(args[0])
	if err != nil {
		return Command{}, err
	}
	return Command{Verb: v, Resource: name}, nil
}

// poolSelector checks a pool written as label=value, the label selector that picks its members, and returns it
// as written: label keys and values are case-sensitive, unlike resource names.
func poolSelector(w token, key, value string) (string, *Error) {
	if errs := validation.IsQualifiedName(key); len(errs) > 0 {
		return "", errorf("%s is not a pool: %s is not a label name (letters, digits, '-', '_' and '.', such as pool=web)",
			quote(w.text), quote(key))
	}
	if value == "" {
		return "", errorf("%s needs a value after the =, such as pool=web", quote(w.text))
	}
	if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
		return "", errorf("%s is not a pool: %s is not a label value (at most 63 letters, digits, '-', '_' and '.')",
			quote(w.text), quote(value))
	}
	return key + "=" + value, nil
}

// PoolLabel splits a Command's Pool into the label and the value its members have.
func PoolLabel(pool string) (label, value string) {
	label, value, _ = strings.Cut(pool, "=")
	return label, value
}

// ValidPool reports whether pool is a pool as Parse returns it: label=value, a label name and a non-empty label
// value. Text read back from elsewhere (an annotation anyone may edit) is checked with it before it is used.
func ValidPool(pool string) bool {
	label, value, ok := strings.Cut(pool, "=")
	return ok && value != "" && len(validation.IsQualifiedName(label)) == 0 && len(validation.IsValidLabelValue(value)) == 0
}
