package standup

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/charts"
	"github.com/conch-dev/conch/internal/testutil"
	"github.com/conch-dev/conch/test/fakeslack"
)

// TestDigestPostedOnceAcrossARestart: a digest due while the manager is down is posted when it is back, once,
// with each person's participation and what they held, and (charts on) a participation chart; another restart
// posts neither again.
func TestDigestPostedOnceAcrossARestart(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(testutil.Resource("staging").Namespace(h.ns).Obj())
	h.create(testutil.Reservation("alice-staging").Namespace(h.ns).On("staging").Holder("slack:" + alice).For(3 * time.Hour).Obj())
	h.eventually(func() conchv1.ReservationState { return h.rsv("alice-staging").Status.State }).Should(Equal(conchv1.StateGranted))

	digestAt := h.runAt.Add(45 * time.Minute)
	st := h.standup("team").Participants(alice, bob).Obj()
	st.Spec.Digest = &conchv1.StandupDigest{Schedule: fmt.Sprintf("%d %d * * *", digestAt.Minute(), digestAt.Hour())}
	st.Spec.Charts = conchv1.StandupCharts{Resources: []string{"staging"}} // charts on: the digest gets a participation chart
	h.create(st)
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextDigestTime }).Should(HaveField("Time", BeTemporally("==", digestAt)))

	h.stepTo(h.runAt)
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.answer(alice, "Work", "More", "None")
	h.stepTo(h.runAt.Add(30 * time.Minute))
	h.eventually(h.posts(teamChannel)).Should(HaveLen(1))

	h.stop()
	h.stepTo(digestAt.Add(5 * time.Minute))
	h.start()
	h.eventually(h.posts(teamChannel)).Should(HaveLen(2))
	digest := h.posts(teamChannel)()[1].AllText()
	t.Logf("Digest:\n%s", digest)
	g.Expect(digest).To(And(ContainSubstring("Stand-up digest: team"), ContainSubstring("*Runs:* 1 held"),
		ContainSubstring("<@UALICE> answered 1 of 1 · :computer: held *staging* ("), ContainSubstring("<@UBOB> answered 0 of 1")))
	h.eventually(func() *metav1.Time { return h.get("team").Status.LastDigestTime }).Should(HaveField("Time", BeTemporally("==", digestAt)))
	g.Expect(h.get("team").Status.NextDigestTime.Time).To(BeTemporally("==", digestAt.AddDate(0, 0, 1)))

	participation := func() []fakeslack.Upload {
		var out []fakeslack.Upload
		for _, u := range h.slack.Uploads() {
			if u.Filename == "team-participation.png" {
				out = append(out, u)
			}
		}
		return out
	}
	h.eventually(participation).Should(HaveLen(1))
	chart := participation()[0]
	g.Expect(chart.Channels).To(Equal([]string{teamChannel}))
	g.Expect(chart.Title).To(HavePrefix("team: stand-ups answered, missed and away"))
	img, err := png.Decode(bytes.NewReader(chart.Bytes))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(img.Bounds()).To(Equal(image.Rect(0, 0, charts.Width, charts.Height)))

	h.stop()
	h.start()
	h.consistently(h.posts(teamChannel)).Should(HaveLen(2), "posted once")
	g.Expect(participation()).To(HaveLen(1), "the chart too")
}
