package slackbot

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

func TestParseWatchers(t *testing.T) {
	many := make([]string, 0, conchv1.MaxWatchers+5)
	for i := range conchv1.MaxWatchers + 5 {
		many = append(many, "U"+strings.Repeat("X", i+1))
	}
	cases := map[string]struct {
		in   string
		want []watcher
	}{
		"none":   {in: "", want: nil},
		"people": {in: "UALICE  UBOB\n", want: []watcher{{User: "UALICE"}, {User: "UBOB"}}},
		"a pool": {in: "UALICE:pool=web UALICE", want: []watcher{{User: "UALICE", Pool: "pool=web"}, {User: "UALICE"}}},
		"repeats are dropped": {
			in: "UALICE UALICE:pool=web UALICE UALICE:pool=web", want: []watcher{{User: "UALICE"}, {User: "UALICE", Pool: "pool=web"}},
		},
		"hand-edited garbage is dropped": {
			in:   "<!channel> ualice UBOB:pool= UBOB:pool=<!here> UBOB:=x UCAROL:conch.dev/pool=qa_1",
			want: []watcher{{User: "UCAROL", Pool: "conch.dev/pool=qa_1"}},
		},
		"at most MaxWatchers": {in: strings.Join(many, " "), want: func() []watcher {
			var ws []watcher
			for _, u := range many[:conchv1.MaxWatchers] {
				ws = append(ws, watcher{User: u})
			}
			return ws
		}()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := parseWatchers(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// What is written reads back the same.
			if diff := cmp.Diff(got, parseWatchers(formatWatchers(got))); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNudgeAndWatchDMsGolden(t *testing.T) {
	res := &conchv1.Resource{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "staging"}}
	golden(t, "NudgeAndWatchDM", map[string]any{
		"nudge, nobody queued":      wire(NudgeDM(holdOf("slack:UALICE", hostile), "UBOB", 0)),
		"nudge, one queued":         wire(NudgeDM(holdOf("slack:UALICE", ""), "UBOB", 1)),
		"nudge, three queued":       wire(NudgeDM(holdOf("slack:UALICE", ""), "UBOB", 3)),
		"nudge by a strange asker":  wire(NudgeDM(holdOf("slack:UALICE", ""), "<!channel>", 0)),
		"watch of the Resource":     wire(WatchDM(res, "", "/dibs")),
		"watch of a pool":           wire(WatchDM(res, "conch.dev/pool=web_1", "/hold")),
		"watch of a hand-made pool": wire(WatchDM(res, "pool=`<!here>`", "/dibs")),
	})
}
