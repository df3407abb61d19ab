package notify

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// ReservationData is the payload of a Reservation's events (the CloudEvent's data). Fields are only ever added;
// docs/events.md documents each.
type ReservationData struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	// Resource is the Resource it holds or waits for ("" while a pooled Reservation is unbound).
	Resource string `json:"resource,omitempty"`
	Holder   string `json:"holder"`
	// Reason is the holder's own words (spec.reason): text from users, to be escaped wherever it is shown.
	Reason string `json:"reason,omitempty"`
	// State is Queued, Granted, Released, Expired or Rejected.
	State string `json:"state"`
	// Why is the reason of the Ready condition: Granted, Queued, Released, Deleted, Shortened, Expired,
	// HeartbeatMissed, HolderNotAllowed, ResourceDeleted, ...
	Why string `json:"why,omitempty"`
	// Message is the Ready condition's message, for people.
	Message   string     `json:"message,omitempty"`
	Ticket    int64      `json:"ticket,omitempty"`
	Position  int32      `json:"position,omitempty"`
	GrantedAt *time.Time `json:"grantedAt,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
}

// ResourceData is the payload of a Resource's events.
type ResourceData struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	Capacity  int32  `json:"capacity"`
	// Holders are who hold it now.
	Holders []string `json:"holders,omitempty"`
	Waiting int32    `json:"waiting"`
	// Granting is Open or Paused.
	Granting string `json:"granting"`
	// Message is the Paused condition's message, for people.
	Message string `json:"message,omitempty"`
	// Phase is where the Resource is (Available, Held, Cleaning, Checking, Unhealthy, Maintenance).
	Phase string `json:"phase,omitempty"`
	// Health is the Healthy condition's reason and message (CheckFailed: GET … answered 503), when it has one.
	Health string `json:"health,omitempty"`
}

// Data returns the payload of e: a ReservationData or a ResourceData.
func (e Event) Data() any {
	if r := e.Reservation; r != nil {
		d := ReservationData{
			Namespace: r.Namespace, Name: r.Name, UID: string(r.UID), Resource: r.Status.ResourceName,
			Holder: r.Spec.Holder, Reason: r.Spec.Reason, State: string(r.Status.State), Ticket: r.Status.Ticket,
			Position: r.Status.Position,
		}
		if c := meta.FindStatusCondition(r.Status.Conditions, conchv1.ConditionReady); c != nil {
			d.Why, d.Message = c.Reason, c.Message
		}
		if t := r.Status.GrantedAt; t != nil {
			d.GrantedAt = utc(t.Time)
		}
		if t := r.Status.ExpiresAt; t != nil {
			d.ExpiresAt = utc(t.Time)
		}
		if t := r.Status.EndedAt; t != nil {
			d.EndedAt = utc(t.Time)
		}
		return d
	}
	res := e.Resource
	d := ResourceData{
		Namespace: res.Namespace, Name: res.Name, UID: string(res.UID), Capacity: max(res.Spec.Capacity, 1),
		Waiting: res.Status.Waiting, Granting: string(res.Spec.Granting),
	}
	if d.Granting == "" {
		d.Granting = string(conchv1.GrantingOpen)
	}
	for _, h := range res.Status.Holders {
		d.Holders = append(d.Holders, h.Holder)
	}
	if c := meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionPaused); c != nil {
		d.Message = c.Message
	}
	d.Phase = string(res.Status.Phase)
	if c := meta.FindStatusCondition(res.Status.Conditions, conchv1.ResourceConditionHealthy); c != nil {
		d.Health = c.Reason + ": " + c.Message
	}
	return d
}

func utc(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}
