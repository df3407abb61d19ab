// Package eventsink delivers Conch's events to EventSinks: HTTP endpoints that a namespace's users wire to hear of
// its Reservations and Resources, as CloudEvents (binary or structured) or as chat messages (Slack-compatible,
// Microsoft Teams), signed the Standard Webhooks way when a key is given.
//
// Destination is the notify.Destination of EventSinks: internal/notify's Dispatcher asks it which sinks hear of
// an object, then queues, paces, retries and records each delivery; Destination only says who wants what, makes
// one attempt when asked (Send), and keeps the figures its status controller writes to each EventSink, coalesced.
// The connections it makes go through a Guard, so that a sink cannot make the manager reach what its owner must
// not (loopback, link-local and cloud metadata addresses, the API server). docs/events.md is the user's side.
package eventsink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/metrics"
	"github.com/conch-dev/conch/internal/notify"
)

// DefaultStatusInterval is the least time between two writes of one EventSink's delivery figures.
const DefaultStatusInterval = 5 * time.Second

// Options configure a Destination.
type Options struct {
	// AllowedCIDRs are ranges the manager may connect to even where the Guard refuses by default (loopback,
	// link-local, the API server): the manager's --event-sink-allowed-cidrs.
	AllowedCIDRs []netip.Prefix
	// SecretReader reads the Secrets holding signing keys, by name, at most every KeyTTL: the manager's API
	// reader, so that no Secret is cached or watched. SetupWithManager sets it when nil; without either, the
	// client reads them.
	SecretReader client.Reader
	// KeyTTL is how long a signing key is used before its Secret is read again, and how soon a sink waiting for
	// its Secret is looked at again; DefaultKeyTTL when zero.
	KeyTTL time.Duration
	// Clock tells the time of signatures and status; the real clock when nil.
	Clock clock.PassiveClock
	// StatusInterval is the least time between two writes of an EventSink's delivery figures;
	// DefaultStatusInterval when zero.
	StatusInterval time.Duration
	// HTTPClient makes the requests; when nil, one that dials through the Guard, follows no redirect and ignores
	// proxy settings. Tests only.
	HTTPClient *http.Client
}

// Destination is the notify.Destination of EventSinks. Make it with NewDestination; SetupWithManager registers
// its status controller and refuses the API server's addresses.
type Destination struct {
	client  client.Client
	secrets client.Reader
	clock   clock.PassiveClock
	guard   *Guard
	http    *http.Client
	every   time.Duration
	keyTTL  time.Duration

	mu    sync.Mutex
	stats map[types.NamespacedName]*sinkStats
	keys  map[types.NamespacedName]cachedKey

	// changed wakes the status controller for a sink whose figures changed.
	changed chan event.GenericEvent
}

var _ notify.Destination = (*Destination)(nil)

// sinkStats are the figures of one EventSink since the manager started, which its status reports.
type sinkStats struct {
	uid          types.UID
	lastDelivery time.Time
	lastFailure  time.Time
	failure      string
	consecutive  int32
	// woken is set while a wake-up of the status controller is pending; written is the last status write.
	woken   bool
	written time.Time
}

// cachedKey is a parsed signing key and the Secret version it came from.
type cachedKey struct {
	read  time.Time // when the Secret was read
	field string
	key   []byte
	err   error
}

// DefaultKeyTTL is how long a signing key read from its Secret is used before it is read again: a rotation (an
// update of the Secret) takes effect within it. The Secret is read by name, never watched (see
// conchv1.SigningKeySecretName).
const DefaultKeyTTL = 30 * time.Second

// NewDestination returns the Destination of EventSinks that reads EventSinks (and Secrets' metadata) with c, the
// manager's cached client.
func NewDestination(c client.Client, opts Options) *Destination {
	d := &Destination{
		client:  c,
		secrets: opts.SecretReader,
		clock:   opts.Clock,
		guard:   NewGuard(opts.AllowedCIDRs),
		http:    opts.HTTPClient,
		every:   opts.StatusInterval,
		keyTTL:  opts.KeyTTL,
		stats:   map[types.NamespacedName]*sinkStats{},
		keys:    map[types.NamespacedName]cachedKey{},
		changed: make(chan event.GenericEvent, 256),
	}
	if d.clock == nil {
		d.clock = clock.RealClock{}
	}
	if d.http == nil {
		d.http = NewHTTPClient(d.guard)
	}
	if d.every <= 0 {
		d.every = DefaultStatusInterval
	}
	if d.keyTTL <= 0 {
		d.keyTTL = DefaultKeyTTL
	}
	return d
}

// Guard returns the guard the Destination dials through.
func (d *Destination) Guard() *Guard { return d.guard }

