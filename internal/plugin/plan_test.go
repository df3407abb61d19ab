package plugin_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/plugin"
	"github.com/conch-dev/conch/internal/testutil"
)

// These tests cover what `kubectl conch` writes for bookings and priorities and what calendar shows; not when the
// queue engine grants a booking.

func TestOnAtBooksInTheZoneOfTz(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	kolkata := testutil.Zone(t, "Asia/Kolkata")

	today := time.Now().In(kolkata)
	inv := conch(context.Background(), ns, "on", "staging", "--at", "tomorrow 9:00", "--tz", "Asia/Kolkata", "--for", "2h",
		"--no-preempt", "--reason", "customer demo", "--holder", "alice")
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	r := only(t, ns, "alice")
	start := time.Date(today.Year(), today.Month(), today.Day()+1, 9, 0, 0, 0, kolkata)
	if r.Spec.StartTime == nil || !r.Spec.StartTime.Time.Equal(start) {
		t.Errorf("spec.startTime %v, want %v (09:00 in Kolkata is 03:30 UTC)", r.Spec.StartTime, start.UTC())
	}
	if r.Spec.Duration == nil || r.Spec.Duration.Duration != 2*time.Hour || r.Spec.Preemptible != conchv1.PreemptibleNever ||
		r.Spec.Priority != nil || r.Spec.Reason != "customer demo" {
		t.Errorf("spec %+v", r.Spec)
	}
	want := fmt.Sprintf("Booked: alice holds staging from %s 09:00 to 11:00 IST (in ", start.Format("Mon Jan 2"))
	if !strings.Contains(inv.err.String(), want) {
		t.Errorf("stderr %q does not contain %q", inv.err.String(), want)
	}
}

func TestOnAtRFC3339WithUntilAndPriority(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	berlin := testutil.Zone(t, "Europe/Berlin")

	today := time.Now().In(berlin)
	start := time.Date(today.Year(), today.Month(), today.Day()+2, 9, 30, 0, 0, berlin)
	inv := conch(context.Background(), ns, "on", "staging", "--at", start.Format(time.RFC3339), "--tz", "Europe/Berlin",
		"--for", "until 12:00", "--priority", "50", "--preemptible", "never", "--reason", "hotfix for INC-42", "--holder", "bob")
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	r := only(t, ns, "bob")
	if r.Spec.StartTime == nil || !r.Spec.StartTime.Time.Equal(start) {
		t.Errorf("spec.startTime %v, want %v", r.Spec.StartTime, start)
	}
	// "until 12:00" counts from the start: 2h30m, not from now.
	if r.Spec.Duration == nil || r.Spec.Duration.Duration != 150*time.Minute {
		t.Errorf("spec.duration %v, want 2h30m", r.Spec.Duration)
	}
	if r.Spec.Priority == nil || *r.Spec.Priority != 50 || r.Spec.Preemptible != conchv1.PreemptibleNever {
		t.Errorf("spec.priority %v, spec.preemptible %q", r.Spec.Priority, r.Spec.Preemptible)
	}
}

func TestOnWalkInWithPriority(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	inv := conch(context.Background(), ns, "on", "staging", "--priority", "20", "--reason", "release train", "--holder", "carol")
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	r := only(t, ns, "carol")
	if r.Spec.Priority == nil || *r.Spec.Priority != 20 || r.Spec.StartTime != nil || r.Spec.Preemptible != "" {
		t.Errorf("spec %+v", r.Spec)
	}
	if strings.Contains(inv.err.String(), "Booked") {
		t.Errorf("a walk-in is said to be booked: %q", inv.err.String())
	}
}

// TestPlanningUsageErrors checks that each mistake exits 2 with a message naming the flag, and creates nothing.
func TestPlanningUsageErrors(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := map[string]struct {
		args    []string
		wantErr string
	}{
		"priority without a reason": {args: []string{"--priority", "5"}, wantErr: "--priority 5 needs --reason: say why it goes ahead of the others"},
		"priority too high":         {args: []string{"--priority", "101", "--reason", "x"}, wantErr: "--priority 101: a priority is 0 to 100"},
		"at in the past (RFC 3339)": {args: []string{"--at", past}, wantErr: "--at: " + past + " is in the past; give a time ahead"},
		"at today at midnight":      {args: []string{"--at", "today 0:00", "--tz", "UTC"}, wantErr: "is in the past (it is"},
		"at a time clocks skip": {
			args:    []string{"--at", "2027-03-14 2:30", "--tz", "America/Los_Angeles"},
			wantErr: "--at: 02:30 does not exist in America/Los_Angeles on Sun 14 Mar 2027: clocks go forward from 02:00 to 03:00 that night",
		},
		"at nonsense":         {args: []string{"--at", "soonish"}, wantErr: `--at: "soonish" is not a time of day`},
		"at too far":          {args: []string{"--at", "2099-01-01T00:00:00Z"}, wantErr: "--at: 2099-01-01T00:00:00Z is too far ahead"},
		"unknown zone":        {args: []string{"--at", "14:00", "--tz", "Mars/Olympus"}, wantErr: `--tz "Mars/Olympus" is not a time zone`},
		"preemptible typo":    {args: []string{"--preemptible", "Sometimes"}, wantErr: `--preemptible "Sometimes": write Allowed or Never`},
		"contradicting flags": {args: []string{"--preemptible", "Allowed", "--no-preempt"}, wantErr: "--no-preempt and --preemptible=Allowed say opposite things"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			inv := conch(context.Background(), ns, append([]string{"on", "staging", "--holder", "mallory"}, tc.args...)...)
			if code := inv.wait(t, 10*time.Second); code != plugin.ExitUsage {
				t.Errorf("exit %d, want %d; stderr %q", code, plugin.ExitUsage, inv.err.String())
			}
			if !strings.Contains(inv.err.String(), tc.wantErr) {
				t.Errorf("stderr %q does not contain %q", inv.err.String(), tc.wantErr)
			}
		})
	}
	if rs := reservations(t, ns); len(rs) != 0 {
		t.Errorf("usage errors created Reservations: %v", rs)
	}
}

