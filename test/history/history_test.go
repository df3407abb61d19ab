// Package history tests the Recorder of ended holds against a real API server: a Reservation that ends is
// recorded once in its Resource's ConfigMap, a restarted manager records nothing twice, and holds older than the
// retention are pruned, by the manager's clock.
package history

import (
	"context"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/history"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
	"github.com/conch-dev/conch/internal/testutil"
)

var (
	suite *testenv.Suite
	k8s   client.Client
	ctx   = context.Background()
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, k8s = s, s.Client
		return nil, nil
	}))
}

// startManager runs a manager of ns on clk, writing histories at most every 200 ms, until the returned function
// (also a cleanup) stops it.
func startManager(t *testing.T, ns string, clk *testutil.StepClock, retention time.Duration) (stop func()) {
	t.Helper()
	return startManagerEvery(t, ns, clk, retention, 200*time.Millisecond)
}

// startManagerEvery is startManager writing histories at most every every.
func startManagerEvery(t *testing.T, ns string, clk *testutil.StepClock, retention, every time.Duration) (stop func()) {
	t.Helper()
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, suite.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", SeveralPerProcess: true, Namespaces: []string{ns}, Clock: clk,
		HistoryRetention: retention, HistoryEvery: every,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stop = testenv.RunInBackground(mctx, t, cancel, mgr)
	t.Cleanup(stop)
	return stop
}

func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}

// recorded reads the history of resource as a Reader of it would, and also counts its raw records per
// Reservation name (a duplicate would show as 2).
func recorded(ns, resource string) func() map[string]int {
	return func() map[string]int {
		holds, err := history.ConfigMaps{Client: k8s}.Holds(ctx, ns, resource, time.Time{})
		if err != nil {
			return map[string]int{"error: " + err.Error(): 1}
		}
		n := map[string]int{}
		for _, h := range holds {
			n[h.Reservation]++
		}
		return n
	}
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

func state(ns, name string) func() conchv1.ReservationState {
	return func() conchv1.ReservationState {
		r := &conchv1.Reservation{}
		_ = k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r)
		return r.Status.State
	}
}

func release(t *testing.T, ns, name string) {
	t.Helper()
	r := &conchv1.Reservation{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(r.DeepCopy())
	r.Spec.Released = true
	if err := k8s.Patch(ctx, r, patch); err != nil {
		t.Fatal(err)
	}
}

// TestEndedHoldsAreRecordedOnce: a released hold, a deleted waiting Reservation and a deleted holder each appear
// once, with their times and why they ended, in a ConfigMap owned by the Resource; a manager started again over
// the same Reservations adds nothing twice.
func TestEndedHoldsAreRecordedOnce(t *testing.T) {
	ns := suite.Namespace(t, "h")
	clk := testutil.NewStepClock()
	stop := startManager(t, ns, clk, 0)

	create(t, testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj())
	eventually(t, state(ns, "alice")).Should(Equal(conchv1.StateGranted))
	create(t, testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj(),
		testutil.Reservation("carol").Namespace(ns).On("staging").Holder("carol").For(time.Hour).Obj())
	eventually(t, state(ns, "carol")).Should(Equal(conchv1.StateQueued))

	release(t, ns, "alice")
	eventually(t, state(ns, "bob")).Should(Equal(conchv1.StateGranted))
	if err := k8s.Delete(ctx, testutil.Reservation("carol").Namespace(ns).Obj()); err != nil {
		t.Fatal(err)
	}
	eventually(t, recorded(ns, "staging")).Should(Equal(map[string]int{"alice": 1, "carol": 1}))

	holds, err := history.ConfigMaps{Client: k8s}.Holds(ctx, ns, "staging", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range holds {
		switch h.Reservation {
		case "alice":
			if h.State != "Released" || h.Reason != conchv1.ReasonReleased || h.Holder != "alice" || h.Granted.IsZero() ||
				h.Ended.Before(h.Granted.Truncate(time.Second)) || h.Created.After(h.Granted) || h.UID == "" {
				t.Errorf("alice's hold recorded as %+v", h)
			}
		case "carol":
			if h.State != "Released" || h.Reason != conchv1.ReasonDeleted || !h.Granted.IsZero() || h.Held() != 0 {
				t.Errorf("carol, who gave up waiting, recorded as %+v", h)
			}
		}
	}
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "conch-history-staging"}, cm); err != nil {
		t.Fatal(err)
	}
	res := &conchv1.Resource{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "staging"}, res); err != nil {
		t.Fatal(err)
	}
	if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != res.UID || cm.Labels[history.LabelHistory] != "true" {
		t.Errorf("the history ConfigMap is not labelled and owned by its Resource: %+v %+v", cm.Labels, cm.OwnerReferences)
	}

	// Another manager (a restart, or the next leader) sees alice's ended Reservation again: nothing is added.
	stop()
	version := cm.ResourceVersion
	startManager(t, ns, clk, 0)
	if err := k8s.Delete(ctx, testutil.Reservation("bob").Namespace(ns).Obj()); err != nil {
		t.Fatal(err)
	}
	eventually(t, recorded(ns, "staging")).Should(Equal(map[string]int{"alice": 1, "bob": 1, "carol": 1}))
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "conch-history-staging"}, cm); err != nil {
		t.Fatal(err)
	}
	if cm.ResourceVersion == version {
		t.Errorf("bob's end was not written")
	}
}

