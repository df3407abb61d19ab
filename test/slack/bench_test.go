package slack

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
	"github.com/conch-dev/conch/test/fakeslack"
)

// BenchmarkSlashCommand measures, against the fake Slack and the real manager, how long a slash command takes
// to be acked (Slack's limit is 3 s) and to become a Reservation on the API server, and compares the latter with
// a plain create of a Reservation measured in the same run.
//
//	go test ./test/slack/ -run '^$' -bench SlashCommand -benchtime 200x
func BenchmarkSlashCommand(b *testing.B) {
	h := setup(b)
	const resources = 50
	for i := range resources {
		h.create(h.resource(fmt.Sprintf("r-%d", i)).Capacity(100).Obj())
	}

	// When each Reservation appears, by Resource and holder, as a watch sees it.
	w, err := suite.Watcher.Watch(ctx, &conchv1.ReservationList{}, client.InNamespace(h.ns))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	seen := map[string]time.Time{}
	go func() {
		for ev := range w.ResultChan() {
			if r, ok := ev.Object.(*conchv1.Reservation); ok && ev.Type == watch.Added {
				mu.Lock()
				seen[r.Spec.ResourceName+"/"+r.Spec.Holder] = time.Now()
				mu.Unlock()
			}
		}
	}()
	created := func(key string) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		t, ok := seen[key]
		return t, ok
	}

	// Baseline: the API server's own create latency, same run, same namespace.
	var baseline []time.Duration
	for i := range 50 {
		start := time.Now()
		r := testutil.Reservation(fmt.Sprintf("baseline-%d", i)).Namespace(h.ns).On(fmt.Sprintf("r-%d", i%resources)).Holder(fmt.Sprintf("baseline-%d", i)).Obj()
		if err := k8s.Create(ctx, r); err != nil {
			b.Fatal(err)
		}
		baseline = append(baseline, time.Since(start))
	}

	var acks, creates []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		user := fmt.Sprintf("UBENCH%d", i)
		res := fmt.Sprintf("r-%d", i%resources)
		h.slack.AddUser(fakeslack.User{ID: user, Name: user, TZ: "UTC"})
		sent := time.Now()
		env := h.dibs(user, res+" for 1h")
		deadline := sent.Add(10 * time.Second)
		var ack fakeslack.Ack
		for ok := false; !ok; ack, ok = h.slack.AckFor(env) {
			if time.Now().After(deadline) {
				b.Fatalf("command %d not acked", i)
			}
			time.Sleep(200 * time.Microsecond) // polling the fake's record, not the cluster
		}
		acks = append(acks, ack.Latency)
		var at time.Time
		for ok := false; !ok; at, ok = created(res + "/slack:" + user) {
			if time.Now().After(deadline) {
				b.Fatalf("command %d made no Reservation", i)
			}
			time.Sleep(200 * time.Microsecond)
		}
		creates = append(creates, at.Sub(sent))
	}
	b.StopTimer()

	b.ReportMetric(ms(percentile(acks, 50)), "ack-p50-ms")
	b.ReportMetric(ms(percentile(acks, 99)), "ack-p99-ms")
	b.ReportMetric(ms(percentile(creates, 50)), "created-p50-ms")
	b.ReportMetric(ms(percentile(creates, 99)), "created-p99-ms")
	b.ReportMetric(ms(percentile(baseline, 50)), "baseline-create-p50-ms")
	b.Logf("n=%d ack p50 %v p99 %v (target p99 ≤ 100ms); command→Reservation p50 %v p99 %v; plain create p50 %v p99 %v",
		len(acks), percentile(acks, 50), percentile(acks, 99), percentile(creates, 50), percentile(creates, 99),
		percentile(baseline, 50), percentile(baseline, 99))
}

// percentile returns the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
