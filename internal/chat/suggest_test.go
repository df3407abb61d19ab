package chat

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSuggest(t *testing.T) {
	resources := []string{"staging-1", "staging-2", "staging", "prod", "production-eu", "dev", "db.staging", "perf"}
	cases := map[string]struct {
		name       string
		candidates []string
		limit      int
		want       []string
	}{
		"missing dash":           {name: "staging2", candidates: resources, limit: 3, want: []string{"staging", "staging-2", "staging-1"}},
		"typo":                   {name: "stagign", candidates: resources, limit: 1, want: []string{"staging"}},
		"start of a long name":   {name: "produc", candidates: resources, limit: 3, want: []string{"production-eu", "prod"}},
		"prefix beats far typos": {name: "prod", candidates: resources, limit: 5, want: []string{"prod", "production-eu"}},
		"exact match first":      {name: "staging", candidates: resources, limit: 4, want: []string{"staging", "staging-1", "staging-2", "db.staging"}},
		"substring":              {name: "eu", candidates: []string{"production-eu", "eu"}, limit: 5, want: []string{"eu"}},
		"substring of 3 or more": {name: "ction", candidates: resources, limit: 5, want: []string{"production-eu"}},
		"case-insensitive":       {name: "PROD", candidates: []string{"Prod"}, limit: 1, want: []string{"Prod"}},
		"short names need near matches": {
			name: "dve", candidates: resources, limit: 5, want: nil, // two edits from dev: too far for three letters
		},
		"one edit on a short name": {name: "dew", candidates: resources, limit: 5, want: []string{"dev"}},
		"nothing close":            {name: "kafka", candidates: resources, limit: 5, want: nil},
		"limit":                    {name: "staging", candidates: resources, limit: 2, want: []string{"staging", "staging-1"}},
		"zero limit":               {name: "staging", candidates: resources, limit: 0, want: nil},
		"empty name":               {name: "  ", candidates: resources, limit: 5, want: nil},
		"no candidates":            {name: "staging", limit: 5, want: nil},
		"duplicates and blanks":    {name: "prod", candidates: []string{"prod", "", "prod"}, limit: 5, want: []string{"prod"}},
		"ties sort by name whatever the input order": {
			name: "perv", candidates: []string{"pert", "perf", "perk"}, limit: 3, want: []string{"perf", "perk", "pert"},
		},
		"long input does not match short names": {name: strings.Repeat("x", 4000), candidates: resources, limit: 5, want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Suggest(tc.name, tc.candidates, tc.limit)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("suggestions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLevenshtein(t *testing.T) {
	cases := map[string]struct {
		a, b string
		want int
	}{
		"equal":         {a: "staging", b: "staging", want: 0},
		"empty":         {a: "", b: "abc", want: 3},
		"substitution":  {a: "staging", b: "stoging", want: 1},
		"transposition": {a: "stagign", b: "staging", want: 2},
		"classic":       {a: "kitten", b: "sitting", want: 3},
		"runes":         {a: "café", b: "cafe", want: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, pair := range [][2]string{{tc.a, tc.b}, {tc.b, tc.a}} {
				if got := levenshtein([]rune(pair[0]), []rune(pair[1])); got != tc.want {
					t.Errorf("levenshtein(%q, %q) = %d, want %d", pair[0], pair[1], got, tc.want)
				}
			}
		})
	}
}
