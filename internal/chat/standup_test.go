package chat

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseStandupCommand(t *testing.T) {
	cases := map[string]struct {
		text    string
		want    Command
		wantErr string
	}{
		"nothing lists":                 {text: "", want: Command{Verb: VerbStandupList}},
		"list":                          {text: "list", want: Command{Verb: VerbStandupList}},
		"help":                          {text: "HELP", want: Command{Verb: VerbStandupHelp}},
		"skip means today":              {text: "skip", want: Command{Verb: VerbStandupSkip, Date: "today"}},
		"skip a named one":              {text: "skip team", want: Command{Verb: VerbStandupSkip, Standup: "team", Date: "today"}},
		"skip a date, name after":       {text: "skip 2026-12-24 team", want: Command{Verb: VerbStandupSkip, Standup: "team", Date: "2026-12-24"}},
		"a date without leading zeros":  {text: "skip team on 2026-12-4", want: Command{Verb: VerbStandupSkip, Standup: "team", Date: "2026-12-04"}},
		"unskip tomorrow":               {text: "unskip tomorrow", want: Command{Verb: VerbStandupUnskip, Date: "tomorrow"}},
		"away until a date":             {text: "away until 2026-12-01", want: Command{Verb: VerbStandupAway, Date: "2026-12-01"}},
		"away from one stand-up":        {text: "away 2026-12-01 infra", want: Command{Verb: VerbStandupAway, Standup: "infra", Date: "2026-12-01"}},
		"back":                          {text: "back", want: Command{Verb: VerbStandupBack}},
		"run now":                       {text: "run team", want: Command{Verb: VerbStandupRun, Standup: "team"}},
		"start is run":                  {text: "start", want: Command{Verb: VerbStandupRun}},
		"unknown verb":                  {text: "dance", wantErr: "I do not know `standup dance`"},
		"away without a date":           {text: "away", wantErr: "Away until when?"},
		"a date that does not exist":    {text: "skip 2026-02-30", wantErr: `"2026-02-30" is not a date I know`},
		"run takes no date":             {text: "run team tomorrow", wantErr: "`standup run` takes no date; to skip a day, use `standup skip tomorrow`"},
		"two names":                     {text: "run team infra", wantErr: `I did not understand "infra"`},
		"a date in another format":      {text: "away 1/12/2026", wantErr: `I did not understand "1/12/2026"`},
		"upper case is read lower case": {text: "Skip Team", want: Command{Verb: VerbStandupSkip, Standup: "team", Date: "today"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Parse("standup "+tc.text, tuesday, time.UTC)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				var e *Error
				if !errors.As(err, &e) || !e.Standup {
					t.Errorf("error %#v is not marked as a stand-up error, so its help would be the wrong one", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestStandupWord: only a first word "standup" starts a stand-up command; anything else is the Resource grammar.
func TestStandupWord(t *testing.T) {
	cases := map[string]struct {
		text string
		want Command
	}{
		"standup alone lists":            {text: "standup", want: Command{Verb: VerbStandupList}},
		"in any case":                    {text: "StandUp skip", want: Command{Verb: VerbStandupSkip, Date: "today"}},
		"with extra spaces":              {text: " standup  run team", want: Command{Verb: VerbStandupRun, Standup: "team"}},
		"a longer word is a Resource":    {text: "standups", want: Command{Verb: VerbTake, Resource: "standups"}},
		"on takes a Resource standup":    {text: "on standup", want: Command{Verb: VerbTake, Resource: "standup"}},
		"a Resource":                     {text: "staging", want: Command{Verb: VerbTake, Resource: "staging"}},
		"help is the Resource grammar's": {text: "help standup", want: Command{Verb: VerbHelp}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(tc.text, tuesday, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.Verb.IsStandup() != strings.HasPrefix(string(tc.want.Verb), "standup ") {
				t.Errorf("%s: IsStandup() = %v", got.Verb, got.Verb.IsStandup())
			}
		})
	}
}

func TestStandupHelp(t *testing.T) {
	cases := map[string]struct {
		command    string
		wantPrefix string
	}{
		"default":             {command: "", wantPrefix: "`/dibs standup"},
		"configured":          {command: "/hold", wantPrefix: "`/hold standup"},
		"configured no slash": {command: " hold ", wantPrefix: "`/hold standup"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			help := StandupHelp(tc.command)
			// Every example must parse into a stand-up command, or the help teaches something that fails.
			examples := helpExamples(help, tc.wantPrefix)
			for _, text := range examples {
				if cmd, err := Parse("standup"+text, tuesday, time.UTC); err != nil || !cmd.Verb.IsStandup() {
					t.Errorf("example %q parses to %+v, %v", text, cmd, err)
				}
			}
			if len(examples) < 6 {
				t.Errorf("help has %d examples starting with %q, want every verb shown:\n%s", len(examples), tc.wantPrefix, help)
			}
		})
	}
}
