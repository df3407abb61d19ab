package chat

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// durationExamples ends every message about a duration that could not be read, so people see what works.
const durationExamples = "30m, 2h, 1h30m, 90 minutes, until 17:00 or all day"

// ParseDuration reads a duration the way people type it in chat:
//
//   - an amount: 30m, 2h, 1h30m, 1h30 (minutes after hours), 1.5h, 1d, 90 minutes, 2 hours, 45 mins,
//     an hour, 1 hour and 30 minutes. Units are s, m, h, d and w with their usual spellings; m is minutes.
//   - until a time of day: until 17:00, until 5pm, until 5:30 pm, until noon, until midnight. The time is in loc;
//     when it is less than MinDuration away or already past today, it means tomorrow.
//   - all day: until the next midnight in loc, so "all day" late in the evening is short. A working day differs
//     between teams; midnight needs no setting and never cuts into the next morning.
//
// Words are case-insensitive. The result is between MinDuration and MaxDuration; anything else is an *Error saying
// why. A nil loc means UTC. It does not read the clock: now is the caller's.
func ParseDuration(text string, now time.Time, loc *time.Location) (time.Duration, error) {
	if err := checkInput(text); err != nil {
		return 0, err
	}
	s, err := parseSpan(text, now, loc)
	if err != nil {
		return 0, err
	}
	return s.duration, nil
}

// span is a parsed duration; until is set when it was given as a time of day.
type span struct {
	duration time.Duration
	until    time.Time
}

// checkInput rejects what no rule should look at: too much text, or bytes that are not text.
func checkInput(text string) *Error {
	if n := utf8.RuneCountInString(text); n > MaxInputLength {
		return &Error{Message: fmt.Sprintf("that text is too long: %d characters, and the limit is %d", n, MaxInputLength)}
	}
	if !utf8.ValidString(text) {
		return &Error{Message: "that is not valid UTF-8 text"}
	}
	return nil
}

// parseSpan is ParseDuration after the input checks, returning the wall-clock end too for Parse.
func parseSpan(text string, now time.Time, loc *time.Location) (span, *Error) {
	if loc == nil {
		loc = time.UTC
	}
	words := strings.Fields(asciiLower(text))
	phrase := strings.Join(words, " ")
	switch {
	case len(words) == 0:
		return span{}, &Error{Message: "a duration is needed, such as " + durationExamples, unrecognised: true}
	case words[0] == "until" || words[0] == "till" || words[0] == "til":
		return parseUntil(phrase, words[1:], now, loc)
	case phrase == "all day":
		return nextOccurrence(now, loc, 0, 0)
	default:
		return parseAmount(phrase)
	}
}

// parseUntil reads "until <time of day>"; words are the ones after "until".
func parseUntil(phrase string, words []string, now time.Time, loc *time.Location) (span, *Error) {
	clock := ""
	switch {
	case len(words) == 1:
		clock = words[0]
	case len(words) == 2 && (words[1] == "am" || words[1] == "pm"):
		clock = words[0] + words[1] // "5 pm" reads as "5pm"
	}
	hour, minute, ok := parseClock(clock)
	if !ok {
		if len(words) == 0 {
			return span{}, &Error{Message: `"until" needs a time of day, such as until 17:00, until 5pm or until 5:30pm`}
		}
		if h, digitsOnly := atoi(clock); digitsOnly && h >= 1 && h <= 12 {
			// A bare hour is the one ambiguity people hit: "until 5" means 17:00 to most, 05:00 to a parser.
			return span{}, &Error{Message: fmt.Sprintf("%s could be %dam or %dpm; write until %dpm or until %d:00",
				quote(phrase), h, h, h, h+12)}
		}
		return span{}, &Error{Message: fmt.Sprintf("%s is not a time of day; write until 17:00, until 5pm or until 5:30pm",
			quote(phrase))}
	}
	return nextOccurrence(now, loc, hour, minute)
}

