package rbac

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/slack-go/slack"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/slackbot"
	"github.com/conch-dev/conch/internal/testenv"
	"github.com/conch-dev/conch/internal/testutil"
	"github.com/conch-dev/conch/test/fakeslack"
)

// generatedRole is the ClusterRole `make manifests` generates into config/rbac/role.yaml.
const generatedRole = "ClusterRole conch-manager"

// listFallback is why list is granted though this test sees no LIST: client-go's informers (the manager's cache,
// the Slack Secret's watch) read the initial state with a streaming watch (WatchListClient, on by default since
// client-go 1.35) from an API server that serves one, as this one does, and LIST from one that does not (older,
// the feature off, or after a failed watch-list).
const listFallback = "informers LIST when the API server does not stream the initial state in a watch"

// rare lists what a role bound to the manager grants for a path this test does not take, each with the reason it
// is granted anyway. An entry no role grants any more fails the test, so that the list only holds what it says.
var rare = map[call]string{
	{verb: "list", group: "conch.dev", resource: "reservations"}: listFallback,
	{verb: "list", group: "conch.dev", resource: "resources"}:    listFallback,
	{verb: "list", group: "conch.dev", resource: "standups"}:     listFallback,
	{verb: "list", group: "conch.dev", resource: "standupruns"}:  listFallback,
	{verb: "delete", group: "conch.dev", resource: "standupruns"}: "a Standup deletes its ended StandupRuns beyond its " +
		"history limits, which this path does not reach (test/standup's TestRunHistoryPrunedAtTheLimit does)",
	{verb: "list", resource: "secrets"}:                           listFallback,
	{verb: "list", group: "conch.dev", resource: "eventsinks"}:    listFallback,
	{verb: "list", resource: "pods"}:                              listFallback,
	{verb: "list", group: "batch", resource: "jobs"}:              listFallback,
	{verb: "list", group: "tekton.dev", resource: "pipelineruns"}: listFallback,
	{verb: "list", group: "tekton.dev", resource: "taskruns"}:     listFallback,
	{verb: "list", group: "argoproj.io", resource: "workflows"}:   listFallback,
	{verb: "patch", resource: "events"}: "leader election records its Events with client-go's core recorder, which " +
		"patches an Event that repeats within its aggregation window (a leader that loses and wins the Lease again)",
}

// TestRoleMatchesTheManagersCalls runs the manager as its ServiceAccount through the paths of the other suites
// and compares what it called, as the API server's audit log says, with what the roles bound to it grant, both
// ways: a call no role grants (in that namespace) fails, and so does a grant that nothing called, unless it is
// listed in rare with its reason.
func TestRoleMatchesTheManagersCalls(t *testing.T) {
	// The paths, in a subtest: when one fails (a call refused, say), the comparison below still says why.
	complete := t.Run("paths", func(t *testing.T) {
		h := start(t)
		h.slackTakesQueuesExtendsAndReleases()
		h.poolsAndMissingResources()
		h.legacyFinalizer()
		h.holdersDeletedWhileDown()
		h.adminReleaseWarningAndExpiry()
		h.standupRunWithAnswers()
		h.eventSinkDelivers()
		h.holdersEnd()
		h.hooksRunAndTimeOut()
	}) // its cleanup stops the manager

	sa := "system:serviceaccount:" + installNamespace + ":" + serviceAccount
	seen := readAudit(t, auditLog, sa)
	if len(seen.calls) == 0 {
		t.Fatalf("the audit log has no request of %s", sa)
	}
	roles := boundRoles(t, installed, installNamespace, serviceAccount)
	var names []string
	for _, g := range roles {
		names = append(names, g.role)
	}
	if !slices.Contains(names, generatedRole) {
		t.Fatalf("%s is not bound to the ServiceAccount; bound: %v", generatedRole, names)
	}

	for _, c := range sorted(seen.calls) {
		t.Logf("called: %-45s %v", c, seen.calls[c])
	}
	for _, c := range sorted(seen.denied) {
		t.Errorf("refused: %s (%s): the manager needs a grant it lacks", c, seen.denied[c])
	}
	for _, c := range sorted(seen.calls) {
		for ns := range seen.calls[c] {
			if !slices.ContainsFunc(roles, func(g grant) bool { return g.allows(c, ns) }) {
				t.Errorf("called without a grant: %s in namespace %q", c, ns)
			}
		}
	}
	granted := map[call]bool{}
	for _, g := range roles {
		for _, c := range sorted(g.calls) {
			granted[c] = true
			switch why, isRare := rare[c]; {
			case g.usedBy(seen, c):
			case isRare:
				t.Logf("granted by %s for a rare path: %s: %s", g.role, c, why)
			case !complete:
				// The paths stopped early: a grant they did not reach says nothing.
			default:
				t.Errorf("granted by %s but never called: %s (drop the grant, or list it in rare with its reason)", g.role, c)
			}
		}
	}
	for _, c := range sorted(rare) {
		if !granted[c] {
			t.Errorf("%s is listed as rare but no role grants it: remove it from the list", c)
		}
	}
}

