// Package monitoring checks that the Grafana dashboard and the alerting rules in config/monitoring query only
// metrics a running manager really exports: a real manager on envtest, with leader election, does a grant, a queue,
// a release and a delivery to an EventSink, and then its registry is read.
package monitoring

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
	"github.com/conch-dev/conch/internal/testutil"
)

var (
	suite *testenv.Suite
	k8s   client.Client
	ctx   = context.Background()
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, k8s = s, s.Client
		return nil, nil
	}))
}

// metricName finds the names of metrics in a PromQL expression: Conch's, controller-runtime's and leader
// election's.
var metricName = regexp.MustCompile(`\b(conch_[a-z_]+|controller_runtime_[a-z_]+|leader_election_[a-z_]+)\b`)

// queried returns every metric name the dashboard's targets and the rules' expressions use, histogram series
// (_bucket, _sum, _count) under their family's name.
func queried(t *testing.T) []string {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	b, err := os.ReadFile(filepath.Join(root, "config", "monitoring", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, err := json.Marshal(v.Query); err == nil {
			exprs = append(exprs, string(q))
		}
	}
	b, err = os.ReadFile(filepath.Join(root, "config", "monitoring", "prometheus-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Expr string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &rule); err != nil {
		t.Fatal(err)
	}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	names := map[string]bool{}
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				n = strings.TrimSuffix(n, suffix)
			}
			names[n] = true
		}
	}
	var out []string
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) < 8 {
		t.Fatalf("found only %v in the dashboard and rules", out)
	}
	return out
}

func TestDashboardAndRulesQueryWhatTheManagerExports(t *testing.T) {
	want := queried(t)
	ns := suite.Namespace(t, "m")

	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer rcv.Close()
	clk := testutil.NewStepClock()
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, suite.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", SeveralPerProcess: true, Namespaces: []string{ns},
		LeaderElection: true, LeaderElectionNamespace: ns, Clock: clk,
		EventSinkAllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stop := testenv.RunInBackground(mctx, t, cancel, mgr)
	defer stop()

	// A grant, a wait, a release, an expiry, deliveries: every metric family gets a value.
	for _, o := range []client.Object{
		testutil.EventSink("hooks").Namespace(ns).URL(rcv.URL).Obj(),
		testutil.Resource("staging").Namespace(ns).Obj(),
		testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj(),
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	state := func(name string) func() conchv1.ReservationState {
		return func() conchv1.ReservationState {
			r := &conchv1.Reservation{}
			_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r)
			return r.Status.State
		}
	}
	g := NewWithT(t)
	g.Eventually(state("alice")).WithTimeout(30 * time.Second).Should(Equal(conchv1.StateGranted))
	if err := k8s.Create(ctx, testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").Obj()); err != nil {
		t.Fatal(err)
	}
	g.Eventually(state("bob")).WithTimeout(15 * time.Second).Should(Equal(conchv1.StateQueued))
	alice := &conchv1.Reservation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alice"}}
	g.Expect(k8s.Patch(ctx, alice, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"released":true}}`)))).To(Succeed())
	g.Eventually(state("bob")).WithTimeout(15 * time.Second).Should(Equal(conchv1.StateGranted))
	clk.Step(2 * time.Hour) // bob's hour runs out
	g.Eventually(state("bob")).WithTimeout(15 * time.Second).Should(Equal(conchv1.StateExpired))

	g.Eventually(func() []string {
		families, err := ctrlmetrics.Registry.Gather()
		if err != nil {
			return []string{err.Error()}
		}
		have := map[string]bool{}
		for _, f := range families {
			have[f.GetName()] = true
		}
		var missing []string
		for _, n := range want {
			if !have[n] {
				missing = append(missing, n)
			}
		}
		return missing
	}).WithTimeout(20*time.Second).WithPolling(200*time.Millisecond).Should(BeEmpty(),
		"the dashboard or the rules query metrics the manager does not export")
	t.Logf("the dashboard and the rules query %d metrics, all exported: %v", len(want), want)
}
