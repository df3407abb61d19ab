package board

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/history"
	"github.com/conch-dev/conch/internal/testutil"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func withPhase(p conchv1.ResourcePhase) *conchv1.Resource {
	res := testutil.Resource("r").Obj()
	res.Status.Phase = p
	return res
}

func TestPhaseOf(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: "R", Message: typ + " says so"}
	}
	for name, tc := range map[string]struct {
		res        *conchv1.Resource
		conditions []metav1.Condition
		want, why  string
	}{
		"not looked at yet":      {res: testutil.Resource("r").Obj(), want: phaseUnknown},
		"paused in spec, unseen": {res: testutil.Resource("r").Paused().Obj(), want: "Maintenance"},
		"available":              {res: withPhase(conchv1.PhaseAvailable), conditions: []metav1.Condition{cond(conchv1.ResourceConditionAvailable, "True")}, want: "Available", why: "Available says so"},
		"held":                   {res: withPhase(conchv1.PhaseHeld), conditions: []metav1.Condition{cond(conchv1.ResourceConditionAvailable, "False")}, want: "Held", why: "Available says so"},
		"cleaning":               {res: withPhase(conchv1.PhaseCleaning), conditions: []metav1.Condition{cond(conchv1.ResourceConditionAvailable, "False")}, want: "Cleaning", why: "Available says so"},
		"unhealthy: why from the Healthy condition": {
			res:        withPhase(conchv1.PhaseUnhealthy),
			conditions: []metav1.Condition{cond(conchv1.ResourceConditionAvailable, "False"), cond(conchv1.ResourceConditionHealthy, "False")},
			want:       "Unhealthy", why: "Healthy says so",
		},
		"maintenance: why from the Paused condition": {
			res:        withPhase(conchv1.PhaseMaintenance),
			conditions: []metav1.Condition{cond(conchv1.ResourceConditionAvailable, "False"), cond(conchv1.ResourceConditionPaused, "True")},
			want:       "Maintenance", why: "Paused says so",
		},
	} {
		t.Run(name, func(t *testing.T) {
			tc.res.Status.Conditions = tc.conditions
			got, why := phaseOf(tc.res)
			if got != tc.want || (tc.why != "" && why != tc.why) {
				t.Errorf("phaseOf() = %q, %q; want %q, %q", got, why, tc.want, tc.why)
			}
		})
	}
}