// People and channels of the fake workspace.
const (
	alice          = "UALICE"
	bob            = "UBOB"
	admin          = "UADMIN"
	teamChannel    = "CTEAM"
	stagingChannel = "CSTAGING"
	warnBefore     = 10 * time.Minute
)

// harness is the test's world: a namespace, a fake Slack, a clock the test steps, and the manager.
type harness struct {
	t     *testing.T
	ctx   context.Context
	ns    string
	slack *fakeslack.Server
	clk   *testutil.StepClock
	// stopManager stops the running manager (leaving the Lease, as a stopping leader does).
	stopManager func()
}

// start runs the manager as the installed ServiceAccount, with leader election in its namespace and the Slack
// tokens read from (and watched in) the Secret conch-slack there, as `--slack-secret` does in a cluster.
func start(t *testing.T) *harness {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	fs := fakeslack.New(t, fakeslack.WithPingInterval(time.Second))
	fs.AddUser(fakeslack.User{ID: alice, Name: "alice", DisplayName: "Alice", TZ: "UTC"})
	fs.AddUser(fakeslack.User{ID: bob, Name: "bob", DisplayName: "Bob", TZ: "UTC"})
	fs.AddUser(fakeslack.User{ID: admin, Name: "ops", DisplayName: "Ops", TZ: "UTC"})
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: installNamespace, Name: "conch-slack"},
		Data: map[string][]byte{
			slackbot.KeyBotToken: []byte(fs.BotToken()),
			slackbot.KeyAppToken: []byte(fs.AppToken()),
		},
	}
	if err := k8s.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, ns: ns.Name, slack: fs, clk: testutil.NewStepClock()}
	t.Cleanup(func() {
		h.stopManager()
		if t.Failed() {
			for _, m := range fs.Messages() {
				t.Logf("Slack message: %s channel=%s user=%s text=%q", m.Method, m.Channel, m.User, m.AllText())
			}
			var list eventsv1.EventList
			_ = k8s.List(ctx, &list, client.InNamespace(h.ns))
			for _, e := range list.Items {
				t.Logf("Event: %s %s/%s %s %s %q series=%v", e.ReportingController, e.Regarding.Kind, e.Regarding.Name, e.Reason, e.Action, e.Note, e.Series)
			}
		}
	})
	h.startManager()
	return h
}

// startManager starts a manager as the ServiceAccount and waits for it to lead and connect to Slack.
func (h *harness) startManager() {
	h.t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + installNamespace + ":" + serviceAccount}
	mctx, cancel := context.WithCancel(h.ctx)
	mgr, err := manager.New(mctx, cfg, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: h.clk, SeveralPerProcess: true,
		LeaderElection: true, LeaderElectionNamespace: installNamespace,
		SlackSecret: installNamespace + "/conch-slack",
		// The EventSink's receiver listens on 127.0.0.1, which an admin must allow.
		EventSinkAllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Slack: slackbot.Config{
			APIURL: h.slack.URL(), DefaultNamespace: h.ns, Admins: []string{admin}, WarnBefore: warnBefore,
			PingInterval: 5 * time.Second,
		},
	})
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	h.stopManager = testenv.RunInBackground(mctx, h.t, cancel, mgr)
	connections := h.slack.Connections()
	h.eventually(func() int { return h.slack.OpenConnections() }).Should(Equal(1), "the manager connects to Slack")
	h.eventually(func() int { return h.slack.Connections() }).Should(BeNumerically(">", connections))
}

func (h *harness) eventually(f any) AsyncAssertion {
	return NewWithT(h.t).Eventually(f).WithTimeout(20 * time.Second).WithPolling(20 * time.Millisecond)
}