// TestOldHoldsArePruned: once the manager's clock is past a hold's end plus the retention, the next write of the
// history leaves it out.
func TestOldHoldsArePruned(t *testing.T) {
	ns := suite.Namespace(t, "p")
	clk := testutil.NewStepClock()
	startManager(t, ns, clk, 24*time.Hour)

	create(t, testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("old").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj())
	eventually(t, state(ns, "old")).Should(Equal(conchv1.StateGranted))
	release(t, ns, "old")
	eventually(t, recorded(ns, "staging")).Should(Equal(map[string]int{"old": 1}))

	clk.Step(25 * time.Hour)
	create(t, testutil.Reservation("new").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj())
	eventually(t, state(ns, "new")).Should(Equal(conchv1.StateGranted))
	release(t, ns, "new")
	eventually(t, recorded(ns, "staging")).Should(Equal(map[string]int{"new": 1}))
}

// TestWritesAreCoalesced: six holds that end together cost the API server at most two writes of the history (the
// first end at once, the others together once the least time between writes has passed), never one per hold.
func TestWritesAreCoalesced(t *testing.T) {
	ns := suite.Namespace(t, "c")
	startManagerEvery(t, ns, testutil.NewStepClock(), 0, 3*time.Second)
	create(t, testutil.Resource("pool").Namespace(ns).Capacity(6).Obj())
	names := []string{"a", "b", "c", "d", "e", "f"}
	for _, n := range names {
		create(t, testutil.Reservation(n).Namespace(ns).On("pool").Holder(n).For(time.Hour).Obj())
	}
	for _, n := range names {
		eventually(t, state(ns, n)).Should(Equal(conchv1.StateGranted))
	}

	var cms corev1.ConfigMapList
	if err := suite.Watcher.List(ctx, &cms, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	w, err := suite.Watcher.Watch(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: cms.ResourceVersion}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, n := range names {
		release(t, ns, n)
	}
	eventually(t, recorded(ns, "pool")).Should(HaveLen(len(names)))
	writes := 0
	for drained := false; !drained; {
		select {
		case ev := <-w.ResultChan():
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && cm.Name == history.ConfigMapName("pool") {
				writes++
			}
		case <-time.After(500 * time.Millisecond): // the watch has delivered what the history shows
			drained = true
		}
	}
	if writes < 1 || writes > 2 {
		t.Errorf("six holds ended together were written in %d writes, want 1 or 2", writes)
	}
}
