package chat

import (
	"slices"
	"time"
)

// Bookings: a take may name when the hold starts (spec.startTime), in the person's own time zone.
//
//	at 14:00, at 2pm, at 2:30 pm, at noon     the next 14:00: today if it is still ahead, else tomorrow
//	today 14:00, tomorrow 9:00, tomorrow at 9am
//	monday 9:00, on mon at 9am                the next Monday (today, if it is Monday and 9:00 is ahead)
//	2026-12-24 9:00, on 2026-12-24 at 9am     that date; a date or today's time that has passed is an error
//
// A wall time that does not exist that day (clocks go forward over it) is an error that says so; one that comes
// twice (clocks go back) is the first of the two, and Command.StartRepeats says so, so that the reply can tell.
// A start more than MaxStartAhead away is refused.

// MaxStartAhead is how far ahead a booking may start: a year is further ahead than any team plans a turn.
const MaxStartAhead = 366 * 24 * time.Hour

// startExamples ends messages about a start time that could not be read.
const startExamples = "at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00"

// day is the day part of a start: none (the next occurrence of the time), today, tomorrow, a weekday or a date.
type day struct {
	kind    dayKind
	weekday time.Weekday
	date    time.Time // year, month and day, in UTC
	text    string
}

type dayKind int

const (
	dayNext dayKind = iota
	dayToday
	dayTomorrow
	dayWeekday
	dayDate
)

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "sun": time.Sunday,
	"monday": time.Monday, "mon": time.Monday,
	"tuesday": time.Tuesday, "tue": time.Tuesday, "tues": time.Tuesday,
	"wednesday": time.Wednesday, "wed": time.Wednesday,
	"thursday": time.Thursday, "thu": time.Thursday, "thur": time.Thursday, "thurs": time.Thursday,
	"friday": time.Friday, "fri": time.Friday,
	"saturday": time.Saturday, "sat": time.Saturday,
}

// readDay reads a word that names a day; ok is false for any other word. A word that looks like a date but is
// not one (2026-02-30) is an error.
func readDay(w string) (day, bool, *Error) {
	switch w {
	case "today":
		return day{kind: dayToday, text: w}, true, nil
	case "tomorrow":
		return day{kind: dayTomorrow, text: w}, true, nil
	}
	if wd, ok := weekdays[w]; ok {
		return day{kind: dayWeekday, weekday: wd, text: w}, true, nil
	}
	if standupDate.MatchString(w) {
		d, err := time.Parse("2006-1-2", w)
		if err != nil {
			return day{}, false, errorf("%s is not a date I know; write YYYY-MM-DD, such as 2026-12-24", quote(w))
		}
		return day{kind: dayDate, date: d, text: w}, true, nil
	}
	return day{}, false, nil
}

// startsStart reports whether the word at words[i] begins a start: "at", a day, or "on" before a day.
func startsStart(words []token, i int) bool {
	w := words[i].lower
	if w == "at" {
		return true
	}
	if w == "on" && i+1 < len(words) {
		w = words[i+1].lower
	}
	_, ok, err := readDay(w)
	return ok || err != nil
}

// cutStart finds a start in the words of a take, reads it, and returns the words around it (the duration) and the
// start. start is zero when the words name none.
func cutStart(phrase []token, now time.Time, loc *time.Location) ([]token, time.Time, bool, *Error) {
	i := -1
	for j := range phrase {
		if startsStart(phrase, j) {
			i = j
			break
		}
	}
	if i < 0 {
		return phrase, time.Time{}, false, nil
	}
	n, start, repeats, err := readStart(phrase[i:], now, loc)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	rest := append(slices.Clone(phrase[:i]), phrase[i+n:]...)
	for j := range rest {
		if startsStart(rest, j) {
			return nil, time.Time{}, false, errorf("say when it starts once; I don't understand %s", quote(joinTokens(rest[j:])))
		}
	}
	return rest, start, repeats, nil
}

// readStart reads a start from the beginning of words: "[on] <day> [at] <time>" or "at <time>". It returns how
// many words it read.
func readStart(words []token, now time.Time, loc *time.Location) (int, time.Time, bool, *Error) {
	i := 0
	d := day{kind: dayNext}
	if words[i].lower == "on" {
		i++
	}
	if i < len(words) {
		got, ok, err := readDay(words[i].lower)
		if err != nil {
			return 0, time.Time{}, false, err
		}
		if ok {
			d = got
			i++
		}
	}
	keyword := d.text
	if i < len(words) && words[i].lower == "at" {
		keyword = "at"
		if d.kind != dayNext {
			keyword = d.text + " at"
		}
		i++
	}
	if keyword == "" {
		keyword = words[0].lower
	}
	clock, n := clockWords(words[i:])
	if n == 0 {
		return 0, time.Time{}, false, errorf("%s needs a time of day, such as %s", quote(keyword), startExamples)
	}
	hour, minute, ok := parseClock(clock)
	if !ok {
		if h, digitsOnly := atoi(clock); digitsOnly && h >= 1 && h <= 12 {
			return 0, time.Time{}, false, errorf("%s could be %dam or %dpm; write %s %dpm or %s %d:00",
				quote(keyword+" "+clock), h, h, keyword, h, keyword, h+12)
		}
		return 0, time.Time{}, false, errorf("%s is not a time of day; write a start such as %s", quote(clock), startExamples)
	}
	start, repeats, err := resolveStart(d, hour, minute, now, loc)
	if err != nil {
		return 0, time.Time{}, false, err
	}
	return i + n, start, repeats, nil
}