func TestCalendarTable(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Default(time.Hour).Obj())
	createResource(t, testutil.Resource("prod").Namespace(ns).Obj())
	la := testutil.Zone(t, "America/Los_Angeles")

	// alice holds staging, ci waits with an estimate, bob books tomorrow 09:00 Los Angeles time.
	hold(t, ns, "staging", "alice")
	ci := testutil.Reservation("ci-deploy").Namespace(ns).On("staging").Holder("ci:deploy").For(30 * time.Minute).UID("").Obj()
	if err := k8s.Create(context.Background(), ci); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() *metav1.Time {
		var r conchv1.Reservation
		_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(ci), &r)
		return r.Status.EstimatedGrantTime
	}).ShouldNot(BeNil())
	today := time.Now().In(la)
	start := time.Date(today.Year(), today.Month(), today.Day()+1, 9, 0, 0, 0, la)
	book := conch(context.Background(), ns, "on", "staging", "--at", "tomorrow 9am", "--tz", "America/Los_Angeles", "--for", "until 11:00", "--holder", "bob")
	if code := book.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, book.err.String())
	}
	booking := only(t, ns, "bob")

	inv := conch(context.Background(), ns, "calendar", "staging", "--tz", "America/Los_Angeles")
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	out := inv.out.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^DAY\s+FROM\s+TO\s+HOLDER\s+KIND\s+RESERVATION$`).MatchString(lines[0]) {
		t.Fatalf("want a header and three rows, got:\n%s", out)
	}
	day := `[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}`
	clock := `(` + day + ` )?\d\d:\d\d`
	for i, want := range []string{
		`^` + day + `\s+` + clock + `\s+` + clock + `\s+alice\s+held\s+alice$`,
		`^` + day + `\s+` + clock + `\s+` + clock + `\s+ci:deploy\s+queued\s+ci-deploy$`,
		`^` + start.Format("Mon 2 Jan") + `\s+09:00\s+11:00\s+bob\s+booked\s+` + booking.Name + `$`,
	} {
		if !regexp.MustCompile(want).MatchString(lines[i+1]) {
			t.Errorf("row %d %q does not match %s", i+1, lines[i+1], want)
		}
	}

	// Every Resource: a RESOURCE column; prod has nothing planned and no row.
	all := conch(context.Background(), ns, "calendar", "--days", "2")
	if code := all.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, all.err.String())
	}
	if got := all.out.String(); !strings.HasPrefix(got, "RESOURCE") || strings.Count(got, "\nstaging ") != 3 || strings.Contains(got, "prod") {
		t.Errorf("calendar of every Resource:\n%s", got)
	}

	// Nothing planned: said on stderr, exit 0; a missing Resource and bad flags are errors.
	empty := conch(context.Background(), ns, "calendar", "prod")
	if code := empty.wait(t, 10*time.Second); code != 0 || empty.out.String() != "" || !strings.Contains(empty.err.String(), "Nothing is held, queued or booked in the next 7 days") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, empty.out.String(), empty.err.String())
	}
	missing := conch(context.Background(), ns, "calendar", "stagin")
	if code := missing.wait(t, 10*time.Second); code != plugin.ExitFailure || !strings.Contains(missing.err.String(), "there is no Resource stagin") {
		t.Errorf("exit %d, stderr %q", code, missing.err.String())
	}
	bad := conch(context.Background(), ns, "calendar", "staging", "--days", "99")
	if code := bad.wait(t, 10*time.Second); code != plugin.ExitUsage {
		t.Errorf("--days 99: exit %d, stderr %q", code, bad.err.String())
	}
}

// TestHelpListsPlanning checks that the help people read names the new commands and flags.
func TestHelpListsPlanning(t *testing.T) {
	t.Parallel()
	for args, wants := range map[string][]string{
		"--help":          {"calendar", `--at "tomorrow 9:00"`, "--priority 10 --reason"},
		"on --help":       {"--at string", "--tz string", "--priority int32", "--preemptible string", "--no-preempt", `--at "tomorrow 9:00"`},
		"run --help":      {"--at string", "--priority int32"},
		"calendar --help": {"--days int", "--tz string", "--selector", "held", "queued", "booked"},
	} {
		inv := conch(context.Background(), "default", strings.Fields(args)...)
		if code := inv.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("%s: exit %d: %s", args, code, inv.err.String())
		}
		for _, want := range wants {
			if !strings.Contains(inv.out.String(), want) {
				t.Errorf("kubectl conch %s does not mention %q:\n%s", args, want, inv.out.String())
			}
		}
	}
}
