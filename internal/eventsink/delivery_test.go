package eventsink

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	clocktesting "k8s.io/utils/clock/testing"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/notify"
	"github.com/conch-dev/conch/internal/testutil"
)

// testScheme has the Kubernetes kinds and Conch's (internal/manager's Scheme, which will import this package).
func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(conchv1.AddToScheme(s))
	return s
}

const testKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is an in-process webhook receiver: it answers with the codes it is given, in order (200 once they run
// out), and keeps what it received.
type receiver struct {
	mu    sync.Mutex
	codes []int
	hang  time.Duration
	reqs  []received
	srv   *httptest.Server
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, received{header: req.Header.Clone(), body: body})
		code, hang := http.StatusOK, r.hang
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		r.mu.Unlock()
		if hang > 0 {
			select {
			case <-time.After(hang):
			case <-req.Context().Done():
				return
			}
		}
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// setHang makes the receiver wait d (or until the request is cancelled) before answering.
func (r *receiver) setHang(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hang = d
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

// request rebuilds the i-th request received, for the CloudEvents SDK's own parser.
func (r *receiver) request(i int) *http.Request {
	got := r.received()[i]
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(got.body)))
	req.Header = got.header
	return req
}

// newTestDestination returns a Destination over a fake client holding objs, allowed to reach loopback.
func newTestDestination(t *testing.T, objs ...client.Object) (*Destination, client.Client) {
	c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(objs...).
		WithStatusSubresource(&conchv1.EventSink{}).Build()
	d := NewDestination(c, Options{AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	return d, c
}

func keySecret(name, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"}, Data: map[string][]byte{"key": []byte(value)}}
}

// sinkFor returns the one notify.Sink the Destination makes for ev's object.
func sinkFor(t *testing.T, d *Destination, ev notify.Event) notify.Sink {
	t.Helper()
	var obj client.Object = ev.Resource
	if ev.Reservation != nil {
		obj = ev.Reservation
	}
	sinks, err := d.Sinks(t.Context(), obj, ev.Resource)
	if err != nil || len(sinks) != 1 {
		t.Fatalf("Sinks = %d sinks, %v; want 1", len(sinks), err)
	}
	return sinks[0]
}

func TestDeliverCloudEvents(t *testing.T) {
	for _, format := range []conchv1.EventSinkFormat{conchv1.FormatCloudEventsBinary, conchv1.FormatCloudEventsStructured} {
		t.Run(string(format), func(t *testing.T) {
			rcv := newReceiver(t)
			sink := testutil.EventSink("deploys").Namespace("team-a").URL(rcv.srv.URL+"/hook").Key("hook-key", "").Format(format).Obj()
			d, _ := newTestDestination(t, sink, keySecret("hook-key", testKey))
			ev := granted("deploy pr-345")
			s := sinkFor(t, d, ev)
			if s.Name != "eventsink/deploys" || s.Lane != "eventsink/team-a/deploys" {
				t.Errorf("sink %q in lane %q", s.Name, s.Lane)
			}
			if err := s.Send(t.Context(), ev); err != nil {
				t.Fatalf("Send: %v", err)
			}
			// The receiver's side: the SDK parses the event, a Standard Webhooks library checks the signature.
			ce, err := cehttp.NewEventFromHTTPRequest(rcv.request(0))
			if err != nil {
				t.Fatalf("the CloudEvents SDK cannot read the request: %v", err)
			}
			if ce.ID() != ev.ID || ce.Type() != conchv1.EventReservationGranted || ce.Subject() != "staging" ||
				ce.Source() != "/apis/conch.dev/v1alpha1/namespaces/team-a/reservations/deploy-1" ||
				!ce.Time().Equal(ev.Time) || ce.DataContentType() != "application/json" {
				t.Errorf("CloudEvent %s", ce)
			}
			var data notify.ReservationData
			if err := ce.DataAs(&data); err != nil || data.Holder != "alice" || data.Reason != "deploy pr-345" || data.Resource != "staging" {
				t.Errorf("data %+v, %v", data, err)
			}
			wh, _ := standardwebhooks.NewWebhook(testKey)
			got := rcv.received()[0]
			if err := wh.Verify(got.body, got.header); err != nil {
				t.Errorf("signature: %v", err)
			}
			if got.header.Get(HeaderWebhookID) != ev.ID {
				t.Errorf("webhook-id %q, want the event's ID %q", got.header.Get(HeaderWebhookID), ev.ID)
			}
		})
	}
}

func TestDeliverChat(t *testing.T) {
	rcv := newReceiver(t)
	sink := testutil.EventSink("chat").Namespace("team-a").URL(rcv.srv.URL).Format(conchv1.FormatSlack).Obj()
	d, _ := newTestDestination(t, sink)
	ev := granted("<!here> deploy")
	if err := sinkFor(t, d, ev).Send(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	got := rcv.received()[0]
	var msg SlackPayload
	if err := json.Unmarshal(got.body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Text != "alice has *staging* until 14:00 UTC (&lt;!here&gt; deploy)" {
		t.Errorf("text %q", msg.Text)
	}
	if got.header.Get(HeaderWebhookSignature) != "" {
		t.Error("signed without a key")
	}
}

// TestDeliverFailures injects failures and checks what the Dispatcher is told, and the figures for the status.
func TestDeliverFailures(t *testing.T) {
	cases := map[string]struct {
		codes     []int
		hang      time.Duration
		noSecret  bool
		permanent bool
		after     string
	}{
		"500 is retried":                   {codes: []int{500}},
		"503 is retried":                   {codes: []int{503}},
		"429 waits as asked":               {codes: []int{429}, after: "(retry after 7s)"},
		"404 is given up on":               {codes: []int{404}, permanent: true},
		"401 (signature refused) given up": {codes: []int{401}, permanent: true},
		"a hang times out, retried":        {hang: 5 * time.Second},
		"a missing Secret is retried":      {noSecret: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rcv := newReceiver(t, tc.codes...)
			rcv.setHang(tc.hang)
			sink := testutil.EventSink("deploys").Namespace("team-a").URL(rcv.srv.URL).Key("hook-key", "").Timeout(300 * time.Millisecond).Obj()
			objs := []client.Object{sink}
			if !tc.noSecret {
				objs = append(objs, keySecret("hook-key", testKey))
			}
			d, _ := newTestDestination(t, objs...)
			ev := granted("")
			s := sinkFor(t, d, ev)
			start := time.Now()
			err := s.Send(t.Context(), ev)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Send took %s: the sink's timeout is 300ms", took)
			}
			if notify.IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, !tc.permanent, tc.permanent)
			}
			if tc.after != "" && !strings.Contains(err.Error(), tc.after) {
				t.Errorf("error %q, want %s", err, tc.after)
			}
			st := d.figures(client.ObjectKeyFromObject(sink), sink.UID)
			if st.consecutive != 1 || st.failure == "" || st.lastFailure.IsZero() {
				t.Errorf("figures %+v, want one failure recorded", st)
			}
			// The next attempt succeeds (the receiver answers 200 once its codes run out) and resets the count.
			rcv.setHang(0)
			if !tc.noSecret {
				if err := s.Send(t.Context(), ev); err != nil {
					t.Fatalf("second Send: %v", err)
				}
				if st := d.figures(client.ObjectKeyFromObject(sink), sink.UID); st.consecutive != 0 || st.lastDelivery.IsZero() {
					t.Errorf("figures after a delivery %+v", st)
				}
			}
		})
	}
}

