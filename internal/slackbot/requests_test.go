package slackbot

import (
	"fmt"
	"strings"
	"testing"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestRequestsAreRememberedBounded: a Reservation remembers the last maxRequests request keys, so that any of
// them redelivered changes nothing, and forgets older ones so the annotation stays small; the single key older
// Conchs wrote counts too, and goes at the next change.
func TestRequestsAreRememberedBounded(t *testing.T) {
	r := testutil.Reservation("a").Obj()
	r.Annotations = map[string]string{annotationLastRequest: "legacy"}
	if !handled(r, "legacy") {
		t.Error("the key in the old annotation is not recognised")
	}
	for i := range maxRequests + 1 {
		remember(r, fmt.Sprintf("k%02d", i))
	}
	if _, ok := r.Annotations[annotationLastRequest]; ok {
		t.Error("the old annotation was kept")
	}
	if handled(r, "k00") {
		t.Error("the oldest key beyond the bound is still remembered")
	}
	for i := 1; i <= maxRequests; i++ {
		if k := fmt.Sprintf("k%02d", i); !handled(r, k) {
			t.Errorf("%s is forgotten", k)
		}
	}
	remember(r, "k01") // seen again: it moves to the end, not in twice
	got := strings.Fields(r.Annotations[conchv1.AnnotationSlackRequests])
	if len(got) != maxRequests || got[len(got)-1] != "k01" || got[0] != "k02" {
		t.Errorf("remembered %v", got)
	}
}
