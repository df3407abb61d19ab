package chat

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNudgeAndWatch(t *testing.T) {
	cases := map[string]struct {
		text    string
		want    Command
		wantErr string
	}{
		"nudge":                    {text: "nudge Staging", want: Command{Verb: VerbNudge, Resource: "staging"}},
		"nudge in capitals":        {text: "NUDGE db.qa-1", want: Command{Verb: VerbNudge, Resource: "db.qa-1"}},
		"nudge without a resource": {text: "nudge", wantErr: `"nudge" needs a resource, such as nudge staging`},
		"nudge with words":         {text: "nudge staging please", wantErr: `"nudge" takes one resource name, such as nudge staging; I don't understand "please"`},
		"nudge a bad name":         {text: "nudge <!channel>", wantErr: `"<!channel>" is not a resource name: names are lower-case letters, digits, '-' and '.', and start and end with a letter or digit`},
		"nudge a pool":             {text: "nudge pool=web", wantErr: `"pool=web" is not a resource name: names are lower-case letters, digits, '-' and '.', and start and end with a letter or digit`},
		"take a resource named nudge": {
			text: "on nudge", want: Command{Verb: VerbTake, Resource: "nudge"},
		},

		"watch":                    {text: "watch staging", want: Command{Verb: VerbWatch, Resource: "staging"}},
		"watch lower-cases a name": {text: "Watch STAGING", want: Command{Verb: VerbWatch, Resource: "staging"}},
		"watch a pool":             {text: "watch pool=web", want: Command{Verb: VerbWatch, Pool: "pool=web"}},
		"watch a pool keeps case":  {text: "watch conch.dev/Pool=Web_1", want: Command{Verb: VerbWatch, Pool: "conch.dev/Pool=Web_1"}},
		"watch without a resource": {
			text:    "watch",
			wantErr: `"watch" needs a resource, such as watch staging, or watch pool=web for any Resource of a pool`,
		},
		"watch two resources": {
			text:    "watch staging prod",
			wantErr: `"watch" takes one resource name or one pool, such as watch staging, or watch pool=web for any Resource of a pool; I don't understand "prod"`,
		},
		"watch a pool without a value": {text: "watch pool=", wantErr: `"pool=" needs a value after the =, such as pool=web`},
		"watch a pool without a label": {
			text:    "watch =web",
			wantErr: `"=web" is not a pool: "" is not a label name (letters, digits, '-', '_' and '.', such as pool=web)`,
		},
		"watch a pool with a bad value": {
			text:    "watch pool=a=b",
			wantErr: `"pool=a=b" is not a pool: "a=b" is not a label value (at most 63 letters, digits, '-', '_' and '.')`,
		},
		"watch a pool with a long value": {
			text:    "watch pool=" + strings.Repeat("w", 64),
			wantErr: `"pool=wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww…" is not a pool: "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww…" is not a label value (at most 63 letters, digits, '-', '_' and '.')`,
		},
		"watch a pool with mrkdwn": {
			text:    "watch pool=<!here>",
			wantErr: `"pool=<!here>" is not a pool: "<!here>" is not a label value (at most 63 letters, digits, '-', '_' and '.')`,
		},
		"unwatch":        {text: "unwatch staging", want: Command{Verb: VerbUnwatch, Resource: "staging"}},
		"unwatch a pool": {text: "unwatch pool=web", want: Command{Verb: VerbUnwatch, Pool: "pool=web"}},
		"unwatch without a resource": {
			text:    "unwatch",
			wantErr: `"unwatch" needs a resource, such as unwatch staging, or unwatch pool=web for any Resource of a pool`,
		},
		"take a resource named watch": {text: "on watch for 1h", want: Command{Verb: VerbTake, Resource: "watch", Duration: 3600e9}},
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

func TestPoolLabel(t *testing.T) {
	label, value := PoolLabel("conch.dev/pool=web")
	if diff := cmp.Diff([]string{"conch.dev/pool", "web"}, []string{label, value}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestValidPool(t *testing.T) {
	cases := map[string]bool{
		"pool=web": true, "conch.dev/pool=Web_1": true, "pool=": false, "=web": false, "pool": false, "pool=a=b": false,
		"pool=<!here>": false, "": false, "po ol=web": false,
	}
	for pool, want := range cases {
		if got := ValidPool(pool); got != want {
			t.Errorf("ValidPool(%q) = %v, want %v", pool, got, want)
		}
	}
}
