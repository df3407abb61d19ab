package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EventSinkFormat is how an EventSink's events are put on the wire.
// +kubebuilder:validation:Enum=CloudEventsBinary;CloudEventsStructured;Slack;Teams
type EventSinkFormat string

const (
	// FormatCloudEventsBinary is a CloudEvent in HTTP binary mode: the attributes in ce-* headers, the payload as
	// the JSON body. It is the default.
	FormatCloudEventsBinary EventSinkFormat = "CloudEventsBinary"
	// FormatCloudEventsStructured is a CloudEvent in HTTP structured mode: one application/cloudevents+json body.
	FormatCloudEventsStructured EventSinkFormat = "CloudEventsStructured"
	// FormatSlack is a Slack-compatible incoming-webhook message ({"text", "blocks"}), which Mattermost and
	// Rocket.Chat read too.
	FormatSlack EventSinkFormat = "Slack"
	// FormatTeams is a Microsoft Teams workflow webhook message: one Adaptive Card attachment.
	FormatTeams EventSinkFormat = "Teams"
)

// MaxEventSinksPerNamespace is how many EventSinks of one namespace hear of its objects' events: status.deliveries
// records two Slack destinations and at most this many sinks (MaxDeliveries). Sinks beyond it, in order of name,
// are told so in their Ready condition (reason TooManySinks) and deliver nothing.
const MaxEventSinksPerNamespace = MaxDeliveries - 2

// Condition types of an EventSink: Ready, Reconciling and Stalled as for a Reservation (ConditionReady,
// ConditionReconciling, ConditionStalled), read by kstatus.

// Reasons of EventSink conditions.
const (
	// EventSinkReasonReady: the sink is valid and its latest delivery, if any, succeeded.
	EventSinkReasonReady = "Ready"
	// EventSinkReasonDeliveryFailing: the latest deliveries failed; they are retried.
	EventSinkReasonDeliveryFailing = "DeliveryFailing"
	// EventSinkReasonSecretNotFound: spec.signingKeySecretRef names a Secret that does not exist (yet).
	EventSinkReasonSecretNotFound = "SecretNotFound"
	// EventSinkReasonSecretForbidden: the manager may not read the Secret spec.signingKeySecretRef names: by
	// default it reads only Secrets named SigningKeySecretName.
	EventSinkReasonSecretForbidden = "SecretForbidden"
	// EventSinkReasonInvalidSigningKey: the Secret lacks the key, or its value is empty or not valid base64 after
	// a whsec_ prefix.
	EventSinkReasonInvalidSigningKey = "InvalidSigningKey"
	// EventSinkReasonAddressNotAllowed: the URL's host is an address the manager refuses to connect to
	// (loopback, link-local, the API server), unless an administrator allowed it.
	EventSinkReasonAddressNotAllowed = "AddressNotAllowed"
	// EventSinkReasonInvalidAddress: the URL or the Service cannot be delivered to (a Service of another
	// namespace, a URL that does not parse).
	EventSinkReasonInvalidAddress = "InvalidAddress"
	// EventSinkReasonInvalidFilter: spec.filter.resourceSelector is not a valid label selector.
	EventSinkReasonInvalidFilter = "InvalidFilter"
	// EventSinkReasonTooManySinks: the namespace has more than MaxEventSinksPerNamespace EventSinks and this one
	// is beyond the limit.
	EventSinkReasonTooManySinks = "TooManySinks"
)

// EventSinkSpec says where and how an EventSink delivers the events of its namespace's Reservations and Resources.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.service)",message="set exactly one of url and service"
type EventSinkSpec struct {
	// url is where events are POSTed: an http or https URL. Incoming-webhook URLs of chat tools carry their token
	// in the path, so whoever may read this EventSink may post to that channel.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="url must be an absolute http or https URL, such as https://hooks.example.com/conch"
	URL string `json:"url,omitempty"`

	// service is a Service of this namespace that events are POSTed to over http, instead of a url.
	// +optional
	Service EventSinkService `json:"service,omitzero"`

	// signingKeySecretRef names a Secret of this namespace holding the key that signs each request, as Standard
	// Webhooks do (webhook-id, webhook-timestamp and webhook-signature headers). Unset: requests are not signed.
	// The Secret is read at each delivery, so that updating it rotates the key.
	// +optional
	SigningKeySecretRef SecretKeyRef `json:"signingKeySecretRef,omitzero"`

	// filter selects the events delivered; unset delivers every event of the namespace.
	// +optional
	Filter EventSinkFilter `json:"filter,omitzero"`

	// format is CloudEventsBinary (the default), CloudEventsStructured, Slack (a Slack-compatible incoming-webhook
	// message, which Mattermost and Rocket.Chat read too) or Teams (a Microsoft Teams workflow webhook message).
	// +optional
	// +default="CloudEventsBinary"
	Format EventSinkFormat `json:"format,omitempty"`

	// timeout bounds one delivery attempt, from connecting to reading the response. Defaults to 10s.
	// +optional
	// +default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('60s')",message="timeout must be a duration between 1s and 60s, such as 10s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// EventSinkService is a Service events are POSTed to: http://<name>.<namespace>.svc:<port><path>.
type EventSinkService struct {
	// name is the Service's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="service.name must be a Service name (a DNS label)"
	Name string `json:"name,omitempty"`

	// namespace is the Service's namespace; it must be the EventSink's own, and is that when unset. (A sink
	// delivers its own namespace's events, to its own namespace's Services.)
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// port is the Service's port. Defaults to 80.
	// +optional
	// +default=80
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// path is the request path, starting with /. Defaults to /.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/') && !self.contains(' ')",message="service.path must start with / and contain no spaces"
	Path string `json:"path,omitempty"`
}

// SigningKeySecretName is the name of the Secret, in each namespace, that the manager may read signing keys from:
// its role lets it get Secrets of this name, and no other, so that installing Conch lets it read no one's
// credentials. One Secret holds the keys of all the namespace's EventSinks, one per data key. To use another
// name, an admin binds the manager a Role that lets it get that Secret by name.
const SigningKeySecretName = "conch-eventsink-keys"

// SecretKeyRef names one key of a Secret in the referring object's namespace.
type SecretKeyRef struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// key is the key in the Secret's data. Defaults to "key".
	// +optional
	// +default="key"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="key must consist of alphanumerics, '-', '_' or '.'"
	Key string `json:"key,omitempty"`
}

