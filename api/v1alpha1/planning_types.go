package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// This file holds the API of planned and fair turns (docs/planning.md): bookings ahead of time, priorities with
// polite preemption, and limits per holder.

// WalkInPolicy says what happens to a hold asked for now ("walk-in") whose term would run into a booking that
// needs its slot.
// +kubebuilder:validation:Enum=Shorten;Wait
type WalkInPolicy string

const (
	// WalkInShorten grants the walk-in now, with a term that ends when the booking starts; its status says so.
	WalkInShorten WalkInPolicy = "Shorten"
	// WalkInWait keeps the walk-in queued until its whole term fits; shorter holds behind it that fit before the
	// booking are granted meanwhile (backfilled).
	WalkInWait WalkInPolicy = "Wait"
)

// Bookings are a Resource's rules for Reservations with a spec.startTime.
type Bookings struct {
	// walkIns is what happens to a hold asked for now whose term would run into a booking: Shorten (the default)
	// grants it with a term that ends at the booking's start, Wait keeps it queued until it fits.
	// +optional
	// +default="Shorten"
	WalkIns WalkInPolicy `json:"walkIns,omitempty"`
}

// PreemptionPolicy says what a Reservation with a higher spec.priority may do on a Resource.
// +kubebuilder:validation:Enum=Never;Queue;Hold
type PreemptionPolicy string

const (
	// PreemptionNever orders the queue by arrival only: priorities are ignored.
	PreemptionNever PreemptionPolicy = "Never"
	// PreemptionQueue lets a higher priority go ahead of lower ones in the queue; nobody's hold is cut short.
	PreemptionQueue PreemptionPolicy = "Queue"
	// PreemptionHold also lets a higher priority take a held slot: the holder with the lowest priority is warned
	// and its hold ends after the grace period, with reason Preempted.
	PreemptionHold PreemptionPolicy = "Hold"
)

// Preemptible says whether a hold may be preempted by a higher priority.
// +kubebuilder:validation:Enum=Allowed;Never
type Preemptible string

const (
	// PreemptibleAllowed lets a higher priority preempt the hold where the Resource allows it.
	PreemptibleAllowed Preemptible = "Allowed"
	// PreemptibleNever keeps the hold whatever comes: for a demo booked weeks ahead.
	PreemptibleNever Preemptible = "Never"
)