// clockWords is the time of day at the start of words, as one word ("5pm"; "5 pm" reads as "5pm"), and how many
// words it took: 0 when there is none.
func clockWords(words []token) (string, int) {
	switch {
	case len(words) == 0:
		return "", 0
	case len(words) >= 2 && (words[1].lower == "am" || words[1].lower == "pm"):
		return words[0].lower + words[1].lower, 2
	}
	switch words[0].lower {
	case "for", "until", "till", "til", "because", "deploy", "priority", "urgent", "urgent:", "no-preempt":
		return "", 0
	}
	return words[0].lower, 1
}

// ParseStart reads when a booking starts, as the kubectl plugin's --at takes it: what follows the resource in a
// take ("at 14:00", "tomorrow 9:00", "monday 9am", "2026-12-24 9:00"), or a time of day alone ("14:00"), in loc
// (nil means UTC). repeats is true when that wall time comes twice (clocks go back) and the first was taken.
func ParseStart(text string, now time.Time, loc *time.Location) (start time.Time, repeats bool, err error) {
	if e := checkInput(text); e != nil {
		return time.Time{}, false, e
	}
	if loc == nil {
		loc = time.UTC
	}
	words := tokenize(text)
	if len(words) == 0 {
		return time.Time{}, false, errorf("a start is needed, such as %s", startExamples)
	}
	if !startsStart(words, 0) {
		words = append([]token{{text: "at", lower: "at"}}, words...)
	}
	n, start, repeats, e := readStart(words, now, loc)
	if e != nil {
		return time.Time{}, false, e
	}
	if n != len(words) {
		return time.Time{}, false, errorf("I don't understand %s after the start; write a start such as %s", quote(joinTokens(words[n:])), startExamples)
	}
	return start, repeats, nil
}

// resolveStart is the instant a day and a time of day name in loc, after now.
func resolveStart(d day, hour, minute int, now time.Time, loc *time.Location) (time.Time, bool, *Error) {
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	var candidates []time.Time // calendar days, in UTC; the first whose time is ahead is taken
	fixed := true
	switch d.kind {
	case dayNext:
		candidates, fixed = []time.Time{today, today.AddDate(0, 0, 1), today.AddDate(0, 0, 2)}, false
	case dayToday:
		candidates = []time.Time{today}
	case dayTomorrow:
		candidates = []time.Time{today.AddDate(0, 0, 1)}
	case dayWeekday:
		ahead := (int(d.weekday) - int(today.Weekday()) + 7) % 7
		first := today.AddDate(0, 0, ahead)
		candidates, fixed = []time.Time{first, first.AddDate(0, 0, 7)}, false
	case dayDate:
		candidates = []time.Time{d.date}
	}
	for _, c := range candidates {
		at, ok, repeats := wallTime(c.Year(), c.Month(), c.Day(), hour, minute, loc)
		if !ok {
			return time.Time{}, false, gapError(c, hour, minute, loc)
		}
		switch {
		case at.After(now) && at.Sub(now) > MaxStartAhead:
			return time.Time{}, false, errorf("%s is too far ahead; a booking starts at most a year from now", FormatStart(at, loc))
		case at.After(now):
			return at, repeats, nil
		case fixed:
			return time.Time{}, false, errorf("%s is in the past (it is %s now); pick a time ahead, such as %s",
				FormatStart(at, loc), now.In(loc).Format("15:04"), startExamples)
		}
	}
	return time.Time{}, false, errorf("cannot find the next %02d:%02d in the time zone %s", hour, minute, loc)
}

// FormatStart writes an instant as a start is shown to people: "Tue 8 Dec 2026 09:00 PST", in loc.
func FormatStart(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
}

// wallTime returns the first instant whose wall clock in loc reads the date and time given; ok is false when no
// instant does (clocks go forward over it), and repeats is true when two do (clocks go back).
func wallTime(year int, month time.Month, dayOfMonth, hour, minute int, loc *time.Location) (first time.Time, ok, repeats bool) {
	naive := time.Date(year, month, dayOfMonth, hour, minute, 0, 0, time.UTC)
	var found []time.Time
	// Every offset in force within a day of the date: transitions are never closer together than that.
	for _, probe := range []time.Duration{-26 * time.Hour, 0, 26 * time.Hour} {
		_, off := naive.Add(probe).In(loc).Zone()
		at := naive.Add(-time.Duration(off) * time.Second)
		w := at.In(loc)
		if w.Year() == year && w.Month() == month && w.Day() == dayOfMonth && w.Hour() == hour && w.Minute() == minute &&
			!slices.ContainsFunc(found, at.Equal) {
			found = append(found, at)
		}
	}
	if len(found) == 0 {
		return time.Time{}, false, false
	}
	slices.SortFunc(found, time.Time.Compare)
	return found[0], true, len(found) > 1
}

// gapError explains a wall time that clocks skip: "02:30 does not exist in America/Los_Angeles on Sun 8 Mar 2026:
// clocks go forward from 02:00 to 03:00".
func gapError(date time.Time, hour, minute int, loc *time.Location) *Error {
	naive := time.Date(date.Year(), date.Month(), date.Day(), hour, minute, 0, 0, time.UTC)
	_, off := naive.Add(-26 * time.Hour).In(loc).Zone()
	transition, _ := naive.Add(-time.Duration(off) * time.Second).In(loc).ZoneBounds()
	before := transition.Add(-time.Minute).In(loc)
	from := time.Date(before.Year(), before.Month(), before.Day(), before.Hour(), before.Minute()+1, 0, 0, time.UTC)
	to := transition.In(loc)
	return errorf("%02d:%02d does not exist in %s on %s: clocks go forward from %s to %s that night; pick another time, such as %s",
		hour, minute, loc, date.Format("Mon 2 Jan 2006"), from.Format("15:04"), to.Format("15:04"), to.Format("15:04"))
}
