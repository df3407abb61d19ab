package deploy

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

func TestDecide(t *testing.T) {
	app := conchv1.DeployTarget{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: "web"}
	other := conchv1.DeployTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	spec := func(def string) conchv1.Deploy {
		d := conchv1.Deploy{Target: app, Patch: runtime.RawExtension{Raw: []byte(`{"spec":{"source":{"targetRevision":"{{ .parameters.revision }}"}}}`)}}
		if def != "" {
			d.Default = &runtime.RawExtension{Raw: []byte(def)}
		}
		return d
	}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	held := testutil.Resource("staging").Holding("deploy", "alice", now, now.Add(time.Hour)).Obj()
	held.Status.Holders[0].UID = "u1"
	rsv := testutil.Reservation("deploy").UID("u1").Holder("alice").Obj()
	rsv.Spec.Parameters = []conchv1.Parameter{{Name: "revision", Value: "pr-345"}}
	free := testutil.Resource("staging").Obj()
	with := func(r *conchv1.Resource, d conchv1.Deploy, rec conchv1.DeployStatus) *conchv1.Resource {
		r = r.DeepCopy()
		r.Spec.Deploy, r.Status.Deploy = d, rec
		return r
	}
	type want struct {
		Applied     conchv1.DeployApplied
		Target      conchv1.DeployTarget
		Reservation string
		Object      map[string]any
	}
	cases := map[string]struct {
		res     *conchv1.Resource
		holding *conchv1.Reservation
		want    *want
		wantErr error
	}{
		"no deploy, nothing applied": {res: free},
		"no deploy, nothing of Conch's left": {
			res: with(free, conchv1.Deploy{}, conchv1.DeployStatus{Target: app, Applied: conchv1.DeployAppliedWithdrawn}),
		},
		"held: the holder's patch": {
			res: with(held, spec(""), conchv1.DeployStatus{}), holding: rsv,
			want: &want{Applied: conchv1.DeployAppliedPatch, Target: app, Reservation: "deploy", Object: map[string]any{
				"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": "web"},
				"spec": map[string]any{"source": map[string]any{"targetRevision": "pr-345"}},
			}},
		},
		"held by a Reservation not seen yet": {res: with(held, spec(""), conchv1.DeployStatus{}), wantErr: ErrHolderUnseen},
		"held by another of the same name": {
			res: with(held, spec(""), conchv1.DeployStatus{}), holding: testutil.Reservation("deploy").UID("u0").Obj(), wantErr: ErrHolderUnseen,
		},
		"free without default: withdraw": {
			res: with(free, spec(""), conchv1.DeployStatus{}),
			want: &want{Applied: conchv1.DeployAppliedWithdrawn, Target: app, Object: map[string]any{
				"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": "web"},
			}},
		},
		"free with default": {
			res: with(free, spec(`{"spec":{"source":{"targetRevision":"main"}}}`), conchv1.DeployStatus{}),
			want: &want{Applied: conchv1.DeployAppliedDefault, Target: app, Object: map[string]any{
				"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": "web"},
				"spec": map[string]any{"source": map[string]any{"targetRevision": "main"}},
			}},
		},
		"deploy removed: withdraw from the recorded target": {
			res: with(held, conchv1.Deploy{}, conchv1.DeployStatus{Target: other, Applied: conchv1.DeployAppliedPatch}), holding: rsv,
			want: &want{Applied: conchv1.DeployAppliedWithdrawn, Target: other, Object: map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"},
			}},
		},
		"target changed: withdraw from the old one first": {
			res: with(held, spec(""), conchv1.DeployStatus{Target: other, Applied: conchv1.DeployAppliedDefault}), holding: rsv,
			want: &want{Applied: conchv1.DeployAppliedWithdrawn, Target: other, Object: map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"},
			}},
		},
		"missing parameter": {
			res: with(held, spec(""), conchv1.DeployStatus{}), holding: testutil.Reservation("deploy").UID("u1").Obj(),
			wantErr: &MissingParameterError{Names: []string{"revision"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Decide(tc.res, tc.holding)
			if diff := cmp.Diff(errString(tc.wantErr), errString(err)); diff != "" {
				t.Fatalf("Decide() error (-want +got):\n%s", diff)
			}
			var got *want
			if p != nil {
				got = &want{Applied: p.Applied, Target: p.Target, Reservation: p.Reservation, Object: p.Object.Object}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decide() (-want +got):\n%s", diff)
			}
			if p != nil && (p.Digest == "" || !Done(&conchv1.DeployStatus{Target: p.Target, Applied: p.Applied, Digest: p.Digest}, p)) {
				t.Errorf("Done() is false for the record of the plan itself")
			}
		})
	}
}

// TestDigestChangesWithTheHoldAndThePatch checks that the record of one hold's patch is not taken for another
// hold's with the same values, nor for a changed patch.
func TestDigestChangesWithTheHoldAndThePatch(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	res := testutil.Resource("staging").Holding("deploy", "alice", now, now.Add(time.Hour)).Obj()
	res.Spec.Deploy = conchv1.Deploy{
		Target: conchv1.DeployTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		Patch:  runtime.RawExtension{Raw: []byte(`{"spec":{"x":"{{ .holder }}"}}`)},
	}
	digest := func(uid string, patch string) string {
		r := res.DeepCopy()
		r.Status.Holders[0].UID = uid
		r.Spec.Deploy.Patch.Raw = []byte(patch)
		p, err := Decide(r, testutil.Reservation("deploy").UID(uid).Holder("alice").Obj())
		if err != nil {
			t.Fatal(err)
		}
		return p.Digest
	}
	a := digest("u1", `{"spec":{"x":"{{ .holder }}"}}`)
	if a == digest("u2", `{"spec":{"x":"{{ .holder }}"}}`) {
		t.Error("two holds with the same values have the same digest")
	}
	if a == digest("u1", `{"spec":{"y":"{{ .holder }}"}}`) {
		t.Error("two patches have the same digest")
	}
	if a != digest("u1", `{"spec": {"x": "{{.holder}}"}}`) {
		t.Error("the same rendering has two digests")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, ErrHolderUnseen) {
		return "unseen"
	}
	return err.Error()
}