// TestDialGuard checks that the guard refuses at connect time: a sink on loopback is refused by a Destination
// that was not allowed it, whether named by address or by a name that resolves there.
func TestDialGuard(t *testing.T) {
	rcv := newReceiver(t)
	port := rcv.srv.URL[strings.LastIndex(rcv.srv.URL, ":"):]
	for _, u := range []string{rcv.srv.URL, "http://localhost" + port} {
		t.Run(u, func(t *testing.T) {
			sink := testutil.EventSink("s").Namespace("team-a").URL(u).Obj()
			c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(sink).Build()
			d := NewDestination(c, Options{})
			ev := granted("")
			err := sinkFor(t, d, ev).Send(t.Context(), ev)
			var ae *AddressError
			if !errors.As(err, &ae) || !notify.IsPermanent(err) {
				t.Errorf("Send = %v, want a permanent AddressError", err)
			}
			if n := len(rcv.received()); n != 0 {
				t.Errorf("the receiver got %d requests", n)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	target := newReceiver(t)
	redir := httptest.NewServer(http.RedirectHandler(target.srv.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redir.Close)
	sink := testutil.EventSink("s").Namespace("team-a").URL(redir.URL).Obj()
	d, _ := newTestDestination(t, sink)
	ev := granted("")
	if err := sinkFor(t, d, ev).Send(t.Context(), ev); !notify.IsPermanent(err) {
		t.Errorf("Send = %v, want permanent", err)
	}
	if n := len(target.received()); n != 0 {
		t.Errorf("the redirect was followed (%d requests)", n)
	}
}

// TestKeyRotation checks that an updated Secret signs the deliveries made once the key's TTL has passed, without a
// new Destination.
func TestKeyRotation(t *testing.T) {
	rcv := newReceiver(t)
	sink := testutil.EventSink("s").Namespace("team-a").URL(rcv.srv.URL).Key("hook-key", "").Obj()
	sec := keySecret("hook-key", "old-key")
	d, c := newTestDestination(t, sink, sec)
	clk := clocktesting.NewFakeClock(time.Now())
	d.clock = clk
	ev := granted("")
	s := sinkFor(t, d, ev)
	if err := s.Send(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	sec.Data["key"] = []byte("new-key")
	if err := c.Update(t.Context(), sec); err != nil {
		t.Fatal(err)
	}
	clk.Step(DefaultKeyTTL) // the key is read again once its TTL has passed
	if err := s.Send(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	got := rcv.received()
	for i, key := range []string{"old-key", "new-key"} {
		wh, _ := standardwebhooks.NewWebhookRaw([]byte(key))
		if err := wh.Verify(got[i].body, got[i].header); err != nil {
			t.Errorf("delivery %d is not signed with %s: %v", i, key, err)
		}
	}
	if got[0].header.Get(HeaderWebhookID) != got[1].header.Get(HeaderWebhookID) {
		t.Error("a retry of one event carries another webhook-id")
	}
}

// TestSinksOfANamespace checks which sinks an object gets: those of its namespace, the first 32 by name, each with
// its filter.
func TestSinksOfANamespace(t *testing.T) {
	objs := []client.Object{
		testutil.EventSink("other-ns").Namespace("team-b").URL("https://example.com").Obj(),
		testutil.EventSink("granted-only").Namespace("team-a").URL("https://example.com").Types(conchv1.EventReservationGranted).Obj(),
		testutil.EventSink("prod-only").Namespace("team-a").URL("https://example.com").Selecting(map[string]string{"env": "prod"}).Obj(),
	}
	d, _ := newTestDestination(t, objs...)
	ev := granted("")
	res := testutil.Resource("staging").Namespace("team-a").Label("env", "staging").Obj()
	sinks, err := d.Sinks(t.Context(), ev.Reservation, res)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	wants := map[string]bool{}
	for _, s := range sinks {
		names = append(names, s.Name)
		wants[s.Name] = s.Wants(ev)
	}
	if strings.Join(names, ",") != "eventsink/granted-only,eventsink/prod-only" {
		t.Errorf("sinks %v", names)
	}
	if !wants["eventsink/granted-only"] || wants["eventsink/prod-only"] {
		t.Errorf("wants %v", wants)
	}
	// A typed nil Resource (unknown) is no Resource.
	if sinks, err = d.Sinks(t.Context(), ev.Reservation, (*conchv1.Resource)(nil)); err != nil || len(sinks) != 2 || sinks[1].Wants(ev) {
		t.Errorf("with no Resource: %d sinks, %v", len(sinks), err)
	}
}

// TestSendToDeletedSink: events still queued for a sink deleted since are given up on.
func TestSendToDeletedSink(t *testing.T) {
	sink := testutil.EventSink("s").Namespace("team-a").URL("https://example.com").Obj()
	d, c := newTestDestination(t, sink)
	ev := granted("")
	s := sinkFor(t, d, ev)
	if err := c.Delete(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), ev); !errors.Is(err, errSinkGone) || !notify.IsGone(err) {
		t.Errorf("Send = %v, want errSinkGone marked Gone", err)
	}
}