// nextOccurrence is the span from now to the next hour:minute on the wall clock in loc that is at least
// MinDuration away. It counts real time, so on a day when clocks change an hour is gained or lost, as people
// expect of "until 17:00". A wall time that does not exist that day (skipped by a change) is the one time.Date
// normalises it to.
func nextOccurrence(now time.Time, loc *time.Location, hour, minute int) (span, *Error) {
	local := now.In(loc)
	// Three days cover every case: today, tomorrow, and the day after when a time zone change at midnight makes
	// tomorrow's wall time normalise to a moment before now.
	for day := 0; day < 3; day++ {
		end := time.Date(local.Year(), local.Month(), local.Day()+day, hour, minute, 0, 0, loc)
		if d := end.Sub(now); d >= MinDuration {
			return checkRange(fmt.Sprintf("%02d:%02d", hour, minute), span{duration: d, until: end})
		}
	}
	return span{}, &Error{Message: fmt.Sprintf("cannot find the next %02d:%02d in the time zone %s", hour, minute, loc)}
}

// parseClock reads a time of day: 17:00, 5pm, 5:30pm, 12am (midnight), noon, midnight. A bare hour is refused
// because "until 5" is ambiguous.
func parseClock(s string) (hour, minute int, ok bool) {
	switch s {
	case "noon":
		return 12, 0, true
	case "midnight":
		return 0, 0, true
	}
	body, pm := strings.CutSuffix(s, "pm")
	am := false
	if !pm {
		body, am = strings.CutSuffix(s, "am")
	}
	hourText, minuteText, hasColon := strings.Cut(body, ":")
	hour, okHour := atoi(hourText)
	if !okHour || len(hourText) > 2 {
		return 0, 0, false
	}
	if hasColon {
		var okMinute bool
		minute, okMinute = atoi(minuteText)
		if !okMinute || len(minuteText) != 2 || minute > 59 {
			return 0, 0, false
		}
	}
	switch {
	case am || pm:
		if hour < 1 || hour > 12 {
			return 0, 0, false
		}
		hour %= 12
		if pm {
			hour += 12
		}
	case !hasColon || hour > 23:
		return 0, 0, false
	}
	return hour, minute, true
}

