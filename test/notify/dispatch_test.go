package notify

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/metrics"
	"github.com/conch-dev/conch/internal/notify"
	"github.com/conch-dev/conch/internal/testutil"
)

// granted creates a Reservation of holder and writes a granted status on it, as the queue would.
func granted(t *testing.T, ns, name, holder string, at time.Time) *conchv1.Reservation {
	t.Helper()
	r := testutil.Reservation(name).Namespace(ns).On("staging").Holder(holder).For(time.Hour).Obj()
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	g, e := metav1.NewMicroTime(at), metav1.NewMicroTime(at.Add(time.Hour))
	r.Status = conchv1.ReservationStatus{
		State: conchv1.StateGranted, ResourceName: "staging", Ticket: 1, GrantedAt: &g, ExpiresAt: &e,
		Conditions: []metav1.Condition{{Type: conchv1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: conchv1.ReasonGranted, Message: "Held", LastTransitionTime: metav1.NewTime(at)}},
	}
	if err := k8s.Status().Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func end(t *testing.T, r *conchv1.Reservation, state conchv1.ReservationState) {
	t.Helper()
	cur := &conchv1.Reservation{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(r), cur); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	cur.Status.State, cur.Status.EndedAt = state, &now
	if err := k8s.Status().Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
}

func recorded(r *conchv1.Reservation, sink string) func() []string {
	return func() []string {
		cur := &conchv1.Reservation{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(r), cur); err != nil {
			return nil
		}
		for _, d := range cur.Status.Deliveries {
			if d.Sink == sink {
				return d.Events
			}
		}
		return nil
	}
}

const sinkName = conchv1.DeliveryEventSinkPrefix + "test"

func TestDeliveredOnceInOrderAndRecordedAcrossRestarts(t *testing.T) {
	ns := suite.Namespace(t, "n")
	dest := &destination{ns: ns}
	clk := testutil.NewStepClock()
	stop := start(t, dest, clk)
	r := granted(t, ns, "a", "alice", clk.Now())
	eventually(t, dest.keysTo("alice")).Should(HaveLen(1))
	eventually(t, recorded(r, sinkName)).Should(HaveLen(1))
	end(t, r, conchv1.StateReleased)
	eventually(t, dest.keysTo("alice")).Should(HaveLen(2))
	NewWithT(t).Expect(dest.keysTo("alice")()[1]).To(Equal("ended"))
	eventually(t, recorded(r, sinkName)).Should(HaveLen(2))

	stop()
	start(t, dest, clk)
	consistently(t, dest.keysTo("alice")).Should(HaveLen(2), "a restarted manager repeats nothing recorded")
}

func TestADeliveryCutShortIsRepeatedByTheNextManager(t *testing.T) {
	ns := suite.Namespace(t, "n")
	dest := &destination{ns: ns}
	inSend := make(chan struct{}, 1)
	dest.send = func(ctx context.Context, _ string, _ notify.Event) error {
		inSend <- struct{}{}
		<-ctx.Done() // the manager stops while the destination is still answering
		return ctx.Err()
	}
	clk := testutil.NewStepClock()
	stop := start(t, dest, clk)
	r := granted(t, ns, "a", "alice", clk.Now())
	<-inSend
	stop()
	NewWithT(t).Expect(recorded(r, sinkName)()).To(BeEmpty(), "nothing is recorded before it is delivered")

	dest.mu.Lock()
	dest.send = nil
	dest.mu.Unlock()
	start(t, dest, clk)
	eventually(t, recorded(r, sinkName)).Should(HaveLen(1))
	NewWithT(t).Expect(dest.keysTo("alice")()).To(HaveLen(2), "delivered again, with the same key")
}

func TestRateLimitsAndFailuresWaitInTheirOwnLane(t *testing.T) {
	ns := suite.Namespace(t, "n")
	dest := &destination{ns: ns}
	failures := 0
	dest.send = func(_ context.Context, holder string, _ notify.Event) error {
		switch holder {
		case "stuck": // down for the whole test
			return errors.New("connection refused")
		case "limited":
			failures++
			if failures == 1 {
				return notify.RetryAfter(errors.New("429"), 2*time.Second)
			}
		}
		return nil
	}
	clk := testutil.NewStepClock()
	start(t, dest, clk)
	stuck := granted(t, ns, "s", "stuck", clk.Now())
	granted(t, ns, "l", "limited", clk.Now())
	ok := granted(t, ns, "o", "ok", clk.Now())

	eventually(t, dest.keysTo("ok")).Should(HaveLen(1), "a destination that is down holds back no other")
	eventually(t, recorded(ok, sinkName)).Should(HaveLen(1))
	eventually(t, dest.keysTo("limited")).Should(HaveLen(2))
	var limited []sent
	for _, s := range dest.sent() {
		if s.sink == "limited" {
			limited = append(limited, s)
		}
	}
	NewWithT(t).Expect(limited[1].at.Sub(limited[0].at)).To(BeNumerically(">=", 1900*time.Millisecond), "Retry-After is honoured")
	NewWithT(t).Expect(len(dest.keysTo("stuck")())).To(BeNumerically(">=", 2), "a transient failure is retried")
	NewWithT(t).Expect(recorded(stuck, sinkName)()).To(BeEmpty())
	NewWithT(t).Expect(promtest.ToFloat64(metrics.NotificationBacklog.WithLabelValues("eventsink"))).To(BeNumerically(">=", 1),
		"the stuck delivery is in the backlog")
}

func TestAPermanentFailureIsRecordedAndNotRetried(t *testing.T) {
	ns := suite.Namespace(t, "n")
	dest := &destination{ns: ns}
	dest.send = func(context.Context, string, notify.Event) error {
		return notify.Permanent(errors.New("user_not_found"))
	}
	clk := testutil.NewStepClock()
	failed := promtest.ToFloat64(metrics.Notifications.WithLabelValues("eventsink", "failed"))
	start(t, dest, clk)
	r := granted(t, ns, "a", "ghost", clk.Now())
	eventually(t, recorded(r, sinkName)).Should(HaveLen(1))
	cur := &conchv1.Reservation{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKeyFromObject(r), cur)).To(Succeed())
	NewWithT(t).Expect(cur.Status.Deliveries[0].LastFailure).To(Equal("user_not_found"))
	consistently(t, dest.keysTo("ghost")).Should(HaveLen(1), "not retried")
	NewWithT(t).Expect(promtest.ToFloat64(metrics.Notifications.WithLabelValues("eventsink", "failed"))).To(Equal(failed + 1))
	eventually(t, func() []string {
		var list eventsv1.EventList
		_ = k8s.List(ctx, &list, client.InNamespace(ns))
		var reasons []string
		for _, e := range list.Items {
			reasons = append(reasons, e.Reason)
		}
		return reasons
	}).Should(ContainElement("NotificationFailed"))
}

