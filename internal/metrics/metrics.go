// Package metrics holds Conch's Prometheus metrics, registered in controller-runtime's registry so that the
// manager's metrics endpoint serves them. Every name starts with conch_.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// Grants counts holds granted, by namespace.
	Grants = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conch_grants_total",
		Help: "Holds granted.",
	}, []string{"namespace"})

	// Ends counts holds and requests that reached a final state, by namespace and final state
	// (Released, Expired, Rejected).
	Ends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conch_reservations_ended_total",
		Help: "Reservations that reached a final state, by state.",
	}, []string{"namespace", "state"})

	// Expirations counts holds that ran their full duration.
	Expirations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conch_expirations_total",
		Help: "Holds that ended because their duration ran out.",
	}, []string{"namespace"})

	// WaitSeconds observes the time from a Reservation's creation to its grant.
	WaitSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "conch_wait_seconds",
		Help:    "Time from a Reservation's creation to its grant.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600},
	}, []string{"namespace"})

	// HoldSeconds observes how long holds lasted, from grant to release or expiry.
	HoldSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "conch_hold_seconds",
		Help:    "How long holds lasted, from grant to their end.",
		Buckets: []float64{1, 10, 60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 7 * 24 * 3600},
	}, []string{"namespace", "state"})

	// OldestWait is how long the longest-waiting Reservation of a namespace has waited (Pending or Queued),
	// computed from the manager's cache at scrape time by the controllers' StateCollector; 0 when none waits.
	OldestWait = prometheus.NewDesc(
		"conch_oldest_wait_seconds",
		"How long the longest-waiting Reservation of a namespace has waited, Pending or Queued.",
		[]string{"namespace"}, nil)

	// ResourcePhase is 1 for the phase each Resource is in (status.phase: Available, Held, Cleaning, Checking,
	// Unhealthy, Maintenance), as kube-state-metrics reports a Pod's phase; computed at scrape time.
	ResourcePhase = prometheus.NewDesc(
		"conch_resource_phase",
		"The phase a Resource is in (1), by namespace, resource and phase.",
		[]string{"namespace", "resource", "phase"}, nil)

	// Notifications counts the outcomes of deliveries, by kind of destination (slack-dm, slack-channel,
	// eventsink) and result: delivered, failed (given up on after a permanent error), retried (a transient error
	// or a rate limit; tried again later), dropped (no longer worth sending, such as a warning after the end).
	Notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conch_notifications_total",
		Help: "Outcomes of notification deliveries, by destination kind and result.",
	}, []string{"sink", "result"})

	// NotificationDelaySeconds observes the time from a transition to its delivery.
	NotificationDelaySeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "conch_notification_delivery_seconds",
		Help:    "Time from a transition to its delivery, by destination kind.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
	}, []string{"sink"})

	// NotificationBacklog is the number of deliveries waiting or in flight, by destination kind.
	NotificationBacklog = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "conch_notification_backlog",
		Help: "Deliveries waiting or in flight, by destination kind.",
	}, []string{"sink"})

	// ReservationsByState is the number of Reservations in each state, computed from the manager's cache at scrape
	// time by a collector the controllers register (see controllers.StateCollector).
	ReservationsByState = prometheus.NewDesc(
		"conch_reservations",
		"Reservations by namespace and state.",
		[]string{"namespace", "state"}, nil)
)

func init() {
	metrics.Registry.MustRegister(Grants, Ends, Expirations, WaitSeconds, HoldSeconds,
		Notifications, NotificationDelaySeconds, NotificationBacklog)
}
