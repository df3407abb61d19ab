package plugin_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/plugin"
	"github.com/conch-dev/conch/internal/testutil"
)

func TestOnWaitGranted(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())

	inv := conch(context.Background(), ns, "on", "staging", "--for", "2h", "--reason", "deploying PR #345", "--holder", "alice@example.com", "--wait")
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	r := only(t, ns, "alice@example.com")
	if r.Status.State != conchv1.StateGranted || r.Spec.Duration.Duration != 2*time.Hour || r.Spec.Reason != "deploying PR #345" || r.Spec.ResourceName != "staging" {
		t.Errorf("Reservation %+v %+v", r.Spec, r.Status)
	}
	if want := "reservation.conch.dev/" + r.Name + " created\n"; inv.out.String() != want {
		t.Errorf("stdout %q, want %q", inv.out.String(), want)
	}
	if !strings.Contains(inv.err.String(), "Granted: alice@example.com holds staging until") {
		t.Errorf("stderr %q does not say it was granted", inv.err.String())
	}
}

func TestOnWithParams(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())

	inv := conch(context.Background(), ns, "on", "staging", "--param", "revision=pr-345", "--param", "env=qa", "--holder", "alice@example.com")
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	r := only(t, ns, "alice@example.com")
	want := []conchv1.Parameter{{Name: "revision", Value: "pr-345"}, {Name: "env", Value: "qa"}}
	if diff := cmp.Diff(want, r.Spec.Parameters); diff != "" {
		t.Errorf("spec.parameters (-want +got):\n%s", diff)
	}
}

func TestOnWithoutWaitReturnsAtOnce(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	hold(t, ns, "staging", "alice")

	// Queued behind alice, but without --wait it returns at once. The holder is $USER@<hostname>.
	inv := conch(context.Background(), ns, "on", "staging", "--for", "until 23:59")
	if code := inv.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	rs := reservations(t, ns)
	var mine []conchv1.Reservation
	for holder, list := range rs {
		if strings.HasSuffix(holder, "@test") {
			mine = append(mine, list...)
		}
	}
	if len(mine) != 1 || mine[0].Spec.Duration == nil || mine[0].Spec.Duration.Duration <= 0 {
		t.Fatalf("want one Reservation of <user>@test with a duration, got %v", rs)
	}
}

