// Package ledger tests the defects the ledger fixed, deterministically: no manager runs here. Each test drives the
// reconcilers itself, against a real kube-apiserver and etcd (envtest), giving each reconciler a cache of its own
// that the test chooses: a snapshot of the API server taken at some moment, deliberately left stale, as a second
// manager during a rollout or a manager resumed after a pause would have. Writes always go to the API server.
package ledger

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/controllers"
	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

var (
	suite *testenv.Suite
	// k8s is an uncached client: the tests' own reads and writes, and what every reconciler writes through.
	k8s client.Client
	ctx = context.Background()
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, k8s = s, s.Client
		return nil, nil
	}))
}

// t0 is where every test's clock starts; a whole second, as creation timestamps have.
var t0 = time.Date(2026, time.December, 5, 12, 0, 0, 0, time.UTC)

// snapshot returns a cache of namespace ns as the API server holds it now, minus the Reservations named in
// without; it never changes after, whatever happens on the API server.
func snapshot(t *testing.T, ns string, without ...string) client.Reader {
	t.Helper()
	var rsvs conchv1.ReservationList
	var ress conchv1.ResourceList
	if err := k8s.List(ctx, &rsvs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if err := k8s.List(ctx, &ress, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	skip := map[string]bool{}
	for _, n := range without {
		skip[n] = true
	}
	var objs []client.Object
	for i := range rsvs.Items {
		if !skip[rsvs.Items[i].Name] {
			objs = append(objs, &rsvs.Items[i])
		}
	}
	for i := range ress.Items {
		objs = append(objs, &ress.Items[i])
	}
	return fake.NewClientBuilder().WithScheme(manager.Scheme()).WithObjects(objs...).
		WithIndex(&conchv1.Reservation{}, index.BoundResourceField, index.BoundResourceValues).
		WithIndex(&conchv1.Reservation{}, index.UnboundPoolField, index.UnboundPoolValues).
		Build()
}

// liveCache is a "cache" that is the API server itself, with the indexes applied by listing and filtering.
type liveCache struct{ client.Client }

func (c liveCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	var lo client.ListOptions
	lo.ApplyOptions(opts)
	if lo.FieldSelector == nil || lo.FieldSelector.Empty() {
		return c.Client.List(ctx, list, opts...)
	}
	snap := fake.NewClientBuilder().WithScheme(manager.Scheme()).
		WithIndex(&conchv1.Reservation{}, index.BoundResourceField, index.BoundResourceValues).
		WithIndex(&conchv1.Reservation{}, index.UnboundPoolField, index.UnboundPoolValues)
	var all conchv1.ReservationList
	if err := c.Client.List(ctx, &all, client.InNamespace(lo.Namespace)); err != nil {
		return err
	}
	for i := range all.Items {
		snap.WithObjects(&all.Items[i])
	}
	return snap.Build().List(ctx, list, opts...)
}

// counted counts the writes a reconciler sends to the API server.
type counted struct {
	writes atomic.Int64
}

// split is a client that reads from a chosen cache and writes to the API server, counting the writes.
func (c *counted) split(reads client.Reader) client.Client {
	count := func() { c.writes.Add(1) }
	return interceptor.NewClient(k8s.(client.WithWatch), interceptor.Funcs{
		Get: func(ctx context.Context, _ client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			return reads.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, _ client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			return reads.List(ctx, list, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			count()
			return c.Create(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			count()
			return c.Patch(ctx, obj, patch, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			count()
			return c.Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			count()
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			count()
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	})
}

// deciders are the reconcilers of one would-be manager: its cache, its clock, its count of writes.
type decider struct {
	counted
	res    *controllers.ResourceReconciler
	rsv    *controllers.ReservationReconciler
	events *events.FakeRecorder
}

// newDecider returns the reconcilers of a manager whose cache is reads and whose clock is clk.
func newDecider(reads client.Reader, clk *clocktesting.FakePassiveClock) *decider {
	d := &decider{events: events.NewFakeRecorder(1000)}
	c := d.split(reads)
	d.res = &controllers.ResourceReconciler{Client: c, APIReader: k8s, Recorder: d.events, Clock: clk}
	d.rsv = &controllers.ReservationReconciler{Client: c, APIReader: k8s, Recorder: d.events, Clock: clk}
	return d
}

// fresh returns the reconcilers of a manager whose cache is always up to date.
func fresh(clk *clocktesting.FakePassiveClock) *decider { return newDecider(liveCache{k8s}, clk) }

// reconcileResource runs the ResourceReconciler of d once for a Resource.
func (d *decider) reconcileResource(t *testing.T, ns, name string) ctrl.Result {
	t.Helper()
	res, err := d.res.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
	if err != nil {
		t.Fatalf("reconciling Resource %s: %v", name, err)
	}
	return res
}

// reconcileReservation runs the ReservationReconciler of d once for a Reservation.
func (d *decider) reconcileReservation(t *testing.T, ns, name string) {
	t.Helper()
	if _, err := d.rsv.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}); err != nil {
		t.Fatalf("reconciling Reservation %s: %v", name, err)
	}
}

func namespace(t *testing.T) string { return suite.Namespace(t, "l") }

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
}

func reservation(t *testing.T, ns, name string) *conchv1.Reservation {
	t.Helper()
	r := &conchv1.Reservation{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func resource(t *testing.T, ns, name string) *conchv1.Resource {
	t.Helper()
	r := &conchv1.Resource{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// patchSpec changes a Reservation's spec as its owner would.
func patchSpec(t *testing.T, r *conchv1.Reservation, f func(*conchv1.ReservationSpec)) {
	t.Helper()
	patch := client.MergeFrom(r.DeepCopy())
	f(&r.Spec)
	if err := k8s.Patch(ctx, r, patch); err != nil {
		t.Fatal(err)
	}
}

// holders returns the names the ledger of a Resource records as holders.
func holders(t *testing.T, ns, name string) []string {
	t.Helper()
	var out []string
	for _, h := range resource(t, ns, name).Status.Holders {
		out = append(out, h.Reservation)
	}
	return out
}

// granted returns the Reservations of ns whose own status says Granted.
func granted(t *testing.T, ns string) []string {
	t.Helper()
	var list conchv1.ReservationList
	if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range list.Items {
		if r.Status.State == conchv1.StateGranted {
			out = append(out, r.Name)
		}
	}
	return out
}

var _ = runtime.Object(nil)

// newSnapshot is a cache holding exactly objs, with the manager's indexes.
func newSnapshot(objs ...client.Object) client.Reader {
	return fake.NewClientBuilder().WithScheme(manager.Scheme()).WithObjects(objs...).
		WithIndex(&conchv1.Reservation{}, index.BoundResourceField, index.BoundResourceValues).
		WithIndex(&conchv1.Reservation{}, index.UnboundPoolField, index.UnboundPoolValues).
		Build()
}
