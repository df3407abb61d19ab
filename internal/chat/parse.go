package chat

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/conch-dev/conch/internal/text"
)

// Parse reads the text people type after the slash command:
//
//	<resource> [for <duration>] [deploy <revision>] [because <reason>]
//	                                                 take the resource or join its queue ("on <resource> ..." too)
//	<resource> <start> [for <duration>] ...          book it ahead: at 14:00, tomorrow 9:00, monday 9am, a date
//	                                                 (see start.go); priority <n>, urgent, urgent: <reason> and
//	                                                 no-preempt may join any take (see priority.go)
//	calendar [<resource>|<label>=<value>]            the coming days: holds, the queue, bookings (see calendar.go)
//	off <resource>                                   release it or leave its queue ("release <resource>" too)
//	extend <resource> [by|for] <duration>            hold it longer
//	list                                             every resource ("ls" and "q" too)
//	who <resource>                                   one resource's holder and queue
//	stats <resource> [<period>]                      charts of its contention over the last days (see parseStats)
//	nudge <resource>                                 tell its holders someone is waiting (see watch.go)
//	watch <resource>|<label>=<value>                 DM me once it (or any of the pool) is free; unwatch undoes it
//	help                                             the grammar; so is empty text
//	standup [<verb>] [<standup>] [<date>]            the stand-up commands (see parseStandup and StandupHelp)
//
// A duration is anything ParseDuration reads, and may also follow the resource without "for" ("staging 2h",
// "staging until 17:00", "staging all day"); "deploy <revision>" may come before or after it. The reason is
// everything after the first "because", kept verbatim,
// so it comes last. Keywords are case-insensitive, and so are resource names, which are lower-cased. Words that
// name a verb or a keyword cannot be taken bare; "on list" takes a resource called list.
//
// now and loc (the person's time zone; nil means UTC) give "until 17:00" its meaning; Parse reads no clock. Any
// malformed text is an *Error whose message says how to write it. Text over MaxInputLength characters is refused
// before it is read.
func Parse(text string, now time.Time, loc *time.Location) (Command, error) {
	if err := checkInput(text); err != nil {
		return Command{}, err
	}
	cmd, err := parse(text, now, loc)
	if err != nil {
		// Returned only when non-nil: a nil *Error in an error interface is not nil.
		return Command{}, err
	}
	return cmd, nil
}

// token is one whitespace-separated word of the input. end locates it in the input so that the reason after
// "because" can be cut out verbatim, with its own spacing and case.
type token struct {
	text  string
	lower string
	end   int
}

func parse(text string, now time.Time, loc *time.Location) (Command, *Error) {
	if loc == nil {
		loc = time.UTC
	}
	words := tokenize(text)
	if len(words) == 0 {
		return Command{Verb: VerbHelp}, nil
	}
	verb, args := words[0], words[1:]
	switch verb.lower {
	case "help", "?":
		// Whoever asks for help gets it, whatever follows.
		return Command{Verb: VerbHelp}, nil
	case "standup":
		return parseStandup(args)
	case "stats":
		return parseStats(verb, args)
	case "nudge":
		return parseNudge(verb, args)
	case "calendar", "cal":
		return parseCalendar(verb, args)
	case "watch":
		return parseWatch(verb, args, VerbWatch)
	case "unwatch":
		return parseWatch(verb, args, VerbUnwatch)
	case "list", "ls", "q":
		switch {
		case len(args) == 1 && isDNSSubdomain(args[0].lower):
			return Command{}, errorf("%s shows every resource; for one, write who %s", quote(verb.text), args[0].lower)
		case len(args) > 0:
			return Command{}, errorf("%s takes nothing after it", quote(verb.text))
		}
		return Command{Verb: VerbList}, nil
	case "who":
		name, err := onlyResource(verb, args, "; list shows them all")
		return Command{Verb: VerbWho, Resource: name}, err
	case "off", "release":
		name, err := onlyResource(verb, args, "")
		return Command{Verb: VerbRelease, Resource: name}, err
	case "extend":
		return parseExtend(text, verb, args, now, loc)
	case "on":
		if len(args) == 0 {
			return Command{}, errorf("%s needs a resource, such as on staging", quote(verb.text))
		}
		return parseTake(text, args, now, loc)
	default:
		return parseTake(text, words, now, loc)
	}
}

// onlyResource reads the single resource name of "who" and "off"; hint ends the message when it is missing.
func onlyResource(verb token, args []token, hint string) (string, *Error) {
	example := verb.lower + " staging"
	switch {
	case len(args) == 0:
		return "", errorf("%s needs a resource, such as %s%s", quote(verb.text), example, hint)
	case len(args) > 1:
		return "", errorf("%s takes one resource name, such as %s; I don't understand %s",
			quote(verb.text), example, quote(joinTokens(args[1:])))
	}
	return resourceName(args[0])
}

