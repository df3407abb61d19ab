package standup

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

func TestEnvironmentsOf(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 16:00 in New York, 21:00 UTC: "today" ends at 05:00 UTC tomorrow.
	now := time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)
	granted := func(name, resource, holder string, until time.Time) conchv1.Reservation {
		r := testutil.Reservation(name).On(resource).Holder(holder).State(conchv1.StateGranted).Obj()
		e := metav1.NewMicroTime(until)
		r.Status.ExpiresAt = &e
		return *r
	}
	queued := func(name, resource, holder string, pos int32) conchv1.Reservation {
		r := testutil.Reservation(name).On(resource).Holder(holder).State(conchv1.StateQueued).Obj()
		r.Status.Position = pos
		return *r
	}
	released := testutil.Reservation("old").On("qa").Holder("slack:UALICE").State(conchv1.StateReleased).Obj()
	pooled := testutil.Reservation("pool").Pool(map[string]string{"pool": "web"}).Holder("slack:UALICE").State(conchv1.StatePending).Obj()
	rsvs := []conchv1.Reservation{
		granted("a1", "staging", "slack:UALICE", now.Add(7*time.Hour)), // 04:00 UTC tomorrow, 23:00 in New York: today
		granted("a2", "perf", "slack:UALICE", now.Add(9*time.Hour)),    // 01:00 tomorrow in New York
		queued("b1", "staging", "slack:UBOB", 1),                       //
		granted("ci", "qa", "ci:e2e", now.Add(time.Hour)),              // not a participant, ends today
		granted("d1", "demo", "slack:UDAVE", now.Add(2*time.Hour)),     // not a participant, ends today
		*released, *pooled,
	}
	got := EnvironmentsOf(rsvs, []string{"UALICE", "UBOB", "UCAROL"}, now, ny)
	want := Environments{
		ByUser: map[string][]Holding{
			"UALICE": {
				{Resource: "perf", Holder: "slack:UALICE", State: conchv1.StateGranted, Until: now.Add(9 * time.Hour)},
				{Resource: "staging", Holder: "slack:UALICE", State: conchv1.StateGranted, Until: now.Add(7 * time.Hour), EndsToday: true},
			},
			"UBOB": {{Resource: "staging", Holder: "slack:UBOB", State: conchv1.StateQueued, Position: 1}},
		},
		EndingToday: []Holding{
			{Resource: "qa", Holder: "ci:e2e", State: conchv1.StateGranted, Until: now.Add(time.Hour), EndsToday: true},
			{Resource: "demo", Holder: "slack:UDAVE", State: conchv1.StateGranted, Until: now.Add(2 * time.Hour), EndsToday: true},
			{Resource: "staging", Holder: "slack:UALICE", State: conchv1.StateGranted, Until: now.Add(7 * time.Hour), EndsToday: true},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environments (-want +got):\n%s", diff)
	}
}

func TestLocation(t *testing.T) {
	cases := map[string]struct {
		zone string
		want string
	}{
		"unset is UTC":                           {zone: "", want: "UTC"},
		"an IANA zone":                           {zone: "America/New_York", want: "America/New_York"},
		"an unknown zone is UTC (Ready says so)": {zone: "Mars/Olympus_Mons", want: "UTC"},
		"the manager's own zone is UTC":          {zone: "Local", want: "UTC"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := &conchv1.Standup{Spec: conchv1.StandupSpec{TimeZone: tc.zone}}
			if got := Location(st).String(); got != tc.want {
				t.Errorf("Location = %s, want %s", got, tc.want)
			}
		})
	}
}
