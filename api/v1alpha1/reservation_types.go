package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReservationState is where a Reservation is in its life. Pending, Queued and Granted can change; Released,
// Expired and Rejected are final.
// +kubebuilder:validation:Enum=Pending;Queued;Granted;Released;Expired;Rejected
type ReservationState string

const (
	// StatePending means not yet in a queue, because its Resource does not exist (yet) or no Resource matches its
	// selector. It proceeds by itself when one appears.
	StatePending ReservationState = "Pending"
	// StateQueued means waiting in its Resource's queue; status.position and status.estimatedGrantTime say for how long.
	StateQueued ReservationState = "Queued"
	// StateGranted means holding its Resource until status.expiresAt.
	StateGranted ReservationState = "Granted"
	// StateReleased means ended by its holder (spec.released, deletion) or because its Resource was deleted.
	StateReleased ReservationState = "Released"
	// StateExpired means the hold ran its full duration.
	StateExpired ReservationState = "Expired"
	// StateRejected means the Resource will never grant it (for example, its holder is not in allowedHolders).
	StateRejected ReservationState = "Rejected"
)

// IsFinal reports whether no further change of state can happen.
func (s ReservationState) IsFinal() bool {
	return s == StateReleased || s == StateExpired || s == StateRejected
}

// Condition types of a Reservation. Ready and Granted are True while the hold is held; Reconciling and Stalled
// follow the kstatus conventions, so that GitOps tools show a waiting Reservation as progressing and a rejected one
// as failed.
const (
	ConditionReady           = "Ready"
	ConditionGranted         = "Granted"
	ConditionReconciling     = "Reconciling"
	ConditionStalled         = "Stalled"
	ConditionDurationClamped = "DurationClamped"
)

// Reasons of Reservation conditions.
const (
	ReasonGranted            = "Granted"
	ReasonQueued             = "Queued"
	ReasonResourceMissing    = "ResourceMissing"
	ReasonQueueFull          = "QueueFull"
	ReasonShortened          = "Shortened"
	ReasonNoMatchingResource = "NoMatchingResource"
	ReasonReleased           = "Released"
	ReasonDeleted            = "Deleted"
	ReasonResourceDeleted    = "ResourceDeleted"
	ReasonExpired            = "Expired"
	ReasonHolderNotAllowed   = "HolderNotAllowed"
	ReasonHeartbeatMissed    = "HeartbeatMissed"
	ReasonHolderFinished     = "HolderFinished"
	ReasonHolderDeleted      = "HolderDeleted"
	ReasonMaxDurationApplied = "MaxDurationApplied"
	ReasonWithinMaxDuration  = "WithinMaxDuration"
)

// Labels and annotations Conch puts on Reservations it creates for people (from Slack) and pipelines.
const (
	// LabelSlackUser holds the Slack user ID of the person a Reservation was made for.
	LabelSlackUser = "conch.dev/slack-user"
	// LabelRequest holds a key derived from the request that created the Reservation (a Slack trigger), so that a
	// retried request finds the Reservation it already made.
	LabelRequest = "conch.dev/request"
	// AnnotationSlackUserName holds the display name of the Slack user.
	AnnotationSlackUserName = "conch.dev/slack-user-name"
	// AnnotationReleasedBy names who released a Reservation that was not theirs.
	AnnotationReleasedBy = "conch.dev/released-by"
	// AnnotationReleasedBecause says why Conch released a Reservation held by an object (spec.heldBy):
	// HolderFinished or HolderDeleted, with the object's own word after a colon ("HolderFinished: Job Failed").
	AnnotationReleasedBecause = "conch.dev/released-because"
	// AnnotationSlackRequests holds the keys of the last requests from Slack that changed a Reservation (at most
	// 16, space-separated, oldest first), so that one Slack redelivers, even after later ones, changes nothing.
	AnnotationSlackRequests = "conch.dev/slack-requests"
	// AnnotationNudgedAt is when the holder of a granted Reservation was last nudged (`/dibs nudge`: someone is
	// waiting), in RFC 3339. It is written before the nudge is sent, with a resourceVersion precondition, so that
	// a holder is nudged at most once per hold per interval (15 minutes unless the manager's
	// --slack-nudge-interval says otherwise), whoever asks and however often a command is redelivered.
	AnnotationNudgedAt = "conch.dev/nudged-at"
)