// parseTake reads "<resource> [<start>] [for <duration>] [priority <n>|urgent] [no-preempt] [deploy <revision>]
// [because <reason>]"; words start at the resource. The start (start.go) and the options may come in any order
// before the reason.
func parseTake(text string, words []token, now time.Time, loc *time.Location) (Command, *Error) {
	switch words[0].lower {
	case "for", "because", "until", "till", "til", "at", "urgent", "urgent:", "priority":
		// Almost always a forgotten resource ("/dibs for 2h"), so say that rather than take a resource named "for".
		return Command{}, errorf("%s needs a resource before it, such as staging %s ...", quote(words[0].text), words[0].lower)
	}
	name, err := resourceName(words[0])
	if err != nil {
		return Command{}, err
	}
	phrase, reason, urgent, err := splitReason(text, words[1:])
	if err != nil {
		return Command{}, err
	}
	cmd := Command{Verb: VerbTake, Resource: name, Reason: reason}
	if phrase, cmd.Revision, err = cutRevision(phrase, name); err != nil {
		return Command{}, err
	}
	if phrase, err = cutPriority(phrase, urgent, &cmd); err != nil {
		return Command{}, err
	}
	if phrase, cmd.Start, cmd.StartRepeats, err = cutStart(phrase, now, loc); err != nil {
		return Command{}, err
	}
	if len(phrase) == 0 {
		return cmd, nil
	}

	// A booking's duration counts from its start: "tomorrow 9:00 until 11:00" is two hours.
	from := now
	if !cmd.Start.IsZero() {
		from = cmd.Start
	}
	var s span
	if phrase[0].lower == "for" {
		s, err = durationAfter(quote(phrase[0].text), phrase[1:], from, loc)
	} else {
		s, err = parseSpan(joinTokens(phrase), from, loc)
		if err != nil && err.unrecognised {
			err = errorf("I don't understand %s after %s; write for <duration> or because <reason>, such as %s for 2h because testing the hotfix",
				quote(joinTokens(phrase)), name, name)
		}
	}
	if err != nil {
		return Command{}, err
	}
	cmd.Duration, cmd.Until = s.duration, s.until
	return cmd, nil
}

// cutRevision takes "deploy <revision>" out of the words of a take: the revision, and the words around it.
func cutRevision(phrase []token, resource string) ([]token, string, *Error) {
	i := slices.IndexFunc(phrase, func(w token) bool { return w.lower == "deploy" })
	if i < 0 {
		return phrase, "", nil
	}
	if i+1 == len(phrase) {
		return nil, "", errorf("%s needs a revision after it, such as %s deploy pr-345", quote(phrase[i].text), resource)
	}
	rev := phrase[i+1].text
	if err := checkRevision(rev); err != nil {
		return nil, "", err
	}
	rest := append(slices.Clone(phrase[:i]), phrase[i+2:]...)
	if slices.ContainsFunc(rest, func(w token) bool { return w.lower == "deploy" }) {
		return nil, "", errorf("say %s once, with one revision", quote(phrase[i].text))
	}
	return rest, rev, nil
}

// checkRevision accepts what names a revision in Git or a registry: a branch ("feature/login"), a tag ("v1.2.3"),
// a commit, a pull request ("pr-345"), an image tag or digest ("sha256:..."). Letters, digits and . _ - / : @ +,
// starting with a letter or digit.
func checkRevision(rev string) *Error {
	if len(rev) > MaxRevisionLength {
		return errorf("the revision is %d characters long; the limit is %d", len(rev), MaxRevisionLength)
	}
	for i := 0; i < len(rev); i++ {
		c := rev[i]
		ok := isAlphanumeric(c) || ('A' <= c && c <= 'Z') || (i > 0 && strings.IndexByte("._-/:@+", c) >= 0)
		if !ok {
			return errorf("%s is not a revision: write a branch, tag, commit or pull request such as pr-345 or v1.2.3 (letters, digits and . _ - / : @ +)", quote(rev))
		}
	}
	return nil
}

// parseExtend reads "extend <resource> [by|for] <duration>". There is no reason: the hold keeps the one it was
// taken with.
func parseExtend(text string, verb token, args []token, now time.Time, loc *time.Location) (Command, *Error) {
	if len(args) == 0 {
		return Command{}, errorf("%s needs a resource and a duration, such as extend staging 30m", quote(verb.text))
	}
	name, err := resourceName(args[0])
	if err != nil {
		return Command{}, err
	}
	phrase, reason, _, err := splitReason(text, args[1:])
	switch {
	case err != nil || reason != "":
		return Command{}, errorf("%s takes no reason, only a resource and a duration, such as extend %s 30m", quote(verb.text), name)
	case len(phrase) == 0:
		return Command{}, errorf("%s needs a duration after the resource, such as extend %s 30m", quote(verb.text), name)
	}
	keyword := quote(verb.text + " " + name)
	if phrase[0].lower == "by" || phrase[0].lower == "for" {
		keyword, phrase = quote(phrase[0].text), phrase[1:]
	}
	s, err := durationAfter(keyword, phrase, now, loc)
	if err != nil {
		return Command{}, err
	}
	return Command{Verb: VerbExtend, Resource: name, Duration: s.duration, Until: s.until}, nil
}

