package standup

import (
	"bytes"
	"image"
	"image/png"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/charts"
	"github.com/conch-dev/conch/internal/testutil"
	"github.com/conch-dev/conch/test/fakeslack"
)

// TestSummaryWithCharts: a Standup with spec.charts posts, after its summary, one message in its channel with the
// contention chart of each Resource it names (a PNG of the charts' size) and a line of figures each; a name that
// is no Resource is said so. A Standup without charts uploads nothing.
func TestSummaryWithCharts(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)

	// Alice holds staging for ten minutes while Bob waits, then hands it over.
	h.create(testutil.Resource("staging").Namespace(h.ns).Obj())
	h.create(testutil.Reservation("alice-staging").Namespace(h.ns).On("staging").Holder("slack:" + alice).For(time.Hour).Obj())
	h.eventually(func() conchv1.ReservationState { return h.rsv("alice-staging").Status.State }).Should(Equal(conchv1.StateGranted))
	h.create(testutil.Reservation("bob-staging").Namespace(h.ns).On("staging").Holder("slack:" + bob).Obj())
	h.eventually(func() conchv1.ReservationState { return h.rsv("bob-staging").Status.State }).Should(Equal(conchv1.StateQueued))
	h.clk.Step(10 * time.Minute)
	alicesHold := h.rsv("alice-staging")
	patch := client.MergeFrom(alicesHold.DeepCopy())
	alicesHold.Spec.Released = true
	g.Expect(k8s.Patch(ctx, alicesHold, patch)).To(Succeed())
	h.eventually(func() conchv1.ReservationState { return h.rsv("bob-staging").Status.State }).Should(Equal(conchv1.StateGranted))

	// Two stand-ups run now, by request: one charts staging (and a name that is no Resource), one charts nothing.
	withCharts := h.standup("team").Participants(alice).Obj()
	withCharts.Spec.Charts = conchv1.StandupCharts{Resources: []string{"staging", "prod"}, Days: 3}
	withCharts.Annotations = map[string]string{conchv1.AnnotationRunRequested: "now"}
	without := h.standup("plain").Participants(bob).Obj()
	without.Spec.Channel = "CPLAIN"
	without.Annotations = map[string]string{conchv1.AnnotationRunRequested: "now"}
	h.create(withCharts, without)
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.eventually(h.dms(bob)).Should(HaveLen(1))
	run := h.get("team").Status.ActiveRun
	g.Expect(run).NotTo(BeNil())
	h.stepTo(run.Deadline.Time)

	h.eventually(h.posts(teamChannel)).Should(HaveLen(1))
	h.eventually(h.slack.Uploads).Should(HaveLen(1))
	up := h.slack.Uploads()[0]
	g.Expect(up.Channels).To(Equal([]string{teamChannel}))
	g.Expect(up.Filename).To(Equal("staging-contention-3d.png"))
	g.Expect(up.Title).To(HavePrefix("staging: hours held and waited per day, the last 3 days (" + h.zone + ")"))
	img, err := png.Decode(bytes.NewReader(up.Bytes))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(img.Bounds()).To(Equal(image.Rect(0, 0, charts.Width, charts.Height)))
	g.Expect(up.InitialComment).To(And(
		HavePrefix("Contention, the last 3 days ("+h.zone+"):"),
		ContainSubstring("• *staging*: held *"), ContainSubstring("in 2 holds granted"), ContainSubstring("longest wait *10m*"),
		ContainSubstring("• *prod*: there is no such Resource in namespace "+h.ns+".")))

	// After the summary, in the same channel.
	msgs := h.slack.Messages()
	summary := slices.IndexFunc(msgs, func(m fakeslack.Message) bool { return m.Method == "chat.postMessage" && m.Channel == teamChannel })
	chart := slices.IndexFunc(msgs, func(m fakeslack.Message) bool { return m.Method == "files.completeUploadExternal" })
	g.Expect(summary).To(BeNumerically(">=", 0))
	g.Expect(chart).To(BeNumerically(">", summary), "the chart follows the summary")

	// The stand-up without charts posts its summary and nothing more.
	h.eventually(h.posts("CPLAIN")).Should(HaveLen(1))
	h.consistently(h.slack.Uploads).Should(HaveLen(1))
	g.Expect(h.get("team").Status.History).To(ContainElement(HaveField("Outcome", conchv1.OutcomeCompleted)))
	g.Expect(h.run(run.Name).Status.State).To(Equal(conchv1.RunCompleted))
}