// ReservationFinalizer was set on every Reservation by Conch before v0.2. Conch no longer sets it: a deleted
// Reservation is released as soon as the controller confirms with the API server that it is gone, which costs no
// write. The controller removes it from Reservations being deleted that still carry it.
const ReservationFinalizer = "conch.dev/release"

// ReservationSpec is one request to hold a Resource.
// +kubebuilder:validation:XValidation:rule="has(self.resourceName) != has(self.selector)",message="set exactly one of resourceName (a Resource by name) or selector (any Resource of a pool)"
// +kubebuilder:validation:XValidation:rule="has(self.resourceName) == has(oldSelf.resourceName) && (!has(self.resourceName) || self.resourceName == oldSelf.resourceName)",message="resourceName cannot be changed; create a new Reservation"
// +kubebuilder:validation:XValidation:rule="has(self.selector) == has(oldSelf.selector) && (!has(self.selector) || self.selector == oldSelf.selector)",message="selector cannot be changed; create a new Reservation"
// +kubebuilder:validation:XValidation:rule="self.holder == oldSelf.holder",message="holder cannot be changed; create a new Reservation"
// +kubebuilder:validation:XValidation:rule="has(self.heldBy) == has(oldSelf.heldBy) && (!has(self.heldBy) || self.heldBy == oldSelf.heldBy)",message="heldBy cannot be changed; create a new Reservation"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.released) || !oldSelf.released || (has(self.released) && self.released)",message="a released Reservation cannot be taken back; create a new Reservation"
// +kubebuilder:validation:XValidation:rule="!has(self.priority) || self.priority == 0 || (has(self.reason) && size(self.reason) > 0)",message="a priority above 0 needs a reason: say why it goes ahead of the others"
// +kubebuilder:validation:XValidation:rule="has(self.parameters) == has(oldSelf.parameters) && (!has(self.parameters) || self.parameters == oldSelf.parameters)",message="parameters cannot be changed; create a new Reservation"
type ReservationSpec struct {
	// resourceName is the Resource to hold, in this namespace. Set this or selector.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="resourceName must be a Resource name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
	ResourceName string `json:"resourceName,omitempty"`

	// selector picks any Resource of a pool by its labels. The Reservation is bound to a free Resource of the pool,
	// or to the one that frees up first, and stays bound to it; status.resourceName says which. Set this or
	// resourceName.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="selector.matchExpressions[].operator must be In, NotIn, Exists or DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn'] ? (has(e.values) && size(e.values) > 0) : (!has(e.values) || size(e.values) == 0))",message="selector.matchExpressions[].values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",message="selector must have matchLabels or matchExpressions; an empty selector would match every Resource"
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// holder is who holds the Resource: a person ("alice@example.com"), a pipeline ("ci:deploy-web"), a Slack user
	// ("slack:U0123ABC").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^\\\\S(.*\\\\S)?$')",message="holder must not be blank or start or end with spaces"
	Holder string `json:"holder,omitempty"`

	// duration is how long to hold the Resource once granted. Defaults to the Resource's defaultDuration; longer
	// than its maxDuration is held for maxDuration. Editing it extends or shortens a hold: the hold ends at
	// status.grantedAt + duration (a booking's at startTime + duration), and an extension stops where a booking
	// needs the slot.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('720h')",message="duration must be between 1s and 720h (30 days), for example 30m or 2h"
	Duration *metav1.Duration `json:"duration,omitempty"`

	// reason says why, for the people waiting ("deploying PR #345").
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`

	// startTime books the Resource ahead of time: the hold starts then, not before, and lasts duration. A booking
	// that cannot fit beside the holds and bookings already promised is Rejected with the next free slot. It can be
	// moved until its hold starts. A time in the past starts the hold now and still ends at startTime + duration.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// priority puts the Reservation ahead of lower priorities in the queue (0, the default, to 100), where its
	// Resource allows it (spec.priorities.preemption); with preemption Hold it may also take a held slot. A
	// priority above 0 needs a reason: jumping the queue is audited (an Event, and a post in the Resource's
	// channel).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Priority *int32 `json:"priority,omitempty"`

	// preemptible is Allowed (the default) or Never, which keeps this hold from being preempted by a higher
	// priority (for a demo booked weeks ahead).
	// +optional
	Preemptible Preemptible `json:"preemptible,omitempty"`

	// heartbeatTimeout makes the Reservation last only while its holder keeps renewing it, for machines that may
	// crash: the holder sets spec.renewTime at least this often, and a Reservation not renewed for heartbeatTimeout
	// (counted from its creation or grant until the first renewal; clients should set renewTime when they create
	// it) ends as Expired with reason HeartbeatMissed,
	// whether it waits or holds.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('5s') && duration(self) <= duration('1h')",message="heartbeatTimeout must be a duration between 5s and 1h, such as 1m"
	HeartbeatTimeout *metav1.Duration `json:"heartbeatTimeout,omitempty"`

	// renewTime is when the holder last renewed a Reservation with a heartbeatTimeout.
	// +optional
	RenewTime *metav1.MicroTime `json:"renewTime,omitempty"`

	// released ends the hold (or leaves the queue) and keeps this Reservation as a record. Once true it stays true.
	// Deleting the Reservation releases it too.
	// +optional
	Released bool `json:"released,omitempty"`

	// heldBy names the object whose work holds this Reservation, in its namespace: a Pod, a Job, a Tekton
	// PipelineRun or TaskRun, an Argo Workflow, or any object. When it finishes or disappears the Reservation is
	// released (waiting or holding) with reason HolderFinished or HolderDeleted, so a pipeline that crashes hands
	// over at once. It cannot be changed.
	// +optional
	HeldBy HeldBy `json:"heldBy,omitzero"`

	// --- Deploy on grant (deploy_types.go, docs/deploy.md) ---

	// parameters are the values the Resource's deploy patch takes ({{ .parameters.<name> }}), such as
	// revision: pr-345. At most 16; they cannot be changed.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Parameters []Parameter `json:"parameters,omitempty"`
}

// Parameter returns the value of the parameter name and whether the Reservation has it.
func (s *ReservationSpec) Parameter(name string) (string, bool) {
	for _, p := range s.Parameters {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// HeldBy names the object a Reservation is held by.
type HeldBy struct {
	// apiVersion is the object's group/version: v1 for a Pod, batch/v1 for a Job, tekton.dev/v1 for a
	// PipelineRun, argoproj.io/v1alpha1 for a Workflow.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion,omitempty"`

	// kind is the object's kind: Pod, Job, PipelineRun, TaskRun, Workflow, or any other.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind,omitempty"`

	// name is the object's name, in the Reservation's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// uid is, when set, the object's UID: another object created later under the same name is not the holder
	// (the holder was deleted).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	UID string `json:"uid,omitempty"`

	// finishedCondition is, for kinds Conch does not know, the condition type whose status True means the work is
	// done (for example Complete). Unset, such an object is done when kstatus reads it as Current or Failed.
	// Ignored for Pods, Jobs, PipelineRuns, TaskRuns and Workflows, whose end Conch knows.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	FinishedCondition string `json:"finishedCondition,omitempty"`
}