// durationAfter reads the duration that must follow keyword (already quoted), explaining a missing or unreadable
// one in terms of the keyword.
func durationAfter(keyword string, phrase []token, now time.Time, loc *time.Location) (span, *Error) {
	if len(phrase) == 0 {
		return span{}, errorf("%s needs a duration such as %s", keyword, durationExamples)
	}
	s, err := parseSpan(joinTokens(phrase), now, loc)
	if err != nil && err.unrecognised {
		return span{}, errorf("%s needs a duration such as %s; %s is not one", keyword, durationExamples, quote(joinTokens(phrase)))
	}
	return s, err
}

// splitReason cuts words at the first "because" (or "urgent:", which asks for UrgentPriority too): the words
// before it, and the rest of text after it, verbatim but trimmed. urgent is true when "urgent:" cut it.
func splitReason(text string, words []token) ([]token, string, bool, *Error) {
	for i, w := range words {
		if w.lower != "because" && w.lower != "urgent:" {
			continue
		}
		reason := strings.TrimSpace(text[w.end:])
		switch {
		case reason == "":
			example := "because testing the hotfix"
			if w.lower == "urgent:" {
				example = "urgent: hotfix for INC-42"
			}
			return nil, "", false, errorf("%s needs a reason after it, such as %s", quote(w.text), example)
		case utf8.RuneCountInString(reason) > MaxReasonLength:
			// Refused rather than cut: a reason cut short can say something else ("not" lost at the end).
			return nil, "", false, errorf("the reason is %d characters long; the limit is %d, so please shorten it",
				utf8.RuneCountInString(reason), MaxReasonLength)
		}
		return words[:i], reason, w.lower == "urgent:", nil
	}
	return words, "", false, nil
}

// resourceName lower-cases a typed resource name and checks it is a Kubernetes object name (a DNS-1123
// subdomain), the rule the API server applies to Resources.
func resourceName(w token) (string, *Error) {
	name := w.lower
	if len(name) > maxNameBytes {
		return "", errorf("%s is too long for a resource name; names are at most %d characters", quote(w.text), maxNameBytes)
	}
	if !isDNSSubdomain(name) {
		return "", errorf("%s is not a resource name: names are lower-case letters, digits, '-' and '.', and start and end with a letter or digit",
			quote(w.text))
	}
	return name, nil
}

// isDNSSubdomain reports whether name is a DNS-1123 subdomain of at most maxNameBytes: dot-separated labels of
// lower-case ASCII letters, digits and '-', each starting and ending with a letter or digit.
func isDNSSubdomain(name string) bool {
	if name == "" || len(name) > maxNameBytes {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || !isAlphanumeric(label[0]) || !isAlphanumeric(label[len(label)-1]) {
			return false
		}
		for i := 0; i < len(label); i++ {
			if !isAlphanumeric(label[i]) && label[i] != '-' {
				return false
			}
		}
	}
	return true
}

func isAlphanumeric(c byte) bool { return ('a' <= c && c <= 'z') || isDigit(c) }

// tokenize splits text at Unicode white space (Slack sends non-breaking spaces too), keeping where each word ends.
func tokenize(text string) []token {
	var words []token
	start := -1
	for i, r := range text {
		switch {
		case unicode.IsSpace(r) && start >= 0:
			words = append(words, token{text: text[start:i], lower: asciiLower(text[start:i]), end: i})
			start = -1
		case !unicode.IsSpace(r) && start < 0:
			start = i
		}
	}
	if start >= 0 {
		words = append(words, token{text: text[start:], lower: asciiLower(text[start:]), end: len(text)})
	}
	return words
}

func joinTokens(words []token) string {
	texts := make([]string, len(words))
	for i, w := range words {
		texts[i] = w.text
	}
	return strings.Join(texts, " ")
}

// asciiLower lower-cases ASCII letters only. strings.ToLower would also fold look-alikes such as the Kelvin sign
// into "k", letting a name that only looks valid through.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// quote puts what someone typed in quotes for a message, escaping control characters and shortening it.
func quote(s string) string {
	return fmt.Sprintf("%q", short(s))
}

// short cuts what someone typed to a length that fits in a message: 40 characters and an ellipsis.
func short(s string) string {
	return text.Truncate(s, 41, text.Ellipsis)
}

func errorf(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}
