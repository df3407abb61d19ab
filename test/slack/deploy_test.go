package slack

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// TestDibsDeploySetsTheRevision: "/dibs staging for 2h deploy pr-345" makes a Reservation whose parameter
// revision is pr-345, for the Resource's deploy patch, and the reply says what it deploys; on a Resource that
// deploys nothing the word is refused rather than ignored, and a revision that is markup never reaches Slack as
// such.
func TestDibsDeploySetsTheRevision(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	staging := h.resource("staging").Obj()
	staging.Spec.Deploy = conchv1.Deploy{
		Target: conchv1.DeployTarget{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: "web"},
		Patch:  runtime.RawExtension{Raw: []byte(`{"spec":{"source":{"targetRevision":"{{ .parameters.revision }}"}}}`)},
	}
	h.create(staging, h.resource("qa").Obj())

	h.dibs(alice, "staging for 2h deploy pr-345")
	g.Expect(h.nthReply(alice, 1).Text).To(ContainSubstring("Deploying `pr-345` to it."))
	r := h.reservationOf(alice)()
	g.Expect(r).NotTo(BeNil())
	g.Expect(r.Spec.Duration.Duration).To(Equal(2 * time.Hour))
	g.Expect(r.Spec.Parameters).To(Equal([]conchv1.Parameter{{Name: conchv1.ParameterRevision, Value: "pr-345"}}))

	h.dibs(bob, "qa deploy pr-1")
	g.Expect(h.nthReply(bob, 1).Text).To(HavePrefix("*qa* deploys nothing on grant (it has no spec.deploy), so `deploy pr-1` would do nothing."))
	g.Expect(h.reservationOf(bob)()).To(BeNil())

	h.dibs(bob, "staging deploy <!channel>")
	bad := h.nthReply(bob, 2).Text
	g.Expect(bad).To(HavePrefix(`"&lt;!channel&gt;" is not a revision`))
	g.Expect(bad).NotTo(ContainSubstring("<!channel>"))
	g.Expect(h.reservationOf(bob)()).To(BeNil())
}
