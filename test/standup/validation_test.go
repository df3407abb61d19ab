package standup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/conch-dev/conch/internal/testenv"
)

// TestMalformedStandupsAreRejected applies malformed Standups to the real API server and checks that each is
// refused with a message that names the field and says what is allowed. The controller's own checks (a cron
// expression robfig/cron refuses, a zone not in the database) are in TestInvalidScheduleAndTimeZone.
func TestMalformedStandupsAreRejected(t *testing.T) {
	ns := namespace(t)
	const ok = `channel: CTEAM, schedule: "0 9 * * 1-5", participants: [UALICE], questions: ["Yesterday?"]`
	standup := func(spec string) string {
		return "apiVersion: conch.dev/v1alpha1\nkind: Standup\nmetadata: {name: bad}\nspec: {" + spec + "}"
	}
	cases := map[string]struct {
		yaml string
		want []string
	}{
		"schedule with six fields (seconds)": {standup(`channel: C1, schedule: "0 0 9 * * 1-5", participants: [U1], questions: [Q]`),
			[]string{"spec.schedule", "schedule must be a cron expression of five fields (minute hour day-of-month month day-of-week)"}},
		"schedule as a descriptor": {standup(`channel: C1, schedule: "@daily", participants: [U1], questions: [Q]`),
			[]string{"spec.schedule", "no @daily"}},
		"schedule in words": {standup(`channel: C1, schedule: "every day at 9", participants: [U1], questions: [Q]`),
			[]string{"spec.schedule", "five fields"}},
		"schedule with a time zone prefix": {standup(`channel: C1, schedule: "CRON_TZ=UTC 0 9 * * *", participants: [U1], questions: [Q]`),
			[]string{"spec.schedule", "no CRON_TZ= (set timeZone)"}},
		"time zone with spaces": {standup(ok + `, timeZone: "New York"`),
			[]string{"spec.timeZone", "timeZone must be an IANA time zone name such as Europe/Paris, America/New_York or UTC"}},
		"time zone Local": {standup(ok + `, timeZone: Local`),
			[]string{"spec.timeZone", "must be an IANA time zone name"}},
		"no participants and no group": {standup(`channel: C1, schedule: "0 9 * * *", questions: [Q]`),
			[]string{"set participants (Slack user IDs), userGroup (a Slack user group ID), or both"}},
		"participant not a user ID": {standup(`channel: C1, schedule: "0 9 * * *", participants: ["@alice"], questions: [Q]`),
			[]string{"spec.participants", "participants must be Slack user IDs such as U0123ABC"}},
		"too many participants": {standup(`channel: C1, schedule: "0 9 * * *", questions: [Q], participants: [` + ids(51) + `]`),
			[]string{"spec.participants", "must have at most 50 items"}},
		"user group as a handle": {standup(`channel: C1, schedule: "0 9 * * *", userGroup: "@web-team", questions: [Q]`),
			[]string{"spec.userGroup", "userGroup must be a Slack user group ID such as S0123ABC, not its @handle"}},
		"no questions": {standup(`channel: C1, schedule: "0 9 * * *", participants: [U1], questions: []`),
			[]string{"spec.questions", "should have at least 1 items"}},
		"a blank question": {standup(`channel: C1, schedule: "0 9 * * *", participants: [U1], questions: ["Yesterday?", "  "]`),
			[]string{"spec.questions", "questions must not be empty or blank"}},
		"an empty question": {standup(`channel: C1, schedule: "0 9 * * *", participants: [U1], questions: [""]`),
			[]string{"spec.questions", "questions must not be empty or blank"}},
		"six questions": {standup(`channel: C1, schedule: "0 9 * * *", participants: [U1], questions: [a, b, c, d, e, f]`),
			[]string{"spec.questions", "must have at most 5 items"}},
		"a question too long": {standup(`channel: C1, schedule: "0 9 * * *", participants: [U1], questions: [` + strings.Repeat("q", 151) + `]`),
			[]string{"spec.questions[0]", "may not be more than 150"}},
		"collectFor too short": {standup(ok + `, collectFor: 10s`),
			[]string{"spec.collectFor", "collectFor must be a duration between 1m and 24h, such as 30m or 2h"}},
		"collectFor in words": {standup(ok + `, collectFor: an hour`),
			[]string{"spec.collectFor", "between 1m and 24h"}},
		"reminder after the deadline": {standup(ok + `, collectFor: 30m, remindAfter: 45m`),
			[]string{"remindAfter must be shorter than collectFor"}},
		"reminder after the default deadline": {standup(ok + `, remindAfter: 2h`),
			[]string{"remindAfter must be shorter than collectFor"}},
		"skip date in another format": {standup(ok + `, skipDates: [25/12/2026]`),
			[]string{"spec.skipDates[0]", "must be of type date"}},
		"skip date that does not exist": {standup(ok + `, skipDates: [2026-02-30]`),
			[]string{"spec.skipDates[0]", "must be of type date"}},
		"away without a date": {standup(ok + `, away: [{user: UBOB}]`),
			[]string{"spec.away[0].until", "Required value"}},
		"away until a non-date": {standup(ok + `, away: [{user: UBOB, until: next week}]`),
			[]string{"spec.away[0].until", "must be of type date"}},
		"away twice for the same person": {standup(ok + `, away: [{user: UBOB, until: 2026-12-01}, {user: UBOB, until: 2026-12-02}]`),
			[]string{"spec.away[1]", "Duplicate value"}},
		"channel with spaces": {standup(`channel: "team standup", schedule: "0 9 * * *", participants: [U1], questions: [Q]`),
			[]string{"spec.channel", "channel must be a Slack channel ID such as C0123ABC"}},
		"no channel": {standup(`schedule: "0 9 * * *", participants: [U1], questions: [Q]`),
			[]string{"spec.channel", "Required value"}},
		"charts in a channel given by name": {standup(`channel: "#team", schedule: "0 9 * * *", participants: [U1], questions: [Q], charts: {resources: [staging]}`),
			[]string{"charts need channel to be a channel ID such as C0123ABC"}},
		"charts of nothing": {standup(ok + `, charts: {days: 7}`),
			[]string{"spec.charts.resources", "Required value"}},
		"charts of no Resources": {standup(ok + `, charts: {resources: []}`),
			[]string{"spec.charts.resources", "should have at least 1 items"}},
		"charts of a name that is no Resource name": {standup(ok + `, charts: {resources: [Staging_1]}`),
			[]string{"spec.charts.resources", "resources must be Resource names"}},
		"charts of six Resources": {standup(ok + `, charts: {resources: [a, b, c, d, e, f]}`),
			[]string{"spec.charts.resources", "must have at most 5 items"}},
		"charts over 36 days": {standup(ok + `, charts: {resources: [staging], days: 36}`),
			[]string{"spec.charts.days", "less than or equal to 35"}},
		"charts over no days": {standup(ok + `, charts: {resources: [staging], days: 0}`),
			[]string{"spec.charts.days", "greater than or equal to 1"}},
		"blocker question beyond the questions": {standup(ok + `, blockerQuestion: 1`),
			[]string{"blockerQuestion is the index of one of the questions: 0 for the first"}},
		"escalation without a blocker question": {standup(ok + `, escalateAfter: 3, escalation: {channel: CESC}`),
			[]string{"escalateAfter needs blockerQuestion (which question asks about blockers) and escalation (where they go)"}},
		"escalation to nowhere": {standup(ok + `, blockerQuestion: 0, escalateAfter: 3, escalation: {}`),
			[]string{"spec.escalation", "escalation needs a channel, users, or both"}},
		"escalation to a handle": {standup(ok + `, blockerQuestion: 0, escalateAfter: 3, escalation: {users: ["@boss"]}`),
			[]string{"spec.escalation.users", "escalation.users must be Slack user IDs"}},
		"a link to javascript:": {standup(ok + `, links: [{pattern: "X-[0-9]+", url: "javascript:alert($0)"}]`),
			[]string{"spec.links[0].url", "links[].url must be an http or https URL template"}},
		"a link URL with a space": {standup(ok + `, links: [{pattern: "X-[0-9]+", url: "https://x.example/a b"}]`),
			[]string{"spec.links[0].url", "without spaces"}},
		"eleven links": {standup(ok + `, links: [` + strings.Repeat(`{pattern: a, url: "https://x.example"},`, 10) + `{pattern: a, url: "https://x.example"}]`),
			[]string{"spec.links", "must have at most 10 items"}},
		"too long a run history": {standup(ok + `, successfulRunsHistoryLimit: 101`),
			[]string{"spec.successfulRunsHistoryLimit", "less than or equal to 100"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(tc.yaml), &obj.Object); err != nil {
				t.Fatalf("bad test YAML: %v", err)
			}
			obj.SetNamespace(ns)
			err := k8s.Create(ctx, obj)
			if err == nil {
				_ = k8s.Delete(ctx, obj)
				t.Fatalf("accepted; want a rejection mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	// The sample's shape is accepted, and defaults apply.
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(standup(ok+`, charts: {resources: [staging, db.qa-1]}`)), &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	obj.SetName("good")
	if err := k8s.Create(ctx, obj); err != nil {
		t.Fatalf("a valid Standup was refused: %v", err)
	}
	spec := obj.Object["spec"].(map[string]any)
	if spec["timeZone"] != "UTC" || spec["collectFor"] != "1h" {
		t.Errorf("defaults: timeZone %v, collectFor %v; want UTC and 1h", spec["timeZone"], spec["collectFor"])
	}
	if days := spec["charts"].(map[string]any)["days"]; days != int64(7) {
		t.Errorf("defaults: charts.days %v (%T); want 7", days, days)
	}

	// So is the sample.
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile(filepath.Join(root, "config", "samples", "conch_v1alpha1_standup.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	obj = &unstructured.Unstructured{}
	if err := yaml.Unmarshal(sample, &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	if err := k8s.Create(ctx, obj); err != nil {
		t.Errorf("the sample was refused: %v", err)
	}
}

// ids returns n distinct Slack user IDs, comma-separated.
func ids(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = "U" + strings.ToUpper(strings.Repeat(string(rune('A'+i%26)), 1+i/26))
	}
	return strings.Join(out, ",")
}
