// Package holding decides whether the object a Reservation is held by (spec.heldBy) has finished its work: the
// rules for Pods, Jobs, Tekton runs, Argo Workflows, and any other kind. It is pure: the controller that acts on
// it lives in controllers/ (HolderReconciler).
package holding

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Kinds whose end Conch knows.
var (
	Pod         = schema.GroupKind{Kind: "Pod"}
	Job         = schema.GroupKind{Group: "batch", Kind: "Job"}
	PipelineRun = schema.GroupKind{Group: "tekton.dev", Kind: "PipelineRun"}
	TaskRun     = schema.GroupKind{Group: "tekton.dev", Kind: "TaskRun"}
	Workflow    = schema.GroupKind{Group: "argoproj.io", Kind: "Workflow"}
)

// Finished reports whether obj has finished its work, and in a few words how ("Job Failed", "Pod Succeeded",
// "PipelineRun Succeeded=False: Cancelled"):
//   - a Pod when status.phase is Succeeded or Failed;
//   - a Job when its Complete or Failed condition is True;
//   - a Tekton PipelineRun or TaskRun when its Succeeded condition is True or False (no longer Unknown);
//   - an Argo Workflow when status.phase is Succeeded, Failed or Error;
//   - any other kind when the condition finishedCondition is True or, without one, when kstatus reads it as
//     Current or Failed. An object with no status at all is never finished by the kstatus rule: kstatus would read
//     it as Current the moment it exists.
func Finished(obj *unstructured.Unstructured, finishedCondition string) (bool, string) {
	gk := obj.GroupVersionKind().GroupKind()
	switch gk {
	case Pod, Workflow:
		phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
		switch phase {
		case "Succeeded", "Failed":
			return true, gk.Kind + " " + phase
		case "Error":
			if gk == Workflow {
				return true, gk.Kind + " " + phase
			}
		}
		return false, ""
	case Job:
		for _, t := range []string{"Complete", "Failed"} {
			if c, ok := condition(obj, t); ok && c.status == "True" {
				return true, "Job " + t
			}
		}
		return false, ""
	case PipelineRun, TaskRun:
		c, ok := condition(obj, "Succeeded")
		if !ok || (c.status != "True" && c.status != "False") {
			return false, ""
		}
		why := fmt.Sprintf("%s Succeeded=%s", gk.Kind, c.status)
		if c.reason != "" {
			why += ": " + c.reason
		}
		return true, why
	}
	if finishedCondition != "" {
		if c, ok := condition(obj, finishedCondition); ok && c.status == "True" {
			return true, fmt.Sprintf("%s %s", gk.Kind, finishedCondition)
		}
		return false, ""
	}
	if _, hasStatus := obj.Object["status"]; !hasStatus {
		return false, ""
	}
	res, err := kstatus.Compute(obj)
	if err != nil {
		return false, ""
	}
	switch res.Status {
	case kstatus.CurrentStatus, kstatus.FailedStatus:
		return true, fmt.Sprintf("%s %s", gk.Kind, res.Status)
	}
	return false, ""
}

type cond struct{ status, reason string }

// condition finds a condition of obj by type in status.conditions.
func condition(obj *unstructured.Unstructured, typ string) (cond, bool) {
	list, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		s, _ := m["status"].(string)
		r, _ := m["reason"].(string)
		return cond{status: s, reason: r}, true
	}
	return cond{}, false
}
