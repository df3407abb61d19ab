package slackbot

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

// TestChangesFromSlackSurviveAStatusWrite: a release or an extension typed in Slack patches the Reservation with a
// precondition on the version the bot read; the controllers write its status all the time, so when the patch
// loses, the bot reads it again and applies the change to what it finds, instead of answering "the object has
// been modified".
func TestChangesFromSlackSurviveAStatusWrite(t *testing.T) {
	for name, change := range map[string]func(b *Bot, r *conchv1.Reservation, res *conchv1.Resource) error{
		"release": func(b *Bot, r *conchv1.Reservation, _ *conchv1.Resource) error {
			return b.releaseOne(context.Background(), r, false, "UALICE", "alice", "key")
		},
		"extend": func(b *Bot, r *conchv1.Reservation, res *conchv1.Resource) error {
			_, _, err := b.extendOne(context.Background(), r, res, time.Hour, "key")
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			if err := conchv1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			rsv := testutil.Reservation("a").Namespace("ns").On("staging").Holder("slack:UALICE").For(time.Hour).
				Granted(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)).Obj()
			res := testutil.Resource("staging").Namespace("ns").Obj()
			store := fake.NewClientBuilder().WithScheme(scheme).WithObjects(rsv, res).WithStatusSubresource(rsv).Build()
			lost := 0
			c := interceptor.NewClient(store, interceptor.Funcs{
				Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
					if lost == 0 { // the controller wrote the status a moment before
						lost++
						return apierrors.NewConflict(schema.GroupResource{Group: "conch.dev", Resource: "reservations"}, obj.GetName(), nil)
					}
					return c.Patch(ctx, obj, patch, opts...)
				},
			})
			b := &Bot{client: c, reader: store, recorder: events.NewFakeRecorder(10)}
			cached := rsv.DeepCopy()
			if err := store.Get(context.Background(), client.ObjectKeyFromObject(rsv), cached); err != nil {
				t.Fatal(err)
			}
			if err := change(b, cached, res); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := &conchv1.Reservation{}
			if err := store.Get(context.Background(), client.ObjectKeyFromObject(rsv), got); err != nil {
				t.Fatal(err)
			}
			switch name {
			case "release":
				if !got.Spec.Released {
					t.Error("not released")
				}
			case "extend":
				if got.Spec.Duration == nil || got.Spec.Duration.Duration != 2*time.Hour {
					t.Errorf("duration %v, want 2h", got.Spec.Duration)
				}
			}
		})
	}
}

// TestAnExtensionBuildsOnTheLastOneNotOnAStaleStatus: a second extension right after a first one finds the
// controllers' status.duration still at the old length; it adds to the duration asked for (spec), so that the
// first extension is not lost.
func TestAnExtensionBuildsOnTheLastOneNotOnAStaleStatus(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := conchv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	rsv := testutil.Reservation("a").Namespace("ns").On("staging").Holder("slack:UALICE").For(2 * time.Hour).
		Granted(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)).Obj()
	rsv.Status.Duration = &metav1.Duration{Duration: time.Hour} // the first extension, 1h → 2h, not seen yet
	res := testutil.Resource("staging").Namespace("ns").Obj()
	store := fake.NewClientBuilder().WithScheme(scheme).WithObjects(rsv, res).WithStatusSubresource(rsv).Build()
	b := &Bot{client: store, reader: store, recorder: events.NewFakeRecorder(10)}
	got := rsv.DeepCopy()
	if err := store.Get(context.Background(), client.ObjectKeyFromObject(rsv), got); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.extendOne(context.Background(), got, res, 30*time.Minute, "second"); err != nil {
		t.Fatal(err)
	}
	if err := store.Get(context.Background(), client.ObjectKeyFromObject(rsv), got); err != nil {
		t.Fatal(err)
	}
	if d := got.Spec.Duration.Duration; d != 150*time.Minute {
		t.Errorf("duration %v after extending 2h by 30m, want 2h30m", d)
	}
}
