package chat

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/conch-dev/conch/internal/testutil"
)

// TestParseBookings covers takes with a start, a priority or no-preempt. Times are in the person's zone: Los
// Angeles (UTC−8 in winter), Kolkata (UTC+5:30), Tongatapu (UTC+13, where it is already tomorrow) and two zones on
// the days their clocks change.
func TestParseBookings(t *testing.T) {
	la := testutil.Zone(t, "America/Los_Angeles")
	kolkata := testutil.Zone(t, "Asia/Kolkata")
	tonga := testutil.Zone(t, "Pacific/Tongatapu")
	berlin := testutil.Zone(t, "Europe/Berlin")
	// Tuesday 8 December 2026, 17:30 UTC: 09:30 in Los Angeles, 23:00 in Kolkata, Wednesday 06:30 in Tonga.
	now := time.Date(2026, 12, 8, 17, 30, 0, 0, time.UTC)
	// The eve of spring forward in Los Angeles (8 March 2026, 02:00 PST becomes 03:00 PDT), at noon.
	springEve := time.Date(2026, 3, 7, 20, 0, 0, 0, time.UTC)
	// The eve of fall back in Los Angeles (1 November 2026, 02:00 PDT becomes 01:00 PST), at noon.
	fallEve := time.Date(2026, 10, 31, 19, 0, 0, 0, time.UTC)
	// Berlin: 29 March 2026 02:00 CET becomes 03:00 CEST; 25 October 2026 03:00 CEST becomes 02:00 CET.
	berlinMarch := time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)
	berlinOctober := time.Date(2026, 10, 23, 12, 0, 0, 0, time.UTC)
	utc := func(mo time.Month, d, h, mi int) time.Time { return time.Date(2026, mo, d, h, mi, 0, 0, time.UTC) }
	take := func(start time.Time, d time.Duration) Command {
		return Command{Verb: VerbTake, Resource: "staging", Start: start, Duration: d}
	}

	cases := map[string]struct {
		text    string
		now     time.Time // now when zero
		loc     *time.Location
		want    Command
		wantErr string
	}{
		// Los Angeles, 09:30 on Tuesday.
		"at a time still ahead is today": {text: "staging at 14:00 for 1h", loc: la, want: take(utc(12, 8, 22, 0), time.Hour)},
		"at a time past is tomorrow":     {text: "staging at 9:00", loc: la, want: take(utc(12, 9, 17, 0), 0)},
		"at with pm":                     {text: "staging at 2:30 pm for 30m", loc: la, want: take(utc(12, 8, 22, 30), 30*time.Minute)},
		"at noon":                        {text: "staging AT noon 2h", loc: la, want: take(utc(12, 8, 20, 0), 2*time.Hour)},
		"tomorrow":                       {text: "staging tomorrow 9:00 for 2h", loc: la, want: take(utc(12, 9, 17, 0), 2*time.Hour)},
		"tomorrow at am":                 {text: "staging tomorrow at 9am for 2h", loc: la, want: take(utc(12, 9, 17, 0), 2*time.Hour)},
		"duration before the start":      {text: "staging for 2h tomorrow 9:00", loc: la, want: take(utc(12, 9, 17, 0), 2*time.Hour)},
		"today ahead":                    {text: "on staging today 16:00", loc: la, want: take(utc(12, 9, 0, 0), 0)},
		"weekday":                        {text: "staging monday 9:00 for 1h", loc: la, want: take(utc(12, 14, 17, 0), time.Hour)},
		"short weekday with on and at":   {text: "staging on Mon at 9am for 1h", loc: la, want: take(utc(12, 14, 17, 0), time.Hour)},
		"today's weekday, time ahead":    {text: "staging tuesday 10:00", loc: la, want: take(utc(12, 8, 18, 0), 0)},
		"today's weekday, time past":     {text: "staging tue 9:00", loc: la, want: take(utc(12, 15, 17, 0), 0)},
		"date":                           {text: "staging 2026-12-24 9:00 for 2h", loc: la, want: take(utc(12, 24, 17, 0), 2*time.Hour)},
		"date with on and at":            {text: "staging on 2026-12-24 at 9:00 am", loc: la, want: take(utc(12, 24, 17, 0), 0)},
		"until counts from the start": {
			text: "staging tomorrow 9:00 until 11:00", loc: la,
			want: Command{Verb: VerbTake, Resource: "staging", Start: utc(12, 9, 17, 0), Duration: 2 * time.Hour, Until: utc(12, 9, 19, 0)},
		},
		"all day counts from the start": {
			text: "staging at 20:00 all day", loc: la,
			want: Command{Verb: VerbTake, Resource: "staging", Start: utc(12, 9, 4, 0), Duration: 4 * time.Hour, Until: utc(12, 9, 8, 0)},
		},
		"booking with everything": {
			text: "staging tomorrow 9:00 for 2h no-preempt deploy pr-1 because demo for ACME", loc: la,
			want: Command{Verb: VerbTake, Resource: "staging", Start: utc(12, 9, 17, 0), Duration: 2 * time.Hour, NoPreempt: true, Revision: "pr-1", Reason: "demo for ACME"},
		},
		"today past":          {text: "staging today 9:00", loc: la, wantErr: `Tue 8 Dec 2026 09:00 PST is in the past (it is 09:30 now); pick a time ahead, such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00`},
		"date past":           {text: "staging 2025-12-24 9:00", loc: la, wantErr: `Wed 24 Dec 2025 09:00 PST is in the past (it is 09:30 now); pick a time ahead, such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00`},
		"date too far":        {text: "staging 2028-01-10 9:00", loc: la, wantErr: `Mon 10 Jan 2028 09:00 PST is too far ahead; a booking starts at most a year from now`},
		"date not a date":     {text: "staging 2026-02-30 9:00", loc: la, wantErr: `"2026-02-30" is not a date I know; write YYYY-MM-DD, such as 2026-12-24`},
		"day without a time":  {text: "staging tomorrow for 2h", loc: la, wantErr: `"tomorrow" needs a time of day, such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00`},
		"at without a time":   {text: "staging at", loc: la, wantErr: `"at" needs a time of day, such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00`},
		"on without a time":   {text: "staging on monday", loc: la, wantErr: `"monday" needs a time of day, such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00`},
		"bare hour":           {text: "staging tomorrow at 9", loc: la, wantErr: `"tomorrow at 9" could be 9am or 9pm; write tomorrow at 9pm or tomorrow at 21:00`},
		"not a time":          {text: "staging at 25:00", loc: la, wantErr: `"25:00" is not a time of day; write a start such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00`},
		"two starts":          {text: "staging tomorrow 9:00 monday 9:00", loc: la, wantErr: `say when it starts once; I don't understand "monday 9:00"`},
		"forgotten resource":  {text: "at 14:00", wantErr: `"at" needs a resource before it, such as staging at ...`},
		"until before itself": {text: "staging at 14:00 until 13:00", loc: la, want: Command{Verb: VerbTake, Resource: "staging", Start: utc(12, 8, 22, 0), Duration: 23 * time.Hour, Until: utc(12, 9, 21, 0)}},

		// Kolkata, 23:00 on Tuesday: the next 9:00 is tomorrow, the next 23:30 tonight.
		"Kolkata at":       {text: "staging at 9:00", loc: kolkata, want: take(utc(12, 9, 3, 30), 0)},
		"Kolkata tomorrow": {text: "staging tomorrow 9:00", loc: kolkata, want: take(utc(12, 9, 3, 30), 0)},
		"Kolkata tonight":  {text: "staging at 23:30", loc: kolkata, want: take(utc(12, 8, 18, 0), 0)},

		// Tonga, 06:30 on Wednesday while it is Tuesday in UTC: today and tomorrow are Tonga's.
		"Tonga today":    {text: "staging today 9:00", loc: tonga, want: take(utc(12, 8, 20, 0), 0)},
		"Tonga tomorrow": {text: "staging tomorrow 9:00", loc: tonga, want: take(utc(12, 9, 20, 0), 0)},
		"Tonga weekday":  {text: "staging wednesday 8:00", loc: tonga, want: take(utc(12, 8, 19, 0), 0)},

		// Spring forward in Los Angeles: 02:30 does not exist on 8 March; times around it count real hours.
		"spring gap": {
			text: "staging tomorrow 2:30", now: springEve, loc: la,
			wantErr: "02:30 does not exist in America/Los_Angeles on Sun 8 Mar 2026: clocks go forward from 02:00 to 03:00 that night; pick another time, such as 03:00",
		},
		"spring gap by at": {
			text: "staging at 2:30am", now: springEve, loc: la,
			wantErr: "02:30 does not exist in America/Los_Angeles on Sun 8 Mar 2026: clocks go forward from 02:00 to 03:00 that night; pick another time, such as 03:00",
		},
		"spring before the gap": {text: "staging tomorrow 1:30 for 2h", now: springEve, loc: la, want: take(utc(3, 8, 9, 30), 2*time.Hour)},
		"spring after the gap":  {text: "staging tomorrow 3:00", now: springEve, loc: la, want: take(utc(3, 8, 10, 0), 0)},
		"spring until across the gap": {
			text: "staging tomorrow 1:00 until 4:00", now: springEve, loc: la,
			want: Command{Verb: VerbTake, Resource: "staging", Start: utc(3, 8, 9, 0), Duration: 2 * time.Hour, Until: utc(3, 8, 11, 0)},
		},
		// Fall back in Los Angeles: 01:30 comes twice on 1 November; the first (PDT) is taken, and said so.
		"fall repeated": {
			text: "staging 2026-11-01 1:30 for 1h", now: fallEve, loc: la,
			want: Command{Verb: VerbTake, Resource: "staging", Start: utc(11, 1, 8, 30), StartRepeats: true, Duration: time.Hour},
		},
		"fall after": {text: "staging 2026-11-01 2:30", now: fallEve, loc: la, want: take(utc(11, 1, 10, 30), 0)},
		// Berlin changes at 02:00 and 03:00 local time, on other days than America.
		"Berlin spring gap": {
			text: "staging 2026-03-29 2:30", now: berlinMarch, loc: berlin,
			wantErr: "02:30 does not exist in Europe/Berlin on Sun 29 Mar 2026: clocks go forward from 02:00 to 03:00 that night; pick another time, such as 03:00",
		},
		"Berlin spring after": {text: "staging sunday 3:00", now: berlinMarch, loc: berlin, want: take(utc(3, 29, 1, 0), 0)},
		"Berlin fall repeated": {
			text: "staging 2026-10-25 2:30", now: berlinOctober, loc: berlin,
			want: Command{Verb: VerbTake, Resource: "staging", Start: utc(10, 25, 0, 30), StartRepeats: true},
		},
		"Berlin fall day is 25 hours": {
			text: "staging sunday 0:00 all day", now: berlinOctober, loc: berlin,
			want: Command{Verb: VerbTake, Resource: "staging", Start: utc(10, 24, 22, 0), Duration: 25 * time.Hour, Until: utc(10, 25, 23, 0)},
		},

		// Priorities.
		"urgent colon": {
			text: "staging for 1h urgent: hotfix for INC-42",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: time.Hour, Priority: UrgentPriority, Reason: "hotfix for INC-42"},
		},
		"urgent word": {
			text: "staging urgent for 1h because hotfix",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: time.Hour, Priority: UrgentPriority, Reason: "hotfix"},
		},
		"priority n": {
			text: "staging for 1h priority 20 because release train",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: time.Hour, Priority: 20, Reason: "release train"},
		},
		"priority 0 needs no reason": {text: "staging priority 0", want: Command{Verb: VerbTake, Resource: "staging"}},
		"priority 100":               {text: "staging priority 100 because fire", want: Command{Verb: VerbTake, Resource: "staging", Priority: 100, Reason: "fire"}},
		"urgent booking no-preempt": {
			text: "staging tomorrow 9:00 for 2h urgent no-preempt because customer demo", loc: la,
			want: Command{Verb: VerbTake, Resource: "staging", Start: utc(12, 9, 17, 0), Duration: 2 * time.Hour, Priority: UrgentPriority, NoPreempt: true, Reason: "customer demo"},
		},
		"urgent without a reason": {
			text:    "staging for 1h urgent",
			wantErr: `"urgent" needs a reason: say why it goes ahead of the others, such as staging for 1h urgent: hotfix for INC-42, or staging for 1h priority 20 because hotfix for INC-42`,
		},
		"priority without a reason": {
			text:    "staging priority 5",
			wantErr: `"priority 5" needs a reason: say why it goes ahead of the others, such as staging for 1h urgent: hotfix for INC-42, or staging for 1h priority 20 because hotfix for INC-42`,
		},
		"urgent colon without a reason": {text: "staging urgent:", wantErr: `"urgent:" needs a reason after it, such as urgent: hotfix for INC-42`},
		"priority too high": {
			text:    "staging priority 101 because x",
			wantErr: `"priority" needs a number from 0 to 100 after it, such as staging for 1h priority 20 because hotfix for INC-42`,
		},
		"priority without a number": {
			text:    "staging priority because x",
			wantErr: `"priority" needs a number from 0 to 100 after it, such as staging for 1h priority 20 because hotfix for INC-42`,
		},
		"priority twice":   {text: "staging urgent priority 5 because x", wantErr: `say the priority once: "urgent" or "priority"`},
		"no-preempt alone": {text: "staging no-preempt", want: Command{Verb: VerbTake, Resource: "staging", NoPreempt: true}},

		// Calendar.
		"calendar":               {text: "calendar", want: Command{Verb: VerbCalendar}},
		"calendar of a resource": {text: "cal Staging", want: Command{Verb: VerbCalendar, Resource: "staging"}},
		"calendar of a pool":     {text: "calendar pool=web", want: Command{Verb: VerbCalendar, Pool: "pool=web"}},
		"calendar of two":        {text: "calendar staging prod", wantErr: `"calendar" takes one resource name or one pool, such as calendar staging or calendar pool=web; I don't understand "prod"`},
		"calendar bad name": {
			text:    "calendar Staging_1",
			wantErr: `"Staging_1" is not a resource name: names are lower-case letters, digits, '-' and '.', and start and end with a letter or digit`,
		},
		"a resource called calendar": {text: "on calendar", want: Command{Verb: VerbTake, Resource: "calendar"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			at := tc.now
			if at.IsZero() {
				at = now
			}
			got, err := Parse(tc.text, at, tc.loc)
			if diff := cmp.Diff(tc.wantErr, errText(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseStart covers --at of kubectl conch: the same starts, and a time of day alone.
func TestParseStart(t *testing.T) {
	la := testutil.Zone(t, "America/Los_Angeles")
	now := time.Date(2026, 12, 8, 17, 30, 0, 0, time.UTC) // 09:30 PST
	cases := map[string]struct {
		text        string
		want        time.Time
		wantRepeats bool
		wantErr     string
	}{
		"time alone":     {text: "14:00", want: time.Date(2026, 12, 8, 22, 0, 0, 0, time.UTC)},
		"time alone pm":  {text: "2 pm", want: time.Date(2026, 12, 8, 22, 0, 0, 0, time.UTC)},
		"time past":      {text: "9:00", want: time.Date(2026, 12, 9, 17, 0, 0, 0, time.UTC)},
		"tomorrow":       {text: "tomorrow 9:00", want: time.Date(2026, 12, 9, 17, 0, 0, 0, time.UTC)},
		"at":             {text: "at 9am", want: time.Date(2026, 12, 9, 17, 0, 0, 0, time.UTC)},
		"date":           {text: "2026-12-24 9:00", want: time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC)},
		"fall back":      {text: "2027-11-07 1:30", want: time.Date(2027, 11, 7, 8, 30, 0, 0, time.UTC), wantRepeats: true},
		"empty":          {text: " ", wantErr: "a start is needed, such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00"},
		"words after":    {text: "tomorrow 9:00 please", wantErr: `I don't understand "please" after the start; write a start such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00`},
		"not a time":     {text: "soon", wantErr: `"soon" is not a time of day; write a start such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00`},
		"past":           {text: "today 8:00", wantErr: "Tue 8 Dec 2026 08:00 PST is in the past (it is 09:30 now); pick a time ahead, such as at 14:00, tomorrow 9:00, monday 9am or 2026-12-24 9:00"},
		"not valid text": {text: "at \xff", wantErr: "that is not valid UTF-8 text"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, repeats, err := ParseStart(tc.text, now, la)
			if diff := cmp.Diff(tc.wantErr, errText(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !got.Equal(tc.want) || repeats != tc.wantRepeats {
				t.Errorf("ParseStart(%q) = %v, %v; want %v, %v", tc.text, got, repeats, tc.want, tc.wantRepeats)
			}
		})
	}
}