// Sinks returns one notify.Sink per EventSink of obj's namespace, at most conchv1.MaxEventSinksPerNamespace (the
// first by name; the others' status says they are beyond the limit). res is obj's Resource (obj itself for a
// Resource), whose labels the sinks' resourceSelector is matched against; nil when not known.
func (d *Destination) Sinks(ctx context.Context, obj client.Object, res client.Object) ([]notify.Sink, error) {
	var list conchv1.EventSinkList
	if err := d.client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil, fmt.Errorf("listing the EventSinks of %s: %w", obj.GetNamespace(), err)
	}
	var resLabels map[string]string
	known := false
	if r, ok := res.(*conchv1.Resource); ok && r != nil {
		resLabels, known = r.Labels, true
	}
	var out []notify.Sink
	for _, s := range Admitted(list.Items) {
		f, err := compileFilter(s.Spec.Filter)
		if err != nil {
			continue // its status says so (InvalidFilter)
		}
		nn := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
		out = append(out, notify.Sink{
			Name:  conchv1.DeliveryEventSinkPrefix + s.Name,
			Lane:  "eventsink/" + s.Namespace + "/" + s.Name,
			Wants: func(ev notify.Event) bool { return f.matches(ev, resLabels, known) && owed(s, ev) },
			Send:  func(ctx context.Context, ev notify.Event) error { return d.send(ctx, nn, ev) },
			Done:  func(ev notify.Event, err error) { d.done(nn, err) },
		})
	}
	return out, nil
}

// Admitted returns the EventSinks that deliver, of all those of one namespace: the first
// conchv1.MaxEventSinksPerNamespace by name.
func Admitted(all []conchv1.EventSink) []*conchv1.EventSink {
	out := make([]*conchv1.EventSink, 0, len(all))
	for i := range all {
		out = append(out, &all[i])
	}
	slices.SortFunc(out, func(a, b *conchv1.EventSink) int { return strings.Compare(a.Name, b.Name) })
	if len(out) > conchv1.MaxEventSinksPerNamespace {
		out = out[:conchv1.MaxEventSinksPerNamespace]
	}
	return out
}

// filter is an EventSink's spec.filter, ready to match.
type filter struct {
	types    []string
	names    []string
	selector labels.Selector // nil: any
}

func compileFilter(f conchv1.EventSinkFilter) (filter, error) {
	out := filter{types: f.Types, names: f.ResourceNames}
	if f.ResourceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(f.ResourceSelector)
		if err != nil {
			return out, fmt.Errorf("spec.filter.resourceSelector: %w", err)
		}
		if !sel.Empty() {
			out.selector = sel
		}
	}
	return out, nil
}

// matches reports whether ev passes the filter: its type is listed (or none are), its Resource's name is listed
// (or none are), and its Resource's labels (resLabels; known says whether the Resource is known at all) match the
// selector (or there is none). An event whose Resource is not known matches no name and no selector.
func (f filter) matches(ev notify.Event, resLabels map[string]string, known bool) bool {
	if len(f.types) > 0 && !slices.Contains(f.types, ev.Type) {
		return false
	}
	if len(f.names) > 0 && (ev.ResourceName() == "" || !slices.Contains(f.names, ev.ResourceName())) {
		return false
	}
	if f.selector != nil && (!known || !f.selector.Matches(labels.Set(resLabels))) {
		return false
	}
	return true
}

// creationSkew allows for the clocks of the API server (which stamps a sink's creation) and the controllers
// (which stamp a transition) to differ.
const creationSkew = time.Minute

// owed reports whether ev happened while s existed: a new sink is told what happens from now on, not the
// history of every Reservation still around.
func owed(s *conchv1.EventSink, ev notify.Event) bool {
	return !ev.Time.Before(s.CreationTimestamp.Add(-creationSkew))
}

// errSinkGone: the EventSink was deleted while its events waited.
var errSinkGone = errors.New("the EventSink was deleted")

// send makes one attempt to deliver ev to the EventSink nn as it is now (it may have changed since it was queued).
func (d *Destination) send(ctx context.Context, nn types.NamespacedName, ev notify.Event) error {
	s := &conchv1.EventSink{}
	if err := d.client.Get(ctx, nn, s); err != nil {
		if apierrors.IsNotFound(err) {
			return notify.Gone(errSinkGone)
		}
		return err
	}
	u, err := Address(s)
	if err != nil {
		d.record(s, notify.Permanent(err))
		return notify.Permanent(err)
	}
	key, err := d.signingKey(ctx, s)
	if err != nil {
		d.record(s, err)
		return err // transient: the Secret may appear or be fixed
	}
	timeout := DefaultTimeout
	if s.Spec.Timeout != nil && s.Spec.Timeout.Duration > 0 {
		timeout = s.Spec.Timeout.Duration
	}
	format := s.Spec.Format
	if format == "" {
		format = conchv1.FormatCloudEventsBinary
	}
	start := time.Now()
	code, err := post(ctx, d.http, request{url: u.String(), format: format, key: key, timeout: timeout}, ev, d.clock.Now())
	metrics.EventSinkRequestSeconds.WithLabelValues(s.Namespace, s.Name).Observe(time.Since(start).Seconds())
	metrics.EventSinkRequests.WithLabelValues(s.Namespace, s.Name, codeClass(code)).Inc()
	d.record(s, err)
	return err
}