// IsSet reports whether a holding object is named.
func (h HeldBy) IsSet() bool { return h.Name != "" }

// ReservationStatus is what the controller decided about a Reservation.
type ReservationStatus struct {
	// conditions are Ready and Granted (True while holding), Reconciling (True while waiting), Stalled (True when
	// rejected), DurationClamped (True when the Resource's maxDuration shortened the request).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// state is Pending, Queued, Granted, Released, Expired or Rejected.
	// +optional
	State ReservationState `json:"state,omitempty"`

	// resourceName is the Resource this Reservation is bound to: spec.resourceName, or the Resource of the pool
	// chosen for it.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ResourceName string `json:"resourceName,omitempty"`

	// resourceUID is the UID of the Resource whose ledger admitted this Reservation, so that a Resource deleted
	// and re-created under the same name is a new queue.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ResourceUID string `json:"resourceUID,omitempty"`

	// ticket is the arrival ticket the Resource's ledger gave this Reservation; the queue is granted in ticket
	// order.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Ticket int64 `json:"ticket,omitempty"`

	// position is the place in the queue while Queued, 1 being next. Refreshed within a few seconds of a change,
	// off the path that grants.
	// +optional
	Position int32 `json:"position,omitempty"`

	// estimatedGrantTime is when the hold is expected to start while Queued, from the current holds' ends and the
	// durations of those ahead. It moves earlier when someone releases early.
	// +optional
	EstimatedGrantTime *metav1.Time `json:"estimatedGrantTime,omitempty"`

	// duration is the length of the hold after defaulting and clamping to the Resource's maxDuration.
	// +optional
	// +kubebuilder:validation:Type=string
	Duration *metav1.Duration `json:"duration,omitempty"`

	// grantedAt is when the hold started.
	// +optional
	GrantedAt *metav1.MicroTime `json:"grantedAt,omitempty"`

	// expiresAt is when the hold ends unless extended: grantedAt + duration.
	// +optional
	ExpiresAt *metav1.MicroTime `json:"expiresAt,omitempty"`

	// endedAt is when the Reservation reached a final state.
	// +optional
	EndedAt *metav1.Time `json:"endedAt,omitempty"`

	// until is, for people reading `kubectl get`, when the hold ends, in whole seconds: while Granted, expiresAt
	// rounded up; once ended, when it really ended: expiresAt (rounded up) for a hold that ran its full term, else
	// endedAt, which for a hold released early is before expiresAt. Absent while it waits (see estimatedGrantTime)
	// and on Reservations that ended before Conch wrote it. Programs should read expiresAt and endedAt.
	// +optional
	Until *metav1.Time `json:"until,omitempty"`

	// observedGeneration is the generation of the spec this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// notified is what an earlier version of Conch recorded about its Slack messages (status.deliveries
	// replaces it); it is read so that an upgrade repeats nothing, and no longer written.
	// +optional
	Notified *Notified `json:"notified,omitempty"`

	// deliveries records, per destination (Slack, each EventSink), which events about this Reservation were
	// delivered. Written by the notifier after each delivery, not by the queue.
	// +optional
	// +listType=map
	// +listMapKey=sink
	// +kubebuilder:validation:MaxItems=34
	Deliveries []Delivery `json:"deliveries,omitempty"`
}

