package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Sink is one destination as the Dispatcher sees it for one object: a person's Slack DM, a Resource's channel, an
// EventSink. Destinations make them per object (see Destination).
type Sink struct {
	// Name is what status.deliveries records this destination as: conchv1.DeliverySlackDM,
	// conchv1.DeliverySlackChannel, or conchv1.DeliveryEventSinkPrefix + the EventSink's name.
	Name string
	// Lane is the queue deliveries to this destination wait in, one at a time and in order, e.g.
	// "slack-channel/C0123", "slack-dm/U0123", "eventsink/team-a/deploys". Lanes are independent: one slow or
	// failing lane holds back no other.
	Lane string
	// Interval is the least time between two sends in the lane (Slack: about one message per second per
	// channel); zero for none.
	Interval time.Duration
	// Wants reports whether the destination takes ev; nil takes every event.
	Wants func(ev Event) bool
	// Send delivers ev once. An error wrapped by Permanent is not retried: the event is recorded as given up on,
	// with the error. An error wrapped by Gone drops the event unrecorded. An error wrapped by RetryAfter is retried after the time it names; any other after a
	// backoff (1 s doubling to 5 min).
	Send func(ctx context.Context, ev Event) error
	// Done, when set, hears the final outcome of each event (nil for delivered; a permanent error; never a
	// transient one), for the destination's own status and metrics. It must not block.
	Done func(ev Event, err error)
}

// Destination makes the Sinks that hear of an object's events: obj is a *conchv1.Reservation (with its
// *conchv1.Resource, or nil when unknown) or a *conchv1.Resource (res == obj).
type Destination interface {
	Sinks(ctx context.Context, obj client.Object, res client.Object) ([]Sink, error)
}

// permanentError marks an error that retrying will not fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying will not fix (an unknown user, a channel that does not exist, a 4xx
// from a webhook other than 408 and 429).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// goneError marks a destination that no longer exists.
type goneError struct{ err error }

func (e goneError) Error() string { return e.err.Error() }
func (e goneError) Unwrap() error { return e.err }

// Gone marks err as saying the destination itself no longer exists (an EventSink deleted while its events
// waited): the event is dropped and nothing is recorded, since there is no one left to record it for.
func Gone(err error) error {
	if err == nil {
		return nil
	}
	return goneError{err}
}

// IsGone reports whether err was marked by Gone.
func IsGone(err error) bool {
	var g goneError
	return errors.As(err, &g)
}

// retryAfterError carries the time a destination asked to wait (HTTP 429/503 Retry-After).
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e retryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.err, e.after)
}
func (e retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as one to retry after d, as the destination asked.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return retryAfterError{err: err, after: d}
}

// RetryAfterOf returns the wait err asks for (see RetryAfter), if any.
func RetryAfterOf(err error) (time.Duration, bool) {
	var r retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}
