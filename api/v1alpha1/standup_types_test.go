package v1alpha1

import (
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
