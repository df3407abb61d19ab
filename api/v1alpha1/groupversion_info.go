// Package v1alpha1 contains the conch.dev/v1alpha1 API: Resource, the thing people take turns on, Reservation, one
// request to hold it, Standup, a team's asynchronous stand-up in Slack, and EventSink, an HTTP endpoint told of
// their events.
//
// +kubebuilder:object:generate=true
// +groupName=conch.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "conch.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme. It is apimachinery's builder, not
	// controller-runtime's (deprecated there), so that importing the API does not import controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers every kind of this package, and the options types of metav1, under GroupVersion.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Resource{}, &ResourceList{},
		&Reservation{}, &ReservationList{},
		&Standup{}, &StandupList{},
		&StandupRun{}, &StandupRunList{},
		&EventSink{}, &EventSinkList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