func TestCardOf(t *testing.T) {
	res := testutil.Resource("staging").Namespace("team").Label("pool", "web").
		Holders(conchv1.ResourceHolder{Reservation: "a", UID: "ua", Holder: "alice", Since: metav1.NewMicroTime(now.Add(-time.Hour)), Until: metav1.NewMicroTime(now.Add(30 * time.Minute))}).
		Queue(conchv1.QueueEntry{Reservation: "b", UID: "ub", Holder: "bob", Duration: metav1.Duration{Duration: time.Hour}},
			conchv1.QueueEntry{Reservation: "c", UID: "uc", Holder: "carol", Duration: metav1.Duration{Duration: 2 * time.Hour}},
			conchv1.QueueEntry{Reservation: "d", UID: "ud", Holder: "dave", Duration: metav1.Duration{Duration: time.Hour},
				StartTime: &metav1.Time{Time: now.Add(24 * time.Hour)}}).Obj()
	got := cardOf(res, map[types.UID]string{"ub": "deploying <b>PR</b>"}, now)
	want := resourceCard{
		Namespace: "team", Name: "staging", URL: "/resources/team/staging", Phase: phaseUnknown, PhaseClass: "phase-unknown",
		PhaseWhy: "Conch has not looked at it yet", Capacity: 1, Pool: []string{"pool=web"},
		Holders: []holderRow{{Holder: "alice", Reservation: "a", Since: now.Add(-time.Hour), Until: now.Add(30 * time.Minute)}},
		Queue: []queueRow{
			{Position: 1, Holder: "bob", Reservation: "b", Purpose: "deploying <b>PR</b>", Expected: now.Add(30 * time.Minute), Duration: time.Hour},
			{Position: 2, Holder: "carol", Reservation: "c", Expected: now.Add(90 * time.Minute), Duration: 2 * time.Hour},
			{Holder: "dave", Reservation: "d", Expected: now.Add(24 * time.Hour), Duration: time.Hour}, // a booking: no place in line
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cardOf() (-want +got):\n%s", diff)
	}
}

func TestBuildTimeline(t *testing.T) {
	card := resourceCard{
		Holders: []holderRow{{Holder: "alice", Since: now.Add(-2 * time.Hour), Until: now.Add(time.Hour)}},
		Queue: []queueRow{{Position: 1, Holder: "bob", Expected: now.Add(time.Hour), Duration: 48 * time.Hour},
			{Holder: "dave", Expected: now.Add(2 * time.Hour), Duration: time.Hour}},
	}
	ended := []history.Hold{
		{Holder: "too-old", Created: now.Add(-30 * time.Hour), Granted: now.Add(-29 * time.Hour), Ended: now.Add(-25 * time.Hour)},
		{Holder: "carol", Reason: "Released", Created: now.Add(-26 * time.Hour), Granted: now.Add(-12 * time.Hour), Ended: now.Add(-6 * time.Hour)},
	}
	tl := buildTimeline(card, ended, now)
	type row struct {
		Holder, Kind string
		Bars         []bar
	}
	var got []row
	for _, r := range tl.Rows {
		got = append(got, row{r.Holder, r.Kind, r.Bars})
	}
	want := []row{
		{"carol", "ended", []bar{
			{X: 0, W: 250, Class: "waited", Title: "waited 14h"}, // from before the window, clipped
			{X: 250, W: 125, Class: "held", Title: "held 6h"},
		}},
		{"alice", "holding", []bar{{X: 458, W: 62, Class: "holding", Title: "holding until Nov 23 13:00 UTC"}}},
		{"bob", "queued", []bar{{X: 520, W: 480, Class: "expected", Title: "expected from Nov 23 13:00 UTC"}}}, // runs past the window
		{"dave", "booked", []bar{{X: 541, W: 21, Class: "booked", Title: "booked from Nov 23 14:00 UTC"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("buildTimeline() rows (-want +got):\n%s", diff)
	}
	if tl.NowX != 500 || len(tl.Ticks) != 9 || tl.Ticks[4].Label != "now" {
		t.Errorf("axis: now at %d, ticks %+v", tl.NowX, tl.Ticks)
	}
}

func TestRecentHandovers(t *testing.T) {
	h := func(holder string, granted, ended time.Duration) history.Hold {
		g := time.Time{}
		if granted != 0 {
			g = now.Add(granted)
		}
		return history.Hold{UID: types.UID("u-" + holder), Holder: holder, Created: now.Add(-10 * time.Hour), Granted: g, Ended: now.Add(ended)}
	}
	holds := []history.Hold{
		h("alice", -5*time.Hour, -4*time.Hour),
		h("gave-up", 0, -3*time.Hour),
		h("bob", -4*time.Hour, -2*time.Hour),
	}
	got := recentHandovers(holds, []holderRow{{Holder: "carol", Since: now.Add(-2 * time.Hour)}}, 10)
	var pairs [][2]string
	for _, ho := range got {
		pairs = append(pairs, [2]string{ho.Holder, ho.Next})
	}
	if diff := cmp.Diff([][2]string{{"bob", "carol"}, {"alice", "bob"}}, pairs); diff != "" {
		t.Errorf("handovers (holder, next), newest first (-want +got):\n%s", diff)
	}
	if got := recentHandovers(holds, nil, 1); len(got) != 1 || got[0].Holder != "bob" || got[0].Next != "" {
		t.Errorf("the latest handover alone, nobody after: %+v", got)
	}
}

func TestContentionOf(t *testing.T) {
	days := []history.Day{
		{Date: now.AddDate(0, 0, -1), Held: 2 * time.Hour, Waited: 2 * time.Hour, LongestWait: time.Hour, Holds: 2},
		{Date: now, Held: time.Hour, LongestWait: 3 * time.Hour, Holds: 1},
	}
	c := contentionOf("ns", "staging", days)
	if c.Held != 3*time.Hour || c.Waited != 2*time.Hour || c.LongestWait != 3*time.Hour || c.Holds != 3 {
		t.Errorf("totals: %+v", c)
	}
	if c.Days[0].Date != now || c.Days[0].HeldW != 250 || c.Days[1].HeldW != 500 || c.Days[1].WaitedW != 500 {
		t.Errorf("days, newest first, scaled to the busiest: %+v", c.Days)
	}
}

func TestFormats(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12 * time.Second: "12s", 59*time.Minute + 59*time.Second: "59m", time.Hour: "1h", 80 * time.Minute: "1h 20m",
		51 * time.Hour: "2d 3h", 48 * time.Hour: "2d",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%s) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{10 * time.Second: "now", 23 * time.Minute: "in 23m", -5 * time.Minute: "5m ago"} {
		if got := fmtRelative(now.Add(d), now); got != want {
			t.Errorf("fmtRelative(now%+v) = %q, want %q", d, got, want)
		}
	}
	if got, want := sseEvent("fragment", "<p>a</p>\r\n<p>b</p>"), "event: fragment\ndata: <p>a</p>\ndata: <p>b</p>\n\n"; got != want {
		t.Errorf("sseEvent() = %q, want %q", got, want)
	}
}
