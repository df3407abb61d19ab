package slack

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/slackbot"
	"github.com/conch-dev/conch/internal/testutil"
)

func TestTakeGrantsAnnouncesAndSendsButtons(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	res := h.resource("staging").Max(4 * time.Hour).Obj()
	res.Spec.SlackChannel = stagingChannel
	h.create(res)

	env := h.dibs(alice, "staging for 2h because deploying PR #345")

	// The envelope is acked at once, before any Kubernetes work.
	h.eventually(func() bool { _, ok := h.slack.AckFor(env); return ok }).Should(BeTrue())
	ack, _ := h.slack.AckFor(env)
	g.Expect(ack.Latency).To(BeNumerically("<", time.Second))

	reply := h.nthReply(alice, 1)
	g.Expect(reply.ResponseType).To(Equal("in_channel"), "a grant concerns everyone in the channel")
	g.Expect(reply.Text).To(ContainSubstring("<@UALICE> took *staging* until <!date^"))
	g.Expect(reply.Text).To(ContainSubstring("deploying PR #345"))

	r := h.reservationOf(alice)()
	g.Expect(r).NotTo(BeNil())
	g.Expect(r.Spec.ResourceName).To(Equal("staging"))
	g.Expect(r.Spec.Duration.Duration).To(Equal(2 * time.Hour))
	g.Expect(r.Spec.Reason).To(Equal("deploying PR #345"))
	g.Expect(r.Labels).To(HaveKeyWithValue(conchv1.LabelSlackUser, alice))
	g.Expect(r.Annotations).To(HaveKeyWithValue(conchv1.AnnotationSlackUserName, "Alice"))

	// A DM with Release and Extend 1h, and a handover post in the Resource's channel.
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	dm := h.dms(alice)()[0]
	g.Expect(dm.Text).To(ContainSubstring("You now hold *staging* until"))
	g.Expect(dm.Buttons()).To(HaveLen(2))
	g.Expect(dm.AllText()).To(ContainSubstring(slackbot.ActionRelease))
	g.Expect(dm.AllText()).To(ContainSubstring(h.ns + "/" + r.Name + "/1h"))
	h.eventually(func() []string { return texts(h.posts(stagingChannel)()) }).Should(containing("*staging* is now held by <@UALICE>"))
}

func TestQueueThenHandoverOnRelease(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	res := h.resource("staging").Obj()
	res.Spec.SlackChannel = stagingChannel
	h.create(res)

	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.dibs(bob, "on staging 30m")
	reply := h.nthReply(bob, 1)
	g.Expect(reply.ResponseType).To(Equal("ephemeral"))
	g.Expect(reply.Text).To(ContainSubstring("You wait for *staging*: number 1 in the queue, expected around"))
	g.Expect(reply.Text).To(ContainSubstring("I will DM you when it is your turn"))

	h.dibs(alice, "off staging")
	g.Expect(h.nthReply(alice, 2).Text).To(Equal("<@UALICE> released *staging*."))
	h.eventually(h.dmTexts(bob)).Should(containing("You now hold *staging* until"))
	h.eventually(func() []string { return texts(h.posts(stagingChannel)()) }).Should(containing("now held by <@UBOB>"))
	h.eventually(func() conchv1.ReservationState { return h.reservationOf(bob)().Status.State }).Should(Equal(conchv1.StateGranted))
	// Alice released it herself: no "your hold ended" DM for her.
	h.consistently(h.dms(alice)).Should(HaveLen(1))
}

func TestExtendByButton(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	r := h.reservationOf(alice)()

	click, ok := h.slack.Messages()[len(h.slack.Messages())-1].Click(alice, slackbot.ActionExtend)
	for _, m := range h.dms(alice)() {
		if c, found := m.Click(alice, slackbot.ActionExtend); found {
			click, ok = c, true
		}
	}
	g.Expect(ok).To(BeTrue())
	h.slack.ClickButton(click)

	h.eventually(func() time.Time {
		if e := h.get(r.Name).Status.ExpiresAt; e != nil {
			return e.Time
		}
		return time.Time{}
	}).Should(Equal(r.Status.GrantedAt.Add(2 * time.Hour)))
	g.Expect(h.get(r.Name).Spec.Duration.Duration).To(Equal(2 * time.Hour))
	answer := h.nthReply(alice, 2)
	g.Expect(answer.ReplaceOriginal).To(BeTrue())
	g.Expect(answer.Text).To(ContainSubstring("Extended: you hold *staging* until"))
}