// Priorities are a Resource's rules for Reservations with a spec.priority.
type Priorities struct {
	// preemption is what a higher priority may do: Never (the queue is first come, first served), Queue (the
	// default: it goes ahead of lower priorities in the queue) or Hold (it may also take a held slot, politely).
	// +optional
	// +default="Queue"
	Preemption PreemptionPolicy `json:"preemption,omitempty"`

	// gracePeriod is how long a preempted holder keeps the Resource after it is warned. Defaults to 5m.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('24h')",message="gracePeriod must be a duration between 0s and 24h, such as 5m"
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`

	// agingInterval is how long a Reservation waits for each point its priority rises while queued, so that a
	// low priority is never starved: after (p − q) × agingInterval of waiting, a Reservation of priority q is
	// ahead of any newcomer of priority p. Defaults to 10m.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="agingInterval must be a duration between 1s and 24h, such as 10m"
	AgingInterval *metav1.Duration `json:"agingInterval,omitempty"`
}

// LimitAction says what happens to a Reservation over a limit.
// +kubebuilder:validation:Enum=Wait;Reject
type LimitAction string

const (
	// LimitWait keeps it queued, without holding up the others, until it is within the limits.
	LimitWait LimitAction = "Wait"
	// LimitReject rejects it, with a message that names the limit.
	LimitReject LimitAction = "Reject"
)

// Limits bound what one holder may take of a Resource, or of the Resources counted with it.
// +kubebuilder:validation:XValidation:rule="has(self.maxHoldsPerHolder) || has(self.maxHoldTimePerDay)",message="set maxHoldsPerHolder, maxHoldTimePerDay or both"
type Limits struct {
	// maxHoldsPerHolder is the most holds one holder may have at once, counted over this Resource and the
	// Resources that scope selects.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxHoldsPerHolder int32 `json:"maxHoldsPerHolder,omitempty"`

	// maxHoldTimePerDay is the longest time one holder may hold per day (from midnight in timeZone), counted over
	// this Resource and the Resources that scope selects: a hold that would go past it is not granted.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="maxHoldTimePerDay must be a duration between 1m and 24h, such as 8h"
	MaxHoldTimePerDay *metav1.Duration `json:"maxHoldTimePerDay,omitempty"`

	// scope selects, by label, the Resources of this namespace whose holds count toward these limits with this
	// one's: a pool ({matchLabels: {pool: qa}}), or every Resource of a team's namespace ({}). Unset: this
	// Resource only. Put the same limits on each Resource it selects.
	// +optional
	Scope *metav1.LabelSelector `json:"scope,omitempty"`

	// timeZone is the IANA time zone whose midnight starts the day of maxHoldTimePerDay. Defaults to UTC.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// whenOver is what happens to a Reservation over a limit: Wait (the default) keeps it queued without holding
	// up the others until it fits; Reject rejects it.
	// +optional
	// +default="Wait"
	WhenOver LimitAction `json:"whenOver,omitempty"`
}

// Preemption records that a hold is being preempted: its holder was warned and the hold ends at endsAt.
type Preemption struct {
	// reservation is the Reservation the slot is taken for.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Reservation string `json:"reservation,omitempty"`

	// holder is who takes the slot.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Holder string `json:"holder,omitempty"`

	// reason is why, as the preempting Reservation says.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`

	// since is when the holder was warned.
	// +required
	Since metav1.MicroTime `json:"since"`

	// endsAt is when the hold ends (the warning plus the Resource's grace period, or the hold's own end if
	// sooner).
	// +required
	EndsAt metav1.MicroTime `json:"endsAt"`
}

// NextBooking is the next booked hold of a Resource that has not started.
type NextBooking struct {
	// reservation is the booking's Reservation.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Reservation string `json:"reservation,omitempty"`

	// holder is who booked it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Holder string `json:"holder,omitempty"`

	// startTime is when it starts.
	// +required
	StartTime metav1.Time `json:"startTime"`

	// endTime is when it ends.
	// +required
	EndTime metav1.Time `json:"endTime"`
}

// Reasons of Reservation conditions for bookings, priorities and limits.
const (
	// ReasonBooked: a booking waits for its startTime.
	ReasonBooked = "Booked"
	// ReasonBookingConflict: a booking does not fit beside the holds and bookings already promised.
	ReasonBookingConflict = "BookingConflict"
	// ReasonBookingInPast: a booking whose whole term lies in the past.
	ReasonBookingInPast = "BookingInPast"
	// ReasonBookingMissed: a booking whose term passed while its slot was still held (or the Resource paused).
	ReasonBookingMissed = "BookingMissed"
	// ReasonShortenedForBooking: a walk-in granted with a term that ends when a booking starts.
	ReasonShortenedForBooking = "ShortenedForBooking"
	// ReasonWaitingForBooking: a walk-in that waits because its term would run into a booking (walkIns: Wait).
	ReasonWaitingForBooking = "WaitingForBooking"
	// ReasonPreempted: a hold that ended early because a higher priority took its slot.
	ReasonPreempted = "Preempted"
	// ReasonPreempting: a hold that a higher priority is taking; it ends at the end of the grace period.
	ReasonPreempting = "Preempting"
	// ReasonOverLimit: a Reservation over one of the Resource's limits (waiting or rejected).
	ReasonOverLimit = "OverLimit"
	// ReasonInvalidLimits: a Resource's spec.limits names a time zone that does not exist.
	ReasonInvalidLimits = "InvalidLimits"
	// ReasonQueueJumped: the Event of a grant that went ahead of earlier arrivals by priority.
	ReasonQueueJumped = "QueueJumped"
)
