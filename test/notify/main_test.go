// Package notify tests the Dispatcher against a real kube-apiserver and etcd (envtest): what it delivers, in
// which order and how fast per destination, what it records in status.deliveries and when, and what a restarted
// manager delivers again.
package notify

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/notify"
	"github.com/conch-dev/conch/internal/testenv"
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

// sent is one call of a destination's Send.
type sent struct {
	sink, key string
	at        time.Time
}

// destination is a notify.Destination whose sinks call a function the test sets, and record every call. It has
// one sink per Reservation holder ("lane" = the holder), so tests can make one lane fail while another works.
type destination struct {
	ns       string
	interval time.Duration

	mu    sync.Mutex
	calls []sent
	send  func(ctx context.Context, holder string, ev notify.Event) error
}

func (d *destination) Sinks(_ context.Context, obj client.Object, _ client.Object) ([]notify.Sink, error) {
	r, ok := obj.(*conchv1.Reservation)
	if !ok || r.Namespace != d.ns {
		return nil, nil
	}
	holder := r.Spec.Holder
	return []notify.Sink{{
		Name: conchv1.DeliveryEventSinkPrefix + "test", Lane: "test/" + holder, Interval: d.interval,
		Send: func(ctx context.Context, ev notify.Event) error {
			d.mu.Lock()
			d.calls = append(d.calls, sent{sink: holder, key: ev.Key, at: time.Now()})
			f := d.send
			d.mu.Unlock()
			if f == nil {
				return nil
			}
			return f(ctx, holder, ev)
		},
	}}, nil
}

func (d *destination) sent() []sent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sent(nil), d.calls...)
}

func (d *destination) keysTo(holder string) func() []string {
	return func() []string {
		var keys []string
		for _, s := range d.sent() {
			if s.sink == holder {
				keys = append(keys, s.key)
			}
		}
		return keys
	}
}

// start runs a manager with only the Dispatcher and dest; the returned function stops it.
func start(t *testing.T, dest notify.Destination, clk clock.WithTicker) (stop func()) {
	t.Helper()
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := ctrl.NewManager(suite.Config, ctrl.Options{
		Scheme: manager.Scheme(), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	d := &notify.Dispatcher{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("conch-notify"), Clock: clk,
		WarnBefore: 10 * time.Minute, Destinations: []notify.Destination{dest},
	}
	if err := d.SetupWithManager(mgr); err != nil {
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

func consistently(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Consistently(f).WithTimeout(1500 * time.Millisecond).WithPolling(50 * time.Millisecond)
}
