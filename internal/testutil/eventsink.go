package testutil

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// EventSinkWrapper builds EventSinks for tests: testutil.EventSink("deploys").URL("https://example.com").Obj().
type EventSinkWrapper struct{ conchv1.EventSink }

// EventSink starts an EventSink named name in namespace "default" with UID "uid-"+name, in the default format.
func EventSink(name string) *EventSinkWrapper {
	return &EventSinkWrapper{conchv1.EventSink{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       conchv1.EventSinkSpec{Format: conchv1.FormatCloudEventsBinary},
	}}
}

// Obj returns the EventSink.
func (w *EventSinkWrapper) Obj() *conchv1.EventSink { return w.EventSink.DeepCopy() }

// Namespace sets the namespace.
func (w *EventSinkWrapper) Namespace(ns string) *EventSinkWrapper {
	w.EventSink.Namespace = ns
	return w
}

// URL sets spec.url.
func (w *EventSinkWrapper) URL(u string) *EventSinkWrapper { w.Spec.URL = u; return w }

// Service sets spec.service.
func (w *EventSinkWrapper) Service(name, namespace string, port int32, path string) *EventSinkWrapper {
	w.Spec.Service = conchv1.EventSinkService{Name: name, Namespace: namespace, Port: port, Path: path}
	return w
}

// Key sets spec.signingKeySecretRef.
func (w *EventSinkWrapper) Key(secret, key string) *EventSinkWrapper {
	w.Spec.SigningKeySecretRef = conchv1.SecretKeyRef{Name: secret, Key: key}
	return w
}

// Format sets spec.format.
func (w *EventSinkWrapper) Format(f conchv1.EventSinkFormat) *EventSinkWrapper {
	w.Spec.Format = f
	return w
}

// Types sets spec.filter.types.
func (w *EventSinkWrapper) Types(ts ...string) *EventSinkWrapper { w.Spec.Filter.Types = ts; return w }

// Resources sets spec.filter.resourceNames.
func (w *EventSinkWrapper) Resources(names ...string) *EventSinkWrapper {
	w.Spec.Filter.ResourceNames = names
	return w
}

// Selecting sets spec.filter.resourceSelector to match labels.
func (w *EventSinkWrapper) Selecting(labels map[string]string) *EventSinkWrapper {
	w.Spec.Filter.ResourceSelector = &metav1.LabelSelector{MatchLabels: labels}
	return w
}

// Timeout sets spec.timeout.
func (w *EventSinkWrapper) Timeout(d time.Duration) *EventSinkWrapper {
	w.Spec.Timeout = &metav1.Duration{Duration: d}
	return w
}
