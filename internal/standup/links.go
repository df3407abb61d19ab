package standup

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// Link is a compiled spec.links entry: what to look for in answers, and the URL it becomes.
type Link struct {
	re  *regexp.Regexp
	url string
}

// Bounds of linking, so that a long answer full of matches stays a readable summary within Slack's limits.
const (
	// MaxLinksPerAnswer is how many matches of one answer become links; the rest stay text.
	MaxLinksPerAnswer = 20
	// maxURL is the longest URL a link may expand to.
	maxURL = 1000
)

// CompileLinks compiles a Standup's spec.links. Its error names the entry to fix and why.
func CompileLinks(specs []conchv1.StandupLink) ([]Link, error) {
	links := make([]Link, 0, len(specs))
	for i, s := range specs {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("spec.links[%d].pattern %q is not a regular expression: %v", i, s.Pattern, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("spec.links[%d].pattern %q matches empty text; it must match something, such as [A-Z]+-[0-9]+", i, s.Pattern)
		}
		u, err := url.Parse(strings.NewReplacer("$", "", "{", "", "}", "").Replace(s.URL))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("spec.links[%d].url %q is not an http or https URL template", i, s.URL)
		}
		links = append(links, Link{re: re, url: s.URL})
	}
	return links, nil
}

// Segment is a piece of an answer: plain text, or a match with the URL it links to.
type Segment struct {
	Text string
	// URL is set for a match: the link's URL with $0, $1, … replaced by the match and its groups, URL-escaped.
	URL string
}

// Linkify splits text into plain and linked segments: the earliest match of any link wins, matches do not
// overlap, and at most MaxLinksPerAnswer become links. The caller escapes each segment's text for where it is
// shown; the URLs hold no character that needs it in Slack (<, > and | are escaped by url.PathEscape).
func Linkify(s string, links []Link) []Segment {
	var out []Segment
	for n := 0; n < MaxLinksPerAnswer && s != ""; n++ {
		best, bestLink := []int(nil), Link{}
		for _, l := range links {
			if m := l.re.FindStringSubmatchIndex(s); m != nil && m[1] > m[0] && (best == nil || m[0] < best[0]) {
				best, bestLink = m, l
			}
		}
		if best == nil {
			break
		}
		u := expand(bestLink, s, best)
		if u == "" {
			// Nothing linkable here: keep the text up to the match's end as it is, and look further.
			out = append(out, Segment{Text: s[:best[1]]})
			s = s[best[1]:]
			continue
		}
		if best[0] > 0 {
			out = append(out, Segment{Text: s[:best[0]]})
		}
		out = append(out, Segment{Text: s[best[0]:best[1]], URL: u})
		s = s[best[1]:]
	}
	if s != "" {
		out = append(out, Segment{Text: s})
	}
	return out
}

// expand fills the link's URL template from a match (indexes m into s), URL-escaping each value; "" when the
// result is too long.
func expand(l Link, s string, m []int) string {
	groups := make([]string, l.re.NumSubexp()+1)
	for i := range groups {
		if m[2*i] >= 0 {
			groups[i] = url.PathEscape(s[m[2*i]:m[2*i+1]])
		}
	}
	u := os.Expand(l.url, func(name string) string {
		for i := range groups {
			if name == fmt.Sprint(i) {
				return groups[i]
			}
		}
		return ""
	})
	if len(u) > maxURL || strings.ContainsAny(u, "<>| \n") {
		return ""
	}
	return u
}
