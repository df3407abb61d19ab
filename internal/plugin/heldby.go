package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// Environment variables a Pod sets from the downward API, so that `--held-by pod` names the Pod it runs in:
//
//	env:
//	- name: POD_NAME
//	  valueFrom: {fieldRef: {fieldPath: metadata.name}}
//	- name: POD_UID
//	  valueFrom: {fieldRef: {fieldPath: metadata.uid}}
const (
	EnvPodName = "POD_NAME"
	EnvPodUID  = "POD_UID"
)

// heldByKinds are the short kinds --held-by takes, as kubectl spells them.
var heldByKinds = map[string]schema.GroupVersionKind{
	"pod":         {Version: "v1", Kind: "Pod"},
	"job":         {Group: "batch", Version: "v1", Kind: "Job"},
	"pipelinerun": {Group: "tekton.dev", Version: "v1", Kind: "PipelineRun"},
	"taskrun":     {Group: "tekton.dev", Version: "v1", Kind: "TaskRun"},
	"workflow":    {Group: "argoproj.io", Version: "v1alpha1", Kind: "Workflow"},
}

// parseHeldBy reads --held-by: "pod/NAME", "job/NAME", "pipelinerun/NAME", "taskrun/NAME", "workflow/NAME", any
// other kind as "KIND.VERSION.GROUP/NAME" (Build.v1.example.com/b-7), or "pod" alone for the Pod this command
// runs in (from $POD_NAME and $POD_UID, set by the downward API).
func parseHeldBy(s string, getenv func(string) string) (*conchv1.HeldBy, error) {
	kind, name, hasName := strings.Cut(strings.TrimSpace(s), "/")
	if !hasName {
		if strings.ToLower(kind) != "pod" {
			return nil, fmt.Errorf("--held-by %q: give KIND/NAME (pod/NAME, job/NAME, pipelinerun/NAME, taskrun/NAME, workflow/NAME), or pod alone for this Pod", s)
		}
		name = getenv(EnvPodName)
		if name == "" {
			return nil, fmt.Errorf("--held-by pod: $%s is not set; set it from the downward API (fieldRef metadata.name) or give pod/NAME", EnvPodName)
		}
		return &conchv1.HeldBy{APIVersion: "v1", Kind: "Pod", Name: name, UID: getenv(EnvPodUID)}, nil
	}
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("--held-by %q: the name after the kind is missing or has a slash", s)
	}
	gvk, ok := heldByKinds[strings.ToLower(kind)]
	if !ok {
		parts := strings.SplitN(kind, ".", 3)
		if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("--held-by %q: unknown kind %q; use pod, job, pipelinerun, taskrun, workflow, or KIND.VERSION.GROUP", s, kind)
		}
		gvk = schema.GroupVersionKind{Kind: parts[0], Version: parts[1], Group: parts[2]}
	}
	return &conchv1.HeldBy{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: name}, nil
}

// resolveHeldBy checks that the holding object exists in ns and records its UID, so that the hold ends the moment
// it is gone. A caller that may not read it (RBAC) is told, and the Reservation is made without the UID.
func resolveHeldBy(ctx context.Context, c client.Reader, ns string, h *conchv1.HeldBy, warn io.Writer) error {
	if !h.IsSet() || h.UID != "" {
		return nil
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(h.APIVersion)
	u.SetKind(h.Kind)
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: h.Name}, u)
	switch {
	case err == nil:
		h.UID = string(u.GetUID())
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("--held-by: there is no %s %s in namespace %s", h.Kind, h.Name, ns)
	case apierrors.IsForbidden(err):
		fmt.Fprintf(warn, "Note: cannot read %s %s to check it (%v); Conch will watch for it\n", h.Kind, h.Name, apierrors.ReasonForError(err))
		return nil
	default:
		fmt.Fprintf(warn, "Note: cannot read %s %s to check it: %v; Conch will watch for it\n", h.Kind, h.Name, err)
		return nil
	}
}