func TestALaneSendsNoFasterThanItsInterval(t *testing.T) {
	ns := suite.Namespace(t, "n")
	dest := &destination{ns: ns, interval: time.Second}
	clk := testutil.NewStepClock()
	start(t, dest, clk)
	for _, name := range []string{"a", "b", "c"} {
		granted(t, ns, name, "alice", clk.Now())
	}
	eventually(t, dest.keysTo("alice")).Should(HaveLen(3))
	s := dest.sent()
	for i := 1; i < len(s); i++ {
		NewWithT(t).Expect(s[i].at.Sub(s[i-1].at)).To(BeNumerically(">=", 950*time.Millisecond))
	}
}

func TestADeletedHoldIsToldAsReleased(t *testing.T) {
	ns := suite.Namespace(t, "n")
	dest := &destination{ns: ns}
	types := make(chan string, 4)
	dest.send = func(_ context.Context, _ string, ev notify.Event) error {
		types <- ev.Type + " " + ev.Data().(notify.ReservationData).Why
		return nil
	}
	clk := testutil.NewStepClock()
	start(t, dest, clk)
	r := granted(t, ns, "a", "alice", clk.Now())
	NewWithT(t).Eventually(types).WithTimeout(15 * time.Second).Should(Receive(Equal(conchv1.EventReservationGranted + " " + conchv1.ReasonGranted)))
	eventually(t, recorded(r, sinkName)).Should(HaveLen(1))
	NewWithT(t).Expect(k8s.Delete(ctx, r)).To(Succeed())
	NewWithT(t).Eventually(types).WithTimeout(15 * time.Second).Should(Receive(Equal(conchv1.EventReservationReleased + " " + conchv1.ReasonDeleted)))
}