func (h *harness) create(objs ...client.Object) {
	h.t.Helper()
	for _, o := range objs {
		if err := k8s.Create(h.ctx, o); err != nil {
			h.t.Fatal(err)
		}
	}
}

// dibs types "/dibs <text>" as user in the team channel and waits for the answer. The Slack front end patches a
// Reservation with the resourceVersion its cache holds, so a command typed right after a controller's write can
// lose the race ("the object has been modified"); as a person would, the test types it again.
func (h *harness) dibs(user, text string) {
	h.t.Helper()
	for try := 1; ; try++ {
		n := len(h.replies(user)())
		h.slack.SendSlashCommand(fakeslack.SlashCommand{Command: "/dibs", Text: text, UserID: user, ChannelID: teamChannel})
		h.eventually(func() int { return len(h.replies(user)()) }).Should(BeNumerically(">", n), "an answer to /dibs %s", text)
		answer := h.replies(user)()[n].Text
		if !strings.Contains(answer, "the object has been modified") || try == 5 {
			return
		}
		h.t.Logf("/dibs %s lost a race with a controller's write, typed again: %s", text, answer)
		time.Sleep(100 * time.Millisecond)
	}
}

// replies are the answers to user's commands and clicks.
func (h *harness) replies(user string) func() []fakeslack.Message {
	return func() []fakeslack.Message {
		var out []fakeslack.Message
		for _, m := range h.slack.Messages() {
			if m.Method == "response_url" && m.RespondingTo == user {
				out = append(out, m)
			}
		}
		return out
	}
}

// posts counts the bot's messages in a channel ("D"+user for a DM).
func (h *harness) posts(channel string) func() int {
	return func() int {
		n := 0
		for _, m := range h.slack.Messages() {
			if m.Method == "chat.postMessage" && m.Channel == channel {
				n++
			}
		}
		return n
	}
}

// rsv reads a Reservation of the namespace; nil when there is none.
func (h *harness) rsv(name string) *conchv1.Reservation {
	r := &conchv1.Reservation{}
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: name}, r); err != nil {
		if !apierrors.IsNotFound(err) {
			h.t.Error(err)
		}
		return nil
	}
	return r
}

// stateOf returns the state of name's Reservation.
func (h *harness) stateOf(name string) func() conchv1.ReservationState {
	return func() conchv1.ReservationState {
		if r := h.rsv(name); r != nil {
			return r.Status.State
		}
		return ""
	}
}

// slackReservation returns the name of the Slack user's Reservation that has not ended.
func (h *harness) slackReservation(user string) func() string {
	return func() string {
		var list conchv1.ReservationList
		if err := k8s.List(h.ctx, &list, client.InNamespace(h.ns)); err != nil {
			h.t.Error(err)
		}
		for _, r := range list.Items {
			if r.Spec.Holder == conchv1.SlackHolderPrefix+user && !r.Status.State.IsFinal() {
				return r.Name
			}
		}
		return ""
	}
}

// slackTakesQueuesExtendsAndReleases: Alice takes staging from Slack (a Reservation created, granted, a DM and
// a handover post), Bob queues behind her (his position written), Alice extends, Bob nudges her and watches
// staging, Alice releases, Bob is granted.
func (h *harness) slackTakesQueuesExtendsAndReleases() {
	staging := testutil.Resource("staging").Namespace(h.ns).Obj()
	staging.Spec.SlackChannel = stagingChannel
	h.create(staging)

	h.dibs(alice, "staging for 1h")
	h.eventually(h.slackReservation(alice)).ShouldNot(BeEmpty())
	aliceRsv := h.slackReservation(alice)()
	h.eventually(h.stateOf(aliceRsv)).Should(Equal(conchv1.StateGranted))
	h.eventually(h.posts("D"+alice)).Should(BeNumerically(">=", 1), "the grant DM")
	h.eventually(h.posts(stagingChannel)).Should(BeNumerically(">=", 1), "the handover post")

	h.dibs(bob, "staging")
	h.eventually(h.slackReservation(bob)).ShouldNot(BeEmpty())
	bobRsv := h.slackReservation(bob)()
	h.eventually(func() int32 {
		if r := h.rsv(bobRsv); r != nil {
			return r.Status.Position
		}
		return 0
	}).Should(Equal(int32(1)))

	h.dibs(alice, "extend staging by 30m")
	h.eventually(func() time.Duration { return h.rsv(aliceRsv).Spec.Duration.Duration }).Should(Equal(90 * time.Minute))

	// Bob nudges Alice (recorded on her Reservation) and watches staging (recorded on the Resource).
	h.dibs(bob, "nudge staging")
	h.eventually(func() map[string]string { return h.rsv(aliceRsv).Annotations }).Should(HaveKey(conchv1.AnnotationNudgedAt))
	h.dibs(bob, "watch staging")
	h.eventually(func() string {
		res := &conchv1.Resource{}
		_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(staging), res)
		return res.Annotations[conchv1.AnnotationWatchers]
	}).Should(Equal(bob))

	h.dibs(alice, "off staging")
	h.eventually(h.stateOf(aliceRsv)).Should(Equal(conchv1.StateReleased))
	h.eventually(h.stateOf(bobRsv)).Should(Equal(conchv1.StateGranted))
}