// codeClass is the code label of conch_eventsink_requests_total: 2xx, 4xx, 5xx, or error (no response).
func codeClass(code int) string {
	if code == 0 {
		return "error"
	}
	return fmt.Sprintf("%dxx", code/100)
}

// done counts the final outcome of an event.
func (d *Destination) done(nn types.NamespacedName, err error) {
	result := "delivered"
	if err != nil {
		result = "given_up"
	}
	metrics.EventSinkEvents.WithLabelValues(nn.Namespace, nn.Name, result).Inc()
}

// record notes the outcome of an attempt for s's status, and wakes its status controller.
func (d *Destination) record(s *conchv1.EventSink, err error) {
	nn := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
	now := d.clock.Now()
	d.mu.Lock()
	st := d.statsOf(nn, s.UID)
	if err == nil {
		st.lastDelivery, st.consecutive = now, 0
	} else {
		st.lastFailure, st.failure = now, err.Error()
		st.consecutive++
	}
	wake := !st.woken
	st.woken = true
	d.mu.Unlock()
	if wake {
		select {
		case d.changed <- event.GenericEvent{Object: s}:
		default:
			d.mu.Lock()
			st.woken = false // full: the next outcome tries again
			d.mu.Unlock()
		}
	}
}

// statsOf returns the figures of nn, starting afresh for a new EventSink of the same name. d.mu is held.
func (d *Destination) statsOf(nn types.NamespacedName, uid types.UID) *sinkStats {
	st := d.stats[nn]
	if st == nil || st.uid != uid {
		st = &sinkStats{uid: uid}
		d.stats[nn] = st
	}
	return st
}

// figures returns a copy of the figures of nn (zero when none since the manager started).
func (d *Destination) figures(nn types.NamespacedName, uid types.UID) sinkStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.stats[nn]; st != nil && st.uid == uid {
		return *st
	}
	return sinkStats{uid: uid}
}

// written notes that nn's status was written at t, with the figures then current.
func (d *Destination) written(nn types.NamespacedName, uid types.UID, t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.statsOf(nn, uid)
	st.written, st.woken = t, false
}

// forget drops what is kept about a deleted EventSink.
func (d *Destination) forget(nn types.NamespacedName) {
	d.mu.Lock()
	delete(d.stats, nn)
	d.mu.Unlock()
	metrics.EventSinkRequests.DeletePartialMatch(map[string]string{"namespace": nn.Namespace, "eventsink": nn.Name})
	metrics.EventSinkRequestSeconds.DeletePartialMatch(map[string]string{"namespace": nn.Namespace, "eventsink": nn.Name})
	metrics.EventSinkEvents.DeletePartialMatch(map[string]string{"namespace": nn.Namespace, "eventsink": nn.Name})
}

// Errors of signingKey, which the status controller turns into reasons.
var (
	errSecretNotFound  = errors.New("secret not found")
	errSecretForbidden = errors.New("secret not readable")
	errKeyNotInSecret  = errors.New("key not in secret")
)

// signingKey returns the HMAC key of s (nil when it names no Secret). The Secret's metadata comes from the
// client's cache; its data is read again only when its resourceVersion changed, so that updating the Secret
// rotates the key at the next delivery and no Secret's data stays in the cache.
func (d *Destination) signingKey(ctx context.Context, s *conchv1.EventSink) ([]byte, error) {
	ref := s.Spec.SigningKeySecretRef
	if ref.Name == "" {
		return nil, nil
	}
	field := ref.Key
	if field == "" {
		field = "key"
	}
	nn := types.NamespacedName{Namespace: s.Namespace, Name: ref.Name}
	d.mu.Lock()
	c, ok := d.keys[nn]
	d.mu.Unlock()
	if ok && c.field == field && d.clock.Since(c.read) < d.keyTTL {
		return c.key, c.err
	}
	reader := d.secrets
	if reader == nil {
		reader = d.client
	}
	sec := &corev1.Secret{}
	if err := reader.Get(ctx, nn, sec); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("%w: Secret %s (spec.signingKeySecretRef) does not exist", errSecretNotFound, nn.Name)
		case apierrors.IsForbidden(err):
			return nil, fmt.Errorf("%w: Conch may not read Secret %s: it reads Secrets named %s, or others an admin lets it read by name",
				errSecretForbidden, nn.Name, conchv1.SigningKeySecretName)
		}
		return nil, err
	}
	c = cachedKey{read: d.clock.Now(), field: field}
	if v, ok := sec.Data[field]; !ok {
		c.err = fmt.Errorf("%w: Secret %s has no key %q (spec.signingKeySecretRef.key)", errKeyNotInSecret, nn.Name, field)
	} else if c.key, c.err = ParseSigningKey(v); c.err != nil {
		c.err = fmt.Errorf("the key %q of Secret %s: %w", field, nn.Name, c.err)
	}
	d.mu.Lock()
	d.keys[nn] = c
	d.mu.Unlock()
	return c.key, c.err
}
