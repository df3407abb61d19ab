package standup

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

var testLinks = []conchv1.StandupLink{
	{Pattern: `\b[A-Z][A-Z0-9]+-[0-9]+\b`, URL: "https://jira.example.com/browse/$0"},
	{Pattern: `\b([\w.-]+)/([\w.-]+)#([0-9]+)\b`, URL: "https://github.com/$1/$2/pull/$3"},
}

func TestLinkify(t *testing.T) {
	links, err := CompileLinks(testLinks)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		in   string
		want []Segment
	}{
		"no match": {in: "Reviews", want: []Segment{{Text: "Reviews"}}},
		"an issue key and a pull request, in order": {
			in: "Fixed JIRA-123 in conch-dev/conch#45 today",
			want: []Segment{
				{Text: "Fixed "}, {Text: "JIRA-123", URL: "https://jira.example.com/browse/JIRA-123"},
				{Text: " in "}, {Text: "conch-dev/conch#45", URL: "https://github.com/conch-dev/conch/pull/45"}, {Text: " today"},
			},
		},
		"text around a match is left to the caller to escape": {
			in:   "<b>OPS-7</b> & more",
			want: []Segment{{Text: "<b>"}, {Text: "OPS-7", URL: "https://jira.example.com/browse/OPS-7"}, {Text: "</b> & more"}},
		},
		"a group with characters a URL cannot hold is escaped": {
			in:   "a|b/c#1",
			want: []Segment{{Text: "a|"}, {Text: "b/c#1", URL: "https://github.com/b/c/pull/1"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Linkify(tc.in, links)); diff != "" {
				t.Errorf("segments (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLinkifyIsBounded(t *testing.T) {
	links, _ := CompileLinks(testLinks)
	segs := Linkify(strings.Repeat("XY-1 ", 50), links)
	n := 0
	for _, s := range segs {
		if s.URL != "" {
			n++
		}
	}
	if n != MaxLinksPerAnswer {
		t.Errorf("%d links, want %d", n, MaxLinksPerAnswer)
	}
	var all strings.Builder
	for _, s := range segs {
		all.WriteString(s.Text)
	}
	if all.String() != strings.Repeat("XY-1 ", 50) {
		t.Errorf("text lost: %q", all.String())
	}
}

func TestCompileLinksErrors(t *testing.T) {
	cases := map[string]struct {
		link conchv1.StandupLink
		want string
	}{
		"not a regular expression": {link: conchv1.StandupLink{Pattern: `JIRA-(`, URL: "https://x.example/$0"}, want: "spec.links[0].pattern \"JIRA-(\" is not a regular expression"},
		"matches empty text":       {link: conchv1.StandupLink{Pattern: `[0-9]*`, URL: "https://x.example/$0"}, want: "matches empty text"},
		"not an http URL":          {link: conchv1.StandupLink{Pattern: `X-[0-9]+`, URL: "javascript:alert($0)"}, want: "is not an http or https URL template"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := CompileLinks([]conchv1.StandupLink{tc.link})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