func TestExpiryWarningExpiryAndNextInLine(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.dibs(bob, "staging")
	h.nthReply(bob, 1)

	h.clk.Step(49 * time.Minute)
	h.consistently(h.dms(alice)).Should(HaveLen(1))
	h.clk.Step(2 * time.Minute) // 9 minutes left
	h.eventually(h.dmTexts(alice)).Should(containing("Your hold on *staging* ends in 9m"))
	warning := h.dms(alice)()[1]
	g.Expect(warning.Buttons()).To(HaveLen(4))
	g.Expect(warning.AllText()).To(ContainSubstring("/30m"))
	g.Expect(warning.AllText()).To(ContainSubstring("/2h"))

	h.clk.Step(10 * time.Minute)
	h.eventually(h.dmTexts(alice)).Should(containing("Your hold on *staging* expired at"))
	h.eventually(h.dmTexts(bob)).Should(containing("You now hold *staging*"))
	g.Expect(h.dms(alice)()).To(HaveLen(3))
}

func TestKubectlReservationsAreAnnouncedToo(t *testing.T) {
	h := setup(t)
	res := h.resource("staging").Obj()
	res.Spec.SlackChannel = stagingChannel
	h.create(res)

	// A person by e-mail gets DMs (found with users.lookupByEmail); a pipeline gets channel posts only.
	h.create(testutil.Reservation("alice-by-mail").Namespace(h.ns).On("staging").Holder("alice@example.com").For(time.Hour).Obj())
	h.eventually(h.dmTexts(alice)).Should(containing("You now hold *staging*"))
	h.create(testutil.Reservation("pipeline").Namespace(h.ns).On("staging").Holder("ci:deploy-web").Obj())
	r := h.get("alice-by-mail")
	patch := client.MergeFrom(r.DeepCopy())
	r.Spec.Released = true
	NewWithT(t).Expect(k8s.Patch(ctx, r, patch)).To(Succeed())
	h.eventually(func() []string { return texts(h.posts(stagingChannel)()) }).Should(containing("now held by `ci:deploy-web`"))
	NewWithT(t).Expect(h.slack.Calls("users.lookupByEmail")).NotTo(BeEmpty())
}

func TestOnlyTheHolderOrAnAdminMayRelease(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	r := h.reservationOf(alice)()

	// Bob clicks Alice's Release button (say it was forwarded to him): refused, only he sees why.
	click, _ := h.dms(alice)()[0].Click(bob, slackbot.ActionRelease)
	h.slack.ClickButton(click)
	refusal := h.nthReply(bob, 1)
	g.Expect(refusal.ResponseType).To(Equal("ephemeral"))
	g.Expect(refusal.Text).To(Equal("Only the holder (<@UALICE>) or an admin can release it."))
	h.dibs(bob, "off staging")
	g.Expect(h.nthReply(bob, 2).Text).To(ContainSubstring("You do not hold or wait for *staging*"))
	g.Expect(h.get(r.Name).Spec.Released).To(BeFalse())

	// An admin may, and an Event names them; Alice is told who did it.
	h.dibs(admin, "off staging")
	g.Expect(h.nthReply(admin, 1).Text).To(ContainSubstring("<@UADMIN> released *staging* (held by <@UALICE>)"))
	h.eventually(func() conchv1.ReservationState { return h.get(r.Name).Status.State }).Should(Equal(conchv1.StateReleased))
	h.eventually(h.dmTexts(alice)).Should(containing("was released by <@UADMIN>"))
	h.eventually(func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(k8s.List(ctx, &evs, client.InNamespace(h.ns))).To(Succeed())
		var notes []string
		for _, e := range evs.Items {
			if e.Reason == "ReleasedByAdmin" {
				notes = append(notes, e.Note)
			}
		}
		g.Expect(notes).To(containing("Released from Slack by admin Ops (UADMIN)"))
	}).Should(Succeed())
}

