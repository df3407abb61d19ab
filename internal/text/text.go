// Package text holds what several packages do to text they show people, so that each is done one way: the
// controllers (status fields people read with kubectl), the chat grammar (its error messages) and the Slack front
// end (messages, modals) import it.
package text

import "unicode/utf8"

// What Truncate puts where it cut.
const (
	// Ellipsis ends text that was cut short.
	Ellipsis = "…"
	// MoreLines ends a list of lines that was cut short, on a line of its own.
	MoreLines = "\n…"
)

// Truncate returns s when it has at most n characters; otherwise the first characters of s followed by more
// (Ellipsis or MoreLines), n characters in all. It counts characters (runes), as Slack's limits and the API
// server's maxLength do, and never splits one. When n leaves no room for more, s is cut to n characters without it.
func Truncate(s string, n int, more string) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	keep := n - utf8.RuneCountInString(more)
	if keep <= 0 {
		keep, more = n, ""
	}
	for i := range s {
		if keep == 0 {
			return s[:i] + more
		}
		keep--
	}
	return s + more
}
