package standup

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/test/fakeslack"
)

// TestEachPersonAtTheirMorning: with timing Participant, Alice (Paris), Carol (UTC) and Bob (New York) are each
// asked at 09:00 on their own clock, reminded 20 minutes after their own prompt, and the summary is posted when
// Bob's window closes. Bob moves to Kolkata before the summary: the next run starts at his new 09:00, before
// anyone else's.
func TestEachPersonAtTheirMorning(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	st := h.standup("team").Participants(alice, bob, carol).Schedule("0 9 * * *", "UTC").Obj()
	st.Spec.Timing = conchv1.TimingParticipant
	h.create(st)

	load := func(name string) *time.Location { loc, _ := time.LoadLocation(name); return loc }
	paris, ny, utc, kolkata := load("Europe/Paris"), load("America/New_York"), time.UTC, load("Asia/Kolkata")
	sched, _ := schedule.Parse("0 9 * * *", "UTC")
	w := sched.NextWall(h.clk.Now(), []*time.Location{paris, ny, utc})
	atParis, atUTC, atNY := schedule.At(w, paris), schedule.At(w, utc), schedule.At(w, ny)
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextRunTime }).Should(HaveField("Time", BeTemporally("==", atParis)))
	g.Expect(h.get("team").Status.ParticipantTimeZones).To(ConsistOf("America/New_York", "Europe/Paris", "UTC"))

	// 09:00 in Paris: Alice only.
	h.stepTo(atParis)
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	g.Expect(h.dms(alice)()[0].AllText()).To(ContainSubstring("Please answer by"))
	h.consistently(func() int { return len(h.dms(bob)()) + len(h.dms(carol)()) }).Should(BeZero())
	run := h.activeRun("team")
	g.Expect(run.Spec.Deadline.Time).To(BeTemporally("==", atNY.Add(30*time.Minute)), "the summary when Bob's window closes")
	g.Expect(run.Status.Participants).To(ContainElement(And(HaveField("User", bob), HaveField("TimeZone", "America/New_York"),
		HaveField("Prompted", false), HaveField("PromptAt.Time", BeTemporally("==", atNY)))))
	h.answer(alice, "Paris things", "More", "None")

	// 09:00 UTC: Carol. 20 minutes later she is reminded; Alice, who answered, is not.
	h.stepTo(atUTC.Add(-time.Second))
	h.consistently(h.dms(carol)).Should(BeEmpty())
	h.stepTo(atUTC)
	h.eventually(h.dms(carol)).Should(HaveLen(1))
	h.stepTo(atUTC.Add(20 * time.Minute))
	h.eventually(h.dms(carol)).Should(HaveLen(2))
	g.Expect(h.dms(carol)()[1].AllText()).To(ContainSubstring("Reminder"))
	g.Expect(h.dms(alice)()).To(HaveLen(1))
	h.consistently(h.posts(teamChannel)).Should(BeEmpty(), "no summary while Bob's window has not even opened")

	// 09:00 in New York: Bob. Then he moves to Kolkata, and his window closes: the summary.
	h.stepTo(atNY)
	h.eventually(h.dms(bob)).Should(HaveLen(1))
	h.answer(bob, "New York things", "More", "None")
	h.slack.AddUser(fakeslack.User{ID: bob, Name: "bob", DisplayName: "Bob", TZ: "Asia/Kolkata", TZOffset: 19800})
	h.stepTo(atNY.Add(30 * time.Minute))
	h.eventually(h.posts(teamChannel)).Should(HaveLen(1))
	g.Expect(h.posts(teamChannel)()[0].AllText()).To(And(ContainSubstring("Paris things"), ContainSubstring("New York things"), ContainSubstring("2 of 3 answered")))

	// The next run starts at 09:00 in Kolkata, with Bob alone.
	w2 := w.AddDate(0, 0, 1)
	h.eventually(func() *metav1.Time { return h.get("team").Status.NextRunTime }).Should(HaveField("Time", BeTemporally("==", schedule.At(w2, kolkata))))
	h.stepTo(schedule.At(w2, kolkata))
	h.eventually(h.dms(bob)).Should(HaveLen(2))
	h.consistently(h.dms(alice)).Should(HaveLen(1))
	h.stepTo(schedule.At(w2, paris))
	h.eventually(h.dms(alice)).Should(HaveLen(2))
}
