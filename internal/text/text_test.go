package text

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestTruncate(t *testing.T) {
	cases := map[string]struct {
		s    string
		n    int
		more string
		want string
	}{
		"fits":                          {s: "staging", n: 7, more: Ellipsis, want: "staging"},
		"empty":                         {s: "", n: 3, more: Ellipsis, want: ""},
		"one over":                      {s: "staging", n: 6, more: Ellipsis, want: "stagi…"},
		"a modal title of 24":           {s: "Stand-up: a-very-long-standup-name", n: 24, more: Ellipsis, want: "Stand-up: a-very-long-s…"},
		"counts characters, not bytes":  {s: "ééééé", n: 5, more: Ellipsis, want: "ééééé"},
		"cuts between characters":       {s: "éééééé", n: 4, more: Ellipsis, want: "ééé…"},
		"a list of lines":               {s: "• a\n• b\n• c", n: 6, more: MoreLines, want: "• a\n\n…"},
		"no room for the ellipsis":      {s: "staging", n: 1, more: MoreLines, want: "s"},
		"nothing allowed":               {s: "staging", n: 0, more: Ellipsis, want: ""},
		"an emoji is one character too": {s: "😀😀😀", n: 2, more: Ellipsis, want: "😀…"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Truncate(tc.s, tc.n, tc.more)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Truncate(%q, %d, %q) (-want +got):\n%s", tc.s, tc.n, tc.more, diff)
			}
			if c := utf8.RuneCountInString(got); c > max(tc.n, 0) || !utf8.ValidString(got) {
				t.Errorf("Truncate(%q, %d) = %q: %d characters", tc.s, tc.n, got, c)
			}
		})
	}
}

func TestTruncateLongText(t *testing.T) {
	s := strings.Repeat("x", 5000)
	got := Truncate(s, 3000, MoreLines)
	if utf8.RuneCountInString(got) != 3000 || !strings.HasSuffix(got, "x\n…") {
		t.Errorf("got %d characters ending %q", utf8.RuneCountInString(got), got[len(got)-8:])
	}
}
