package slackbot

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"

	"github.com/conch-dev/conch/internal/contention"
)

func TestStatsSummary(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2026, 11, 30, 0, 0, 0, 0, paris)
	week := contention.Stats{From: monday, To: monday.AddDate(0, 0, 6).Add(15 * time.Hour)}
	cases := map[string]struct {
		name  string
		stats contention.Stats
		days  int
		loc   *time.Location
		want  string
	}{
		"a busy week": {
			name: "staging", days: 7, loc: paris,
			stats: with(week, 41*time.Hour+30*time.Minute, 7*time.Hour+29*time.Minute+31*time.Second, 5*time.Hour, 12),
			want:  "*staging*, the last 7 days (Mon 30 Nov – Sun 6 Dec, Europe/Paris): held *41h30m* in 12 holds granted; waited *7h30m*, longest wait *5h*.",
		},
		"one hold, no wait": {
			name: "qa-1", days: 7, loc: paris,
			stats: with(week, 20*time.Minute, 0, 0, 1),
			want:  "*qa-1*, the last 7 days (Mon 30 Nov – Sun 6 Dec, Europe/Paris): held *20m* in 1 hold granted; waited *0m*.",
		},
		"a quiet day": {
			name: "staging", days: 1, loc: nil,
			stats: contention.Stats{From: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)},
			want:  "*staging*, today (Sun 6 Dec, UTC): nobody held it or waited for it.",
		},
		"still waiting, nothing granted": {
			name: "staging", days: 7, loc: paris,
			stats: with(week, 0, 3*time.Hour, 3*time.Hour, 0),
			want:  "*staging*, the last 7 days (Mon 30 Nov – Sun 6 Dec, Europe/Paris): held *0m* in 0 holds granted; waited *3h*, longest wait *3h*.",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, StatsSummary(tc.name, tc.stats, tc.days, tc.loc)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if plain := plainSummary(tc.name, tc.stats, tc.days, tc.loc); strings.Contains(plain, "*") {
				t.Errorf("the alt text has mrkdwn: %q", plain)
			}
		})
	}
}

func with(s contention.Stats, held, waited, longest time.Duration, grants int) contention.Stats {
	s.Held, s.Waited, s.LongestWait, s.Grants = held, waited, longest, grants
	return s
}

func TestUploadProblem(t *testing.T) {
	cases := map[string]struct {
		err  error
		want string
	}{
		"not in the channel": {
			err:  slack.SlackErrorResponse{Err: "not_in_channel"},
			want: "I am not in this channel. Invite me (`/invite @Conch`), or ask with `/dibs stats` in a channel I am in.",
		},
		"no scope": {
			err:  errors.New("missing_scope"),
			want: "the Slack app lacks the files:write scope. Ask whoever installed it to add the scope and reinstall it.",
		},
		"anything else, escaped": {
			err:  errors.New("<boom> & co"),
			want: "Slack said &lt;boom&gt; &amp; co. Try again in a moment.",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, uploadProblem(tc.err, "/dibs")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestResourceCharts checks that a Resource gets its three charts, named and titled for it, with the summary as
// alt text.
func TestResourceCharts(t *testing.T) {
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	st := contention.Compute([]contention.Hold{{Created: from.Add(time.Hour), Granted: from.Add(2 * time.Hour), Ended: from.Add(5 * time.Hour)}},
		from, from.AddDate(0, 0, 7), time.UTC)
	files, err := resourceCharts("staging", st, 7, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.name)
		if len(f.png) == 0 || !strings.HasPrefix(f.title, "staging: ") || !strings.HasPrefix(f.alt, "staging, the last 7 days") {
			t.Errorf("file %s: %d bytes, title %q, alt %q", f.name, len(f.png), f.title, f.alt)
		}
	}
	if diff := cmp.Diff([]string{"staging-contention-7d.png", "staging-waits-7d.png", "staging-queue-7d.png"}, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}
