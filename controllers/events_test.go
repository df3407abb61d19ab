package controllers

import (
	"testing"
	"time"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

func TestDue(t *testing.T) {
	res := func(observed int64, holds ...time.Time) *conchv1.Resource {
		w := testutil.Resource("staging")
		for i, until := range holds {
			w.Holding(string(rune('a'+i)), "alice", until.Add(-time.Hour), until)
		}
		r := w.Obj()
		r.Generation, r.Status.ObservedGeneration = 2, observed
		return r
	}
	cases := map[string]struct {
		res  *conchv1.Resource
		want bool
	}{
		"never reconciled":                                 {res: res(0), want: true},
		"spec changed since the last pass":                 {res: res(1, tNow.Add(time.Hour)), want: true},
		"nothing held":                                     {res: res(2), want: false},
		"a hold ends later":                                {res: res(2, tNow.Add(time.Hour)), want: false},
		"a hold ends a microsecond from now":               {res: res(2, tNow.Add(time.Microsecond)), want: false},
		"a hold ends now":                                  {res: res(2, tNow), want: true},
		"a hold ended while no manager ran":                {res: res(2, tNow.Add(-time.Hour)), want: true},
		"the second of two holds has ended, not the first": {res: res(2, tNow.Add(time.Hour), tNow.Add(-time.Second)), want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := due(tc.res, tNow); got != tc.want {
				t.Errorf("due = %v, want %v", got, tc.want)
			}
		})
	}
}
