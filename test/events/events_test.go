// Package events tests Conch's event sinks end to end: a real kube-apiserver and etcd (envtest), the real
// manager, and an in-process HTTP receiver that reads each request as a receiver would, with the CloudEvents SDK
// and a Standard Webhooks library.
package events

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	. "github.com/onsi/gomega"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
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

// key is the signing key, as a Standard Webhooks secret.
const key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// received is one request as the receiver verified it.
type received struct {
	id, typ, source string
	signed          bool
}

// receiver is an HTTP endpoint that verifies what it is sent; hang makes it hold every request until the test
// ends.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []received
	hang chan struct{}
	// inFlight counts requests it is holding.
	inFlight int
}

func newReceiver(t *testing.T, hang bool) *receiver {
	rcv := &receiver{}
	if hang {
		rcv.hang = make(chan struct{})
	}
	wh, err := standardwebhooks.NewWebhook(key)
	if err != nil {
		t.Fatal(err)
	}
	rcv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if rcv.hang != nil {
			rcv.mu.Lock()
			rcv.inFlight++
			rcv.mu.Unlock()
			select {
			case <-rcv.hang:
			case <-r.Context().Done():
			}
			return
		}
		signed := wh.Verify(body, r.Header) == nil
		r.Body = io.NopCloser(bytes.NewReader(body))
		ce, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		rcv.got = append(rcv.got, received{id: ce.ID(), typ: ce.Type(), source: ce.Source(), signed: signed})
		rcv.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(func() {
		if rcv.hang != nil {
			close(rcv.hang)
		}
		rcv.srv.Close()
	})
	return rcv
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, g := range r.got {
		out = append(out, g.typ)
	}
	return out
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// start runs the real manager on one namespace; the receivers on 127.0.0.1 are allowed by the admin's flag.
func start(t *testing.T, ns string, clk *testutil.StepClock) (stop func()) {
	t.Helper()
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, suite.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", Clock: clk, SeveralPerProcess: true, Namespaces: []string{ns},
		EventSinkAllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
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
	return NewWithT(t).Eventually(f).WithTimeout(15 * time.Second).WithPolling(20 * time.Millisecond)
}

func sinkWithKey(t *testing.T, ns, url string) {
	t.Helper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook-key"}, StringData: map[string]string{"key": key}}
	if err := k8s.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, testutil.EventSink("hooks").Namespace(ns).URL(url).Key("hook-key", "key").Obj()); err != nil {
		t.Fatal(err)
	}
}

func update[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	eventually(t, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return k8s.Update(ctx, obj)
	}).Should(Succeed())
}

func TestEveryTransitionReachesASignedSinkAcrossARestart(t *testing.T) {
	ns := suite.Namespace(t, "e")
	rcv := newReceiver(t, false)
	clk := testutil.NewStepClock()
	stop := start(t, ns, clk)
	sinkWithKey(t, ns, rcv.srv.URL+"/conch")
	res := testutil.Resource("staging").Namespace(ns).Obj()
	alice := testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice@example.com").For(time.Hour).Obj()
	bob := testutil.Reservation("bob").Namespace(ns).On("staging").Holder("ci:deploy").For(time.Hour).Obj()
	for _, o := range []client.Object{res, alice} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, rcv.types).Should(ContainElement(conchv1.EventReservationGranted))
	if err := k8s.Create(ctx, bob); err != nil {
		t.Fatal(err)
	}
	eventually(t, rcv.types).Should(ContainElement(conchv1.EventReservationQueued))
	// The duplicate window is a delivery not yet recorded when the manager stops: wait for the record, so that
	// every event below must arrive exactly once.
	eventually(t, func() int {
		n := 0
		for _, r := range []*conchv1.Reservation{alice, bob} {
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(r), r)
			for _, d := range r.Status.Deliveries {
				n += len(d.Events)
			}
		}
		return n
	}).Should(Equal(2))

	// While no manager runs, the Resource is paused and alice lets go: a new manager tells of both.
	stop()
	update(t, res, func(r *conchv1.Resource) { r.Spec.Granting = conchv1.GrantingPaused })
	update(t, alice, func(r *conchv1.Reservation) { r.Spec.Released = true })
	start(t, ns, clk)
	eventually(t, rcv.types).Should(ContainElements(conchv1.EventResourcePaused, conchv1.EventReservationReleased))
	update(t, res, func(r *conchv1.Resource) { r.Spec.Granting = conchv1.GrantingOpen })
	eventually(t, rcv.types).Should(ContainElements(conchv1.EventResourceResumed))
	eventually(t, func() int {
		n := 0
		for _, typ := range rcv.types() {
			if typ == conchv1.EventReservationGranted {
				n++
			}
		}
		return n
	}).Should(Equal(2), "bob is granted once staging is open again")

	ids := map[string]int{}
	for _, g := range rcv.all() {
		NewWithT(t).Expect(g.signed).To(BeTrue(), "every request is signed: %+v", g)
		ids[g.id]++
	}
	for id, n := range ids {
		NewWithT(t).Expect(n).To(Equal(1), "event %s delivered %d times", id, n)
	}
	sink := &conchv1.EventSink{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hooks"}, sink)).To(Succeed())
	eventually(t, func() bool {
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hooks"}, sink)
		return meta.IsStatusConditionTrue(sink.Status.Conditions, conchv1.ConditionReady) && sink.Status.LastDeliveryTime != nil
	}).Should(BeTrue())
}

func TestTheGrantPathDoesNotWaitForAHangingSink(t *testing.T) {
	ns := suite.Namespace(t, "e")
	rcv := newReceiver(t, true)
	clk := testutil.NewStepClock()
	start(t, ns, clk)
	sinkWithKey(t, ns, rcv.srv.URL)
	if err := k8s.Create(ctx, testutil.Resource("staging").Namespace(ns).Capacity(20).Obj()); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		r := testutil.Reservation("r" + string(rune('a'+i))).Namespace(ns).On("staging").Holder("ci:job").For(time.Hour).Obj()
		created := time.Now()
		if err := k8s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() conchv1.ReservationState {
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(r), r)
			return r.Status.State
		}).Should(Equal(conchv1.StateGranted))
		NewWithT(t).Expect(time.Since(created)).To(BeNumerically("<", 2*time.Second), "grant %d waited", i)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	NewWithT(t).Expect(rcv.inFlight).To(BeNumerically(">=", 1), "the sink was holding deliveries all along")
}
