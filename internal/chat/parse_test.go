package chat

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	ny := newYork(t)
	springForward := time.Date(2026, 3, 8, 0, 0, 0, 0, ny)
	longName := strings.Repeat("a", 254)
	// 1024 characters of two bytes each: at the limit, and one character over it.
	reasonAtLimit := strings.Repeat("é", MaxReasonLength)

	cases := map[string]struct {
		text    string
		now     time.Time // tuesday when zero
		loc     *time.Location
		want    Command
		wantErr string
	}{
		// Help and list.
		"empty is help":             {text: "", want: Command{Verb: VerbHelp}},
		"blank is help":             {text: " \t\n", want: Command{Verb: VerbHelp}},
		"help":                      {text: "help", want: Command{Verb: VerbHelp}},
		"help ignores what follows": {text: "HELP me please", want: Command{Verb: VerbHelp}},
		"question mark":             {text: "?", want: Command{Verb: VerbHelp}},
		"list":                      {text: "list", want: Command{Verb: VerbList}},
		"list as ls":                {text: "ls", want: Command{Verb: VerbList}},
		"list as q":                 {text: " Q ", want: Command{Verb: VerbList}},
		"list with a resource":      {text: "list staging", wantErr: `"list" shows every resource; for one, write who staging`},
		"list with words":           {text: "list all of them", wantErr: `"list" takes nothing after it`},
		"who":                       {text: "who Staging", want: Command{Verb: VerbWho, Resource: "staging"}},
		"who without a resource":    {text: "who", wantErr: `"who" needs a resource, such as who staging; list shows them all`},
		"who with two resources":    {text: "who staging prod", wantErr: `"who" takes one resource name, such as who staging; I don't understand "prod"`},

		// Take.
		"take":                       {text: "staging", want: Command{Verb: VerbTake, Resource: "staging"}},
		"take lower-cases the name":  {text: "Staging-2", want: Command{Verb: VerbTake, Resource: "staging-2"}},
		"take with dots":             {text: "db.staging-1", want: Command{Verb: VerbTake, Resource: "db.staging-1"}},
		"take with on":               {text: "ON staging", want: Command{Verb: VerbTake, Resource: "staging"}},
		"take a verb-named resource": {text: "on list", want: Command{Verb: VerbTake, Resource: "list"}},
		"take for":                   {text: "staging for 2h", want: Command{Verb: VerbTake, Resource: "staging", Duration: 2 * time.Hour}},
		"take for in capitals":       {text: "staging FOR 1H30M", want: Command{Verb: VerbTake, Resource: "staging", Duration: 90 * time.Minute}},
		"take with extra white space": {
			text: "  staging \t for   90   minutes  ",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 90 * time.Minute},
		},
		"take with non-breaking spaces": {
			text: "staging\u00a0for\u00a02h",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 2 * time.Hour},
		},
		"take without for": {text: "staging 2h", want: Command{Verb: VerbTake, Resource: "staging", Duration: 2 * time.Hour}},
		"take on for":      {text: "on staging for 30m", want: Command{Verb: VerbTake, Resource: "staging", Duration: 30 * time.Minute}},
		"take until": {
			text: "staging until 17:00",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 150 * time.Minute, Until: time.Date(2026, 5, 12, 17, 0, 0, 0, time.UTC)},
		},
		"take for until": {
			text: "staging for until 5pm",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 150 * time.Minute, Until: time.Date(2026, 5, 12, 17, 0, 0, 0, time.UTC)},
		},
		"take until across midnight": {
			text: "staging until 1am", now: time.Date(2026, 5, 12, 23, 15, 0, 0, time.UTC),
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 105 * time.Minute, Until: time.Date(2026, 5, 13, 1, 0, 0, 0, time.UTC)},
		},
		"take until on spring forward in New York": {
			text: "staging until 17:00", now: springForward, loc: ny,
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 16 * time.Hour, Until: time.Date(2026, 3, 8, 17, 0, 0, 0, ny)},
		},
		"take all day": {
			text: "staging all day",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 570 * time.Minute, Until: time.Date(2026, 5, 13, 0, 0, 0, 0, time.UTC)},
		},
		"take all day in New York": {
			// 14:30 UTC is 10:30 EDT; midnight in New York is 04:00 UTC.
			text: "staging all day", loc: ny,
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 810 * time.Minute, Until: time.Date(2026, 5, 13, 0, 0, 0, 0, ny)},
		},
		"take because": {
			text: "staging because testing the hotfix",
			want: Command{Verb: VerbTake, Resource: "staging", Reason: "testing the hotfix"},
		},
		"reason is verbatim": {
			text: "staging for 2h Because  Deploying   <#C123|deploys> PR #345, don't touch  ",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 2 * time.Hour, Reason: "Deploying   <#C123|deploys> PR #345, don't touch"},
		},
		"reason swallows keywords": {
			text: "staging because for 2h because",
			want: Command{Verb: VerbTake, Resource: "staging", Reason: "for 2h because"},
		},
		"reason at the limit": {
			text: "staging because " + reasonAtLimit,
			want: Command{Verb: VerbTake, Resource: "staging", Reason: reasonAtLimit},
		},
		"reason over the limit": {
			text:    "staging because " + reasonAtLimit + "é",
			wantErr: "the reason is 1025 characters long; the limit is 1024, so please shorten it",
		},
		"take and deploy": {
			text: "staging for 2h deploy pr-345",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 2 * time.Hour, Revision: "pr-345"},
		},
		"deploy before the duration, keeping its case": {
			text: "on staging DEPLOY Feature/Login-2 2h because demo",
			want: Command{Verb: VerbTake, Resource: "staging", Duration: 2 * time.Hour, Revision: "Feature/Login-2", Reason: "demo"},
		},
		"deploy without a duration": {
			text: "staging deploy sha256:abc@v1.2.3+build",
			want: Command{Verb: VerbTake, Resource: "staging", Revision: "sha256:abc@v1.2.3+build"},
		},
		"deploy in the reason is the reason": {
			text: "staging because deploy pr-1",
			want: Command{Verb: VerbTake, Resource: "staging", Reason: "deploy pr-1"},
		},
		"a resource called deploy": {text: "deploy", want: Command{Verb: VerbTake, Resource: "deploy"}},
		"deploy without a revision": {
			text:    "staging for 2h deploy",
			wantErr: `"deploy" needs a revision after it, such as staging deploy pr-345`,
		},
		"deploy without a revision before because": {
			text:    "staging deploy because x",
			wantErr: `"deploy" needs a revision after it, such as staging deploy pr-345`,
		},
		"deploy twice": {text: "staging deploy a deploy b", wantErr: `say "deploy" once, with one revision`},
		"deploy markup": {
			text:    "staging deploy <!channel>",
			wantErr: `"<!channel>" is not a revision: write a branch, tag, commit or pull request such as pr-345 or v1.2.3 (letters, digits and . _ - / : @ +)`,
		},
		"deploy starting with a dash": {text: "staging deploy --force", wantErr: `"--force" is not a revision: write a branch, tag, commit or pull request such as pr-345 or v1.2.3 (letters, digits and . _ - / : @ +)`},
		"deploy too long": {
			text:    "staging deploy " + strings.Repeat("a", 257),
			wantErr: "the revision is 257 characters long; the limit is 256",
		},
		"deploy and words": {
			text:    "staging deploy pr-1 now",
			wantErr: `I don't understand "now" after staging; write for <duration> or because <reason>, such as staging for 2h because testing the hotfix`,
		},
		"because without a reason": {text: "staging for 1h because  ", wantErr: `"because" needs a reason after it, such as because testing the hotfix`},
		"for without a duration": {
			text:    "staging for",
			wantErr: `"for" needs a duration such as 30m, 2h, 1h30m, 90 minutes, until 17:00 or all day`,
		},
		"for before because without a duration": {
			text:    "staging For because x",
			wantErr: `"For" needs a duration such as 30m, 2h, 1h30m, 90 minutes, until 17:00 or all day`,
		},
		"for with garbage": {
			text:    "staging for a while",
			wantErr: `"for" needs a duration such as 30m, 2h, 1h30m, 90 minutes, until 17:00 or all day; "a while" is not one`,
		},
		"for zero":     {text: "staging for 0m", wantErr: `"0m" is no time at all; a duration must be more than zero`},
		"for too long": {text: "staging for 45 days", wantErr: `"45 days" is too long; a duration can be at most 30 days`},
		"words without because": {
			text:    "staging deploying the hotfix",
			wantErr: `I don't understand "deploying the hotfix" after staging; write for <duration> or because <reason>, such as staging for 2h because testing the hotfix`,
		},
		"forgotten resource":    {text: "for 2h", wantErr: `"for" needs a resource before it, such as staging for ...`},
		"on without a resource": {text: "on", wantErr: `"on" needs a resource, such as on staging`},
		"invalid name": {
			text:    "Staging_1",
			wantErr: `"Staging_1" is not a resource name: names are lower-case letters, digits, '-' and '.', and start and end with a letter or digit`,
		},
		"name starting with a dash": {
			text:    "-staging",
			wantErr: `"-staging" is not a resource name: names are lower-case letters, digits, '-' and '.', and start and end with a letter or digit`,
		},
		"name with a Kelvin sign": {
			// strings.ToLower would fold U+212A into "k" and accept it.
			text:    "cloc\u212a",
			wantErr: "\"cloc\u212a\" is not a resource name: names are lower-case letters, digits, '-' and '.', and start and end with a letter or digit",
		},
		"name with a Slack mention": {
			text:    "<#C123|staging>",
			wantErr: `"<#C123|staging>" is not a resource name: names are lower-case letters, digits, '-' and '.', and start and end with a letter or digit`,
		},
		"name too long": {
			text:    longName,
			wantErr: `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…" is too long for a resource name; names are at most 253 characters`,
		},

		// Release.
		"off":                    {text: "off staging", want: Command{Verb: VerbRelease, Resource: "staging"}},
		"release":                {text: "Release STAGING", want: Command{Verb: VerbRelease, Resource: "staging"}},
		"off without a resource": {text: "off", wantErr: `"off" needs a resource, such as off staging`},
		"off with more words":    {text: "off staging now", wantErr: `"off" takes one resource name, such as off staging; I don't understand "now"`},

		// Extend.
		"extend":     {text: "extend staging 30m", want: Command{Verb: VerbExtend, Resource: "staging", Duration: 30 * time.Minute}},
		"extend by":  {text: "extend staging by 1 hour", want: Command{Verb: VerbExtend, Resource: "staging", Duration: time.Hour}},
		"extend for": {text: "EXTEND staging FOR 2h", want: Command{Verb: VerbExtend, Resource: "staging", Duration: 2 * time.Hour}},
		"extend until": {
			text: "extend staging until 18:00",
			want: Command{Verb: VerbExtend, Resource: "staging", Duration: 210 * time.Minute, Until: time.Date(2026, 5, 12, 18, 0, 0, 0, time.UTC)},
		},
		"extend without anything":   {text: "extend", wantErr: `"extend" needs a resource and a duration, such as extend staging 30m`},
		"extend without a duration": {text: "extend staging", wantErr: `"extend" needs a duration after the resource, such as extend staging 30m`},
		"extend by nothing": {
			text:    "extend staging by",
			wantErr: `"by" needs a duration such as 30m, 2h, 1h30m, 90 minutes, until 17:00 or all day`,
		},
		"extend with garbage": {
			text:    "extend staging a bit",
			wantErr: `"extend staging" needs a duration such as 30m, 2h, 1h30m, 90 minutes, until 17:00 or all day; "a bit" is not one`,
		},
		"extend with a reason": {text: "extend staging 1h because slow", wantErr: `"extend" takes no reason, only a resource and a duration, such as extend staging 30m`},
		"extend too long":      {text: "extend staging 31d", wantErr: `"31d" is too long; a duration can be at most 30 days`},

		// Bounds.
		"over the input limit": {text: "staging because " + strings.Repeat("x", MaxInputLength), wantErr: "that text is too long: 4016 characters, and the limit is 4000"},
		"not UTF-8":            {text: "staging because \xc3", wantErr: "that is not valid UTF-8 text"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = tuesday
			}
			got, err := Parse(tc.text, now, tc.loc)
			if diff := cmp.Diff(tc.wantErr, errText(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	cases := map[string]struct {
		command     string
		wantPrefix  string // every example starts with it
		wantAbsence string // must not appear
	}{
		"default":             {command: "", wantPrefix: "`/dibs ", wantAbsence: "`/hold"},
		"configured":          {command: "/hold", wantPrefix: "`/hold ", wantAbsence: "/dibs"},
		"configured no slash": {command: " hold ", wantPrefix: "`/hold ", wantAbsence: "/dibs"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			help := Help(tc.command)
			if strings.Contains(help, tc.wantAbsence) {
				t.Errorf("help mentions %q:\n%s", tc.wantAbsence, help)
			}
			// Every example in the help must parse, or the help teaches something that fails.
			examples := helpExamples(help, tc.wantPrefix)
			for _, text := range examples {
				if _, err := Parse(text, tuesday, time.UTC); err != nil {
					t.Errorf("example %q does not parse: %v", text, err)
				}
			}
			if len(examples) < 8 {
				t.Errorf("help has %d examples starting with %q, want every verb shown:\n%s", len(examples), tc.wantPrefix, help)
			}
		})
	}
}

// helpExamples returns the examples of a help text: what follows prefix in each code span that starts with it.
func helpExamples(help, prefix string) []string {
	var out []string
	for _, part := range strings.Split(help, "`")[1:] {
		if text, ok := strings.CutPrefix("`"+part, prefix); ok {
			out = append(out, text)
		}
	}
	return out
}