// EventSinkFilter selects events: an event is delivered when it matches every field that is set.
// +kubebuilder:validation:MinProperties=1
type EventSinkFilter struct {
	// types are the event types delivered (dev.conch.reservation.granted.v1, ...); unset delivers every type.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Enum=dev.conch.reservation.queued.v1;dev.conch.reservation.granted.v1;dev.conch.reservation.expiring.v1;dev.conch.reservation.extended.v1;dev.conch.reservation.preempting.v1;dev.conch.reservation.released.v1;dev.conch.reservation.expired.v1;dev.conch.reservation.rejected.v1;dev.conch.resource.paused.v1;dev.conch.resource.resumed.v1;dev.conch.resource.unhealthy.v1;dev.conch.resource.healthy.v1
	Types []string `json:"types,omitempty"`

	// resourceNames are the Resources whose events (and whose Reservations' events) are delivered; unset
	// delivers those of every Resource. A Reservation not yet bound to a Resource of a pool matches no name.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	ResourceNames []string `json:"resourceNames,omitempty"`

	// resourceSelector selects by the labels of the Resource an event concerns; unset selects every Resource. A
	// Reservation whose Resource is not known yet matches no selector but the empty one.
	// +optional
	ResourceSelector *metav1.LabelSelector `json:"resourceSelector,omitempty"`
}

// EventTypes returns every event type Conch emits, in the order of the enum of EventSinkFilter.types.
func EventTypes() []string {
	return []string{
		EventReservationQueued, EventReservationGranted, EventReservationExpiring, EventReservationExtended,
		EventReservationPreempting, EventReservationReleased, EventReservationExpired, EventReservationRejected,
		EventResourcePaused, EventResourceResumed, EventResourceUnhealthy, EventResourceHealthy,
	}
}

// EventSinkStatus is what the manager observed about an EventSink and its deliveries. The delivery figures are
// written at most every few seconds, not per delivery.
type EventSinkStatus struct {
	// conditions are Ready (the sink is valid and its latest delivery succeeded), and Stalled while the sink
	// needs a fix from its owner (a missing Secret, an address not allowed).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// url is where the sink delivers, without the path and query of a url (which often carry a token).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url,omitempty"`

	// lastDeliveryTime is when an event was last delivered.
	// +optional
	LastDeliveryTime *metav1.Time `json:"lastDeliveryTime,omitempty"`

	// lastFailureTime is when a delivery attempt last failed.
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`

	// lastFailure says why a delivery attempt last failed.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	LastFailure string `json:"lastFailure,omitempty"`

	// consecutiveFailures counts the attempts that failed since the last delivery.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`

	// observedGeneration is the generation of the spec this status was computed from.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// EventSink delivers the events of its namespace's Reservations and Resources (granted, released, expiring, ...)
// to an HTTP endpoint: as CloudEvents, or as chat messages (Slack-compatible or Microsoft Teams incoming
// webhooks), optionally signed the Standard Webhooks way. docs/events.md describes the events and the wire.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sink,categories=conch
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Last Delivery",type=date,JSONPath=`.status.lastDeliveryTime`
// +kubebuilder:printcolumn:name="Failures",type=integer,JSONPath=`.status.consecutiveFailures`
// +kubebuilder:printcolumn:name="Format",type=string,JSONPath=`.spec.format`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EventSink struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says where and how events are delivered.
	// +required
	Spec EventSinkSpec `json:"spec,omitzero"`

	// status reports the sink's validity and its deliveries.
	// +optional
	Status EventSinkStatus `json:"status,omitempty"`
}

// EventSinkList is a list of EventSinks.
//
// +kubebuilder:object:root=true
type EventSinkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EventSink `json:"items"`
}
