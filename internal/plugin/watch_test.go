package plugin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/conch-dev/conch/internal/plugin"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestWatchUntilFree: watch blocks while alice holds staging, saying so, creates no Reservation, and exits 0 the
// moment her hold is released.
func TestWatchUntilFree(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	alice := hold(t, ns, "staging", "alice")

	inv := conch(context.Background(), ns, "watch", "staging")
	eventually(t, inv.err.String).Should(MatchRegexp(`^staging: Full, held by alice until \d\d:\d\d:\d\d \(in [0-9hms]+\)\n$`))
	NewWithT(t).Consistently(inv.code).WithTimeout(300 * time.Millisecond).ShouldNot(Receive())
	if rs := reservations(t, ns); len(rs) != 1 {
		t.Errorf("watch made a Reservation: %v", rs)
	}

	if err := k8s.Patch(context.Background(), alice, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"released":true}}`))); err != nil {
		t.Fatal(err)
	}
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	if got := inv.out.String(); got != "staging is free\n" {
		t.Errorf("stdout %q", got)
	}
}

// TestWatchFreeAtOnce: a free Resource ends the watch at once.
func TestWatchFreeAtOnce(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	eventually(t, func() string {
		inv := conch(context.Background(), ns, "watch", "staging", "--timeout", "1s")
		inv.wait(t, 5*time.Second)
		return inv.out.String()
	}).Should(Equal("staging is free\n"))
}

// TestWatchTimesOut: a Resource still held when the timeout comes exits 1, after the timeout and not before.
func TestWatchTimesOut(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	hold(t, ns, "staging", "alice")

	start := time.Now()
	inv := conch(context.Background(), ns, "watch", "staging", "--timeout", "1s")
	if code := inv.wait(t, 10*time.Second); code != plugin.ExitFailure {
		t.Errorf("exit %d, want %d", code, plugin.ExitFailure)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("gave up after %s, before the timeout", took)
	}
	if !strings.Contains(inv.err.String(), "error: timed out after 1s waiting for staging to be free") {
		t.Errorf("stderr %q", inv.err.String())
	}
}

// TestWatchAPool: with --selector, the first member of the pool to free up ends the watch; a pool without members
// and a missing Resource are errors.
func TestWatchAPool(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("qa-1").Namespace(ns).Label("pool", "qa").Obj())
	createResource(t, testutil.Resource("qa-2").Namespace(ns).Label("pool", "qa").Obj())
	hold(t, ns, "qa-1", "alice")
	bob := hold(t, ns, "qa-2", "bob")

	inv := conch(context.Background(), ns, "watch", "--selector", "pool=qa")
	eventually(t, inv.err.String).Should(MatchRegexp(`qa-1: Full, held by alice until .*\nqa-2: Full, held by bob until .*\n$`))
	if err := k8s.Patch(context.Background(), bob, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"released":true}}`))); err != nil {
		t.Fatal(err)
	}
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	if got := inv.out.String(); got != "qa-2 is free\n" {
		t.Errorf("stdout %q", got)
	}

	for name, tc := range map[string]struct {
		args []string
		code int
		err  string
	}{
		"no member":          {args: []string{"watch", "-l", "pool=none"}, code: plugin.ExitFailure, err: "error: no Resource in namespace " + ns + " has the labels pool=none\n"},
		"no such Resource":   {args: []string{"watch", "prod"}, code: plugin.ExitFailure, err: "error: there is no Resource prod in namespace " + ns + "\n"},
		"both":               {args: []string{"watch", "qa-1", "-l", "pool=qa"}, code: plugin.ExitUsage, err: "error: name a Resource, or give --selector for any Resource of a pool, not both\n"},
		"a bad selector":     {args: []string{"watch", "-l", "pool in (qa"}, code: plugin.ExitUsage},
		"a negative timeout": {args: []string{"watch", "qa-1", "--timeout", "-1s"}, code: plugin.ExitUsage, err: "error: --timeout must not be negative, not -1s\n"},
	} {
		t.Run(name, func(t *testing.T) {
			inv := conch(context.Background(), ns, tc.args...)
			if code := inv.wait(t, 5*time.Second); code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, inv.err.String())
			}
			if tc.err != "" && inv.err.String() != tc.err {
				t.Errorf("stderr %q, want %q", inv.err.String(), tc.err)
			}
		})
	}
}
