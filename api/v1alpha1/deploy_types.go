package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Deploy on grant (docs/deploy.md): a Resource names one object and a patch that Conch applies to it, with
// server-side apply and its own field manager, when a hold starts, and what it applies when the hold ends. A
// Reservation carries the values the patch takes (spec.parameters). These types are kept apart from the rest of
// the Resource and Reservation so that the queue's fields and the deploy's stay easy to tell apart.

// DeployFieldManager is the field manager of every apply Conch makes to a deploy target: the target's
// managedFields show which fields Conch set, and withdrawing them is an apply of nothing under this name.
const DeployFieldManager = "conch-deploy"

// ResourceConditionDeployed is the Resource's condition about its spec.deploy: True (reason Applied) while the
// holder's patch is applied to the target, False once the hold ended and the default was applied or Conch's
// fields were withdrawn (reason Reverted), or when Conch could not apply (Forbidden, TargetNotFound,
// InvalidPatch, MissingParameter, Conflict).
const ResourceConditionDeployed = "Deployed"

// Reasons of the Deployed condition, and of the Events that go with it.
const (
	ReasonDeployApplied          = "Applied"
	ReasonDeployReverted         = "Reverted"
	ReasonDeployForbidden        = "Forbidden"
	ReasonDeployTargetNotFound   = "TargetNotFound"
	ReasonDeployInvalidPatch     = "InvalidPatch"
	ReasonDeployMissingParameter = "MissingParameter"
	ReasonDeployConflict         = "Conflict"
)

// MaxParameters bounds a Reservation's spec.parameters.
const MaxParameters = 16

// ParameterRevision is the parameter that `/dibs staging deploy pr-345` sets (and `kubectl conch on staging
// --param revision=pr-345`): the revision, branch, tag or image a Resource's deploy patch names as {{ .parameters.revision }}.
const ParameterRevision = "revision"

// Parameter is one named value a Reservation carries for its Resource's deploy patch.
type Parameter struct {
	// name is how the patch refers to the value: {{ .parameters.<name> }}. Letters, digits and '_', not
	// starting with a digit, as an identifier in most languages.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name,omitempty"`

	// value is the text put in place of the placeholder, as is: a revision ("pr-345"), a branch, an image tag.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Value string `json:"value,omitempty"`
}

// DeployConflictPolicy says what Conch does when a field of its patch is owned by another field manager (Argo
// CD, Flux, kubectl) with another value.
// +kubebuilder:validation:Enum=Force;Fail
type DeployConflictPolicy string

const (
	// DeployConflictForce takes the fields over (server-side apply with force): the holder's revision wins for
	// the length of the hold, and the previous manager no longer owns those fields. It is the default, because
	// a deploy target is almost always created by someone else first.
	DeployConflictForce DeployConflictPolicy = "Force"
	// DeployConflictFail applies nothing when another manager owns a field with another value; the Deployed
	// condition says Conflict and names the managers.
	DeployConflictFail DeployConflictPolicy = "Fail"
)

// Deploy is what Conch applies to one object when a hold on the Resource starts and when it ends.
type Deploy struct {
	// target is the object Conch applies the patch to, in the Resource's namespace. The manager may patch only
	// what an administrator granted it (docs/deploy.md has the Role to bind).
	// +required
	Target DeployTarget `json:"target,omitzero"`

	// patch is the part of the target Conch applies when a hold starts: a partial object, such as
	// {spec: {source: {targetRevision: "{{ .parameters.revision }}"}}} for an Argo CD Application. In its string
	// values (never in keys) the placeholders {{ .parameters.<name> }}, {{ .holder }}, {{ .reservation }} and
	// {{ .resource }} are replaced by the Reservation's values; nothing else is evaluated. A parameter the
	// Reservation lacks applies nothing and says MissingParameter. It may not name apiVersion, kind, status, or
	// metadata other than labels and annotations.
	// +required
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Patch runtime.RawExtension `json:"patch,omitzero"`

	// default is the partial object Conch applies when a hold ends (and while nobody holds the Resource), with
	// the placeholders {{ .resource }} only. Without it, Conch withdraws its fields when the hold ends: a field
	// no other manager set is removed from the target. A Deployment's image, which must not be removed, needs a
	// default.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Default *runtime.RawExtension `json:"default,omitempty"`

	// conflictPolicy is Force (the default: Conch takes over the fields of its patch from whoever set them) or
	// Fail (Conch applies nothing when another manager owns one of them, and says Conflict).
	// +optional
	// +default="Force"
	ConflictPolicy DeployConflictPolicy `json:"conflictPolicy,omitempty"`
}

// DeployTarget names the object a Resource's deploy patches, in the Resource's namespace.
type DeployTarget struct {
	// apiVersion is the object's group/version: argoproj.io/v1alpha1 for an Argo CD Application,
	// kustomize.toolkit.fluxcd.io/v1 for a Flux Kustomization, apps/v1 for a Deployment.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion,omitempty"`

	// kind is the object's kind: Application, Kustomization, Deployment, or any other.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind,omitempty"`

	// name is the object's name, in the Resource's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// DeployApplied says what Conch last applied to a deploy target.
// +kubebuilder:validation:Enum=Patch;Default;Withdrawn
type DeployApplied string

const (
	// DeployAppliedPatch is a holder's patch.
	DeployAppliedPatch DeployApplied = "Patch"
	// DeployAppliedDefault is spec.deploy.default, after a hold (or before the first).
	DeployAppliedDefault DeployApplied = "Default"
	// DeployAppliedWithdrawn is an apply of nothing: Conch owns no field of the target.
	DeployAppliedWithdrawn DeployApplied = "Withdrawn"
)

// DeployStatus records what Conch last applied to the deploy target, so that a restarted manager applies nothing
// again that is already in place, and the end of a hold is reverted once.
type DeployStatus struct {
	// target is the object it was applied to. Kept so that Conch can withdraw its fields from it after
	// spec.deploy is removed or names another object.
	// +required
	Target DeployTarget `json:"target,omitzero"`

	// applied is Patch (a holder's), Default or Withdrawn.
	// +required
	Applied DeployApplied `json:"applied,omitempty"`

	// reservation is the name of the Reservation whose patch is applied; absent for Default and Withdrawn.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Reservation string `json:"reservation,omitempty"`

	// reservationUID is the UID of that Reservation: its hold, and no other of the same name, is the one the
	// patch was applied for.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ReservationUID string `json:"reservationUID,omitempty"`

	// digest identifies what was applied (a SHA-256 of the target and the rendered object), so that a changed
	// spec.deploy is applied again during the same hold.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	Digest string `json:"digest,omitempty"`

	// appliedAt is when it was applied.
	// +optional
	AppliedAt *metav1.Time `json:"appliedAt,omitempty"`
}

// IsSet reports whether a deploy is declared.
func (d *Deploy) IsSet() bool { return d.Target.Name != "" }

// IsSet reports whether anything was recorded.
func (d *DeployStatus) IsSet() bool { return d.Applied != "" }
