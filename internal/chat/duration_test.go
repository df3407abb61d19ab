package chat

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York must load on machines without a zoneinfo database (CI images)

	"github.com/google/go-cmp/cmp"
)

// tuesday is the default now of the tests: 14:30 UTC on an ordinary day.
var tuesday = time.Date(2026, time.May, 12, 14, 30, 0, 0, time.UTC)

func newYork(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// errText is the message of err, "" for nil, failing the test when err is not an *Error: every error must be one
// the front end can show as is.
func errText(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is a %T, want *chat.Error", err, err)
	}
	return e.Message
}

func TestParseDuration(t *testing.T) {
	ny := newYork(t)
	cases := map[string]struct {
		text    string
		now     time.Time // tuesday when zero
		loc     *time.Location
		want    time.Duration
		wantErr string
	}{
		// Amounts.
		"minutes compact":             {text: "30m", want: 30 * time.Minute},
		"hours compact":               {text: "2h", want: 2 * time.Hour},
		"hours and minutes compact":   {text: "1h30m", want: 90 * time.Minute},
		"bare minutes after hours":    {text: "1h30", want: 90 * time.Minute},
		"more than an hour of mins":   {text: "90m", want: 90 * time.Minute},
		"minutes in words":            {text: "90 minutes", want: 90 * time.Minute},
		"hours in words":              {text: "2 hours", want: 2 * time.Hour},
		"one hour":                    {text: "1 hour", want: time.Hour},
		"an hour":                     {text: "an hour", want: time.Hour},
		"short minutes":               {text: "45 mins", want: 45 * time.Minute},
		"fraction of hours":           {text: "1.5h", want: 90 * time.Minute},
		"fraction without whole part": {text: ".5h", want: 30 * time.Minute},
		"a day":                       {text: "1d", want: 24 * time.Hour},
		"days in words":               {text: "2 days", want: 48 * time.Hour},
		"a week":                      {text: "1w", want: 7 * 24 * time.Hour},
		"seconds":                     {text: "30s", want: 30 * time.Second},
		"parts with spaces":           {text: "1h 30m", want: 90 * time.Minute},
		"parts joined with and":       {text: "1 hour and 30 minutes", want: 90 * time.Minute},
		"upper case and white space":  {text: "  2H\t ", want: 2 * time.Hour},
		"upper case words":            {text: "90 MINUTES", want: 90 * time.Minute},
		"the longest allowed":         {text: "720h", want: MaxDuration},
		"thirty days":                 {text: "30 days", want: MaxDuration},

		// Times of day, from 14:30 UTC unless said otherwise.
		"until 24-hour clock":            {text: "until 17:00", want: 150 * time.Minute},
		"until pm":                       {text: "until 5pm", want: 150 * time.Minute},
		"until pm with minutes":          {text: "until 5:30pm", want: 3 * time.Hour},
		"until pm spaced":                {text: "until 5 PM", want: 150 * time.Minute},
		"until in capitals":              {text: "UNTIL 17:00", want: 150 * time.Minute},
		"till noon is tomorrow":          {text: "till noon", want: 21*time.Hour + 30*time.Minute},
		"until now means tomorrow":       {text: "until 14:30", want: 24 * time.Hour},
		"until midnight":                 {text: "until midnight", want: 9*time.Hour + 30*time.Minute},
		"until 12am is midnight":         {text: "until 12am", want: 9*time.Hour + 30*time.Minute},
		"until crossing midnight":        {text: "until 01:00", now: time.Date(2026, 5, 12, 22, 0, 0, 0, time.UTC), want: 3 * time.Hour},
		"until under a second away":      {text: "until 14:31", now: time.Date(2026, 5, 12, 14, 30, 59, 500_000_000, time.UTC), want: 24*time.Hour + 500*time.Millisecond},
		"until in a nil location is UTC": {text: "until 17:00", loc: nil, want: 150 * time.Minute},
		"until in New York": {
			// 14:30 UTC is 10:30 EDT.
			text: "until 17:00", loc: ny, want: 6*time.Hour + 30*time.Minute,
		},
		"until across spring forward in New York": {
			// 2026-03-08 00:00 EST; clocks skip from 02:00 to 03:00, so 17:00 is 16 real hours away.
			text: "until 17:00", now: time.Date(2026, 3, 8, 0, 0, 0, 0, ny), loc: ny, want: 16 * time.Hour,
		},
		"until just past the skipped hour in New York": {
			text: "until 3:30am", now: time.Date(2026, 3, 8, 1, 30, 0, 0, ny), loc: ny, want: time.Hour,
		},
		"all day":             {text: "all day", want: 9*time.Hour + 30*time.Minute},
		"all day capitals":    {text: "All  Day", want: 9*time.Hour + 30*time.Minute},
		"all day at midnight": {text: "all day", now: time.Date(2026, 5, 12, 0, 0, 0, 0, time.UTC), want: 24 * time.Hour},
		"all day on spring forward in New York": {
			text: "all day", now: time.Date(2026, 3, 8, 0, 0, 0, 0, ny), loc: ny, want: 23 * time.Hour,
		},
		"all day on fall back in New York": {
			text: "all day", now: time.Date(2026, 11, 1, 0, 0, 0, 0, ny), loc: ny, want: 25 * time.Hour,
		},

		// Errors.
		"empty": {text: " ", wantErr: "a duration is needed, such as 30m, 2h, 1h30m, 90 minutes, until 17:00 or all day"},
		"garbage": {
			text:    "soon",
			wantErr: `"soon" is not a duration; try 30m, 2h, 1h30m, 90 minutes, until 17:00 or all day`,
		},
		"garbage after an amount": {
			text:    "2h soon",
			wantErr: `"2h soon" is not a duration; try 30m, 2h, 1h30m, 90 minutes, until 17:00 or all day`,
		},
		"zero":           {text: "0m", wantErr: `"0m" is no time at all; a duration must be more than zero`},
		"zero bare":      {text: "0", wantErr: `"0" is no time at all; a duration must be more than zero`},
		"negative":       {text: "-5m", wantErr: `"-5m" is negative; a duration must be more than zero`},
		"under a second": {text: "0.5s", wantErr: `"0.5s" is too short; a duration must be at least one second`},
		"too long":       {text: "31d", wantErr: `"31d" is too long; a duration can be at most 30 days`},
		"just too long":  {text: "720h1s", wantErr: `"720h1s" is too long; a duration can be at most 30 days`},
		"huge number":    {text: "99999999999999999999999999h", wantErr: `"99999999999999999999999999h" is too long; a duration can be at most 30 days`},
		"many weeks":     {text: "1000000 weeks", wantErr: `"1000000 weeks" is too long; a duration can be at most 30 days`},
		"sum too long":   {text: "29d 2d", wantErr: `"29d 2d" is too long; a duration can be at most 30 days`},
		"no unit on a long number": {
			text:    strings.Repeat("9", 50),
			wantErr: `"` + strings.Repeat("9", 40) + `…" needs a unit, such as ` + strings.Repeat("9", 40) + `…m or ` + strings.Repeat("9", 40) + `… minutes`,
		},
		"no unit":                            {text: "90", wantErr: `"90" needs a unit, such as 90m or 90 minutes`},
		"unknown unit":                       {text: "3 fortnights", wantErr: `"fortnights" is not a unit of time; use minutes (m), hours (h) or days (d), up to 30 days`},
		"milliseconds":                       {text: "500ms", wantErr: `"ms" is not a unit of time; use minutes (m), hours (h) or days (d), up to 30 days`},
		"time without until":                 {text: "5pm", wantErr: `"5pm" is a time of day; write until 5pm`},
		"until nothing":                      {text: "until", wantErr: `"until" needs a time of day, such as until 17:00, until 5pm or until 5:30pm`},
		"until bare hour":                    {text: "until 5", wantErr: `"until 5" could be 5am or 5pm; write until 5pm or until 17:00`},
		"until 25 o'clock":                   {text: "until 25:00", wantErr: `"until 25:00" is not a time of day; write until 17:00, until 5pm or until 5:30pm`},
		"until 13pm":                         {text: "until 13pm", wantErr: `"until 13pm" is not a time of day; write until 17:00, until 5pm or until 5:30pm`},
		"until one-digit minutes":            {text: "until 5:3", wantErr: `"until 5:3" is not a time of day; write until 17:00, until 5pm or until 5:30pm`},
		"over the input limit":               {text: strings.Repeat("1", MaxInputLength+1), wantErr: "that text is too long: 4001 characters, and the limit is 4000"},
		"over the input limit in characters": {text: strings.Repeat("é", MaxInputLength+1), wantErr: "that text is too long: 4001 characters, and the limit is 4000"},
		"not UTF-8":                          {text: "2h\xff", wantErr: "that is not valid UTF-8 text"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = tuesday
			}
			got, err := ParseDuration(tc.text, now, tc.loc)
			if diff := cmp.Diff(tc.wantErr, errText(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("duration (-want +got):\n%s", diff)
			}
		})
	}
}
