// Package eventsink tests the EventSink status controller against a real API server (envtest): the CRD's
// validation, Ready for a missing Secret and for addresses the guard refuses, and the delivery figures, coalesced.
package eventsink

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/eventsink"
	"github.com/conch-dev/conch/internal/notify"
	"github.com/conch-dev/conch/internal/testenv"
	"github.com/conch-dev/conch/internal/testutil"
)

var (
	suite *testenv.Suite
	k8s   client.Client
	dest  *eventsink.Destination
)

// statusInterval is short, so that the coalesced figures show quickly.
const statusInterval = 300 * time.Millisecond

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(conchv1.AddToScheme(s))
	return s
}

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, scheme(), func(s *testenv.Suite) (func(), error) {
		suite, k8s = s, s.Client
		ctx, cancel := context.WithCancel(context.Background())
		mgr, err := ctrl.NewManager(s.Config, ctrl.Options{
			Scheme:     scheme(),
			Metrics:    metricsserver.Options{BindAddress: "0"},
			Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		})
		if err != nil {
			cancel()
			return nil, err
		}
		// The receivers of these tests listen on 127.0.0.1: the admin allows that address, and only it.
		dest = eventsink.NewDestination(mgr.GetClient(), eventsink.Options{
			AllowedCIDRs:   []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			StatusInterval: statusInterval,
			KeyTTL:         statusInterval, // Secrets are read by name, not watched: a fixed one shows within it
		})
		if err := dest.SetupWithManager(ctx, mgr); err != nil {
			cancel()
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				fmt.Fprintln(os.Stderr, "manager:", err)
			}
		}, nil
	}))
}

func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(50 * time.Millisecond)
}

// ready returns the status, reason and Stalled of a sink's Ready condition, as "True/Ready" or
// "False/SecretNotFound/Stalled".
func ready(t *testing.T, ns, name string) func() string {
	return func() string {
		s := &conchv1.EventSink{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
			return err.Error()
		}
		c := meta.FindStatusCondition(s.Status.Conditions, conchv1.ConditionReady)
		if c == nil || c.ObservedGeneration != s.Generation {
			return "not yet"
		}
		out := string(c.Status) + "/" + c.Reason
		if meta.IsStatusConditionTrue(s.Status.Conditions, conchv1.ConditionStalled) {
			out += "/Stalled"
		}
		return out
	}
}

func TestValidation(t *testing.T) {
	ns := suite.Namespace(t, "v")
	cases := map[string]*conchv1.EventSink{
		"neither url nor service": testutil.EventSink("a").Namespace(ns).Obj(),
		"both":                    testutil.EventSink("b").Namespace(ns).URL("https://example.com").Service("recv", "", 80, "/").Obj(),
		"a file URL":              testutil.EventSink("c").Namespace(ns).URL("file:///etc/passwd").Obj(),
		"a relative URL":          testutil.EventSink("d").Namespace(ns).URL("/hook").Obj(),
		"a timeout too long":      testutil.EventSink("e").Namespace(ns).URL("https://example.com").Timeout(time.Hour).Obj(),
		"an unknown event type":   testutil.EventSink("f").Namespace(ns).URL("https://example.com").Types("dev.conch.reservation.eaten.v1").Obj(),
		"a path without a slash":  testutil.EventSink("g").Namespace(ns).Service("recv", "", 80, "hook").Obj(),
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if err := k8s.Create(context.Background(), s); err == nil {
				t.Error("created")
			}
		})
	}
	ok := testutil.EventSink("ok").Namespace(ns).Service("recv", "", 0, "").Obj()
	ok.Spec.Format, ok.Spec.Timeout = "", nil
	if err := k8s.Create(context.Background(), ok); err != nil {
		t.Fatalf("a valid sink: %v", err)
	}
	if ok.Spec.Format != conchv1.FormatCloudEventsBinary || ok.Spec.Timeout.Duration != 10*time.Second || ok.Spec.Service.Port != 80 {
		t.Errorf("defaults: %+v", ok.Spec)
	}
}