func TestOnQueuedThenGranted(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Default(time.Hour).Obj())
	alice := hold(t, ns, "staging", "alice")

	inv := conch(context.Background(), ns, "on", "staging", "--holder", "bob", "--wait")
	eventually(t, inv.err.String).Should(MatchRegexp(`Queued for staging: number 1 in line, expected around \d\d:\d\d:\d\d \(in (59m\d+s|1h0m\d+s)\)`))
	if len(inv.code) != 0 {
		t.Fatal("exited while queued")
	}

	if err := k8s.Patch(context.Background(), alice, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"released":true}}`))); err != nil {
		t.Fatal(err)
	}
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	if !strings.Contains(inv.err.String(), "Granted: bob holds staging") {
		t.Errorf("stderr %q", inv.err.String())
	}
	if r := only(t, ns, "bob"); r.Status.State != conchv1.StateGranted {
		t.Errorf("bob's Reservation is %s", r.Status.State)
	}
}

func TestOnTimeoutCancels(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	hold(t, ns, "staging", "alice")

	start := time.Now()
	inv := conch(context.Background(), ns, "on", "staging", "--holder", "bob", "--wait", "--timeout", "2s")
	code := inv.wait(t, 10*time.Second)
	if code != plugin.ExitFailure {
		t.Errorf("exit %d, want %d", code, plugin.ExitFailure)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("gave up after %s, before the timeout", took)
	}
	r := only(t, ns, "bob")
	if !regexp.MustCompile(`error: timed out after 2s waiting for the turn; cancelled reservation ` + ns + `/` + r.Name).MatchString(inv.err.String()) {
		t.Errorf("stderr %q", inv.err.String())
	}
	if !r.Spec.Released {
		t.Errorf("bob's Reservation was not cancelled")
	}
	eventually(t, stateOf(ns, r.Name)).Should(Equal(conchv1.StateReleased))
}

func TestOnInterruptCancels(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	hold(t, ns, "staging", "alice")

	ctx, interrupt := context.WithCancel(context.Background())
	inv := conch(ctx, ns, "on", "staging", "--holder", "bob", "--wait")
	eventually(t, inv.err.String).Should(ContainSubstring("Queued for staging"))
	interrupt() // Ctrl-C
	if code := inv.wait(t, 10*time.Second); code != plugin.ExitInterrupted {
		t.Errorf("exit %d, want %d", code, plugin.ExitInterrupted)
	}
	if r := only(t, ns, "bob"); !r.Spec.Released {
		t.Errorf("bob's Reservation was not cancelled; stderr %q", inv.err.String())
	}
	if !strings.Contains(inv.err.String(), "interrupted while waiting; cancelled reservation") {
		t.Errorf("stderr %q", inv.err.String())
	}
}

func TestOnRejected(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("ci-only").Namespace(ns).Allow("ci:*").Obj())

	inv := conch(context.Background(), ns, "on", "ci-only", "--holder", "bob", "--wait")
	if code := inv.wait(t, 10*time.Second); code != plugin.ExitFailure {
		t.Errorf("exit %d, want %d", code, plugin.ExitFailure)
	}
	if !strings.Contains(inv.err.String(), "was not granted: Rejected: bob may not hold ci-only") {
		t.Errorf("stderr %q", inv.err.String())
	}
}

func TestOnPool(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("qa-1").Namespace(ns).Label("pool", "qa").Obj())

	inv := conch(context.Background(), ns, "on", "--selector", "pool=qa", "--holder", "ci:e2e", "--wait")
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	if r := only(t, ns, "ci:e2e"); r.Status.ResourceName != "qa-1" || r.Spec.Selector.MatchLabels["pool"] != "qa" {
		t.Errorf("Reservation %+v %+v", r.Spec, r.Status)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"resource and selector":  {"on", "staging", "--selector", "pool=qa"},
		"neither":                {"on"},
		"bad duration":           {"on", "staging", "--for", "soon"},
		"run without a command":  {"run", "staging"},
		"run with two resources": {"run", "a", "b", "--", "true"},
		"extend without amount":  {"extend", "staging"},
		"unknown command":        {"grab", "staging"},
		"param without value":    {"on", "staging", "--param", "revision"},
		"run with a bad param":   {"run", "staging", "--param", "my-rev=1", "--", "true"},
	} {
		t.Run(name, func(t *testing.T) {
			inv := conch(context.Background(), "default", args...)
			if code := inv.wait(t, 5*time.Second); code != plugin.ExitUsage {
				t.Errorf("exit %d, want %d; stderr %q", code, plugin.ExitUsage, inv.err.String())
			}
			if !strings.HasPrefix(inv.err.String(), "error: ") {
				t.Errorf("stderr %q", inv.err.String())
			}
		})
	}
}

func TestRunPropagatesExitCodeAndReleases(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())

	inv := conch(context.Background(), ns, "run", "staging", "--holder", "ci:deploy", "--", "sh", "-c",
		`echo "deploying to $CONCH_RESOURCE as $CONCH_HOLDER ($CONCH_RESERVATION)"; exit 3`)
	if code := inv.wait(t, 10*time.Second); code != 3 {
		t.Fatalf("exit %d, want 3; stderr %q", code, inv.err.String())
	}
	r := only(t, ns, "ci:deploy")
	if want := "deploying to staging as ci:deploy (" + r.Name + ")\n"; inv.out.String() != want {
		t.Errorf("the command printed %q, want %q", inv.out.String(), want)
	}
	if !r.Spec.Released || r.Spec.HeartbeatTimeout == nil || r.Spec.HeartbeatTimeout.Duration != plugin.DefaultHeartbeatTimeout {
		t.Errorf("Reservation %+v", r.Spec)
	}
	eventually(t, stateOf(ns, r.Name)).Should(Equal(conchv1.StateReleased))
	if strings.Contains(inv.err.String(), "error:") {
		t.Errorf("run added an error of its own to the command's failure: %q", inv.err.String())
	}
}

func TestRunWaitsForItsTurn(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	alice := hold(t, ns, "staging", "alice")

	inv := conch(context.Background(), ns, "run", "staging", "--holder", "ci:deploy", "--", "echo", "ran")
	eventually(t, inv.err.String).Should(ContainSubstring("Queued for staging: number 1 in line"))
	if inv.out.String() != "" {
		t.Fatal("the command ran before the turn")
	}
	if err := k8s.Patch(context.Background(), alice, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"released":true}}`))); err != nil {
		t.Fatal(err)
	}
	if code := inv.wait(t, 10*time.Second); code != 0 || inv.out.String() != "ran\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, inv.out.String(), inv.err.String())
	}
}

