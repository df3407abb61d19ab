package v1alpha1

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Granting says whether a Resource hands out new holds.
// +kubebuilder:validation:Enum=Open;Paused
type Granting string

const (
	// GrantingOpen grants holds as slots free up. It is the default.
	GrantingOpen Granting = "Open"
	// GrantingPaused grants nothing new (maintenance): current holders keep their holds until they end,
	// and new Reservations wait in the queue.
	GrantingPaused Granting = "Paused"
)

// Condition types of a Resource.
const (
	// ResourceConditionAvailable is True when a slot is free and granting is open, so a new Reservation would be
	// granted at once.
	ResourceConditionAvailable = "Available"
	// ResourceConditionPaused is True while spec.granting is Paused, and False (reason Resumed) once it is Open
	// again; a Resource never paused has none. Its lastTransitionTime says since when.
	ResourceConditionPaused = "Paused"
	// ResourceConditionHealthy is False while the Resource failed its cleanup or health check (phase Unhealthy):
	// nobody is granted it until a check passes, an admin repairs it (`kubectl conch repair`, the annotation
	// conch.dev/repair) or edits its spec. True once a check passed or it was repaired; absent when no hook ever ran.
	ResourceConditionHealthy = "Healthy"
	// ResourceConditionTurnover is True while a step between holders runs (Cleaning or Checking), and False
	// (reason Idle) otherwise; a Resource without hooks has none.
	ResourceConditionTurnover = "Turnover"
)

// ResourcePhase is where a Resource is, for people and for `kubectl get`.
// +kubebuilder:validation:Enum=Available;Held;Cleaning;Checking;Unhealthy;Maintenance
type ResourcePhase string

// Phases of a Resource, most urgent first: a Resource is in the first that applies.
const (
	// PhaseMaintenance: granting is paused (spec.granting).
	PhaseMaintenance ResourcePhase = "Maintenance"
	// PhaseUnhealthy: a cleanup or health check failed; nobody is granted it until it is repaired.
	PhaseUnhealthy ResourcePhase = "Unhealthy"
	// PhaseCleaning: the cleanup after a hold (spec.onRelease) runs; the queue waits.
	PhaseCleaning ResourcePhase = "Cleaning"
	// PhaseChecking: the health check (spec.healthCheck) runs; the queue waits.
	PhaseChecking ResourcePhase = "Checking"
	// PhaseHeld: someone holds it.
	PhaseHeld ResourcePhase = "Held"
	// PhaseAvailable: nobody holds it and it may be granted at once.
	PhaseAvailable ResourcePhase = "Available"
)

// TurnoverStep is a step Conch runs between holders.
// +kubebuilder:validation:Enum=Cleaning;Checking
type TurnoverStep string

// Turnover steps.
const (
	StepCleaning TurnoverStep = "Cleaning"
	StepChecking TurnoverStep = "Checking"
)

// AnnotationRepair asks Conch, when set on a Resource to a new value (`kubectl conch repair` sets the time), to
// take an Unhealthy Resource back: it runs the health check again, or, without one, marks it Healthy.
const AnnotationRepair = "conch.dev/repair"

// AnnotationWatchers lists who asked to be told once a Resource is free (`/dibs watch`), without queueing for it:
// space-separated entries, each a Slack user ID ("U0123": when this Resource is free) or a Slack user ID and a
// pool ("U0123:pool=web": when any Resource labelled pool=web is free; kept on the pool's first member by name).
// At most MaxWatchers entries. Conch's Slack front end writes it with a resourceVersion precondition, removes an
// entry before it sends its DM, and so DMs each watcher once.
const AnnotationWatchers = "conch.dev/watchers"

// MaxWatchers bounds the entries of AnnotationWatchers on one Resource.
const MaxWatchers = 50

