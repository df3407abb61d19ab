package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The metrics of EventSinks, per sink (at most 32 per namespace); the Dispatcher's own metrics count every
// destination's notifications together.
var (
	// EventSinkRequests counts the HTTP requests made to EventSinks, by the class of the answer: 2xx, 4xx, 5xx,
	// or error when there was none (refused, timed out, not allowed by the manager's address guard).
	EventSinkRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conch_eventsink_requests_total",
		Help: "HTTP requests made to EventSinks, by the class of the answer (2xx, 4xx, 5xx, error).",
	}, []string{"namespace", "eventsink", "code"})

	// EventSinkRequestSeconds observes how long EventSinks took to answer.
	EventSinkRequestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "conch_eventsink_request_duration_seconds",
		Help:    "Time from sending a request to an EventSink to its answer (or the attempt's end).",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"namespace", "eventsink"})

	// EventSinkEvents counts the events EventSinks were done with: delivered, or given_up after a permanent
	// error.
	EventSinkEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conch_eventsink_events_total",
		Help: "Events EventSinks were done with, by result (delivered, given_up).",
	}, []string{"namespace", "eventsink", "result"})
)

func init() {
	metrics.Registry.MustRegister(EventSinkRequests, EventSinkRequestSeconds, EventSinkEvents)
}
