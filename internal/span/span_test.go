package span

import (
	"testing"
	"time"
)

func TestOverlapAndDays(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Skip(err)
	}
	t0 := time.Date(2026, time.March, 8, 12, 0, 0, 0, la) // a 23-hour day
	cases := map[string]struct{ got, want time.Duration }{
		"inside":          {Overlap(t0, t0.Add(time.Hour), t0.Add(-time.Hour), t0.Add(2*time.Hour)), time.Hour},
		"cut at both":     {Overlap(t0.Add(-time.Hour), t0.Add(3*time.Hour), t0, t0.Add(time.Hour)), time.Hour},
		"apart":           {Overlap(t0, t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)), 0},
		"empty":           {Overlap(t0, t0, t0.Add(-time.Hour), t0.Add(time.Hour)), 0},
		"the DST day":     {NextMidnight(t0, la).Sub(Midnight(t0, la)), 23 * time.Hour},
		"an ordinary day": {NextMidnight(t0.AddDate(0, 0, 1), la).Sub(Midnight(t0.AddDate(0, 0, 1), la)), 24 * time.Hour},
	}
	for name, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", name, c.got, c.want)
		}
	}
	if Later(t0, t0.Add(time.Second)) != t0.Add(time.Second) || Earlier(t0, t0.Add(time.Second)) != t0 {
		t.Error("Later/Earlier")
	}
}
