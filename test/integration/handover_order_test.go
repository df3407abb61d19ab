package integration

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestDrainIsFirstComeFirstServed creates a queue one Reservation after another, as fast as the API server takes
// them, then releases each holder as soon as it is granted: the grants follow the order of creation to the end.
func TestDrainIsFirstComeFirstServed(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, testutil.Resource("staging").Namespace(ns).Obj())
	const n = 40
	name := func(i int) string { return fmt.Sprintf("h-%04d", i) }
	for i := range n {
		create(t, testutil.Reservation(name(i)).Namespace(ns).On("staging").For(time.Hour).Obj())
	}
	for i := range n {
		eventually(t, state(t, ns, name(i))).Should(Equal(conchv1.StateGranted), "the %d-th created", i)
		g.Expect(holdersOf(t, ns)).To(Equal([]string{name(i)}))
		patchSpec(t, reservation(t, ns, name(i)), func(s *conchv1.ReservationSpec) { s.Released = true })
	}
}

func holdersOf(t *testing.T, ns string) []string {
	var out []string
	for _, h := range resource(t, ns, "staging").Status.Holders {
		out = append(out, h.Reservation)
	}
	return out
}
