package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// Plan is what should be applied to a deploy target now.
type Plan struct {
	// Target is the object to apply to.
	Target conchv1.DeployTarget
	// Applied is Patch (a holder's), Default, or Withdrawn (an apply of nothing, which removes Conch's fields).
	Applied conchv1.DeployApplied
	// Reservation and ReservationUID name the hold a Patch is for; empty otherwise.
	Reservation, ReservationUID string
	// Object is the apply configuration: the target's identity and the rendered patch or default.
	Object *unstructured.Unstructured
	// Digest identifies Object and the hold, as recorded in status.deploy.digest.
	Digest string
}

// ErrHolderUnseen is returned while the Resource's ledger names a holder whose Reservation the caller has not
// seen yet (its cache lags): nothing is decided until it has.
var ErrHolderUnseen = errors.New("the holding Reservation is not seen yet")

// Decide returns what should be applied for res, whose ledger names its holders. holding is the Reservation
// that holds it (the first holder; spec.deploy needs capacity 1), nil when nobody does or it was not found. It
// returns a nil Plan when there is nothing to apply: no spec.deploy, and nothing of Conch's left on a target.
// A patch that cannot be rendered is a *MissingParameterError or an *InvalidPatchError.
//
// Spec.deploy naming another target than the one status.deploy records is first withdrawn from the old one; the
// next decision, once that is recorded, applies to the new one.
func Decide(res *conchv1.Resource, holding *conchv1.Reservation) (*Plan, error) {
	rec, spec := &res.Status.Deploy, &res.Spec.Deploy
	if rec.IsSet() && rec.Applied != conchv1.DeployAppliedWithdrawn && (!spec.IsSet() || rec.Target != spec.Target) {
		return plan(rec.Target, conchv1.DeployAppliedWithdrawn, nil, map[string]any{})
	}
	if !spec.IsSet() {
		return nil, nil
	}
	if len(res.Status.Holders) > 0 {
		h := res.Status.Holders[0]
		if holding == nil || string(holding.UID) != h.UID {
			return nil, ErrHolderUnseen
		}
		params := make(map[string]string, len(holding.Spec.Parameters))
		for _, p := range holding.Spec.Parameters {
			params[p.Name] = p.Value
		}
		obj, err := Render(spec.Patch.Raw, Vars{
			Parameters: params, Holder: holding.Spec.Holder, Reservation: holding.Name, Resource: res.Name, Holding: true,
		})
		if err != nil {
			return nil, err
		}
		return plan(spec.Target, conchv1.DeployAppliedPatch, holding, obj)
	}
	if spec.Default == nil || len(spec.Default.Raw) == 0 {
		return plan(spec.Target, conchv1.DeployAppliedWithdrawn, nil, map[string]any{})
	}
	obj, err := Render(spec.Default.Raw, Vars{Resource: res.Name})
	if err != nil {
		return nil, err
	}
	return plan(spec.Target, conchv1.DeployAppliedDefault, nil, obj)
}

// plan builds the apply configuration of fields for target in namespace ns.
func plan(t conchv1.DeployTarget, applied conchv1.DeployApplied, holding *conchv1.Reservation, fields map[string]any) (*Plan, error) {
	p := &Plan{Target: t, Applied: applied}
	if holding != nil {
		p.Reservation, p.ReservationUID = holding.Name, string(holding.UID)
	}
	obj := &unstructured.Unstructured{Object: fields}
	obj.SetAPIVersion(t.APIVersion)
	obj.SetKind(t.Kind)
	obj.SetName(t.Name)
	b, err := json.Marshal(struct {
		Applied conchv1.DeployApplied `json:"applied"`
		UID     string                `json:"uid"`
		Object  map[string]any        `json:"object"`
	}{applied, p.ReservationUID, obj.Object})
	if err != nil {
		return nil, &InvalidPatchError{Message: err.Error()}
	}
	sum := sha256.Sum256(b)
	p.Object, p.Digest = obj, "sha256:"+hex.EncodeToString(sum[:])
	return p, nil
}

// Done reports whether status.deploy records that p is in place.
func Done(rec *conchv1.DeployStatus, p *Plan) bool {
	return rec.Digest == p.Digest && rec.Target == p.Target && rec.Applied == p.Applied
}
