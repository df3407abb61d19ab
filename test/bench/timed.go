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
// made) and measures each one's lateness: the arrival on the watch of the event showing it Expired, minus the end
// of the term the bench asked for, status.grantedAt + the spec.duration it created the Reservation with. The
// controller's own status.expiresAt is not used, so that a wrong term shows as a hold released early or late.
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
	requested := make(map[string]time.Duration, n)
	for i := range n {
		requested[name(i)] = (b.sz.timedFirst + time.Duration(i)*b.sz.timedSpread/time.Duration(n)).Round(time.Millisecond)
	}
	if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		return b.c.Create(ctx, newReservation(ns, name(i), resourceName("t", i%nres), requested[name(i)]))
	}); err != nil {
		return fmt.Errorf("creating: %w", err)
	}
	// On a slow machine some are granted after the first ends; their lateness still counts from their own term.
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
	early, otherTerm, noGrant := 0, 0, 0
	for nm, s := range tr.all() {
		d, ok := requested[nm]
		if !ok {
			continue
		}
		if s.grantedAt.IsZero() {
			noGrant++
			continue
		}
		end := s.grantedAt.Add(d)
		if !s.expiresAt.Equal(end) {
			otherTerm++
		}
		l := s.At(conchv1.StateExpired).Sub(end)
		if l < 0 {
			early++
		}
		late = append(late, l)
	}
	if noGrant > 0 {
		return fmt.Errorf("%d holds expired without a status.grantedAt", noGrant)
	}
	s := Summarize(late)
	b.rep.info(phase, "holds", fmt.Sprintf("%d ending over %v on %d Resources", n, b.sz.timedSpread, nres), float64(n), "holds")
	b.rep.latency(phase, "lateness (Expired on watch − grantedAt − requested duration), p50", s.P50, 0)
	b.rep.latency(phase, "lateness, p99", s.P99, latenessP99Target)
	b.rep.latency(phase, "lateness, max", s.Max, 0)
	b.rep.check(phase, "released early (before grantedAt + requested duration)", fmt.Sprintf("%d (earliest %s)", early, fmtDur(s.Min)), float64(early), "holds", "0", early == 0)
	b.rep.info(phase, "status.expiresAt ≠ grantedAt + requested duration", fmt.Sprint(otherTerm), float64(otherTerm), "holds")
	b.rep.detail("timed writes", "%s (%.2f per expiry)", writes, float64(writes.Writes)/float64(n))
	fmt.Printf("   lateness min %s p50 %s p99 %s max %s, early %d, other term %d; %s\n", fmtDur(s.Min), fmtDur(s.P50), fmtDur(s.P99), fmtDur(s.Max), early, otherTerm, writes)
	return nil
}

// restart grants restartN holds of an hour, stops the manager, ends every hold while it is down (spec.duration
// shortened to 1 s, so that each hold's end, grantedAt + 1 s, is past however long granting took), then starts a new
// manager on the same API server and measures from its start to the last Expired arriving on the watch. The new
// manager finds the ended holds exactly as it would after a natural expiry. The cluster holds at least
// restartObjects Resources and Reservations (those of the earlier phases, topped up with holds of an hour when
// there are fewer), which the new manager lists and reconciles as well.
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
	if err := b.fillTo(ctx, b.sz.restartObjects); err != nil {
		return err
	}
	// The manager's last writes (positions, events) go out before it stops.
	if _, err := b.waitManagerIdle(ctx, time.Minute); err != nil {
		b.rep.detail(phase+" stop", "%v before the stop", err)
	}
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
	nObjects, objects, err := b.countObjects(ctx)
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
	_, _ = b.waitManagerIdle(ctx, time.Minute) // the restart's writes, for the details
	writes := b.counter.snapshot().sub(before)
	b.rep.info(phase, "holds ended while down", fmt.Sprintf("%d on %d Resources, manager down %s; %s in the cluster", n, nres, fmtDur(start.Sub(stopped)), objects), float64(n), "holds")
	b.rep.info(phase, "start → caches synced", fmtDur(synced), ms(synced), "ms")
	b.rep.latency(phase, fmt.Sprintf("start → all released (Expired on watch), among %s objects", thousands(nObjects)), took, restartTarget)
	b.rep.detail("restart writes", "%s", writes)
	fmt.Printf("   synced %s, all released %s after start; %s\n", fmtDur(synced), fmtDur(took), writes)
	return nil
}

// fillTo tops the cluster up to at least total Resources and Reservations with holds of an hour (10 per Resource
// of capacity 10) in a namespace of their own, and waits until the manager has granted them.
func (b *bench) fillTo(ctx context.Context, total int) error {
	have, _, err := b.countObjects(ctx)
	if err != nil || have >= total {
		return err
	}
	nres := (total - have + 10) / 11
	n := 10 * nres
	ns, err := b.namespace(ctx, "fill")
	if err != nil {
		return err
	}
	if err := b.createResources(ctx, ns, "f", nres, 10, true); err != nil {
		return err
	}
	tr, err := track(ctx, b.c, ns)
	if err != nil {
		return err
	}
	defer tr.stop()
	if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		return b.c.Create(ctx, newReservation(ns, fmt.Sprintf("f-%05d", i), resourceName("f", i%nres), time.Hour))
	}); err != nil {
		return fmt.Errorf("filling the cluster: %w", err)
	}
	return tr.wait(ctx, 3*time.Minute, "the filling holds granted", func(t *tracker) bool {
		return t.reachedLocked(conchv1.StateGranted) >= n
	})
}

// countObjects says how many Resources and Reservations the cluster holds, in all and in words.
func (b *bench) countObjects(ctx context.Context) (int, string, error) {
	var res conchv1.ResourceList
	if err := b.c.List(ctx, &res); err != nil {
		return 0, "", err
	}
	var rsv conchv1.ReservationList
	if err := b.c.List(ctx, &rsv); err != nil {
		return 0, "", err
	}
	return len(res.Items) + len(rsv.Items), fmt.Sprintf("%s Resources, %s Reservations", thousands(len(res.Items)), thousands(len(rsv.Items))), nil
}
