package chat

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStats(t *testing.T) {
	stats := func(resource string, days int) Command {
		return Command{Verb: VerbStats, Resource: resource, Days: days}
	}
	cases := map[string]struct {
		text    string
		want    Command
		wantErr string
	}{
		"default period":           {text: "stats staging", want: stats("staging", DefaultStatsDays)},
		"capitals":                 {text: "STATS Staging", want: stats("staging", 7)},
		"days":                     {text: "stats staging 14d", want: stats("staging", 14)},
		"days in words":            {text: "stats staging 14 days", want: stats("staging", 14)},
		"one day":                  {text: "stats staging 1 day", want: stats("staging", 1)},
		"a bare number is days":    {text: "stats staging 10", want: stats("staging", 10)},
		"weeks":                    {text: "stats staging 2w", want: stats("staging", 14)},
		"weeks in words":           {text: "stats staging 5 weeks", want: stats("staging", 35)},
		"a week":                   {text: "stats staging a week", want: stats("staging", 7)},
		"last":                     {text: "stats staging last 3 days", want: stats("staging", 3)},
		"over the past":            {text: "stats staging over the past 2 weeks", want: stats("staging", 14)},
		"the most":                 {text: "stats staging 35d", want: stats("staging", MaxStatsDays)},
		"a pooled name with dots":  {text: "stats db.qa-1", want: stats("db.qa-1", 7)},
		"on stats takes stats":     {text: "on stats", want: Command{Verb: VerbTake, Resource: "stats"}},
		"no resource":              {text: "stats", wantErr: `"stats" needs a resource, such as stats staging, or stats staging 14d for the last 14 days`},
		"a period but no resource": {text: "stats 14d", wantErr: `"stats" needs a resource before the period, such as stats staging 14d`},
		"a week but no resource":   {text: "Stats a week", wantErr: `"Stats" needs a resource before the period, such as stats staging a week`},
		"too long":                 {text: "stats staging 36d", wantErr: `"36d" is too long: stats looks back at most 35 days (5 weeks), such as stats staging 35d`},
		"far too long":             {text: "stats staging 999999 weeks", wantErr: `"999999 weeks" is too long: stats looks back at most 35 days (5 weeks), such as stats staging 35d`},
		"zero":                     {text: "stats staging 0d", wantErr: `"0d" is no time at all; stats looks back at least one day, such as stats staging 7d`},
		"hours":                    {text: "stats staging 12h", wantErr: `"12h" is not a period; write a number of days or weeks after the resource, such as stats staging 14d or stats staging 2w (at most 35 days)`},
		"negative":                 {text: "stats staging -7d", wantErr: `"-7d" is not a period; write a number of days or weeks after the resource, such as stats staging 14d or stats staging 2w (at most 35 days)`},
		"a filler and nothing":     {text: "stats staging last", wantErr: `"last" needs a period after it, such as stats staging 14d`},
		"words":                    {text: "stats staging since monday", wantErr: `"since monday" is not a period; write a number of days or weeks after the resource, such as stats staging 14d or stats staging 2w (at most 35 days)`},
		"markup is quoted":         {text: "stats staging <!channel>", wantErr: `"<!channel>" is not a period; write a number of days or weeks after the resource, such as stats staging 14d or stats staging 2w (at most 35 days)`},
		"a bad name":               {text: "stats Staging_2", wantErr: `"Staging_2" is not a resource name: names are lower-case letters, digits, '-' and '.', and start and end with a letter or digit`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(tc.text, tuesday, nil)
			if diff := cmp.Diff(tc.wantErr, errText(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}
