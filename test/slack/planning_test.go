package slack

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/chat"
	"github.com/conch-dev/conch/internal/testutil"
	"github.com/conch-dev/conch/test/fakeslack"
)

// These tests cover what the Slack front end writes and shows for bookings, priorities and the calendar. They
// assert the Reservations' spec and the replies, not when the queue engine grants a booking.

// priya works in Kolkata, UTC+5:30: her "tomorrow 9:00" is neither UTC's nor the server's.
const priya = "UPRIYA"

func setupPlanning(t *testing.T) *harness {
	return setupWith(t, func(h *harness) {
		h.slack.AddUser(fakeslack.User{ID: priya, Name: "priya", DisplayName: "Priya", TZ: "Asia/Kolkata", TZLabel: "India Standard Time", TZOffset: 19800})
	})
}

func TestBookingStartsOnThePersonsClock(t *testing.T) {
	h := setupPlanning(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	kolkata := testutil.Zone(t, "Asia/Kolkata")

	before := h.clk.Now().In(kolkata)
	h.dibs(priya, "staging tomorrow 9:00 for 2h no-preempt because demo for <!channel> *ACME*")
	reply := h.nthReply(priya, 1)

	// Tomorrow 09:00 in Kolkata is 03:30 UTC: the instant written is the person's, not the server's.
	start := time.Date(before.Year(), before.Month(), before.Day()+1, 9, 0, 0, 0, kolkata)
	h.eventually(h.reservationOf(priya)).ShouldNot(BeNil())
	r := h.reservationOf(priya)()
	g.Expect(r.Spec.StartTime).NotTo(BeNil())
	g.Expect(r.Spec.StartTime.Time.UTC()).To(Equal(start.UTC()))
	g.Expect(r.Spec.StartTime.Time.UTC().Format("15:04")).To(Equal("03:30"))
	g.Expect(r.Spec.Duration.Duration).To(Equal(2 * time.Hour))
	g.Expect(r.Spec.Preemptible).To(Equal(conchv1.PreemptibleNever))
	g.Expect(r.Spec.Priority).To(BeNil())
	g.Expect(r.Spec.Reason).To(Equal("demo for <!channel> *ACME*"))

	// The reply says when on her clock, and shows her reason as written without notifying anyone.
	g.Expect(reply.ResponseType).To(Equal("ephemeral"))
	g.Expect(reply.Text).To(ContainSubstring(fmt.Sprintf("You booked *staging* for %s 09:00–11:00 IST (your time zone, Asia/Kolkata).", start.Format("Mon 2 Jan 2006"))))
	g.Expect(reply.Text).To(ContainSubstring("No higher priority may take it over."))
	g.Expect(reply.Text).To(ContainSubstring("&lt;!channel&gt;"))
	g.Expect(reply.Text).NotTo(ContainSubstring("<!channel>"))
	g.Expect(reply.Text).NotTo(ContainSubstring("*ACME*"))
}

func TestBookingInThePastMakesNothing(t *testing.T) {
	h := setupPlanning(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())

	// Today's 00:00 has always passed.
	h.dibs(bob, "staging today 0:00 for 1h")
	reply := h.nthReply(bob, 1)
	g.Expect(reply.Text).To(ContainSubstring("is in the past"))
	g.Expect(reply.Text).To(ContainSubstring("EST"), "the time is told on bob's clock, in New York")
	g.Expect(reply.Text).To(ContainSubstring("Try `/dibs help`."))
	h.dibs(bob, "staging at 25:00")
	g.Expect(h.nthReply(bob, 2).Text).To(ContainSubstring(`"25:00" is not a time of day`))
	h.consistently(h.reservations).Should(BeEmpty())
}

func TestPriorityNeedsAReason(t *testing.T) {
	h := setupPlanning(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())

	h.dibs(alice, "staging for 1h urgent")
	g.Expect(h.nthReply(alice, 1).Text).To(ContainSubstring(`"urgent" needs a reason: say why it goes ahead of the others`))
	h.consistently(h.reservations).Should(BeEmpty())

	h.dibs(alice, "staging for 1h urgent: hotfix for INC-42")
	h.nthReply(alice, 2)
	h.eventually(h.reservationOf(alice)).ShouldNot(BeNil())
	r := h.reservationOf(alice)()
	g.Expect(r.Spec.Priority).To(HaveValue(Equal(int32(chat.UrgentPriority))))
	g.Expect(r.Spec.Reason).To(Equal("hotfix for INC-42"))
	g.Expect(r.Spec.StartTime).To(BeNil(), "a walk-in has no start")
	g.Expect(r.Spec.Duration.Duration).To(Equal(time.Hour))

	h.dibs(bob, "staging priority 20 because release train")
	h.nthReply(bob, 1)
	h.eventually(h.reservationOf(bob)).ShouldNot(BeNil())
	g.Expect(h.reservationOf(bob)().Spec.Priority).To(HaveValue(Equal(int32(20))))
}

func TestCalendarShowsHoldsQueueAndBookingsOnTheReadersClock(t *testing.T) {
	h := setupPlanning(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Default(time.Hour).Label("pool", "web").Obj(), h.resource("prod").Obj())
	ny := testutil.Zone(t, "America/New_York")

	// alice holds staging; ci waits behind her; priya books tomorrow 09:00 New York time (bob's clock).
	hold := testutil.Reservation("alice-now").Namespace(h.ns).On("staging").Holder(conchv1.SlackHolderPrefix + alice).For(time.Hour).Obj()
	h.create(hold)
	h.eventually(func() conchv1.ReservationState { return h.get("alice-now").Status.State }).Should(Equal(conchv1.StateGranted))
	waiting := testutil.Reservation("ci-deploy").Namespace(h.ns).On("staging").Holder("ci:deploy").Because("<!channel> *deploy* _now_").For(30 * time.Minute).Obj()
	waiting.Spec.Priority = ptrTo(int32(5))
	h.create(waiting)
	h.eventually(func() *metav1.Time { return h.get("ci-deploy").Status.EstimatedGrantTime }).ShouldNot(BeNil())
	now := h.clk.Now().In(ny)
	start := time.Date(now.Year(), now.Month(), now.Day()+1, 9, 0, 0, 0, ny)
	booking := testutil.Reservation("priya-demo").Namespace(h.ns).On("staging").Holder(conchv1.SlackHolderPrefix + priya).For(2 * time.Hour).Because("demo").Obj()
	booking.Spec.StartTime = &metav1.Time{Time: start}
	booking.Spec.Preemptible = conchv1.PreemptibleNever
	h.create(booking)
	// Once the controllers have written its status, the manager's cache (which the bot reads) has seen it.
	h.eventually(func() conchv1.ReservationState { return h.get("priya-demo").Status.State }).ShouldNot(BeEmpty())

	h.dibs(bob, "calendar staging")
	text := h.nthReply(bob, 1).Text
	granted := h.get("alice-now")
	eta := h.get("ci-deploy").Status.EstimatedGrantTime.Time.In(ny)
	g.Expect(text).To(HavePrefix("*staging*: the next 7 days, in America/New_York\n"))
	g.Expect(text).To(ContainSubstring(fmt.Sprintf("\n*Today, %s*\n• %s–%s held by <@UALICE>",
		now.Format("Mon 2 Jan"), granted.Status.GrantedAt.In(ny).Format("15:04"), granted.Status.ExpiresAt.In(ny).Format("15:04"))))
	g.Expect(text).To(ContainSubstring(fmt.Sprintf("• %s–%s queued: `ci:deploy` (expected) · priority 5 _&lt;!channel&gt; \u2217deploy\u2217 \u02cdnow\u02cd_",
		eta.Format("15:04"), eta.Add(30*time.Minute).Format("15:04"))))
	g.Expect(text).To(ContainSubstring(fmt.Sprintf("\n*Tomorrow, %s*\n• 09:00–11:00 booked by <@UPRIYA> · no-preempt _demo_", start.Format("Mon 2 Jan"))))
	g.Expect(text).NotTo(ContainSubstring("<!channel>"))

	// Priya reads the same booking on her own clock: 19:30 in Kolkata.
	h.dibs(priya, "calendar staging")
	g.Expect(h.nthReply(priya, 1).Text).To(ContainSubstring("• 19:30–21:30 booked by <@UPRIYA>"))

	// Every resource: each line names its Resource; one with nothing planned has no line.
	h.dibs(bob, "calendar")
	all := h.nthReply(bob, 2).Text
	g.Expect(all).To(HavePrefix("Every resource: the next 7 days, in America/New_York\n"))
	g.Expect(all).To(ContainSubstring("*staging* booked by <@UPRIYA>"))
	g.Expect(all).NotTo(ContainSubstring("*prod*"))

	// A pool: its members only.
	h.dibs(bob, "calendar pool=web")
	pool := h.nthReply(bob, 3).Text
	g.Expect(pool).To(HavePrefix("The pool `pool=web`: the next 7 days, in America/New_York\n"))
	g.Expect(pool).To(ContainSubstring("booked by <@UPRIYA>"))
	h.dibs(bob, "calendar pool=db")
	g.Expect(h.nthReply(bob, 4).Text).To(Equal(fmt.Sprintf("No Resource in namespace %s is labelled `pool=db`.", h.ns)))

	// An unknown Resource is told as everywhere else.
	h.dibs(bob, "calendar stagin")
	g.Expect(h.nthReply(bob, 5).Text).To(ContainSubstring("There is no *stagin* here. Did you mean *staging*?"))
}

func TestOffKeepsABookingWhileThereIsAHoldToGiveUp(t *testing.T) {
	h := setupPlanning(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())

	// alice holds staging now; then staging is paused, so that her booking waits whoever decides about it.
	h.dibs(alice, "staging for 1h")
	h.nthReply(alice, 1)
	h.eventually(func() conchv1.ReservationState { return h.reservationOf(alice)().Status.State }).Should(Equal(conchv1.StateGranted))
	current := h.reservationOf(alice)()
	res := h.resource("staging").Obj()
	g.Expect(k8s.Patch(ctx, res, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"granting":"Paused"}}`)))).To(Succeed())

	// Booking ahead while holding is not refused as "you already hold it" (tomorrow: after her hold, which a
	// booking must not run into).
	h.dibs(alice, "staging tomorrow 9:00 for 1h")
	g.Expect(h.nthReply(alice, 2).Text).To(HavePrefix("You booked *staging* for "))
	h.eventually(func() int { return len(h.reservations()) }).Should(Equal(2))
	var booking string
	for _, r := range h.reservations() {
		if r.Spec.StartTime != nil {
			booking = r.Name
		}
	}
	g.Expect(booking).NotTo(BeEmpty())

	h.dibs(alice, "off staging")
	g.Expect(h.nthReply(alice, 3).Text).To(MatchRegexp(`^You released \*staging\*\. Your booking from <!date\^\d+\^.*> stands; ` + "`/dibs off staging`" + ` again cancels it\.$`))
	g.Expect(h.get(current.Name).Spec.Released).To(BeTrue())
	g.Expect(h.get(booking).Spec.Released).To(BeFalse())

	h.dibs(alice, "off staging")
	g.Expect(h.nthReply(alice, 4).Text).To(HavePrefix("You cancelled your booking of *staging* (<!date^"))
	g.Expect(h.get(booking).Spec.Released).To(BeTrue())
}

func ptrTo[T any](v T) *T { return &v }
