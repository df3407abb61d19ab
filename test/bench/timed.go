package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// timedRelease grants timedN holds whose ends are spread over timedSpread (starting timedFirst after they are
// made) and measures each one's lateness: the arrival on the watch of the event showing it Expired, minus its
// status.expiresAt (microseconds). A negative lateness is a hold released early.
func (b *bench) timedRelease(ctx context.Context) error {
	const phase = "timed"
	ns, err := b.namespace(ctx, phase)
	if err != nil {
		return err
	}
	n, nres := b.sz.timedN, b.sz.timedResources
	capacity := int32((n + nres - 1) / nres)
	if err := b.createResources(ctx, ns, "t", nres, capacity, true); err != nil {
		return err
	}
	tr, err := track(ctx, b.c, ns)
	if err != nil {
		return err
	}
	defer tr.stop()
	name := func(i int) string { return fmt.Sprintf("t-%05d", i) }
	if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		d := b.sz.timedFirst + time.Duration(i)*b.sz.timedSpread/time.Duration(n)
		return b.c.Create(ctx, newReservation(ns, name(i), resourceName("t", i%nres), d.Round(time.Millisecond)))
	}); err != nil {
		return fmt.Errorf("creating: %w", err)
	}
	// On a slow machine some are granted after the first ends; their lateness still counts from their own expiresAt.
	if err := tr.wait(ctx, b.sz.timedFirst+b.sz.timedSpread, "every hold granted", func(t *tracker) bool {
		return t.reachedLocked(conchv1.StateGranted) >= n
	}); err != nil {
		return err
	}
	before := b.counter.snapshot()
	if err := tr.wait(ctx, b.sz.timedFirst+b.sz.timedSpread+30*time.Second, "every hold expired", func(t *tracker) bool {
		return t.reachedLocked(conchv1.StateExpired) >= n
	}); err != nil {
		return err
	}
	writes := b.counter.snapshot().sub(before)

	late := make([]time.Duration, 0, n)
	early := 0
	for _, s := range tr.all() {
		l := s.At(conchv1.StateExpired).Sub(s.expiresAt)
		if l < 0 {
			early++
		}
		late = append(late, l)
	}
	s := Summarize(late)
	b.rep.info(phase, "holds", fmt.Sprintf("%d ending over %v on %d Resources", n, b.sz.timedSpread, nres), float64(n), "holds")
	b.rep.latency(phase, "lateness (Expired on watch − expiresAt), p50", s.P50, 0)
	b.rep.latency(phase, "lateness, p99", s.P99, latenessP99Target)
	b.rep.latency(phase, "lateness, max", s.Max, latenessMaxTarget)
	b.rep.check(phase, "released early", fmt.Sprintf("%d", early), float64(early), "holds", "0", early == 0)
	b.rep.detail("timed writes", "%s (%.2f per expiry)", writes, float64(writes.Writes)/float64(n))
	fmt.Printf("   lateness min %s p50 %s p99 %s max %s, early %d; %s\n", fmtDur(s.Min), fmtDur(s.P50), fmtDur(s.P99), fmtDur(s.Max), early, writes)
	return nil
}

// restart grants restartN holds of an hour, stops the manager, ends every hold while it is down (spec.duration
// shortened to 1 s, so that each hold's end, grantedAt + 1 s, is past however long granting took), then starts a new
// manager on the same API server and measures from its start to the last Expired arriving on the watch. The new
// manager finds the ended holds exactly as it would after a natural expiry: Decide compares the time with
// grantedAt + spec.duration.
func (b *bench) restart(ctx context.Context) error {
	const phase = "restart"
	ns, err := b.namespace(ctx, phase)
	if err != nil {
		return err
	}
	n, nres := b.sz.restartN, b.sz.restartResources
	if err := b.createResources(ctx, ns, "r", nres, int32((n+nres-1)/nres), true); err != nil {
		return err
	}
	tr, err := track(ctx, b.c, ns)
	if err != nil {
		return err
	}
	defer tr.stop()
	name := func(i int) string { return fmt.Sprintf("r-%05d", i) }
	if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		return b.c.Create(ctx, newReservation(ns, name(i), resourceName("r", i%nres), time.Hour))
	}); err != nil {
		return fmt.Errorf("creating: %w", err)
	}
	if err := tr.wait(ctx, 2*time.Minute, "every hold granted", func(t *tracker) bool {
		return t.reachedLocked(conchv1.StateGranted) >= n
	}); err != nil {
		return err
	}
	time.Sleep(time.Second) // the manager's last writes (events) go out before it stops
	if err := b.stopManager(); err != nil {
		return fmt.Errorf("stopping the manager: %w", err)
	}
	stopped := time.Now()
	if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		rsv := &conchv1.Reservation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name(i)}}
		return b.c.Patch(ctx, rsv, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"duration":"1s"}}`)))
	}); err != nil {
		return fmt.Errorf("shortening the holds: %w", err)
	}
	time.Sleep(time.Second)
	objects, err := b.countObjects(ctx)
	if err != nil {
		return err
	}

	before := b.counter.snapshot()
	start := time.Now()
	if err := b.startManager(ctx); err != nil {
		return fmt.Errorf("starting the new manager: %w", err)
	}
	synced := time.Since(start)
	if err := tr.wait(ctx, time.Minute, "every hold released after the restart", func(t *tracker) bool {
		return t.reachedLocked(conchv1.StateExpired) >= n
	}); err != nil {
		return err
	}
	var last time.Time
	for _, s := range tr.all() {
		if at := s.At(conchv1.StateExpired); at.After(last) {
			last = at
		}
	}
	took := last.Sub(start)
	writes := b.counter.snapshot().sub(before)
	b.rep.info(phase, "holds ended while down", fmt.Sprintf("%d on %d Resources, manager down %s; %s in the cluster", n, nres, fmtDur(start.Sub(stopped)), objects), float64(n), "holds")
	b.rep.info(phase, "start → caches synced", fmtDur(synced), ms(synced), "ms")
	b.rep.latency(phase, "start → all released (Expired on watch)", took, restartTarget)
	b.rep.detail("restart writes", "%s", writes)
	fmt.Printf("   synced %s, all released %s after start; %s\n", fmtDur(synced), fmtDur(took), writes)
	return nil
}

// countObjects says how many Resources and Reservations the cluster holds.
func (b *bench) countObjects(ctx context.Context) (string, error) {
	var res conchv1.ResourceList
	if err := b.c.List(ctx, &res); err != nil {
		return "", err
	}
	var rsv conchv1.ReservationList
	if err := b.c.List(ctx, &rsv); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d Resources, %d Reservations", len(res.Items), len(rsv.Items)), nil
}