// IsFree reports whether the Resource is free for someone who watches it (`/dibs watch`, `kubectl conch watch`):
// its Available condition is True (a slot is free and granting is open) and nobody waits in its queue.
func (r *Resource) IsFree() bool {
	if r.DeletionTimestamp != nil || r.Status.Waiting > 0 {
		return false
	}
	for _, q := range r.Status.Queue {
		if q.StartTime == nil {
			return false // someone waits; a booking ahead leaves the Resource free until it starts
		}
	}
	for _, c := range r.Status.Conditions {
		if c.Type == ResourceConditionAvailable {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

// Labels Conch sets on the Jobs it runs for a Resource's hooks.
const (
	// LabelHookResource names the Resource a hook Job runs for.
	LabelHookResource = "conch.dev/hook-resource"
	// LabelHookStep is the step (cleaning, checking) a hook Job runs.
	LabelHookStep = "conch.dev/hook-step"
)

// Reasons of Resource conditions.
const (
	ReasonSlotFree       = "SlotFree"
	ReasonFull           = "Full"
	ReasonPaused         = "Paused"
	ReasonResumed        = "Resumed"
	ReasonReconciled     = "Reconciled"
	ReasonInvalidHolders = "InvalidHolders"

	// Reasons of the Healthy and Turnover conditions.
	ReasonCheckPassed   = "CheckPassed"
	ReasonCleanupFailed = "CleanupFailed"
	ReasonCheckFailed   = "CheckFailed"
	ReasonHookTimedOut  = "HookTimedOut"
	ReasonInvalidHook   = "InvalidHook"
	ReasonRepaired      = "Repaired"
	// The Turnover condition is False with reason Idle (ReasonIdle, shared with the Standup) between steps.
)

// Hook is a step Conch runs on a Resource's behalf: a Job made from a template, or an HTTP(S) request. Exactly one
// of job and http is set.
// +kubebuilder:validation:XValidation:rule="has(self.job) != has(self.http)",message="set exactly one of job and http"
type Hook struct {
	// job is the template of a Job Conch creates in the Resource's namespace for each run, named after the
	// Resource, the step and a sequence number, so that a restart never runs it twice. Its containers get the
	// environment variables CONCH_RESOURCE, CONCH_NAMESPACE, CONCH_STEP, CONCH_PREVIOUS_HOLDER,
	// CONCH_PREVIOUS_RESERVATION, CONCH_RELEASE_REASON, CONCH_NEXT_HOLDER and CONCH_NEXT_RESERVATION. The run
	// succeeds when the Job is Complete and fails when it is Failed. The template is checked by the API server
	// when the Job is created; an invalid one makes the Resource Unhealthy (reason InvalidHook) with its message.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Job *batchv1.JobTemplateSpec `json:"job,omitempty"`

	// http is a request Conch makes from the manager; the run succeeds on a 2xx answer.
	// +optional
	HTTP HTTPHook `json:"http,omitzero"`

	// timeout bounds a run; a run that takes longer is stopped (its Job deleted) and counts as failed.
	// Defaults to 10m for a Job and 10s for an HTTP request.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="timeout must be a duration between 1s and 24h, such as 30s or 10m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// HTTPHook is an HTTP(S) request a hook makes.
type HTTPHook struct {
	// url is the http or https URL to GET.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'http' || url(self).getScheme() == 'https')",message="url must be an http or https URL"
	URL string `json:"url,omitempty"`
}

// HealthCheck is the check a Resource passes before it is handed to the next holder.
type HealthCheck struct {
	Hook `json:",inline"`

	// interval is how often the check also runs while the Resource is free, and how soon a failed check is
	// retried. Without it, the check runs only between holders and a failed one waits for an admin.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('10s') && duration(self) <= duration('168h')",message="interval must be a duration between 10s and 168h, such as 5m"
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// ResourceSpec describes one reservable thing and the rules for holding it.
// +kubebuilder:validation:XValidation:rule="!has(self.defaultDuration) || !has(self.maxDuration) || duration(self.defaultDuration) <= duration(self.maxDuration)",message="defaultDuration must not be longer than maxDuration"
// +kubebuilder:validation:XValidation:rule="!has(self.deploy) || !has(self.capacity) || self.capacity == 1",message="deploy needs capacity 1: one holder's patch is applied at a time"
type ResourceSpec struct {
	// description says what this is, for people choosing one ("staging cluster in eu-west, shared by the web team").
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// capacity is how many Reservations may hold this Resource at the same time.
	// +optional
	// +default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Capacity int32 `json:"capacity,omitempty"`

	// defaultDuration is how long a hold lasts when the Reservation names no duration. Defaults to 1h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('720h')",message="defaultDuration must be a duration between 1s and 720h (30 days), such as 30m or 2h"
	DefaultDuration *metav1.Duration `json:"defaultDuration,omitempty"`

	// maxDuration is the longest hold this Resource grants. A Reservation asking for longer is held for
	// maxDuration, and its DurationClamped condition says so. Defaults to no limit beyond the API's 720h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('720h')",message="maxDuration must be a duration between 1s and 720h (30 days), such as 4h"
	MaxDuration *metav1.Duration `json:"maxDuration,omitempty"`

	// granting is Open (the default) or Paused. Paused grants nothing new, for maintenance: current holders keep
	// their holds until they end and new Reservations queue.
	// +optional
	// +default="Open"
	Granting Granting `json:"granting,omitempty"`

	// allowedHolders limits, when set, who may hold this Resource: a Reservation whose holder matches none of these
	// patterns is Rejected. A pattern is a holder string where '*' matches any run of characters ("ci:*",
	// "slack:*", "alice@example.com").
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	AllowedHolders []string `json:"allowedHolders,omitempty"`

	// slackChannel is the Slack channel (ID such as C0123ABC, or name) where handovers of this Resource are posted.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	SlackChannel string `json:"slackChannel,omitempty"`

	// onRelease cleans the Resource after each hold ends (a Job, or an HTTP request), before anyone else is
	// granted it. A failure makes the Resource Unhealthy.
	// +optional
	OnRelease *Hook `json:"onRelease,omitempty"`

	// healthCheck checks the Resource before it is handed to the next holder (after the cleanup, if any), when it
	// is created, and every interval while it is free. Nobody is granted a Resource that failed its check.
	// +optional
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`

	// --- Planned and fair turns (planning_types.go, docs/planning.md) ---

	// bookings are the rules for Reservations booked ahead of time (spec.startTime).
	// +optional
	Bookings *Bookings `json:"bookings,omitempty"`

	// priorities are the rules for Reservations with a spec.priority: whether they may jump the queue or take a
	// held slot, the grace period of a preempted holder, and how fast a waiting Reservation ages.
	// +optional
	Priorities *Priorities `json:"priorities,omitempty"`

	// limits bound what one holder may take at once and per day.
	// +optional
	Limits *Limits `json:"limits,omitempty"`

	// --- Deploy on grant (deploy_types.go, docs/deploy.md) ---

	// deploy names an object and a patch that Conch applies to it when a hold starts (from the Reservation's
	// spec.parameters), and what it applies when the hold ends. Needs capacity 1.
	// +optional
	Deploy Deploy `json:"deploy,omitzero"`
}

// Turnover is the step between holders that runs now. While one runs, nobody new is granted the Resource.
type Turnover struct {
	// step is Cleaning (spec.onRelease) or Checking (spec.healthCheck).
	// +required
	Step TurnoverStep `json:"step,omitempty"`

	// sequence numbers the steps of this Resource, so that each has its own Job name and a restart never runs one
	// twice.
	// +required
	// +kubebuilder:validation:Minimum=1
	Sequence int64 `json:"sequence,omitempty"`

	// startedAt is when the step was recorded; its timeout counts from it.
	// +required
	StartedAt metav1.Time `json:"startedAt"`

	// previousHolder is who held the Resource before this step; empty for a check that follows no hold (at
	// creation, periodic, after a repair).
	// +optional
	// +kubebuilder:validation:MaxLength=256
	PreviousHolder string `json:"previousHolder,omitempty"`

	// previousReservation is the Reservation whose hold ended before this step.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PreviousReservation string `json:"previousReservation,omitempty"`

	// releaseReason is why that hold ended (Released, Expired, HolderFinished, …).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ReleaseReason string `json:"releaseReason,omitempty"`

	// endedMeanwhile counts the holds that ended while this step ran (capacity above 1): the cleanup runs once
	// more after it when it is not zero.
	// +optional
	// +kubebuilder:validation:Minimum=0
	EndedMeanwhile int32 `json:"endedMeanwhile,omitempty"`
}

// ResourceHolder is one current hold on a Resource: a line of the Resource's ledger. Its term (since, duration,
// until) is fixed when it is granted; later edits of the Resource apply to new grants and to extensions only.
type ResourceHolder struct {
	// reservation is the name of the holding Reservation, in the Resource's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Reservation string `json:"reservation,omitempty"`

	// uid is the UID of the holding Reservation, so that a Reservation re-created under the same name is a new
	// request and not the old holder.
	// +required
	// +kubebuilder:validation:MaxLength=64
	UID string `json:"uid"`

	// holder is who holds it (the Reservation's spec.holder).
	// +required
	// +kubebuilder:validation:MaxLength=256
	Holder string `json:"holder"`

	// ticket is the Reservation's arrival ticket: its place in the order of arrival at this Resource.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Ticket int64 `json:"ticket,omitempty"`

	// since is when the hold was granted.
	// +required
	Since metav1.MicroTime `json:"since"`

	// duration is the length of the hold fixed at grant (after defaulting and clamping), or at the last extension.
	// +optional
	// +kubebuilder:validation:Type=string
	Duration *metav1.Duration `json:"duration,omitempty"`

	// requested is the spec.duration the term was computed from; absent when the Reservation named none. A change
	// of the Reservation's spec.duration is an extension (or a shortening) and computes the term anew.
	// +optional
	// +kubebuilder:validation:Type=string
	Requested *metav1.Duration `json:"requested,omitempty"`

	// until is when the hold ends unless extended: since + duration.
	// +required
	Until metav1.MicroTime `json:"until"`

	// heartbeat is the last renewal observed, for a Reservation with a heartbeatTimeout.
	// +optional
	Heartbeat *HeartbeatRecord `json:"heartbeat,omitempty"`

	// priority is the Reservation's spec.priority when it was granted.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Priority int32 `json:"priority,omitempty"`

	// preemptible is Never when the hold may not be preempted.
	// +optional
	Preemptible Preemptible `json:"preemptible,omitempty"`

	// preemption is set once a higher priority takes this hold's slot: the holder was warned, and the hold ends
	// at its endsAt with reason Preempted.
	// +optional
	Preemption *Preemption `json:"preemption,omitempty"`
}

// HeartbeatRecord is the last renewal of a Reservation that the controller observed, timed by the controller's
// own clock (as client-go's leader election times a Lease), so that a client's clock never ends a hold early.
type HeartbeatRecord struct {
	// renewTime is the value of the Reservation's spec.renewTime last observed; absent when it had none.
	// +optional
	RenewTime *metav1.MicroTime `json:"renewTime,omitempty"`

	// observedAt is when the controller first saw that value (or admitted or granted the Reservation, whichever
	// is later). The heartbeat is missed at observedAt + heartbeatTimeout.
	// +required
	ObservedAt metav1.MicroTime `json:"observedAt"`
}

// QueueEntry is one Reservation waiting for a Resource: a line of the Resource's ledger.
type QueueEntry struct {
	// reservation is the name of the waiting Reservation.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Reservation string `json:"reservation"`

	// uid is the UID of the waiting Reservation.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UID string `json:"uid,omitempty"`

	// holder is who waits.
	// +required
	// +kubebuilder:validation:MaxLength=256
	Holder string `json:"holder"`

	// ticket is the Reservation's arrival ticket, given the first time the ledger saw it; the queue is granted in
	// ticket order.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Ticket int64 `json:"ticket,omitempty"`

	// duration is how long they will hold it once granted (after defaulting and clamping).
	// +required
	// +kubebuilder:validation:Type=string
	Duration metav1.Duration `json:"duration"`

	// heartbeat is the last renewal observed, for a Reservation with a heartbeatTimeout.
	// +optional
	Heartbeat *HeartbeatRecord `json:"heartbeat,omitempty"`

	// admitted is when the ledger admitted the Reservation: its priority ages from then.
	// +optional
	Admitted *metav1.MicroTime `json:"admitted,omitempty"`

	// priority is the Reservation's spec.priority as last seen.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Priority int32 `json:"priority,omitempty"`

	// startTime is set for a booking: when its hold starts. It is granted then, ahead of the queue, and its slot
	// is kept free for it from then until startTime + duration.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
}

// MaxRecentlyEnded bounds status.recentlyEnded.
const MaxRecentlyEnded = 64

// MaxQueueEntries bounds status.queue, the ledger's waiting Reservations. A Reservation that finds the queue full
// is not admitted yet: it stays Pending (reason QueueFull) until there is room, in order of creation.
const MaxQueueEntries = 1000

// ResourceStatus is what the controller observed and decided about a Resource. Its holders, queue and nextTicket
// are the ledger: the only record of who holds the Resource and in which order the others wait. The controller
// writes it, with a resourceVersion precondition, before it tells any Reservation that it is granted; everything
// a Reservation says about its state is a report derived from it.
type ResourceStatus struct {
	// conditions are Ready (the controller processed the latest spec), Available (a slot is free), Paused, and
	// Deployed for a Resource with spec.deploy.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// holders are the current holds, oldest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	Holders []ResourceHolder `json:"holders,omitempty"`

	// queue is who waits, in ticket order: the order they will be granted.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Queue []QueueEntry `json:"queue,omitempty"`

	// recentlyEnded are the UIDs of the latest Reservations that left the ledger with a known end (released,
	// expired, rejected, deleted), oldest first: a view of one of them older than its end (a lagging cache) is never
	// taken for a new request.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	RecentlyEnded []string `json:"recentlyEnded,omitempty"`

	// nextTicket is the arrival ticket the next Reservation admitted to the queue gets.
	// +optional
	// +kubebuilder:validation:Minimum=0
	NextTicket int64 `json:"nextTicket,omitempty"`

	// waiting is how many Reservations wait for this Resource.
	// +optional
	Waiting int32 `json:"waiting,omitempty"`

	// heldBy lists the current holders for people reading `kubectl get`, comma-separated.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	HeldBy string `json:"heldBy,omitempty"`

	// nextRelease is the earliest time a current hold ends.
	// +optional
	NextRelease *metav1.Time `json:"nextRelease,omitempty"`

	// nextBooking is the next booked hold that has not started.
	// +optional
	NextBooking *NextBooking `json:"nextBooking,omitempty"`

	// phase is where the Resource is: Available, Held, Cleaning, Checking, Unhealthy or Maintenance.
	// +optional
	Phase ResourcePhase `json:"phase,omitempty"`

	// turnover is the step between holders that runs now (cleanup or health check), if any. The queue waits
	// while it is set. The controller records it before it creates the step's Job.
	// +optional
	Turnover *Turnover `json:"turnover,omitempty"`

	// hookSequence is the sequence number of the last turnover step.
	// +optional
	// +kubebuilder:validation:Minimum=0
	HookSequence int64 `json:"hookSequence,omitempty"`

	// lastCheckTime is when the health check last finished.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`

	// repair is the value of the conch.dev/repair annotation last acted on.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Repair string `json:"repair,omitempty"`

	// observedGeneration is the generation of the spec this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// deliveries records, per destination (each EventSink), which events about this Resource were delivered.
	// Written by the notifier after each delivery, not by the queue.
	// +optional
	// +listType=map
	// +listMapKey=sink
	// +kubebuilder:validation:MaxItems=34
	Deliveries []Delivery `json:"deliveries,omitempty"`

	// --- Deploy on grant (deploy_types.go) ---

	// deploy records what Conch last applied to spec.deploy's target, and for which hold. Written by the deploy
	// controller, not by the queue.
	// +optional
	Deploy DeployStatus `json:"deploy,omitzero"`
}

// Resource is one reservable thing: a staging server, a test cluster, a device, a namespace. Reservations take
// turns holding it, at most spec.capacity at a time, in the order they were made. Labels on Resources make pools
// that a Reservation can select from.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=res;rsc,categories=conch
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Holders",type=string,JSONPath=`.status.heldBy`
// +kubebuilder:printcolumn:name="Until",type=string,JSONPath=`.status.nextRelease`,description="When the earliest current hold ends"
// +kubebuilder:printcolumn:name="Waiting",type=integer,JSONPath=`.status.waiting`
// +kubebuilder:printcolumn:name="Next",type=string,JSONPath=`.status.queue[0].holder`,description="Who is first in the queue"
// +kubebuilder:printcolumn:name="Capacity",type=integer,JSONPath=`.spec.capacity`
// +kubebuilder:printcolumn:name="Booked",type=string,JSONPath=`.status.nextBooking.startTime`,priority=1,description="When the next booking starts"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Resource struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata: name, namespace, labels, annotations.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the Resource and the rules for holding it.
	// +optional
	Spec ResourceSpec `json:"spec,omitempty"`

	// status records who holds the Resource and who waits.
	// +optional
	Status ResourceStatus `json:"status,omitempty"`
}

// ResourceList is a list of Resources.
//
// +kubebuilder:object:root=true
type ResourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Resource `json:"items"`
}