// poolsAndMissingResources: a Reservation for any member of a pool is bound to one at grant; one for a Resource
// that does not exist is Pending (the API server is asked before concluding so).
func (h *harness) poolsAndMissingResources() {
	h.create(
		testutil.Resource("qa-1").Namespace(h.ns).Label("pool", "qa").Obj(),
		testutil.Resource("qa-2").Namespace(h.ns).Label("pool", "qa").Obj(),
		testutil.Reservation("ci-qa").Namespace(h.ns).UID("").Pool(map[string]string{"pool": "qa"}).Holder("ci:e2e").Obj(),
		testutil.Reservation("ghost").Namespace(h.ns).UID("").On("nowhere").Holder("ci:ghost").Obj(),
	)
	h.eventually(h.stateOf("ci-qa")).Should(Equal(conchv1.StateGranted))
	h.eventually(func() string { return h.rsv("ci-qa").Status.ResourceName }).Should(HavePrefix("qa-"))
	h.eventually(h.stateOf("ghost")).Should(Equal(conchv1.StatePending))
}

// legacyFinalizer: a Reservation deleted with the finalizer Conch set before v0.2 is let go.
func (h *harness) legacyFinalizer() {
	r := testutil.Reservation("legacy").Namespace(h.ns).UID("").On("qa-1").Holder("ci:legacy").Obj()
	r.Finalizers = []string{conchv1.ReservationFinalizer}
	h.create(r)
	h.eventually(h.stateOf("legacy")).ShouldNot(BeEmpty())
	if err := k8s.Delete(h.ctx, r); err != nil {
		h.t.Fatal(err)
	}
	h.eventually(func() bool { return h.rsv("legacy") == nil }).Should(BeTrue(), "the finalizer removed, the Reservation gone")
}

// holdersDeletedWhileDown: two holders of one Resource deleted while the manager is down are released in the
// first pass of the next manager, which gives the Resource the same Released Event twice (same object, same
// resourceVersion, same reason); client-go's event broadcaster records the second as a series, a patch of the
// first Event. (Two deletions seen in two passes make two Events: the Resource's resourceVersion differs.)
func (h *harness) holdersDeletedWhileDown() {
	h.create(testutil.Resource("build").Namespace(h.ns).Capacity(2).Obj())
	for i := 1; i <= 2; i++ {
		r := testutil.Reservation(fmt.Sprintf("build-%d", i)).Namespace(h.ns).UID("").On("build").Holder("ci:build").Obj()
		r.Labels = map[string]string{"resource": "build"}
		h.create(r)
		h.eventually(h.stateOf(r.Name)).Should(Equal(conchv1.StateGranted))
	}
	h.stopManager()
	if err := k8s.DeleteAllOf(h.ctx, &conchv1.Reservation{}, client.InNamespace(h.ns), client.MatchingLabels{"resource": "build"}); err != nil {
		h.t.Fatal(err)
	}
	h.startManager()
	h.eventually(func() bool {
		var list eventsv1.EventList
		if err := k8s.List(h.ctx, &list, client.InNamespace(h.ns)); err != nil {
			h.t.Error(err)
		}
		return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
			return e.Regarding.Name == "build" && e.Reason == conchv1.ReasonReleased && e.Series != nil
		})
	}).Should(BeTrue(), "the second Released Event of build recorded as a series")
}