// atoi reads a short run of ASCII digits; ok is false for anything else, including empty text.
func atoi(s string) (n int, ok bool) {
	if s == "" || len(s) > 4 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// parseAmount reads a sum of amounts such as "1h30m", "1.5 hours" or "1 hour and 30 minutes". phrase is lower
// case with single spaces. It works on whole numbers (plus a rounded fraction) with a bound checked before every
// multiplication, so no input can overflow.
func parseAmount(phrase string) (span, *Error) {
	notDuration := &Error{
		Message:      fmt.Sprintf("%s is not a duration; try %s", quote(phrase), durationExamples),
		unrecognised: true,
	}
	var total time.Duration
	var lastUnit time.Duration
	rest := phrase
	for parts := 0; ; parts++ {
		rest = strings.TrimLeft(rest, " ,")
		if parts > 0 {
			if after, ok := strings.CutPrefix(rest, "and "); ok {
				rest = after
			}
		}
		if rest == "" {
			if parts == 0 {
				return span{}, notDuration
			}
			break
		}
		if len(rest) > 1 && rest[0] == '-' && (isDigit(rest[1]) || rest[1] == '.') {
			return span{}, &Error{Message: fmt.Sprintf("%s is negative; a duration must be more than zero", quote(phrase))}
		}

		whole, fraction, scale, n := readNumber(rest)
		article := false // "a"/"an": only a duration if a unit follows, unlike "a while"
		switch {
		case n > 0:
			rest = rest[n:]
		case strings.HasPrefix(rest, "a "):
			whole, rest, article = 1, rest[len("a "):], true
		case strings.HasPrefix(rest, "an "):
			whole, rest, article = 1, rest[len("an "):], true
		default:
			if parts == 0 {
				return span{}, notDuration
			}
			return span{}, &Error{Message: fmt.Sprintf("%s is not a duration; try %s", quote(phrase), durationExamples)}
		}

		rest = strings.TrimLeft(rest, " ")
		word := rest[:lettersPrefix(rest)]
		rest = rest[len(word):]
		unit, known := unitOf(word)
		switch {
		case word == "" && rest == "" && lastUnit == time.Hour && fraction == 0 && whole < 60:
			unit = time.Minute // "1h30" means 1h30m
		case word == "" && rest == "" && parts == 0 && whole == 0 && fraction == 0:
			return checkRange(phrase, span{}) // "0" is no time at all, whatever the unit
		case word == "" && rest == "" && parts == 0:
			return span{}, &Error{Message: fmt.Sprintf("%s needs a unit, such as %sm or %s minutes", quote(phrase), short(phrase), short(phrase))}
		case word == "":
			return span{}, &Error{Message: fmt.Sprintf("%s is not a duration; try %s", quote(phrase), durationExamples)}
		case (word == "am" || word == "pm") && parts == 0 && rest == "":
			return span{}, &Error{Message: fmt.Sprintf("%s is a time of day; write until %s", quote(phrase), short(phrase))}
		case !known && article && parts == 0:
			return span{}, notDuration
		case !known:
			return span{}, &Error{Message: fmt.Sprintf("%s is not a unit of time; use minutes (m), hours (h) or days (d), up to 30 days", quote(word))}
		}
		lastUnit = unit

		if whole > uint64(MaxDuration/unit) {
			return span{}, tooLong(phrase)
		}
		total += time.Duration(whole)*unit + time.Duration(math.Round(float64(fraction)/scale*float64(unit)))
		if total > MaxDuration {
			return span{}, tooLong(phrase)
		}
	}
	return checkRange(phrase, span{duration: total})
}

// readNumber reads a decimal number such as 90, 1.5 or .5 from the start of s. It returns the whole part, the
// fraction as digits over scale, and how many bytes it read (0 when s does not start with a number). Digits past
// what matters are read but not kept: a whole part over 10^12 is out of range for any unit anyway, and fifteen
// fraction digits are finer than a nanosecond of a week.
func readNumber(s string) (whole, fraction uint64, scale float64, n int) {
	const wholeCap = 1_000_000_000_000
	scale = 1
	digits := 0
	for n < len(s) && isDigit(s[n]) {
		whole = min(whole*10+uint64(s[n]-'0'), wholeCap)
		n++
		digits++
	}
	if n < len(s) && s[n] == '.' {
		n++
		for kept := 0; n < len(s) && isDigit(s[n]); n++ {
			digits++
			if kept < 15 {
				fraction = fraction*10 + uint64(s[n]-'0')
				scale *= 10
				kept++
			}
		}
	}
	if digits == 0 {
		return 0, 0, 1, 0
	}
	return whole, fraction, scale, n
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// lettersPrefix is the length of the run of ASCII letters at the start of s.
func lettersPrefix(s string) int {
	i := 0
	for i < len(s) && 'a' <= s[i] && s[i] <= 'z' {
		i++
	}
	return i
}

// unitOf maps the spellings of a unit people use to its length. There are no months or years, which are longer
// than MaxDuration, and no milliseconds, which are shorter than MinDuration.
func unitOf(word string) (time.Duration, bool) {
	switch word {
	case "s", "sec", "secs", "second", "seconds":
		return time.Second, true
	case "m", "min", "mins", "minute", "minutes":
		return time.Minute, true
	case "h", "hr", "hrs", "hour", "hours":
		return time.Hour, true
	case "d", "day", "days":
		return 24 * time.Hour, true
	case "w", "wk", "wks", "week", "weeks":
		return 7 * 24 * time.Hour, true
	}
	return 0, false
}

// checkRange enforces MinDuration and MaxDuration, naming what was typed.
func checkRange(phrase string, s span) (span, *Error) {
	switch {
	case s.duration <= 0:
		return span{}, &Error{Message: fmt.Sprintf("%s is no time at all; a duration must be more than zero", quote(phrase))}
	case s.duration < MinDuration:
		return span{}, &Error{Message: fmt.Sprintf("%s is too short; a duration must be at least one second", quote(phrase))}
	case s.duration > MaxDuration:
		return span{}, tooLong(phrase)
	}
	return s, nil
}

func tooLong(phrase string) *Error {
	return &Error{Message: fmt.Sprintf("%s is too long; a duration can be at most 30 days", quote(phrase))}
}
