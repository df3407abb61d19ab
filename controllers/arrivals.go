package controllers

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Arrivals numbers Reservations in the order the manager's watch delivered their creation, which is the order
// the API server stored them in. Creation timestamps have whole seconds, and names (generateName, Slack's request
// hashes) say nothing of order, so this is how Reservations created within one second still get their tickets
// first come, first served. Those listed at start are numbered in the order of the list, before any created
// since. It remembers each Reservation until it ends or is deleted (a Reservation may join a queue again, when its
// Resource is re-created): a number a live Reservation, some tens of bytes.
type Arrivals struct {
	mu   sync.Mutex
	next uint64
	seen map[types.UID]uint64
}

// NewArrivals returns an empty record.
func NewArrivals() *Arrivals { return &Arrivals{seen: map[types.UID]uint64{}} }

// Arrived records that the creation of uid was just delivered.
func (a *Arrivals) Arrived(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.seen[uid]; !ok {
		a.next++
		a.seen[uid] = a.next
	}
}

// Forget drops uid: admitted, ended or deleted.
func (a *Arrivals) Forget(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.seen, uid)
}

// Of returns the number of uid, if its creation was seen.
func (a *Arrivals) Of(uid types.UID) (uint64, bool) {
	if a == nil {
		return 0, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n, ok := a.seen[uid]
	return n, ok
}