// Notified records what people were told about a Reservation. Each field names the moment it was told about, so
// that a new grant or a new expiry time (after an extension) is told again and an old one never.
type Notified struct {
	// queued is true once the holder was told they wait.
	// +optional
	Queued bool `json:"queued,omitempty"`
	// granted is the grant time that was announced.
	// +optional
	Granted *metav1.MicroTime `json:"granted,omitempty"`
	// warned is the expiry time that was warned of.
	// +optional
	Warned *metav1.MicroTime `json:"warned,omitempty"`
	// ended is the final state that was announced.
	// +optional
	Ended ReservationState `json:"ended,omitempty"`
}

// Reservation is one request to hold a Resource (or any Resource of a pool) for a while. Reservations for the
// same Resource are granted in the order they were created; `kubectl wait --for=condition=Granted` waits for the
// turn.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rsv;dibs,categories=conch
// +kubebuilder:printcolumn:name="Resource",type=string,JSONPath=`.status.resourceName`
// +kubebuilder:printcolumn:name="Holder",type=string,JSONPath=`.spec.holder`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,description="Why it is in its state: the Ready condition's reason (ResourceMissing, HeartbeatMissed, HolderNotAllowed, ...)"
// +kubebuilder:printcolumn:name="Position",type=integer,JSONPath=`.status.position`
// +kubebuilder:printcolumn:name="Until",type=string,JSONPath=`.status.until`,description="When the hold ends while held; when it ended, once ended"
// +kubebuilder:printcolumn:name="Expected",type=string,JSONPath=`.status.estimatedGrantTime`,description="When a waiting Reservation expects its turn"
// +kubebuilder:printcolumn:name="Ticket",type=integer,JSONPath=`.status.ticket`,priority=1,description="Arrival ticket: the queue is granted in ticket order"
// +kubebuilder:printcolumn:name="Purpose",type=string,JSONPath=`.spec.reason`,priority=1,description="The holder's own words (spec.reason)"
// +kubebuilder:printcolumn:name="Start",type=string,JSONPath=`.spec.startTime`,priority=1,description="When a booking starts (spec.startTime)"
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`,priority=1,description="Its place ahead of lower priorities (spec.priority)"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Reservation struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata: name, namespace, labels, annotations.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the request.
	// +required
	Spec ReservationSpec `json:"spec,omitzero"`

	// status is what became of it.
	// +optional
	Status ReservationStatus `json:"status,omitempty"`
}

// ReservationList is a list of Reservations.
//
// +kubebuilder:object:root=true
type ReservationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Reservation `json:"items"`
}
