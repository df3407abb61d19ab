package v1alpha1

// The events Conch emits when a Reservation or a Resource changes, as CloudEvents to EventSinks and as messages to
// Slack. The type names are API: receivers match on them, so a type is never renamed, and a payload change that is
// not backwards compatible gets a new version suffix. docs/events.md lists each type with its payload.
const (
	// EventReservationQueued: a Reservation waits in its Resource's queue.
	EventReservationQueued = "dev.conch.reservation.queued.v1"
	// EventReservationGranted: a Reservation's hold started.
	EventReservationGranted = "dev.conch.reservation.granted.v1"
	// EventReservationExpiring: a hold ends soon unless extended (the manager's --slack-warn-before ahead).
	EventReservationExpiring = "dev.conch.reservation.expiring.v1"
	// EventReservationExtended: a hold's end moved later.
	EventReservationExtended = "dev.conch.reservation.extended.v1"
	// EventReservationPreempting: a higher priority is taking a hold's slot (the Resource's
	// spec.priorities.preemption is Hold): the holder keeps it for the grace period, until the new end.
	EventReservationPreempting = "dev.conch.reservation.preempting.v1"
	// EventReservationReleased: a hold or a wait ended early: released by its holder, deleted, shortened below
	// the time held, preempted, or its Resource was deleted.
	EventReservationReleased = "dev.conch.reservation.released.v1"
	// EventReservationExpired: a hold ran its full term, or its heartbeat stopped.
	EventReservationExpired = "dev.conch.reservation.expired.v1"
	// EventReservationRejected: a Reservation will never be granted (its holder is not allowed).
	EventReservationRejected = "dev.conch.reservation.rejected.v1"
	// EventResourcePaused: a Resource stopped granting (spec.granting: Paused).
	EventResourcePaused = "dev.conch.resource.paused.v1"
	// EventResourceResumed: a paused Resource grants again.
	EventResourceResumed = "dev.conch.resource.resumed.v1"
	// EventResourceUnhealthy: a Resource failed its cleanup or health check; nobody is granted it until it is
	// repaired or passes a check.
	EventResourceUnhealthy = "dev.conch.resource.unhealthy.v1"
	// EventResourceHealthy: an Unhealthy Resource passed a check or was repaired, and grants again.
	EventResourceHealthy = "dev.conch.resource.healthy.v1"
)

// Names of the destinations recorded in status.deliveries.
const (
	// DeliverySlackDM is the holder's Slack DM: the turn, the warning before the end, the end.
	DeliverySlackDM = "slack-dm"
	// DeliverySlackChannel is the Resource's Slack channel (spec.slackChannel): the handovers.
	DeliverySlackChannel = "slack-channel"
	// DeliveryEventSinkPrefix prefixes the name of an EventSink of the object's namespace.
	DeliveryEventSinkPrefix = "eventsink/"
)

// MaxDeliveries bounds status.deliveries: the two Slack destinations and up to 32 EventSinks per namespace.
const MaxDeliveries = 34

// MaxDeliveredEvents bounds the keys kept per destination in status.deliveries.
const MaxDeliveredEvents = 16

// Delivery records what one destination was told about an object, so that a restarted or newly elected manager
// delivers what is due and nothing twice. It is written after a delivery succeeded (at least once) or failed for
// good, by the manager's notifier, never by the queue.
type Delivery struct {
	// sink names the destination: slack-dm, slack-channel, or eventsink/<name> for an EventSink of this
	// namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=263
	Sink string `json:"sink,omitempty"`

	// events are the keys of the events delivered to this destination (or given up on after a permanent error),
	// newest last; only the latest are kept, and the key of the grant always.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=64
	Events []string `json:"events,omitempty"`

	// lastFailure says why the latest event given up on was not delivered, for example "user_not_found".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	LastFailure string `json:"lastFailure,omitempty"`
}