func TestRedeliveredEnvelopeMakesOneReservation(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	env := h.dibs(alice, "staging for 1h")
	h.nthReply(alice, 1)
	h.slack.Redeliver(env)
	h.eventually(func() int { return len(h.slack.Acks()) }).Should(Equal(2))

	// Even a manager that has forgotten the envelope (a restart) finds the Reservation it made.
	h.stop()
	h.start()
	h.slack.Redeliver(env)
	h.eventually(func() int { return len(h.slack.Acks()) }).Should(Equal(3))
	h.eventually(h.replies(alice)).Should(HaveLen(2))
	g.Expect(h.reservations()).To(HaveLen(1))
	g.Expect(h.nthReply(alice, 2).Text).NotTo(ContainSubstring("already"), "the retry answers like the first time")
}

func TestNoDMIsSentTwiceAcrossRestarts(t *testing.T) {
	h := setup(t)
	h.create(h.resource("staging").Obj())
	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.eventually(func() []string { return told(h.reservationOf(alice)(), conchv1.DeliverySlackDM) }).Should(HaveLen(1))
	h.stop()
	h.start()
	h.consistently(h.dms(alice)).Should(HaveLen(1))
}

// told returns the keys of the events a destination was told about r.
func told(r *conchv1.Reservation, sink string) []string {
	for _, d := range r.Status.Deliveries {
		if d.Sink == sink {
			return d.Events
		}
	}
	return nil
}

func TestMalformedCommandsGetHelpfulAnswers(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj(), h.resource("staging-2").Obj())

	h.dibs(alice, "staging for banana")
	first := h.nthReply(alice, 1)
	g.Expect(first.ResponseType).To(Equal("ephemeral"))
	g.Expect(first.Text).To(ContainSubstring("Try `/dibs help`"))

	h.dibs(alice, "stagin")
	g.Expect(h.nthReply(alice, 2).Text).To(ContainSubstring("There is no *stagin* here. Did you mean *staging*"))

	h.dibs(alice, "help")
	g.Expect(h.nthReply(alice, 3).Text).To(ContainSubstring("/dibs"))

	h.dibs(alice, "list")
	g.Expect(h.nthReply(alice, 4).Text).To(And(ContainSubstring("*staging* — free"), ContainSubstring("*staging-2* — free")))
	g.Expect(h.reservations()).To(BeEmpty())
}

func TestSlackRateLimitsAreHonoured(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.slack.RateLimitNext("chat.postMessage", 1, time.Second)
	env := h.dibs(alice, "staging")
	// The command path is not held up by the notifier's 429.
	h.nthReply(alice, 1)
	ack, _ := h.slack.AckFor(env)
	g.Expect(ack.Latency).To(BeNumerically("<", time.Second))
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	calls := h.slack.Calls("chat.postMessage")
	g.Expect(len(calls)).To(BeNumerically(">=", 2), "the rate-limited post was retried")
	g.Expect(calls[1].Time.Sub(calls[0].Time)).To(BeNumerically(">=", 900*time.Millisecond), "after Retry-After")
}

func TestPendingForAMissingResourceIsNotAnnounced(t *testing.T) {
	h := setup(t)
	h.create(testutil.Reservation("early").Namespace(h.ns).On("later").Holder("slack:" + alice).Obj())
	h.eventually(func() conchv1.ReservationState { return h.get("early").Status.State }).Should(Equal(conchv1.StatePending))
	h.consistently(h.dms(alice)).Should(BeEmpty())
	h.create(h.resource("later").Obj())
	h.eventually(h.dmTexts(alice)).Should(containing("You now hold *later*"))
	_ = metav1.Now
}
