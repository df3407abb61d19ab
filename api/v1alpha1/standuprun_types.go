package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LabelStandup is set on every StandupRun to the name of its Standup, so that a Standup's runs are listed by label.
const LabelStandup = "conch.dev/standup"

// StandupRunState is where a run is: collecting answers, or ended.
// +kubebuilder:validation:Enum=Collecting;Completed;Cancelled
type StandupRunState string

const (
	// RunCollecting means the run collects answers; its deadline is spec.deadline.
	RunCollecting StandupRunState = "Collecting"
	// RunCompleted means the summary was posted.
	RunCompleted StandupRunState = "Completed"
	// RunCancelled means its date was added to skipDates while it ran; no reminder or summary followed.
	RunCancelled StandupRunState = "Cancelled"
)

// Reasons of a StandupRun's conditions (Ready, Reconciling).
const (
	ReasonRunCollecting = "Collecting"
	ReasonRunCompleted  = "Completed"
	ReasonRunCancelled  = "Cancelled"
)

// StandupRunName is the name of the StandupRun of a Standup's run with that ID: "<standup>-<date>-<time>z", and
// "…zm" for a manual run ("team-20261123-080000z"). It is computed, never looked up, so that a manager that
// restarts between creating a run and recording it finds the same object instead of making a second. A Standup
// name too long to leave room for the suffix is shortened, with a hash of the whole name to keep it apart.
func StandupRunName(standup, id string) string {
	suffix := "-" + strings.ToLower(strings.Replace(id, "T", "-", 1))
	const maxName = 253
	if len(standup)+len(suffix) <= maxName {
		return standup + suffix
	}
	sum := sha256.Sum256([]byte(standup))
	hash := "-" + hex.EncodeToString(sum[:])[:10]
	keep := strings.TrimRight(standup[:maxName-len(suffix)-len(hash)], "-.")
	return keep + hash + suffix
}

// StandupRunSpec is a run as it was decided when it started: when, which questions, until when. The Standup
// controller writes it once; it is immutable.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a StandupRun's spec is immutable"
type StandupRunSpec struct {
	// standupName is the name of the Standup this run belongs to (its owner).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	StandupName string `json:"standupName,omitempty"`

	// id names the run in Slack buttons and modals: its scheduled time, UTC, to the second ("m" for manual).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ID string `json:"id,omitempty"`

	// trigger is Schedule or Manual.
	// +required
	Trigger RunTrigger `json:"trigger,omitempty"`

	// scheduledTime is when the run was due: the schedule's time, or the request's for a manual run.
	// +required
	ScheduledTime metav1.Time `json:"scheduledTime"`

	// deadline is when answers stop being collected and the summary is posted: scheduledTime + collectFor.
	// +required
	Deadline metav1.Time `json:"deadline"`

	// remindAt is when those who have not answered are reminded; unset for no reminder.
	// +optional
	RemindAt *metav1.Time `json:"remindAt,omitempty"`

	// questions are the questions of this run, as they were when it started.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:MaxLength=150
	Questions []string `json:"questions,omitempty"`
}

// StandupSummaryPost is where a run's summary was posted, so that an edited answer updates it in place.
type StandupSummaryPost struct {
	// channel is the channel ID Slack posted the summary in.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	Channel string `json:"channel,omitempty"`

	// messageTS are the Slack IDs (ts) of the summary's messages, in order: one, or several for a large team.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=32
	MessageTS []string `json:"messageTS,omitempty"`
}

// StandupRunStatus is the run's answers and what became of it. The Standup controller writes its state, counts and
// conditions; the Slack front end writes the answers. Both write with optimistic concurrency.
type StandupRunStatus struct {
	// conditions are Ready (True once the run ended: Completed or Cancelled) and Reconciling (True while it
	// collects answers), as kstatus and Argo CD read them.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=4
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// state is Collecting, Completed or Cancelled.
	// +optional
	State StandupRunState `json:"state,omitempty"`

	// startTime is when the run started: later than spec.scheduledTime if the manager was down.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the run ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// participants are the people asked, with their answers and when they gave them. Each is recorded as
	// prompted before the prompt is sent, so that a restart never sends it twice.
	// +optional
	// +listType=map
	// +listMapKey=user
	// +kubebuilder:validation:MaxItems=50
	Participants []StandupParticipant `json:"participants,omitempty"`

	// away are the people not asked because they were away.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=32
	Away []string `json:"away,omitempty"`

	// reminded is true once the reminders were recorded for sending.
	// +optional
	Reminded bool `json:"reminded,omitempty"`

	// asked is how many people were asked.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Asked int32 `json:"asked,omitempty"`

	// answered is how many of them answered.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Answered int32 `json:"answered,omitempty"`

	// progress is "answered/asked", for `kubectl get standupruns`.
	// +optional
	// +kubebuilder:validation:MaxLength=8
	Progress string `json:"progress,omitempty"`

	// answersRevision counts the answers saved after the summary was posted; the controller updates the posted
	// summary when it is ahead of summaryRevision.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AnswersRevision int64 `json:"answersRevision,omitempty"`

	// summaryRevision is the answersRevision the posted summary shows.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SummaryRevision int64 `json:"summaryRevision,omitempty"`

	// summary is where the summary was posted, once Slack said so.
	// +optional
	Summary *StandupSummaryPost `json:"summary,omitempty"`

	// observedGeneration is the generation of the spec this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// StandupRun is one run of a Standup, as a Job is one run of a CronJob: the questions asked, each participant's
// answers and when they gave them, who was away, and how it ended. The Standup makes it when the run starts, owns
// it, and deletes the oldest beyond its history limits.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sur,categories=conch
// +kubebuilder:printcolumn:name="Standup",type=string,JSONPath=`.spec.standupName`
// +kubebuilder:printcolumn:name="Date",type=string,JSONPath=`.spec.scheduledTime`
// +kubebuilder:printcolumn:name="Answered",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Deadline",type=string,JSONPath=`.spec.deadline`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StandupRun struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the run as decided when it started.
	// +required
	Spec StandupRunSpec `json:"spec,omitzero"`

	// status holds the answers and the outcome.
	// +optional
	Status StandupRunStatus `json:"status,omitempty"`
}

// StandupRunList is a list of StandupRuns.
//
// +kubebuilder:object:root=true
type StandupRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StandupRun `json:"items"`
}
