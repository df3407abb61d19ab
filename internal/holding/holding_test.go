package holding

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind string, status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": "x", "namespace": "ci", "generation": int64(1)}}}
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

func conds(c ...map[string]any) map[string]any {
	list := make([]any, len(c))
	for i := range c {
		list[i] = c[i]
	}
	return map[string]any{"conditions": list}
}

func c(typ, status, reason string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason}
}

func TestFinished(t *testing.T) {
	cases := map[string]struct {
		obj       *unstructured.Unstructured
		condition string
		done      bool
		why       string
	}{
		"pod running":        {obj: obj("v1", "Pod", map[string]any{"phase": "Running"})},
		"pod pending":        {obj: obj("v1", "Pod", map[string]any{"phase": "Pending"})},
		"pod succeeded":      {obj: obj("v1", "Pod", map[string]any{"phase": "Succeeded"}), done: true, why: "Pod Succeeded"},
		"pod failed":         {obj: obj("v1", "Pod", map[string]any{"phase": "Failed"}), done: true, why: "Pod Failed"},
		"pod 'Error' is not": {obj: obj("v1", "Pod", map[string]any{"phase": "Error"})},
		"job running":        {obj: obj("batch/v1", "Job", conds(c("Suspended", "False", "")))},
		"job complete":       {obj: obj("batch/v1", "Job", conds(c("SuccessCriteriaMet", "True", ""), c("Complete", "True", ""))), done: true, why: "Job Complete"},
		"job failed":         {obj: obj("batch/v1", "Job", conds(c("Failed", "True", "BackoffLimitExceeded"))), done: true, why: "Job Failed"},
		"job failed=False":   {obj: obj("batch/v1", "Job", conds(c("Failed", "False", "")))},
		"pipelinerun running": {
			obj: obj("tekton.dev/v1", "PipelineRun", conds(c("Succeeded", "Unknown", "Running"))),
		},
		"pipelinerun succeeded": {
			obj:  obj("tekton.dev/v1", "PipelineRun", conds(c("Succeeded", "True", "Succeeded"))),
			done: true, why: "PipelineRun Succeeded=True: Succeeded",
		},
		"taskrun cancelled": {
			obj:  obj("tekton.dev/v1beta1", "TaskRun", conds(c("Succeeded", "False", "TaskRunCancelled"))),
			done: true, why: "TaskRun Succeeded=False: TaskRunCancelled",
		},
		"pipelinerun without status": {obj: obj("tekton.dev/v1", "PipelineRun", nil)},
		"workflow running":           {obj: obj("argoproj.io/v1alpha1", "Workflow", map[string]any{"phase": "Running"})},
		"workflow error":             {obj: obj("argoproj.io/v1alpha1", "Workflow", map[string]any{"phase": "Error"}), done: true, why: "Workflow Error"},
		"workflow failed":            {obj: obj("argoproj.io/v1alpha1", "Workflow", map[string]any{"phase": "Failed"}), done: true, why: "Workflow Failed"},
		"other kind, named condition true": {
			obj: obj("example.com/v1", "Build", conds(c("Done", "True", ""))), condition: "Done", done: true, why: "Build Done",
		},
		"other kind, named condition false": {
			obj: obj("example.com/v1", "Build", conds(c("Done", "False", ""), c("Ready", "True", ""))), condition: "Done",
		},
		"other kind, kstatus in progress": {
			obj: obj("example.com/v1", "Build", conds(c("Reconciling", "True", "Working"))),
		},
		"other kind, kstatus failed (Stalled)": {
			obj: obj("example.com/v1", "Build", conds(c("Stalled", "True", "Broken"))), done: true, why: "Build Failed",
		},
		"other kind, kstatus current (Ready)": {
			obj: obj("example.com/v1", "Build", conds(c("Ready", "True", ""))), done: true, why: "Build Current",
		},
		"other kind without status is never done by kstatus": {obj: obj("example.com/v1", "Build", nil)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			done, why := Finished(tc.obj, tc.condition)
			if done != tc.done || why != tc.why {
				t.Errorf("Finished = %v %q, want %v %q", done, why, tc.done, tc.why)
			}
		})
	}
}
