package plugin

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

func TestParseParams(t *testing.T) {
	many := make([]string, conchv1.MaxParameters+1)
	for i := range many {
		many[i] = "p" + strings.Repeat("x", i) + "=v"
	}
	cases := map[string]struct {
		flags   []string
		want    []conchv1.Parameter
		wantErr string
	}{
		"none": {},
		"one":  {flags: []string{"revision=pr-345"}, want: []conchv1.Parameter{{Name: "revision", Value: "pr-345"}}},
		"value with = and spaces kept": {
			flags: []string{"image=web:1 = 2", "_x9=y"},
			want:  []conchv1.Parameter{{Name: "image", Value: "web:1 = 2"}, {Name: "_x9", Value: "y"}},
		},
		"no =":          {flags: []string{"revision"}, wantErr: `--param "revision": write NAME=VALUE, such as revision=pr-345`},
		"empty value":   {flags: []string{"revision="}, wantErr: `--param "revision=": the value is 1 to 256 characters`},
		"long value":    {flags: []string{"r=" + strings.Repeat("v", 257)}, wantErr: "the value is 1 to 256 characters"},
		"bad name":      {flags: []string{"1st=x"}, wantErr: `--param "1st=x": the name is letters, digits and '_', not starting with a digit, at most 63`},
		"dashed name":   {flags: []string{"my-rev=x"}, wantErr: "the name is letters, digits and '_'"},
		"twice":         {flags: []string{"revision=a", "revision=b"}, wantErr: "--param revision is given twice"},
		"too many":      {flags: many, wantErr: "--param: at most 16, not 17"},
		"empty name":    {flags: []string{"=x"}, wantErr: "the name is letters"},
		"long name ok":  {flags: []string{strings.Repeat("a", 63) + "=x"}, want: []conchv1.Parameter{{Name: strings.Repeat("a", 63), Value: "x"}}},
		"name too long": {flags: []string{strings.Repeat("a", 64) + "=x"}, wantErr: "at most 63"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseParams(tc.flags)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseParams() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseParams() (-want +got):\n%s", diff)
			}
		})
	}
}
