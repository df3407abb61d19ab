// Package testutil holds helpers shared by Conch's tests: object builders and a clock tests can move forward.
package testutil

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// StepClock is a real clock that tests can move forward with Step. Unlike a frozen fake clock, time keeps
// passing, so work queues' retry back-offs still fire on their own; unlike the real clock, an hour-long hold
// can end in a test that takes a second. Timers and tickers fire when the stepped time reaches them.
type StepClock struct {
	mu      sync.Mutex
	offset  time.Duration
	stepped chan struct{} // closed and replaced on every Step
}

var _ clock.WithTicker = (*StepClock)(nil)

// NewStepClock returns a StepClock that starts at the real time.
func NewStepClock() *StepClock { return &StepClock{stepped: make(chan struct{})} }

// Step moves the clock forward by d and wakes timers that are now due.
func (c *StepClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	close(c.stepped)
	c.stepped = make(chan struct{})
}

// Now implements clock.Clock.
func (c *StepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Since implements clock.Clock.
func (c *StepClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// After implements clock.Clock.
func (c *StepClock) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// Sleep implements clock.Clock.
func (c *StepClock) Sleep(d time.Duration) { <-c.After(d) }

// Tick implements clock.Clock.
func (c *StepClock) Tick(d time.Duration) <-chan time.Time { return c.NewTicker(d).C() }

// NewTimer implements clock.Clock.
func (c *StepClock) NewTimer(d time.Duration) clock.Timer {
	t := &stepTimer{clock: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// NewTicker implements clock.WithTicker.
func (c *StepClock) NewTicker(d time.Duration) clock.Ticker {
	t := &stepTicker{ch: make(chan time.Time, 1), stop: make(chan struct{})}
	go func() {
		for {
			select {
			case <-c.waitUntil(c.Now().Add(d), t.stop):
			case <-t.stop:
				return
			}
			select {
			case t.ch <- c.Now():
			default:
			}
		}
	}()
	return t
}

// waitUntil returns a channel closed once the clock reaches target, or never if stop closes first.
func (c *StepClock) waitUntil(target time.Time, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for {
			c.mu.Lock()
			stepped := c.stepped
			c.mu.Unlock()
			rem := target.Sub(c.Now())
			if rem <= 0 {
				close(done)
				return
			}
			t := time.NewTimer(rem)
			select {
			case <-t.C:
			case <-stepped:
				t.Stop()
			case <-stop:
				t.Stop()
				return
			}
		}
	}()
	return done
}

type stepTimer struct {
	clock *StepClock
	ch    chan time.Time
	mu    sync.Mutex
	stop  chan struct{}
}

func (t *stepTimer) C() <-chan time.Time { return t.ch }

func (t *stepTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stop == nil {
		return false
	}
	close(t.stop)
	t.stop = nil
	return true
}

func (t *stepTimer) Reset(d time.Duration) bool {
	active := t.Stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	stop := make(chan struct{})
	t.stop = stop
	due := t.clock.waitUntil(t.clock.Now().Add(d), stop)
	go func() {
		select {
		case <-due:
		case <-stop:
			return
		}
		t.mu.Lock()
		if t.stop == stop {
			t.stop = nil
		}
		t.mu.Unlock()
		select {
		case t.ch <- t.clock.Now():
		default:
		}
	}()
	return active
}

type stepTicker struct {
	ch       chan time.Time
	stop     chan struct{}
	stopOnce sync.Once
}

func (t *stepTicker) C() <-chan time.Time { return t.ch }
func (t *stepTicker) Stop()               { t.stopOnce.Do(func() { close(t.stop) }) }
