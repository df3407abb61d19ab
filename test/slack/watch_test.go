package slack

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// watchDMs returns the "is free now" DMs user got.
func (h *harness) watchDMs(user string) func() []string {
	return func() []string {
		var out []string
		for _, m := range h.dms(user)() {
			if strings.Contains(m.Text, ":bell:") {
				out = append(out, m.Text)
			}
		}
		return out
	}
}

// watchers returns a Resource's conch.dev/watchers annotation, read from the API server.
func (h *harness) watchers(name string) func() string {
	return func() string {
		res := &conchv1.Resource{}
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: h.ns, Name: name}, res); err != nil {
			h.t.Fatal(err)
		}
		return res.Annotations[conchv1.AnnotationWatchers]
	}
}

// available waits until the controllers found the Resources free.
func (h *harness) available(names ...string) {
	h.t.Helper()
	for _, name := range names {
		h.eventually(func() bool {
			res := &conchv1.Resource{}
			if err := k8s.Get(ctx, types.NamespacedName{Namespace: h.ns, Name: name}, res); err != nil {
				return false
			}
			return meta.IsStatusConditionTrue(res.Status.Conditions, conchv1.ResourceConditionAvailable)
		}).Should(BeTrue(), name)
	}
}

// release sets spec.released on user's Reservation with the API, as kubectl would.
func (h *harness) releaseOf(user string) {
	h.t.Helper()
	r := h.reservationOf(user)()
	if r == nil {
		h.t.Fatalf("%s holds nothing", user)
	}
	patch := client.MergeFrom(r.DeepCopy())
	r.Spec.Released = true
	if err := k8s.Patch(ctx, r, patch); err != nil {
		h.t.Fatal(err)
	}
}

// TestWatchDMsOnceWhenFree: Bob watches staging, which Alice holds, without queueing; he is recorded on the
// Resource, the record survives a restart of the manager, and when her hold ends (released while the manager is
// down) he is DMed once and forgotten: her next hold and its end tell him nothing.
func TestWatchDMsOnceWhenFree(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.available("staging")

	h.dibs(bob, "watch staging")
	g.Expect(h.nthReply(bob, 1).Text).To(Equal("*staging* is free now, so there is nothing to watch. Take it: `/dibs staging`"))
	g.Expect(h.watchers("staging")()).To(BeEmpty())

	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))
	h.dibs(bob, "watch staging")
	g.Expect(h.nthReply(bob, 2).Text).To(HavePrefix("I will DM you once *staging* is free. You are not in its queue"))
	g.Expect(h.watchers("staging")()).To(Equal(bob))
	g.Expect(h.reservationOf(bob)()).To(BeNil(), "a watch is no Reservation")
	h.dibs(bob, "watch staging")
	g.Expect(h.nthReply(bob, 3).Text).To(Equal("You already watch *staging*; I will DM you once it is free."))
	h.consistently(h.watchDMs(bob)).Should(BeEmpty())

	h.stop()
	h.releaseOf(alice)
	h.start()
	h.eventually(h.watchDMs(bob)).Should(Equal([]string{":bell: *staging* is free now. Take it: `/dibs staging`"}))
	h.eventually(h.watchers("staging")).Should(BeEmpty())

	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(2))
	h.dibs(alice, "off staging")
	h.nthReply(alice, 3)
	h.consistently(h.watchDMs(bob)).Should(HaveLen(1))
}

// TestUnwatch: a watch taken back sends nothing when the Resource frees up; unwatching what one does not watch
// says so.
func TestUnwatch(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("staging").Obj())
	h.dibs(alice, "staging for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(1))

	h.dibs(bob, "unwatch staging")
	g.Expect(h.nthReply(bob, 1).Text).To(Equal("You do not watch *staging*."))
	h.dibs(bob, "watch staging")
	h.nthReply(bob, 2)
	h.dibs(admin, "watch staging")
	h.nthReply(admin, 1)
	g.Expect(h.watchers("staging")()).To(Equal(bob + " " + admin))
	h.dibs(bob, "unwatch staging")
	g.Expect(h.nthReply(bob, 3).Text).To(Equal("You no longer watch *staging*."))
	g.Expect(h.watchers("staging")()).To(Equal(admin))

	h.dibs(alice, "off staging")
	h.eventually(h.watchDMs(admin)).Should(HaveLen(1))
	h.consistently(h.watchDMs(bob)).Should(BeEmpty())
}

// TestWatchAPool: Bob watches the pool web (both members held); when one member frees up he is DMed once, naming
// it, and the watch, kept on the pool's first member, is gone.
func TestWatchAPool(t *testing.T) {
	h := setup(t)
	g := NewWithT(t)
	h.create(h.resource("web-1").Label("pool", "web").Obj(), h.resource("web-2").Label("pool", "web").Obj(),
		h.resource("db-1").Label("pool", "db").Obj())
	h.available("web-1", "web-2")

	h.dibs(bob, "watch pool=nothing")
	g.Expect(h.nthReply(bob, 1).Text).To(Equal("No Resource here has the label `pool=nothing`, so there is no such pool to watch."))
	h.dibs(bob, "watch pool=web")
	g.Expect(h.nthReply(bob, 2).Text).To(Equal("*web-1* of the pool `pool=web` is free now, so there is nothing to watch. Take it: `/dibs web-1`"))

	h.dibs(alice, "web-1 for 1h")
	h.dibs(alice, "web-2 for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(2))
	h.dibs(bob, "watch pool=web")
	g.Expect(h.nthReply(bob, 3).Text).To(Equal("I will DM you once a Resource of the pool `pool=web` is free (web-1, web-2). `/dibs unwatch pool=web` stops this."))
	g.Expect(h.watchers("web-1")()).To(Equal(bob + ":pool=web"))

	// A change elsewhere in the namespace, and a hold taken on another pool, fire nothing.
	h.dibs(alice, "db-1 for 1h")
	h.eventually(h.dms(alice)).Should(HaveLen(3))
	h.consistently(h.watchDMs(bob)).Should(BeEmpty())

	h.dibs(alice, "off web-2")
	h.eventually(h.watchDMs(bob)).Should(Equal([]string{":bell: *web-2* of the pool `pool=web` is free now. Take it: `/dibs web-2`"}))
	h.eventually(h.watchers("web-1")).Should(BeEmpty())
	h.dibs(alice, "off web-1")
	h.consistently(h.watchDMs(bob)).Should(HaveLen(1))

	// Unwatch of a pool.
	h.dibs(alice, "web-1 for 1h")
	h.dibs(alice, "web-2 for 1h")
	h.eventually(func() int { return len(h.dms(alice)()) }).Should(Equal(5))
	h.dibs(bob, "watch pool=web")
	h.nthReply(bob, 4)
	h.dibs(bob, "unwatch pool=web")
	g.Expect(h.nthReply(bob, 5).Text).To(Equal("You no longer watch the pool `pool=web`."))
	g.Expect(h.watchers("web-1")()).To(BeEmpty())
}
