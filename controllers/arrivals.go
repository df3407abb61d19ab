package controllers

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Arrivals numbers Reservations in the order the manager's watch delivered their creation, which is the order
// the API server stored them in. Creation timestamps have whole seconds, and names (generateName, Slack's request
// hashes) say nothing of order, so this is how Reservations created within one second still get their tickets
// first come, first served. It only remembers Reservations until their ledger has admitted them; a Reservation
// listed at start has no number and counts as earlier than those that do.
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
