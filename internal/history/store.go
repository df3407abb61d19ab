package history

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Where and how the history is kept. These are read by people (kubectl get configmap -l conch.dev/history) and by
// other programs: treat them as API.
const (
	// NamePrefix starts the name of every history ConfigMap: conch-history-<resource>.
	NamePrefix = "conch-history-"
	// LabelHistory is on every history ConfigMap, with value "true".
	LabelHistory = "conch.dev/history"
	// AnnotationResource names the Resource a history ConfigMap is about (labels cannot hold every Resource name).
	AnnotationResource = "conch.dev/resource"
	// DataKey is the ConfigMap key holding the holds: a JSON array, one hold per line, oldest end first.
	DataKey = "holds.json"
)

// Bounds of one Resource's history. A ConfigMap may hold 1 MiB; the history stays at half of that at most, and
// typically (holds of 200 bytes) at a fifth.
const (
	// DefaultRetention is how long an ended hold is kept: five weeks, so that four whole weeks can be compared.
	DefaultRetention = 35 * 24 * time.Hour
	// MaxHolds is the most holds kept per Resource; the oldest go first.
	MaxHolds = 1000
	// MaxBytes bounds the encoded holds per Resource; the oldest go first.
	MaxBytes = 512 << 10
)

// ConfigMapName is the name of the ConfigMap that keeps the history of the Resource named resource. Names too
// long for the prefix are shortened, with a hash of the whole name so that two never share one.
func ConfigMapName(resource string) string {
	const maxName = 253
	name := NamePrefix + resource
	if len(name) <= maxName {
		return name
	}
	sum := sha256.Sum256([]byte(resource))
	suffix := "-" + hex.EncodeToString(sum[:])[:16]
	head := name[:maxName-len(suffix)]
	for len(head) > 0 && (head[len(head)-1] == '-' || head[len(head)-1] == '.') {
		head = head[:len(head)-1]
	}
	return head + suffix
}

// record is how a Hold is stored: the Resource is the ConfigMap's, times are RFC 3339 with fractions.
type record struct {
	UID         types.UID  `json:"uid"`
	Reservation string     `json:"reservation"`
	Holder      string     `json:"holder"`
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	Created     time.Time  `json:"created"`
	Granted     *time.Time `json:"granted,omitempty"`
	Ended       time.Time  `json:"ended"`
}

// Encode renders holds as the DataKey value: a JSON array with one hold per line, so that `kubectl get -o yaml`
// stays readable.
func Encode(holds []Hold) string {
	var b bytes.Buffer
	b.WriteString("[")
	for i, h := range holds {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		r := record{UID: h.UID, Reservation: h.Reservation, Holder: h.Holder, State: h.State, Reason: h.Reason,
			Created: h.Created.UTC(), Ended: h.Ended.UTC()}
		if !h.Granted.IsZero() {
			g := h.Granted.UTC()
			r.Granted = &g
		}
		line, _ := json.Marshal(r) // cannot fail: strings and times only
		b.Write(line)
	}
	b.WriteString("\n]\n")
	return b.String()
}

// Decode reads holds of the Resource resource from a DataKey value; an empty value is no holds.
func Decode(resource, data string) ([]Hold, error) {
	if len(bytes.TrimSpace([]byte(data))) == 0 {
		return nil, nil
	}
	var recs []record
	if err := json.Unmarshal([]byte(data), &recs); err != nil {
		return nil, fmt.Errorf("reading the history of %s: %w", resource, err)
	}
	holds := make([]Hold, 0, len(recs))
	for _, r := range recs {
		h := Hold{Reservation: r.Reservation, UID: r.UID, Holder: r.Holder, Resource: resource, State: r.State,
			Reason: r.Reason, Created: r.Created, Ended: r.Ended}
		if r.Granted != nil {
			h.Granted = *r.Granted
		}
		holds = append(holds, h)
	}
	return holds, nil
}

// Merge adds holds to a history: each UID once (the one already recorded wins), oldest end first, without holds
// that ended before cutoff, and then without the oldest while more than maxHolds remain or their encoding is
// longer than maxBytes. It reads nothing but its arguments.
func Merge(recorded, added []Hold, cutoff time.Time, maxHolds, maxBytes int) []Hold {
	seen := make(map[types.UID]bool, len(recorded)+len(added))
	var out []Hold
	for _, h := range slices.Concat(recorded, added) {
		if seen[h.UID] || h.Ended.Before(cutoff) {
			continue
		}
		seen[h.UID] = true
		out = append(out, h)
	}
	slices.SortStableFunc(out, func(a, b Hold) int {
		return cmp.Or(a.Ended.Compare(b.Ended), cmp.Compare(a.UID, b.UID))
	})
	if len(out) > maxHolds {
		out = out[len(out)-maxHolds:]
	}
	// Encode writes "[", then per hold a newline, its line and a comma between holds, then "\n]\n": 3 bytes and
	// len(Encode(one hold))-3 per hold. Drop the oldest until it fits.
	size := 3
	costs := make([]int, len(out))
	for i, h := range out {
		costs[i] = len(Encode([]Hold{h})) - 3
		size += costs[i]
	}
	for len(out) > 0 && size > maxBytes {
		size -= costs[0]
		out, costs = out[1:], costs[1:]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ConfigMaps reads the history from its ConfigMaps. Give it the manager's API reader (the manager caches no
// ConfigMaps), or CachedReader in front of it for many readers.
type ConfigMaps struct {
	// Client reads ConfigMaps.
	Client client.Reader
}

var _ Reader = ConfigMaps{}

// Holds implements Reader.
func (c ConfigMaps) Holds(ctx context.Context, namespace, resource string, since time.Time) ([]Hold, error) {
	cm := &corev1.ConfigMap{}
	if err := c.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ConfigMapName(resource)}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the history of %s/%s: %w", namespace, resource, err)
	}
	holds, err := Decode(resource, cm.Data[DataKey])
	if err != nil {
		return nil, err
	}
	i, _ := slices.BinarySearchFunc(holds, since, func(h Hold, t time.Time) int { return h.Ended.Compare(t) })
	return holds[i:], nil
}

// CachedReader answers from what it read less than TTL ago, so that many viewers of a page cost the API server
// one read per Resource per TTL. It keeps every hold it read and filters by since itself.
type CachedReader struct {
	// Reader is read on a miss.
	Reader Reader
	// TTL is how long an answer is reused.
	TTL time.Duration
	// Clock tells the time; the real clock when nil.
	Clock clock.PassiveClock

	mu      sync.Mutex
	entries map[types.NamespacedName]cachedHolds
}

type cachedHolds struct {
	at    time.Time
	holds []Hold
}

var _ Reader = (*CachedReader)(nil)

// Holds implements Reader.
func (c *CachedReader) Holds(ctx context.Context, namespace, resource string, since time.Time) ([]Hold, error) {
	clk := c.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	key := types.NamespacedName{Namespace: namespace, Name: resource}
	now := clk.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || now.Sub(e.at) >= c.TTL || now.Before(e.at) {
		holds, err := c.Reader.Holds(ctx, namespace, resource, time.Time{})
		if err != nil {
			return nil, err
		}
		e = cachedHolds{at: now, holds: holds}
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[types.NamespacedName]cachedHolds{}
		}
		c.entries[key] = e
		c.mu.Unlock()
	}
	i, _ := slices.BinarySearchFunc(e.holds, since, func(h Hold, t time.Time) int { return h.Ended.Compare(t) })
	return slices.Clone(e.holds[i:]), nil
}
