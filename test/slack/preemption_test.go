package slack

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/slackbot"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestAPreemptionIsPolite: on a Resource that lets a higher priority take a held slot, Alice's hold is preempted
// by a pipeline's urgent Reservation: she gets one DM that says who needs it and why (escaped), when her hold now
// ends, with a Release now button; the channel is told who takes it from whom and why, and then that the pipeline
// holds it by priority. Her button hands it over at once.
func TestAPreemptionIsPolite(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	res := h.resource("staging").Preemption(conchv1.PreemptionHold, 5*time.Minute, 0).Obj()
	res.Spec.SlackChannel = stagingChannel
	h.create(res)
	h.dibs(alice, "staging for 2h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))

	h.create(testutil.Reservation("hotfix").Namespace(h.ns).On("staging").Holder("ci:hotfix").
		Priority(10, "INC-42 <!channel> prod is *down*").Obj())
	preempting := func() []string {
		var out []string
		for _, t := range h.dmTexts(alice)() {
			if strings.Contains(t, "needs *staging*") {
				out = append(out, t)
			}
		}
		return out
	}
	h.eventually(preempting).Should(HaveLen(1))
	dm := h.dms(alice)()[1]
	g.Expect(dm.Text).To(ContainSubstring(":warning: `ci:hotfix` (_INC-42 &lt;!channel&gt; prod is ∗down∗_) needs *staging* before your turn ends. Your hold now ends in 5m"))
	g.Expect(dm.Buttons()).To(HaveLen(1))
	channel := func() []string { return texts(h.posts(stagingChannel)()) }
	h.eventually(channel).Should(containing(":rotating_light: `ci:hotfix` (_INC-42 &lt;!channel&gt; prod is ∗down∗_) is taking *staging* from <@UALICE> by priority"))
	h.consistently(preempting).Should(HaveLen(1))

	click, ok := dm.Click(alice, slackbot.ActionRelease)
	g.Expect(ok).To(BeTrue())
	h.slack.ClickButton(click)
	h.eventually(func() conchv1.ReservationState { return h.get("hotfix").Status.State }).Should(Equal(conchv1.StateGranted))
	h.eventually(channel).Should(containing("*staging* is now held by `ci:hotfix` until"))
	g.Expect(channel()).To(containing("by priority 10: _INC-42 &lt;!channel&gt; prod is ∗down∗_"))
}