func TestRunHeartbeats(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())

	// A 6 s heartbeat timeout renews every 2 s; the command runs 5 s.
	inv := conch(context.Background(), ns, "run", "staging", "--holder", "ci:slow", "--heartbeat-timeout", "6s", "--", "sleep", "5")
	renewals := map[time.Time]bool{}
	deadline := time.Now().Add(15 * time.Second)
	for len(inv.code) == 0 && time.Now().Before(deadline) {
		if rs := reservations(t, ns)["ci:slow"]; len(rs) == 1 && rs[0].Spec.RenewTime != nil {
			renewals[rs[0].Spec.RenewTime.Time] = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := inv.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	// The renewTime set at creation, and at least two renewals while the command ran.
	if len(renewals) < 3 {
		t.Errorf("saw %d renewTimes, want at least 3", len(renewals))
	}
	// Released by run when the command exited (spec), and so never expired for a missed heartbeat (status).
	r := only(t, ns, "ci:slow")
	if !r.Spec.Released {
		t.Errorf("run did not release the Reservation when the command exited")
	}
	eventually(t, stateOf(ns, r.Name)).Should(Equal(conchv1.StateReleased), "the heartbeats kept it until the release")
}

func TestRunLosesHoldLoudly(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())

	inv := conch(context.Background(), ns, "run", "staging", "--holder", "ci:long", "--", "sleep", "60")
	eventually(t, inv.err.String).Should(ContainSubstring("Granted: ci:long holds staging"))
	// Someone else releases it (an admin, or its duration ran out) while the command runs.
	r := only(t, ns, "ci:long")
	if err := k8s.Patch(context.Background(), &r, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"released":true}}`))); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code := inv.wait(t, 10*time.Second); code != plugin.ExitFailure {
		t.Errorf("exit %d, want %d", code, plugin.ExitFailure)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s to stop the command", took)
	}
	if !strings.Contains(inv.err.String(), "*** kubectl conch: LOST THE HOLD on staging while sleep runs") {
		t.Errorf("stderr %q", inv.err.String())
	}
}

func TestOnHeartbeatHoldsUntilStopped(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())

	ctx, stop := context.WithCancel(context.Background())
	inv := conch(ctx, ns, "on", "staging", "--holder", "ci:bg", "--heartbeat", "--heartbeat-timeout", "5s")
	eventually(t, inv.err.String).Should(ContainSubstring("Holding staging while this command runs"))
	// Longer than the heartbeat timeout: only the renewals keep it.
	time.Sleep(7 * time.Second)
	r := only(t, ns, "ci:bg")
	if r.Status.State != conchv1.StateGranted {
		t.Fatalf("the Reservation is %s after 7 s: heartbeats did not keep it", r.Status.State)
	}
	stop()
	if code := inv.wait(t, 5*time.Second); code != 0 {
		t.Errorf("exit %d: %s", code, inv.err.String())
	}
	eventually(t, stateOf(ns, r.Name)).Should(Equal(conchv1.StateReleased))
}

func TestOff(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	alice := hold(t, ns, "staging", "alice")
	for _, holder := range []string{"bob", "alice"} { // alice queues a second time behind bob
		if code := conch(context.Background(), ns, "on", "staging", "--holder", holder).wait(t, 5*time.Second); code != 0 {
			t.Fatal(code)
		}
	}

	inv := conch(context.Background(), ns, "off", "staging", "--holder", "alice")
	if code := inv.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	if got := strings.Count(inv.out.String(), "alice "); got != 2 {
		t.Errorf("stdout %q: want both of alice's Reservations", inv.out.String())
	}
	for _, r := range reservations(t, ns)["alice"] {
		if !r.Spec.Released {
			t.Errorf("alice's %s was not released", r.Name)
		}
	}
	eventually(t, stateOf(ns, alice.Name)).Should(Equal(conchv1.StateReleased))
	bob := only(t, ns, "bob")
	eventually(t, stateOf(ns, bob.Name)).Should(Equal(conchv1.StateGranted))

	// Nothing left to release: an error, unless told to ignore it.
	if code := conch(context.Background(), ns, "off", "staging", "--holder", "alice").wait(t, 5*time.Second); code != plugin.ExitFailure {
		t.Errorf("off with nothing to release: exit %d", code)
	}
	if code := conch(context.Background(), ns, "off", "staging", "--holder", "alice", "--ignore-not-found").wait(t, 5*time.Second); code != 0 {
		t.Errorf("off --ignore-not-found: exit %d", code)
	}
}

func TestExtend(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Max(3*time.Hour).Obj())
	if code := conch(context.Background(), ns, "on", "staging", "--holder", "alice", "--for", "1h", "--wait").wait(t, 10*time.Second); code != 0 {
		t.Fatal(code)
	}

	inv := conch(context.Background(), ns, "extend", "staging", "90 minutes", "--holder", "alice")
	if code := inv.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	r := only(t, ns, "alice")
	if r.Spec.Duration.Duration != 150*time.Minute {
		t.Errorf("spec.duration %s, want 2h30m", r.Spec.Duration.Duration)
	}
	eventually(t, func() time.Time {
		_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(&r), &r)
		if r.Status.ExpiresAt == nil {
			return time.Time{}
		}
		return r.Status.ExpiresAt.Time
	}).Should(BeTemporally("==", r.Status.GrantedAt.Add(150*time.Minute)))
	if !strings.Contains(inv.out.String(), "holds staging for 2h30m0s, until") {
		t.Errorf("stdout %q", inv.out.String())
	}

	// Past the Resource's maxDuration: extended, with a warning that 3h is all it gets.
	inv = conch(context.Background(), ns, "extend", "staging", "1h", "--holder", "alice")
	if code := inv.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	if !strings.Contains(inv.err.String(), "warning: staging allows holds of at most 3h0m0s") {
		t.Errorf("stderr %q", inv.err.String())
	}
}

func TestListAndWho(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	createResource(t, testutil.Resource("qa").Namespace(ns).Paused().Obj())
	hold(t, ns, "staging", "alice")
	if code := conch(context.Background(), ns, "on", "staging", "--holder", "bob", "--reason", "hotfix").wait(t, 5*time.Second); code != 0 {
		t.Fatal(code)
	}
	eventually(t, func() int32 {
		var res conchv1.Resource
		_ = k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "staging"}, &res)
		return res.Status.Waiting
	}).Should(Equal(int32(1)))

	inv := conch(context.Background(), ns, "list")
	if code := inv.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	lines := strings.Split(strings.TrimSpace(inv.out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "RESOURCE") ||
		!regexp.MustCompile(`^qa\s+Paused\s+-\s+-\s+0$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^staging\s+Full\s+alice\s+.*\s1$`).MatchString(lines[2]) {
		t.Errorf("list:\n%s", inv.out.String())
	}

	inv = conch(context.Background(), ns, "who", "staging")
	if code := inv.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	for _, want := range []string{"staging: Full, 1 of 1 held, 1 waiting", "alice", "1  bob", "hotfix"} {
		if !strings.Contains(inv.out.String(), want) {
			t.Errorf("who lacks %q:\n%s", want, inv.out.String())
		}
	}
	if code := conch(context.Background(), ns, "who", "nothing").wait(t, 5*time.Second); code != plugin.ExitFailure {
		t.Errorf("who of a missing Resource: exit %d", code)
	}
}

func TestOnHeldByAPodEndsWithIt(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	p := testutil.Pod(ns, "step-7")
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	// In the Pod, the downward API names it: --held-by pod.
	env := map[string]string{plugin.EnvPodName: "step-7", plugin.EnvPodUID: string(p.UID)}
	inv := conchWithEnv(context.Background(), ns, env, "on", "staging", "--held-by", "pod", "--holder", "ci:step-7", "--wait")
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	r := only(t, ns, "ci:step-7")
	if h := r.Spec.HeldBy; h.Kind != "Pod" || h.Name != "step-7" || h.UID != string(p.UID) {
		t.Fatalf("spec.heldBy %+v", r.Spec.HeldBy)
	}
	p.Status.Phase = corev1.PodFailed // the step crashed
	if err := k8s.Status().Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	NewWithT(t).Eventually(func() conchv1.ReservationState { return only(t, ns, "ci:step-7").Status.State }).
		WithTimeout(10 * time.Second).Should(Equal(conchv1.StateReleased))
}

func TestHeldByFlag(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	createResource(t, testutil.Resource("staging").Namespace(ns).Obj())
	// ci-bot may not read Jobs: the Reservation is made without the UID, and the user is told.
	inv := conch(context.Background(), ns, "on", "staging", "--held-by", "job/deploy-42", "--holder", "ci:deploy#42")
	if code := inv.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, inv.err.String())
	}
	if h := only(t, ns, "ci:deploy#42").Spec.HeldBy; h.APIVersion != "batch/v1" || h.Kind != "Job" || h.Name != "deploy-42" || h.UID != "" {
		t.Errorf("spec.heldBy %+v", h)
	}
	if !strings.Contains(inv.err.String(), "cannot read Job deploy-42") {
		t.Errorf("stderr %q does not say the Job could not be checked", inv.err.String())
	}
	for _, bad := range []string{"pod", "job", "gadget/x", "job/", "Build.v1/x"} {
		inv := conch(context.Background(), ns, "on", "staging", "--held-by", bad)
		if code := inv.wait(t, 10*time.Second); code != plugin.ExitUsage {
			t.Errorf("--held-by %q: exit %d, want %d (usage); %s", bad, code, plugin.ExitUsage, inv.err.String())
		}
	}
}
