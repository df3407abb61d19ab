package controllers

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/metrics"
)

// StateCollector reports conch_reservations{namespace,state} from the manager's cache at scrape time, so the
// gauge is always exact and costs nothing between scrapes.
type StateCollector struct {
	cache cache.Cache
}

// NewStateCollector returns a collector over c; it registers itself when the manager starts it.
func NewStateCollector(c cache.Cache) *StateCollector { return &StateCollector{cache: c} }

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
func (s *StateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- metrics.ReservationsByState }

// Collect implements prometheus.Collector.
func (s *StateCollector) Collect(ch chan<- prometheus.Metric) {
	var list conchv1.ReservationList
	// Read-only: no copy of the cache per scrape.
	if err := s.cache.List(context.Background(), &list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	type key struct{ ns, state string }
	counts := map[key]int{}
	for _, r := range list.Items {
		state := string(r.Status.State)
		if state == "" {
			state = string(conchv1.StatePending)
		}
		counts[key{r.Namespace, state}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(metrics.ReservationsByState, prometheus.GaugeValue, float64(n), k.ns, k.state)
	}
}
