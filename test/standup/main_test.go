// Package standup tests the Standup kind end to end: a real kube-apiserver and etcd (envtest), the real manager
// with the Slack component, and the in-process fake Slack of test/fakeslack, on a clock each test steps through
// a stand-up: prompts, the modal, the reminder, the summary, restarts, holidays.
package standup

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

// People and channels of the fake workspace.
const (
	alice = "UALICE"
	bob   = "UBOB"
	carol = "UCAROL"
	admin = "UADMIN"
	// the stand-up's channel
	teamChannel = "CTEAM"
	// a user group with Carol in it
	webGroup = "SWEB"
)

// namespace creates a fresh namespace for one test.
func namespace(t testing.TB) string { return suite.Namespace(t, "su") }

// harness is one test's world: a namespace, a fake Slack with its people, a clock and a running manager.
type harness struct {
	t     testing.TB
	ns    string
	slack *fakeslack.Server
	clk   *testutil.StepClock
	stop  func()
	// zone is an Etc/GMT zone where it is about 09:00 when the test starts; runAt is the first run's time, a
	// few minutes ahead on a whole minute (see morning).
	zone  string
	runAt time.Time
}

func setup(t testing.TB) *harness {
	t.Helper()
	fs := fakeslack.New(t, fakeslack.WithPingInterval(time.Second))
	fs.AddUser(fakeslack.User{ID: alice, Name: "alice", DisplayName: "Alice", TZ: "Europe/Paris", TZOffset: 3600})
	fs.AddUser(fakeslack.User{ID: bob, Name: "bob", DisplayName: "Bob", TZ: "America/New_York", TZOffset: -5 * 3600})
	fs.AddUser(fakeslack.User{ID: carol, Name: "carol", DisplayName: "Carol", TZ: "UTC"})
	fs.AddUser(fakeslack.User{ID: admin, Name: "ops", DisplayName: "Ops", TZ: "UTC"})
	fs.AddUserGroup(webGroup, carol)
	h := &harness{t: t, ns: namespace(t), slack: fs, clk: testutil.NewStepClock()}
	h.zone, h.runAt = morning(h.clk.Now())
	h.start()
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			for _, m := range fs.Messages() {
				t.Logf("Slack message: %s channel=%s user=%s text=%q", m.Method, m.Channel, m.User, m.AllText())
			}
			for _, c := range fs.Calls("") {
				t.Logf("Slack call: %s %s", c.Method, c.Error)
			}
			if st, err := h.getErr("team"); err == nil {
				t.Logf("Standup status: %+v", st.Status)
			}
		}
	})
	return h
}

// start runs a manager restricted to the test's namespace, with the Slack component pointed at the fake.
func (h *harness) start() {
	h.t.Helper()
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, env.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: h.clk, SeveralPerProcess: true,
		Namespaces: []string{h.ns},
		Slack: slackbot.Config{
			BotToken: h.slack.BotToken(), AppToken: h.slack.AppToken(), APIURL: h.slack.URL(),
			DefaultNamespace: h.ns, Admins: []string{admin}, PingInterval: 5 * time.Second,
		},
	})
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	h.stop = testenv.RunInBackground(mctx, h.t, cancel, mgr)
	connections := h.slack.Connections()
	h.eventually(func() int { return h.slack.OpenConnections() }).Should(Equal(1))
	h.eventually(func() int { return h.slack.Connections() }).Should(BeNumerically(">", connections))
}

func (h *harness) eventually(f any) AsyncAssertion {
	return NewWithT(h.t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}

func (h *harness) consistently(f any) AsyncAssertion {
	return NewWithT(h.t).Consistently(f).WithTimeout(400 * time.Millisecond).WithPolling(50 * time.Millisecond)
}

func (h *harness) create(objs ...client.Object) {
	h.t.Helper()
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) getErr(name string) (*conchv1.Standup, error) {
	st := &conchv1.Standup{}
	return st, k8s.Get(ctx, types.NamespacedName{Namespace: h.ns, Name: name}, st)
}

func (h *harness) get(name string) *conchv1.Standup {
	h.t.Helper()
	st, err := h.getErr(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// dms returns the stand-up DMs (prompts and reminders, which have an Answer button) the bot sent user; other DMs
// (a grant, an expiry warning) are not counted.
func (h *harness) dms(user string) func() []fakeslack.Message {
	return func() []fakeslack.Message {
		var out []fakeslack.Message
		for _, m := range h.posts("D" + user)() {
			if _, ok := m.Click(user, slackbot.ActionStandupAnswer); ok {
				out = append(out, m)
			}
		}
		return out
	}
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

func containing(sub string) OmegaMatcher { return ContainElement(ContainSubstring(sub)) }

// replies returns the answers posted to the response URLs of user's commands and clicks.
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

// rsv reads a Reservation of the test's namespace.
func (h *harness) rsv(name string) *conchv1.Reservation {
	h.t.Helper()
	r := &conchv1.Reservation{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: h.ns, Name: name}, r); err != nil {
		h.t.Fatal(err)
	}
	return r
}