func TestMissingSecret(t *testing.T) {
	ns := suite.Namespace(t, "s")
	sink := testutil.EventSink("signed").Namespace(ns).URL("https://hooks.invalid/conch").Key("hook-key", "").Obj()
	if err := k8s.Create(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	eventually(t, ready(t, ns, "signed")).Should(Equal("False/SecretNotFound/Stalled"))

	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook-key", Namespace: ns}, Data: map[string][]byte{"other": []byte("x")}}
	if err := k8s.Create(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, ready(t, ns, "signed")).Should(Equal("False/InvalidSigningKey/Stalled"))

	sec.Data = map[string][]byte{"key": []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")}
	if err := k8s.Update(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, ready(t, ns, "signed")).Should(Equal("True/Ready"))
	got := &conchv1.EventSink{}
	_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(sink), got)
	if got.Status.URL != "https://hooks.invalid/…" {
		t.Errorf("status.url %q shows the path", got.Status.URL)
	}
}

func TestAddressNotAllowed(t *testing.T) {
	ns := suite.Namespace(t, "a")
	for name, u := range map[string]string{
		"metadata": "http://169.254.169.254/latest/meta-data/",
		"loopback": "http://127.0.0.2:8080/",
		"ipv6":     "http://[::1]/",
		"allowed":  "http://127.0.0.1:9/",
	} {
		if err := k8s.Create(context.Background(), testutil.EventSink(name).Namespace(ns).URL(u).Obj()); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"metadata", "loopback", "ipv6"} {
		eventually(t, ready(t, ns, name)).Should(Equal("False/AddressNotAllowed/Stalled"), name)
	}
	eventually(t, ready(t, ns, "allowed")).Should(Equal("True/Ready"))
}

func TestServiceOfAnotherNamespace(t *testing.T) {
	ns := suite.Namespace(t, "n")
	if err := k8s.Create(context.Background(), testutil.EventSink("elsewhere").Namespace(ns).Service("recv", "kube-system", 80, "/").Obj()); err != nil {
		t.Fatal(err)
	}
	eventually(t, ready(t, ns, "elsewhere")).Should(Equal("False/InvalidAddress/Stalled"))
}

// TestDeliveryFigures sends through the Destination as the Dispatcher would, and checks that the sink's status
// follows (failing, then delivering) with few writes for many deliveries.
func TestDeliveryFigures(t *testing.T) {
	ns := suite.Namespace(t, "f")
	var fail atomic.Bool
	fail.Store(true)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer rcv.Close()
	sink := testutil.EventSink("recv").Namespace(ns).URL(rcv.URL).Obj()
	if err := k8s.Create(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	eventually(t, ready(t, ns, "recv")).Should(Equal("True/Ready"))

	res := testutil.Resource("staging").Namespace(ns).Obj()
	r := testutil.Reservation("r1").Namespace(ns).On("staging").Holder("alice").BoundTo("staging").Granted(time.Now()).Obj()
	until := metav1.NewMicroTime(time.Now().Add(time.Hour))
	r.Status.ExpiresAt = &until
	evs, _ := notify.ReservationEvents(r, res, nil, 0, time.Now())
	var sinks []notify.Sink
	eventually(t, func() int {
		sinks, _ = dest.Sinks(context.Background(), r, res)
		return len(sinks)
	}).Should(Equal(1))

	if err := sinks[0].Send(context.Background(), evs[0]); err == nil || notify.IsPermanent(err) {
		t.Fatalf("Send to a failing receiver = %v, want a transient error", err)
	}
	eventually(t, ready(t, ns, "recv")).Should(Equal("False/DeliveryFailing"))

	// Many deliveries, few writes: count the status updates the API server sends to a watcher.
	w, err := suite.Watcher.Watch(context.Background(), &conchv1.EventSinkList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var writes atomic.Int32
	go func() {
		for e := range w.ResultChan() {
			if e.Type == watch.Modified {
				writes.Add(1)
			}
		}
	}()
	fail.Store(false)
	for range 30 {
		if err := sinks[0].Send(context.Background(), evs[0]); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, ready(t, ns, "recv")).Should(Equal("True/Ready"))
	time.Sleep(3 * statusInterval)
	if n := writes.Load(); n > 3 {
		t.Errorf("%d status writes for 30 deliveries, want at most 3", n)
	}
	got := &conchv1.EventSink{}
	_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(sink), got)
	if got.Status.LastDeliveryTime == nil || got.Status.ConsecutiveFailures != 0 || got.Status.LastFailure == "" {
		t.Errorf("status %+v", got.Status)
	}
}

// TestTooManySinks: the 33rd sink by name is told it delivers nothing.
func TestTooManySinks(t *testing.T) {
	ns := suite.Namespace(t, "m")
	for i := range conchv1.MaxEventSinksPerNamespace + 1 {
		if err := k8s.Create(context.Background(), testutil.EventSink(fmt.Sprintf("s%02d", i)).Namespace(ns).URL("https://hooks.invalid/").Obj()); err != nil {
			t.Fatal(err)
		}
	}
	last := fmt.Sprintf("s%02d", conchv1.MaxEventSinksPerNamespace)
	eventually(t, ready(t, ns, last)).Should(Equal("False/TooManySinks/Stalled"))
	eventually(t, ready(t, ns, "s00")).Should(Equal("True/Ready"))
	// One fewer, and the last one delivers.
	if err := k8s.Delete(context.Background(), testutil.EventSink("s00").Namespace(ns).Obj()); err != nil {
		t.Fatal(err)
	}
	eventually(t, ready(t, ns, last)).Should(Equal("True/Ready"))
}
