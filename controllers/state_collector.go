package controllers

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/metrics"
)

// StateCollector reports conch_reservations{namespace,state}, conch_oldest_wait_seconds{namespace} and
// conch_resource_phase{namespace,resource,phase} from the manager's cache at scrape time, so the gauges are always
// exact and cost nothing between scrapes.
type StateCollector struct {
	cache cache.Cache
	clock clock.PassiveClock
}

// NewStateCollector returns a collector over c, timing waits on clk; it registers itself when the manager starts
// it.
func NewStateCollector(c cache.Cache, clk clock.PassiveClock) *StateCollector {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &StateCollector{cache: c, clock: clk}
}

// Start registers the collector with controller-runtime's registry and unregisters it when ctx ends.
func (s *StateCollector) Start(ctx context.Context) error {
	if err := ctrlmetrics.Registry.Register(s); err != nil {
		// Another manager in this process (a test) reports already; one collector is enough.
		if errors.As(err, &prometheus.AlreadyRegisteredError{}) {
			<-ctx.Done()
			return nil
		}
		return err
	}
	<-ctx.Done()
	ctrlmetrics.Registry.Unregister(s)
	return nil
}

// NeedLeaderElection is false: every replica can report what its cache holds.
func (s *StateCollector) NeedLeaderElection() bool { return false }

// Describe implements prometheus.Collector.
func (s *StateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- metrics.ReservationsByState
	ch <- metrics.OldestWait
	ch <- metrics.ResourcePhase
}

// Collect implements prometheus.Collector.
func (s *StateCollector) Collect(ch chan<- prometheus.Metric) {
	var list conchv1.ReservationList
	// Read-only: no copy of the cache per scrape.
	if err := s.cache.List(context.Background(), &list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	type key struct{ ns, state string }
	counts := map[key]int{}
	oldest := map[string]float64{} // by namespace: every namespace with Reservations gets a value, 0 when none waits
	now := s.clock.Now()
	for _, r := range list.Items {
		state := string(r.Status.State)
		if state == "" {
			state = string(conchv1.StatePending)
		}
		counts[key{r.Namespace, state}]++
		waited := 0.0
		if st := conchv1.ReservationState(state); st == conchv1.StatePending || st == conchv1.StateQueued {
			waited = max(now.Sub(r.CreationTimestamp.Time).Seconds(), 0)
		}
		oldest[r.Namespace] = max(oldest[r.Namespace], waited)
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(metrics.ReservationsByState, prometheus.GaugeValue, float64(n), k.ns, k.state)
	}
	for ns, w := range oldest {
		ch <- prometheus.MustNewConstMetric(metrics.OldestWait, prometheus.GaugeValue, w, ns)
	}
	var ress conchv1.ResourceList
	if err := s.cache.List(context.Background(), &ress, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for _, res := range ress.Items {
		if res.Status.Phase != "" {
			ch <- prometheus.MustNewConstMetric(metrics.ResourcePhase, prometheus.GaugeValue, 1, res.Namespace, res.Name, string(res.Status.Phase))
		}
	}
}