// adminReleaseWarningAndExpiry: an admin releases Bob's hold from Slack (an Event says who); Alice takes staging
// again, is warned before her hold ends, and it expires.
func (h *harness) adminReleaseWarningAndExpiry() {
	bobRsv := h.slackReservation(bob)()
	h.dibs(admin, "off staging")
	h.eventually(h.stateOf(bobRsv)).Should(Equal(conchv1.StateReleased))

	h.dibs(alice, "staging for 1h")
	h.eventually(h.slackReservation(alice)).ShouldNot(BeEmpty())
	aliceRsv := h.slackReservation(alice)()
	h.eventually(h.stateOf(aliceRsv)).Should(Equal(conchv1.StateGranted))
	dms := h.posts("D" + alice)()
	h.clk.Step(time.Hour - warnBefore)
	h.eventually(h.posts("D"+alice)).Should(BeNumerically(">", dms), "the expiry warning")
	h.eventually(func() []string {
		if r := h.rsv(aliceRsv); r != nil {
			for _, d := range r.Status.Deliveries {
				if d.Sink == conchv1.DeliverySlackDM {
					return d.Events
				}
			}
		}
		return nil
	}).Should(ContainElement(HavePrefix("expiring:")), "the warning is recorded once sent")
	h.clk.Step(warnBefore)
	h.eventually(h.stateOf(aliceRsv)).Should(Equal(conchv1.StateExpired))
}

// standupRunWithAnswers: Alice asks for a stand-up run from Slack (the Standup's annotation), the prompts go out,
// she answers in the modal (the StandupRun's status), skips a day (spec), and the summary is posted at the deadline
// (and where it went recorded in the run).
func (h *harness) standupRunWithAnswers() {
	st := &conchv1.Standup{
		ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: h.ns},
		Spec: conchv1.StandupSpec{
			Channel: teamChannel, Schedule: "0 9 * * *", TimeZone: "UTC",
			Participants: []string{alice, bob},
			Questions:    []string{"What did you do yesterday?", "What will you do today?"},
			CollectFor:   &metav1.Duration{Duration: 30 * time.Minute},
		},
	}
	h.create(st)
	standup := func() *conchv1.Standup {
		s := &conchv1.Standup{}
		if err := k8s.Get(h.ctx, client.ObjectKeyFromObject(st), s); err != nil {
			h.t.Error(err)
		}
		return s
	}
	h.eventually(func() *metav1.Time { return standup().Status.NextRunTime }).ShouldNot(BeNil())

	h.dibs(alice, "standup run team")
	h.eventually(func() *conchv1.StandupRunReference { return standup().Status.ActiveRun }).ShouldNot(BeNil())
	h.eventually(h.posts("D"+bob)).Should(BeNumerically(">=", 1), "Bob's prompt")

	// Alice answers: the Answer button of her prompt opens the modal, which she submits.
	var click fakeslack.Click
	h.eventually(func() bool {
		for _, m := range h.slack.Messages() {
			if c, ok := m.Click(alice, slackbot.ActionStandupAnswer); ok && m.Channel == "D"+alice {
				click = c
				return true
			}
		}
		return false
	}).Should(BeTrue(), "a prompt with an Answer button")
	views := len(h.slack.Views())
	h.slack.ClickButton(click)
	h.eventually(func() int { return len(h.slack.Views()) }).Should(BeNumerically(">", views))
	view := h.slack.Views()[len(h.slack.Views())-1]
	values := map[string]map[string]slack.BlockAction{}
	for i, a := range []string{"Reviews", "Release notes"} {
		values[fmt.Sprintf("q%d", i)] = map[string]slack.BlockAction{"answer": {Type: "plain_text_input", Value: a}}
	}
	h.slack.SubmitView(fakeslack.Submission{UserID: alice, ViewID: view.ID, Values: values})
	h.eventually(func() []string {
		if ref := standup().Status.ActiveRun; ref != nil {
			run := &conchv1.StandupRun{}
			if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.ns, Name: ref.Name}, run); err != nil {
				return nil
			}
			for _, p := range run.Status.Participants {
				if p.User == alice {
					return p.Answers
				}
			}
		}
		return nil
	}).Should(Equal([]string{"Reviews", "Release notes"}))

	h.dibs(bob, "standup skip team 2099-12-24")
	h.eventually(func() []string { return standup().Spec.SkipDates }).Should(ContainElement("2099-12-24"))

	h.clk.Step(30 * time.Minute)
	h.eventually(h.posts(teamChannel)).Should(BeNumerically(">=", 1), "the summary")
	h.eventually(func() int { return len(standup().Status.History) }).Should(Equal(1))
}
