package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestStandupRunID(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, paris)
	cases := map[string]struct {
		trigger RunTrigger
		want    string
	}{
		"scheduled: UTC to the second": {trigger: TriggerSchedule, want: "20261123T080000Z"},
		"manual ends in m":             {trigger: TriggerManual, want: "20261123T080000Zm"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := StandupRunID(at, tc.trigger); got != tc.want {
				t.Errorf("StandupRunID = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRunRequestKey(t *testing.T) {
	if got := RunRequestKey("2026-11-23T09:00:00Z"); got != "2026-11-23T09:00:00Z" {
		t.Errorf("short key %q", got)
	}
	long := strings.Repeat("x", 300)
	if got := RunRequestKey(long); !strings.HasPrefix(got, "sha256:") || len(got) > 64 || got == RunRequestKey(long+"y") {
		t.Errorf("long key %q", got)
	}
}

func TestStandupRunName(t *testing.T) {
	long := strings.Repeat("a", 250)
	cases := map[string]struct {
		standup, id string
		want        string
	}{
		"scheduled: the date and time, lower case":    {standup: "team", id: "20261123T080000Z", want: "team-20261123-080000z"},
		"manual ends in m":                            {standup: "team", id: "20261123T080000Zm", want: "team-20261123-080000zm"},
		"a long name is shortened, with a hash of it": {standup: long, id: "20261123T080000Z", want: strings.Repeat("a", 225) + "-" + hash10(long) + "-20261123-080000z"},
		"a long name ending in a dash loses the dash": {standup: strings.Repeat("a", 224) + "-b" + strings.Repeat("c", 30), id: "20261123T080000Z", want: strings.Repeat("a", 224) + "-" + hash10(strings.Repeat("a", 224)+"-b"+strings.Repeat("c", 30)) + "-20261123-080000z"},
		"the same scheduled time gives the same name": {standup: "team", id: StandupRunID(time.Date(2026, 11, 23, 9, 0, 0, 0, time.FixedZone("CET", 3600)), TriggerSchedule), want: "team-20261123-080000z"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := StandupRunName(tc.standup, tc.id)
			if got != tc.want {
				t.Errorf("StandupRunName = %q, want %q", got, tc.want)
			}
			if len(got) > 253 {
				t.Errorf("%d characters, more than a name may have", len(got))
			}
		})
	}
	if StandupRunName(long, "20261123T080000Z") == StandupRunName(long+"b", "20261123T080000Z") {
		t.Error("two long names sharing a prefix give the same run name")
	}
}

func hash10(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:10]
}
