// Package slack tests Conch's Slack front end end to end: a real kube-apiserver and etcd (envtest), the real
// manager with the Slack component, the real slack-go client, and an in-process fake Slack that speaks the
// socket-mode protocol and the Web API and records what people would have seen.
package slack

import (
	"context"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/slackbot"
	"github.com/conch-dev/conch/internal/testenv"
	"github.com/conch-dev/conch/internal/testutil"
	"github.com/conch-dev/conch/test/fakeslack"
)

var (
	suite *testenv.Suite
	env   *testenv.Environment
	k8s   client.Client
	ctx   = context.Background()
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, env, k8s = s, s.Environment, s.Client
		return nil, nil
	}))
}

// People of the fake workspace.
const (
	alice = "UALICE"
	bob   = "UBOB"
	admin = "UADMIN"
	// handovers of the staging Resource are posted here.
	stagingChannel = "CSTAGING"
	teamChannel    = "CTEAM"
)

// harness is one test's world: a namespace, a fake Slack with its people, and a running manager.
type harness struct {
	t     testing.TB
	ns    string
	slack *fakeslack.Server
	clk   *testutil.StepClock
	stop  func()
	// secret, when set, is the Secret ("namespace/name") the manager reads the tokens from instead.
	secret string
}

func setup(t testing.TB) *harness { return setupWith(t, nil) }

// setupWith is setup with a hook that runs before the manager starts.
func setupWith(t testing.TB, before func(h *harness)) *harness {
	t.Helper()
	ns := suite.Namespace(t, "s")
	fs := fakeslack.New(t, fakeslack.WithPingInterval(time.Second))
	fs.AddUser(fakeslack.User{ID: alice, Name: "alice", DisplayName: "Alice", Email: "alice@example.com", TZ: "Europe/Paris", TZOffset: 3600})
	fs.AddUser(fakeslack.User{ID: bob, Name: "bob", DisplayName: "Bob", Email: "bob@example.com", TZ: "America/New_York", TZOffset: -5 * 3600})
	fs.AddUser(fakeslack.User{ID: admin, Name: "ops", DisplayName: "Ops", TZ: "UTC"})
	h := &harness{t: t, ns: ns, slack: fs, clk: testutil.NewStepClock()}
	if before != nil {
		before(h)
	}
	h.start()
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			for _, m := range fs.Messages() {
				t.Logf("Slack message: %s channel=%s user=%s type=%s text=%q", m.Method, m.Channel, m.User, m.ResponseType, m.Text)
			}
			for _, c := range fs.Calls("") {
				t.Logf("Slack call: %s", c.Method)
			}
		}
	})
	return h
}

// start runs a manager with the Slack component pointed at the fake.
func (h *harness) start() {
	h.t.Helper()
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, env.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: h.clk, SeveralPerProcess: true,
		// Only this test's namespace: earlier tests' holds must not end (and be announced) when this clock steps.
		Namespaces:  []string{h.ns},
		SlackSecret: h.secret,
		Slack: slackbot.Config{
			BotToken: h.slack.BotToken(), AppToken: h.slack.AppToken(), APIURL: h.slack.URL(),
			DefaultNamespace: h.ns, Admins: []string{admin}, WarnBefore: 10 * time.Minute,
			ChannelNamespaces: map[string]string{"CELSEWHERE": "elsewhere"},
			PingInterval:      5 * time.Second,
		},
	})
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	h.stop = testenv.RunInBackground(mctx, h.t, cancel, mgr)
	if h.secret != "" {
		return // the tokens may be wrong on purpose
	}
	connections := h.slack.Connections()
	h.eventually(func() int { return h.slack.OpenConnections() }).Should(Equal(1))
	h.eventually(func() int { return h.slack.Connections() }).Should(BeNumerically(">", connections))
}

func (h *harness) eventually(f any) AsyncAssertion {
	return NewWithT(h.t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}

func (h *harness) consistently(f any) AsyncAssertion {
	return NewWithT(h.t).Consistently(f).WithTimeout(500 * time.Millisecond).WithPolling(50 * time.Millisecond)
}

// dibs types "/dibs <text>" as user in channel and returns the envelope ID.
func (h *harness) dibs(user, text string) string {
	return h.slack.SendSlashCommand(fakeslack.SlashCommand{Command: "/dibs", Text: text, UserID: user, ChannelID: teamChannel})
}

func fakeslackCommand(command, text, user, channel string) fakeslack.SlashCommand {
	return fakeslack.SlashCommand{Command: command, Text: text, UserID: user, ChannelID: channel}
}

// replyTo returns the answer posted to the response URL of a command or click by user, once there is one.
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

// lastReply waits for the n-th reply to user (1-based) and returns it.
func (h *harness) nthReply(user string, n int) fakeslack.Message {
	h.t.Helper()
	h.eventually(func() int { return len(h.replies(user)()) }).Should(BeNumerically(">=", n))
	return h.replies(user)()[n-1]
}

// dms returns the direct messages the bot sent user.
func (h *harness) dms(user string) func() []fakeslack.Message {
	return h.posts("D" + user)
}

// posts returns the messages the bot posted in a channel.
func (h *harness) posts(channel string) func() []fakeslack.Message {
	return func() []fakeslack.Message {
		var out []fakeslack.Message
		for _, m := range h.slack.Messages() {
			if m.Method == "chat.postMessage" && m.Channel == channel {
				out = append(out, m)
			}
		}
		return out
	}
}

// texts maps messages to their full text (text, block texts, button values).
func texts(ms []fakeslack.Message) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.AllText())
	}
	return out
}

func (h *harness) dmTexts(user string) func() []string {
	return func() []string { return texts(h.dms(user)()) }
}

func (h *harness) resource(name string) *testutil.ResourceWrapper {
	return testutil.Resource(name).Namespace(h.ns)
}

func (h *harness) create(objs ...client.Object) {
	h.t.Helper()
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			h.t.Fatal(err)
		}
	}
}

// reservations lists the namespace's Reservations.
func (h *harness) reservations() []conchv1.Reservation {
	var list conchv1.ReservationList
	if err := k8s.List(ctx, &list, client.InNamespace(h.ns)); err != nil {
		h.t.Fatal(err)
	}
	return list.Items
}

// reservationOf returns the Slack user's Reservation (there must be exactly one not ended).
func (h *harness) reservationOf(user string) func() *conchv1.Reservation {
	return func() *conchv1.Reservation {
		var found *conchv1.Reservation
		for _, r := range h.reservations() {
			if r.Spec.Holder == conchv1.SlackHolderPrefix+user && !r.Status.State.IsFinal() {
				found = r.DeepCopy()
			}
		}
		return found
	}
}

func (h *harness) get(name string) *conchv1.Reservation {
	r := &conchv1.Reservation{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: h.ns, Name: name}, r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func containing(sub string) OmegaMatcher { return ContainElement(ContainSubstring(sub)) }
