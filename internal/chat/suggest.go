package chat

import (
	"cmp"
	"slices"
	"strings"
)

// Suggest returns up to limit of candidates that name is likely a slip for, best first, for messages such as
// "there is no staging2; did you mean staging-2?". Closeness is the Levenshtein distance between the
// lower-cased names, except that a candidate starting with name counts as one edit away and one containing it as
// two: people type the start of a long name ("prod" for production-eu) far more often than they mistype it.
// Only close candidates are returned: within one edit of a name of up to 3 characters, two up to 8, three
// beyond, or containing a name of at least 3 characters. Ties go to the shorter distance, then to the candidate
// that sorts first, so the answer does not depend on the candidates' order. An exact match comes first.
func Suggest(name string, candidates []string, limit int) []string {
	typed := asciiLower(strings.TrimSpace(name))
	if limit <= 0 || typed == "" {
		return nil
	}
	typedRunes := []rune(typed)
	threshold := 3
	switch {
	case len(typedRunes) <= 3:
		threshold = 1
	case len(typedRunes) <= 8:
		threshold = 2
	}

	type match struct {
		candidate       string
		score, distance int
	}
	var matches []match
	seen := make(map[string]bool, len(candidates))
	for _, candidate := range candidates {
		if candidate == "" || seen[candidate] {
			continue
		}
		seen[candidate] = true
		lower := asciiLower(candidate)
		runes := []rune(lower)
		lengthGap := len(runes) - len(typedRunes)

		var m match
		switch {
		case len(typedRunes) >= 3 && strings.HasPrefix(lower, typed):
			// Only insertions turn typed into candidate, so the distance is the length gap; no table needed.
			m = match{candidate: candidate, score: min(lengthGap, 1), distance: lengthGap}
		case len(typedRunes) >= 3 && strings.Contains(lower, typed):
			m = match{candidate: candidate, score: min(lengthGap, 2), distance: lengthGap}
		case abs(lengthGap) <= threshold:
			// The distance is at least the length gap, so only candidates of a similar length need the table.
			d := levenshtein(typedRunes, runes)
			if d > threshold {
				continue
			}
			m = match{candidate: candidate, score: d, distance: d}
		default:
			continue
		}
		matches = append(matches, m)
	}

	slices.SortFunc(matches, func(a, b match) int {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.distance, b.distance), strings.Compare(a.candidate, b.candidate))
	})
	if len(matches) > limit {
		matches = matches[:limit]
	}
	var names []string
	for _, m := range matches {
		names = append(names, m.candidate)
	}
	return names
}

// levenshtein is the number of single-rune insertions, deletions and substitutions that turn a into b, computed
// one row at a time.
func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	curr := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		curr[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			curr[j] = min(prev[j]+1, curr[j-1]+1, prev[j-1]+cost)
		}
		prev, curr = curr, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
