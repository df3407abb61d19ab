package slack

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
	"github.com/conch-dev/conch/test/fakeslack"
)

// The defects of issue 13 ("Nothing said is lost"), each reproduced against the fake Slack: the earlier notifier
// claimed a message in status before sending it, from an in-memory outbox of 1,024 that gave up after 5 attempts
// and retried a permanent error while every other message waited.

func TestYourTurnSurvivesFifteenSecondsOfRateLimits(t *testing.T) {
	h := setup(t)
	h.create(h.resource("staging").Obj())
	h.slack.RateLimitFor("chat.postMessage", 15*time.Second, 2*time.Second)
	h.dibs(alice, "staging for 1h")
	NewWithT(t).Eventually(h.dmTexts(alice)).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).
		Should(containing("You now hold *staging*"), "the only signal someone waiting gets is never given up on")
}

func TestAnUnknownUserHoldsBackNobody(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.slack.Refuse("conversations.open", "users", "UGHOST", "user_not_found")
	ghost := testutil.Reservation("ghost").Namespace(h.ns).On("staging").Holder("slack:UGHOST").Obj()
	h.create(h.resource("staging").Obj(), h.resource("qa").Obj(), ghost)
	h.eventually(func() []string { return told(h.get("ghost"), conchv1.DeliverySlackDM) }).Should(HaveLen(1))

	start := time.Now()
	h.create(testutil.Reservation("alice-qa").Namespace(h.ns).On("qa").Holder("slack:" + alice).Obj())
	h.eventually(h.dmTexts(alice)).Should(containing("You now hold *qa*"))
	g.Expect(time.Since(start)).To(BeNumerically("<", 3*time.Second))

	g.Expect(h.get("ghost").Status.Deliveries[0].LastFailure).To(ContainSubstring("user_not_found"))
	opens := 0
	for _, c := range h.slack.Calls("conversations.open") {
		if c.Params.Get("users") == "UGHOST" {
			opens++
		}
	}
	g.Expect(opens).To(Equal(1), "a permanent error is not retried")
	h.eventually(func() []string {
		var list eventsv1.EventList
		_ = k8s.List(ctx, &list, client.InNamespace(h.ns))
		var notes []string
		for _, e := range list.Items {
			if e.Reason == "NotificationFailed" && e.Regarding.Name == "ghost" {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}).Should(ContainElement(ContainSubstring("user_not_found")), "the failure is told on the Reservation")
}

// TestABurstOfAThousandGrantsLosesNothing grants 1,000 Reservations at once, each with a DM to its holder and a
// handover post in its Resource's channel (2,000 messages), stops the manager in the middle of the burst and
// starts another under a wave of 429s, and counts: every message arrives; duplicates (deliveries the first
// manager made but had not recorded when it stopped) are counted and bounded by the deliveries in flight.
func TestABurstOfAThousandGrantsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a burst of 1,000 grants")
	}
	const n = 1000
	h := setup(t)
	user := func(i int) string { return fmt.Sprintf("UB%04d", i) }
	channel := func(i int) string { return fmt.Sprintf("CB%04d", i) }

	var objs []client.Object
	for i := range n {
		res := h.resource(fmt.Sprintf("env-%04d", i)).Obj()
		res.Spec.SlackChannel = channel(i)
		objs = append(objs, res)
	}
	for i := range n {
		objs = append(objs, testutil.Reservation(fmt.Sprintf("r-%04d", i)).Namespace(h.ns).
			On(fmt.Sprintf("env-%04d", i)).Holder("slack:"+user(i)).For(time.Hour).Obj())
	}
	createAll(t, objs)

	delivered := func() int {
		count := 0
		for _, m := range h.slack.Messages() {
			if m.Method == "chat.postMessage" && (strings.HasPrefix(m.Channel, "DUB") || strings.HasPrefix(m.Channel, "CB")) {
				count++
			}
		}
		return count
	}
	NewWithT(t).Eventually(delivered).WithTimeout(60 * time.Second).WithPolling(5 * time.Millisecond).
		Should(BeNumerically(">=", n/2))
	h.stop()
	h.slack.RateLimitFor("chat.postMessage", 2*time.Second, time.Second)
	h.start()

	perChannel := func() map[string]int {
		got := map[string]int{}
		for _, m := range h.slack.Messages() {
			if m.Method == "chat.postMessage" {
				got[m.Channel]++
			}
		}
		return got
	}
	NewWithT(t).Eventually(func() []string {
		got := perChannel()
		var missing []string
		for i := range n {
			for _, ch := range []string{"D" + user(i), channel(i)} {
				if got[ch] == 0 {
					missing = append(missing, ch)
				}
			}
		}
		return missing
	}).WithTimeout(120*time.Second).WithPolling(500*time.Millisecond).Should(BeEmpty(), "nothing is lost")
	dups := 0
	for _, c := range perChannel() {
		dups += max(c-1, 0)
	}
	t.Logf("%d messages delivered, %d of them twice (delivered by the first manager, not yet recorded when it stopped)", 2*n+dups, dups)
	NewWithT(t).Expect(dups).To(BeNumerically("<=", 64), "duplicates are bounded by what was in flight")
}

// createAll creates objs with a few clients at once, as a burst of CI jobs would.
func createAll(t *testing.T, objs []client.Object) {
	t.Helper()
	var wg sync.WaitGroup
	work := make(chan client.Object)
	errs := make(chan error, len(objs))
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := k8s.Create(ctx, o); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

var _ = fakeslack.Message{}
