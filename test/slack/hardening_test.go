package slack

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/conch-dev/conch/internal/testutil"
)

// TestBadInputAndFailingSlack throws what goes wrong in practice at the Slack front end: every case gets a clear
// answer, nothing crashes, and nothing is lost or made twice.
func TestBadInputAndFailingSlack(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())

	// A huge command text is refused before any work.
	h.dibs(alice, "staging because "+strings.Repeat("very long reason ", 400))
	g.Expect(h.nthReply(alice, 1).Text).To(ContainSubstring("too long"))

	// A user Slack knows nothing about (users.info fails) can still take a Resource: times fall back to UTC.
	h.slack.FailNext("users.info", 1, "user_not_found")
	h.dibs("UNKNOWN", "staging for 1h")
	g.Expect(h.nthReply("UNKNOWN", 1).Text).To(ContainSubstring("<@UNKNOWN> took *staging*"))

	// Out of order: a release arrives for someone who holds nothing yet — a plain answer, no change.
	h.dibs(bob, "off staging")
	g.Expect(h.nthReply(bob, 1).Text).To(ContainSubstring("You do not hold or wait for *staging*"))

	// Slack failing the DM twice: the notification is retried and arrives once.
	h.slack.FailNext("chat.postMessage", 2, "internal_error")
	h.dibs(bob, "staging")
	h.nthReply(bob, 2)
	h.dibs("UNKNOWN", "off staging")
	h.eventually(h.dmTexts(bob)).Should(containing("You now hold *staging*"))
	h.consistently(h.dms(bob)).Should(HaveLen(1))

	// A response URL that fails: the command still happened, and the manager carries on.
	h.slack.FailNext("response_url", 1, "")
	answers := len(h.slack.Calls("response_url"))
	h.dibs(alice, "staging for 30m")
	h.eventually(h.reservationOf(alice)).ShouldNot(BeNil())
	h.eventually(func() int { return len(h.slack.Calls("response_url")) }).Should(Equal(answers + 1))
	h.dibs(alice, "who staging")
	h.eventually(func() []string { return texts(h.replies(alice)()) }).Should(containing("*staging* — held by <@UBOB>"))
	g.Expect(h.reservations()).To(HaveLen(3), "nothing made twice, nothing lost")
}

// TestChannelMappedOutsideTheManagedNamespaces answers clearly when a channel's namespace is not Conch's.
func TestChannelMappedOutsideTheManagedNamespaces(t *testing.T) {
	h := setup(t)
	h.create(testutil.Resource("staging").Namespace(h.ns).Obj())
	h.slack.SendSlashCommand(fakeslackCommand("/dibs", "staging", alice, "CELSEWHERE"))
	answer := h.nthReply(alice, 1)
	NewWithT(t).Expect(answer.Text).To(ContainSubstring("act on namespace elsewhere, which this Conch does not manage"))
	NewWithT(t).Expect(h.reservations()).To(BeEmpty())
}
