package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// kubectl runs the kubectl that hack/envtest.sh built beside the API server, as an administrator, and returns
// its standard output.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	user, err := suite.AddUser(envtest.User{Name: "kubectl", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(suite.BinaryAssetsDirectory, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// table reads kubectl's table output into rows keyed by the first column (NAME), each a map from column header to
// cell. Cells start where their header starts (kubectl aligns them so), which keeps empty cells empty.
func table(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := lines[0]
	var names []string
	var starts []int
	for _, m := range regexp.MustCompile(`\S+`).FindAllStringIndex(header, -1) {
		names, starts = append(names, header[m[0]:m[1]]), append(starts, m[0])
	}
	rows := map[string]map[string]string{}
	for _, line := range lines[1:] {
		row := map[string]string{}
		for i, name := range names {
			end := len(line)
			if i+1 < len(starts) {
				end = min(starts[i+1], len(line))
			}
			if starts[i] < len(line) {
				row[name] = strings.TrimSpace(line[starts[i]:end])
			}
		}
		rows[row[names[0]]] = row
	}
	return rows
}

// wholeSecond is how kubectl shows a time of whole seconds.
var wholeSecond = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// ceilSecond rounds t up to the whole second.
func ceilSecond(t time.Time) time.Time {
	c := t.Truncate(time.Second)
	if c.Before(t) {
		c = c.Add(time.Second)
	}
	return c
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// TestKubectlGetTellsTheStory runs `kubectl get` and `kubectl describe` against the API server, as a person would:
// who holds a Resource until when (whole seconds), who is next and when, and why not me.
func TestKubectlGetTellsTheStory(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)

	// staging: alice holds it, bob waits. ci-box: a pipeline that stopped renewing. ci-only: bob may not hold it.
	// later: does not exist.
	ci := testutil.Reservation("ci").Namespace(ns).On("ci-box").Holder("ci:deploy").For(time.Hour).Obj()
	ci.Spec.HeartbeatTimeout = &metav1.Duration{Duration: 5 * time.Second}
	renewed := metav1.NewMicroTime(clk.Now()) // the manager's clock, stepped ahead of the API server's by other tests
	ci.Spec.RenewTime = &renewed
	create(t,
		testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Resource("ci-box").Namespace(ns).Obj(),
		testutil.Resource("ci-only").Namespace(ns).Allow("ci:*").Obj(),
		testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(2*time.Hour).Because("deploying PR #345").Obj(),
		ci,
	)
	eventually(t, state(t, ns, "alice")).Should(Equal(conchv1.StateGranted))
	create(t,
		testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj(),
		testutil.Reservation("bob-ci").Namespace(ns).On("ci-only").Holder("bob").Obj(),
		testutil.Reservation("early").Namespace(ns).On("later").Holder("carol").Obj(),
	)
	eventually(t, state(t, ns, "ci")).Should(Equal(conchv1.StateGranted))
	// ci's heartbeat is missed. The clock is not stepped: it is the whole package's, and a step would put it
	// ahead of the API server's for the tests that follow (whose arrival order within a second relies on it).
	NewWithT(t).Eventually(state(t, ns, "ci")).WithTimeout(15 * time.Second).WithPolling(50 * time.Millisecond).
		Should(Equal(conchv1.StateExpired))
	eventually(t, func(g Gomega) {
		g.Expect(reservation(t, ns, "bob").Status.EstimatedGrantTime).NotTo(BeNil())
		g.Expect(state(t, ns, "bob-ci")()).To(Equal(conchv1.StateRejected))
		g.Expect(state(t, ns, "early")()).To(Equal(conchv1.StatePending))
	}).Should(Succeed())

	// Reservations: the default view answers who holds until when, who waits for when, and why not.
	rows := table(t, kubectl(t, "get", "reservations", "-n", ns))
	alice, bob, ciRow := reservation(t, ns, "alice"), reservation(t, ns, "bob"), reservation(t, ns, "ci")

	g.Expect(rows["alice"]).To(HaveKeyWithValue("STATE", "Granted"))
	g.Expect(rows["alice"]).To(HaveKeyWithValue("REASON", "Granted"))
	g.Expect(rows["alice"]["UNTIL"]).To(MatchRegexp(wholeSecond.String()), "UNTIL in whole seconds")
	g.Expect(rows["alice"]).To(HaveKeyWithValue("UNTIL", rfc3339(ceilSecond(alice.Status.ExpiresAt.Time))),
		"the planned end, rounded up: a hold never reads as ending before it does")

	g.Expect(rows["bob"]).To(HaveKeyWithValue("STATE", "Queued"))
	g.Expect(rows["bob"]).To(HaveKeyWithValue("POSITION", "1"))
	g.Expect(rows["bob"]["EXPECTED"]).To(MatchRegexp(wholeSecond.String()))
	g.Expect(rows["bob"]).To(HaveKeyWithValue("EXPECTED", rfc3339(bob.Status.EstimatedGrantTime.Time)))
	g.Expect(rows["bob"]).To(HaveKeyWithValue("UNTIL", ""), "no end while it waits")

	g.Expect(rows["ci"]).To(HaveKeyWithValue("STATE", "Expired"))
	g.Expect(rows["ci"]).To(HaveKeyWithValue("REASON", conchv1.ReasonHeartbeatMissed))
	g.Expect(rows["ci"]).To(HaveKeyWithValue("UNTIL", rfc3339(ciRow.Status.EndedAt.Time)), "when it ended, as endedAt reads")
	g.Expect(rows["ci"]["UNTIL"]).NotTo(Equal(rfc3339(ceilSecond(ciRow.Status.ExpiresAt.Time))), "not the planned end")

	g.Expect(rows["bob-ci"]).To(HaveKeyWithValue("REASON", conchv1.ReasonHolderNotAllowed))
	g.Expect(rows["early"]).To(HaveKeyWithValue("REASON", conchv1.ReasonResourceMissing))

	wide := table(t, kubectl(t, "get", "reservations", "-n", ns, "-o", "wide"))
	g.Expect(wide["alice"]).To(HaveKeyWithValue("PURPOSE", "deploying PR #345"), "the holder's words, under a name that does not read as why")
	g.Expect(wide["alice"]).To(HaveKeyWithValue("REASON", "Granted"))
	g.Expect(wide["alice"]).To(HaveKeyWithValue("TICKET", "1"))

	// Resources: capacity without -o wide, and who is next.
	res := table(t, kubectl(t, "get", "resources", "-n", ns))
	g.Expect(res["staging"]).To(HaveKeyWithValue("CAPACITY", "1"))
	g.Expect(res["staging"]).To(HaveKeyWithValue("HOLDERS", "alice"))
	g.Expect(res["staging"]).To(HaveKeyWithValue("UNTIL", rows["alice"]["UNTIL"]))
	g.Expect(res["staging"]).To(HaveKeyWithValue("NEXT", "bob"))
	g.Expect(res["ci-box"]).To(HaveKeyWithValue("NEXT", ""))

	// describe: four conditions, four different sentences.
	for _, name := range []string{"alice", "bob", "ci", "bob-ci", "early"} {
		messages := describedConditions(t, kubectl(t, "describe", "reservation", "-n", ns, name))
		for _, typ := range []string{conchv1.ConditionReady, conchv1.ConditionGranted, conchv1.ConditionReconciling, conchv1.ConditionStalled} {
			g.Expect(messages).To(HaveKey(typ), "%s of %s", typ, name)
		}
		seen := map[string]string{}
		for typ, m := range messages {
			g.Expect(m).NotTo(BeEmpty(), "%s of %s has a message", typ, name)
			g.Expect(seen).NotTo(HaveKey(m), "%s of %s repeats the message of %s", typ, name, seen[m])
			seen[m] = typ
		}
	}
	described := describedConditions(t, kubectl(t, "describe", "reservation", "-n", ns, "ci"))
	g.Expect(described[conchv1.ConditionStalled]).To(ContainSubstring("renew spec.renewTime more often"), "what to do")
	described = describedConditions(t, kubectl(t, "describe", "reservation", "-n", ns, "bob"))
	g.Expect(described[conchv1.ConditionReconciling]).To(Equal("Number 1 in line for staging, expected around " + rows["bob"]["EXPECTED"]))
	g.Expect(described[conchv1.ConditionReady]).To(ContainSubstring("held by alice"))
}

// describedConditions reads the conditions of `kubectl describe` output: message by type. The describer prints
// each condition's fields in alphabetical order (Last Transition Time, Message, Observed Generation, Reason, Status,
// Type), one per line.
func describedConditions(t *testing.T, out string) map[string]string {
	t.Helper()
	field := regexp.MustCompile(`^\s+(Last Transition Time|Message|Type):\s+(.*)$`)
	messages := map[string]string{}
	in, message := false, ""
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.TrimSpace(line) == "Conditions:":
			in = true
			continue
		case in && !strings.HasPrefix(line, "    "):
			in = false
		}
		if !in {
			continue
		}
		if m := field.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "Last Transition Time":
				message = ""
			case "Message":
				message = m[2]
			case "Type":
				messages[m[2]] = message
			}
		}
	}
	if len(messages) == 0 {
		t.Fatalf("no conditions in:\n%s", out)
	}
	return messages
}
