package manager

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
)

// kubeconfig writes a kubeconfig whose current context has namespace ns (none when empty) and returns its path.
func kubeconfig(t *testing.T, ns string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	text := `apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: dev
  user: {token: not-a-secret}
contexts:
- name: other
  context: {cluster: dev, user: dev, namespace: not-current}
- name: dev
  context: {cluster: dev, user: dev, namespace: "` + ns + `"}
current-context: dev
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// options reads args as cmd/manager's command line; the manager runs out of cluster unless inCluster is the
// content of the Pod's namespace file.
func options(t *testing.T, inCluster string, args ...string) (Options, error) {
	t.Helper()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	f := BindFlags(fs)
	f.namespaceFile = filepath.Join(t.TempDir(), "namespace")
	if inCluster != "" {
		if err := os.WriteFile(f.namespaceFile, []byte(inCluster), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Options(logr.Discard())
}

// leaderElection is what controller-runtime's options say of leader election.
type leaderElection struct {
	On                                        bool
	Namespace                                 string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// TestLeaderElectionFromFlags builds controller-runtime's options from a command line, as cmd/manager does. Out of
// cluster with leader election on and no namespace given, the Lease goes to the kubeconfig context's namespace,
// where controller-runtime alone refuses to start; the lease timings are passed through.
func TestLeaderElectionFromFlags(t *testing.T) {
	// $KUBECONFIG names another namespace: it must not be read when --kubeconfig is given.
	t.Setenv("KUBECONFIG", kubeconfig(t, "from-the-environment"))
	teamWeb := "--kubeconfig=" + kubeconfig(t, "team-web")
	defaults := func(ns string) leaderElection {
		return leaderElection{On: true, Namespace: ns, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	}
	cases := map[string]struct {
		inCluster string
		args      []string
		want      leaderElection
		wantErr   string
	}{
		"out of cluster: the kubeconfig context's namespace": {args: []string{teamWeb}, want: defaults("team-web")},
		"a context without a namespace: default": {
			args: []string{"--kubeconfig=" + kubeconfig(t, "")}, want: defaults("default"),
		},
		"no --kubeconfig: $KUBECONFIG's context": {want: defaults("from-the-environment")},
		"a kubeconfig that is not there": {
			args:    []string{"--kubeconfig=" + filepath.Join(t.TempDir(), "none")},
			wantErr: "reading the kubeconfig for the leader election namespace",
		},
		"the flag wins":                   {args: []string{teamWeb, "--leader-election-namespace=conch-system"}, want: defaults("conch-system")},
		"in a cluster: the manager's own": {inCluster: "conch-system\n", args: []string{teamWeb}, want: defaults("conch-system")},
		"no leader election: no namespace": {
			args: []string{teamWeb, "--leader-elect=false"},
			want: leaderElection{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second},
		},
		"lease timings": {
			args: []string{teamWeb, "--leader-elect-lease-duration=1m", "--leader-elect-renew-deadline=40s", "--leader-elect-retry-period=5s"},
			want: leaderElection{On: true, Namespace: "team-web", LeaseDuration: time.Minute, RenewDeadline: 40 * time.Second, RetryPeriod: 5 * time.Second},
		},
		"a renew deadline past the lease": {
			args:    []string{teamWeb, "--leader-elect-renew-deadline=20s"},
			wantErr: "--leader-elect-lease-duration (15s) must be longer than --leader-elect-renew-deadline (20s)",
		},
		"a retry period too close to the renew deadline": {
			args:    []string{teamWeb, "--leader-elect-retry-period=9s"},
			wantErr: "--leader-elect-renew-deadline (10s) must be longer than 1.2 × --leader-elect-retry-period (9s)",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts, err := options(t, tc.inCluster, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := managerOptions(opts)
			got := leaderElection{On: m.LeaderElection, Namespace: m.LeaderElectionNamespace}
			if m.LeaseDuration != nil && m.RenewDeadline != nil && m.RetryPeriod != nil {
				got.LeaseDuration, got.RenewDeadline, got.RetryPeriod = *m.LeaseDuration, *m.RenewDeadline, *m.RetryPeriod
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("leader election (-want +got):\n%s", diff)
			}
		})
	}
}

// TestListFlags: the list flags are split and the channel map read.
func TestListFlags(t *testing.T) {
	opts, err := options(t, "", "--leader-elect=false", "--namespaces= team-a,,team-b ", "--slack-admins=UADMIN",
		"--slack-channel-namespaces=C1=team-a", "--kube-api-qps=50")
	if err != nil {
		t.Fatal(err)
	}
	got := []any{opts.Namespaces, opts.Slack.Admins, opts.Slack.ChannelNamespaces, opts.QPS, opts.Burst}
	want := []any{[]string{"team-a", "team-b"}, []string{"UADMIN"}, map[string]string{"C1": "team-a"}, float32(50), DefaultBurst}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := options(t, "", "--leader-elect=false", "--slack-channel-namespaces=C1"); err == nil {
		t.Error("a channel without a namespace was accepted")
	}
}

// TestEventSinkAllowedCIDRs: the CIDRs are parsed, a bare address is one address, and garbage is refused.
func TestEventSinkAllowedCIDRs(t *testing.T) {
	opts, err := options(t, "", "--leader-elect=false", "--event-sink-allowed-cidrs=127.0.0.0/8, 169.254.169.254")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range opts.EventSinkAllowedCIDRs {
		got = append(got, p.String())
	}
	if diff := cmp.Diff([]string{"127.0.0.0/8", "169.254.169.254/32"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := options(t, "", "--leader-elect=false", "--event-sink-allowed-cidrs=localhost"); err == nil {
		t.Error("a name was accepted as a CIDR")
	}
}

// TestBoardAndHistoryFlags: the board is off unless given an address; its namespaces are a list; its token is read
// from a file, which must exist and not be empty; the history's retention defaults to five weeks and must be
// positive.
func TestBoardAndHistoryFlags(t *testing.T) {
	opts, err := options(t, "", "--leader-elect=false")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Board.Addr != "" || opts.HistoryRetention != 35*24*time.Hour {
		t.Errorf("defaults: board at %q, history kept %s", opts.Board.Addr, opts.HistoryRetention)
	}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err = options(t, "", "--leader-elect=false", "--board-bind-address=:8082", "--board-namespaces=a, b",
		"--board-token-file="+token, "--history-retention=168h")
	if err != nil {
		t.Fatal(err)
	}
	got := []any{opts.Board.Addr, opts.Board.Namespaces, opts.Board.Token, opts.HistoryRetention}
	want := []any{":8082", []string{"a", "b"}, "s3cret", 168 * time.Hour}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"--board-token-file=" + empty, "--board-token-file=/nonexistent/token", "--history-retention=0s"} {
		if _, err := options(t, "", "--leader-elect=false", bad); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

// TestSlackNudgeInterval: 15 minutes unless the flag says otherwise.
func TestSlackNudgeInterval(t *testing.T) {
	cases := map[string]struct {
		args []string
		want time.Duration
	}{
		"default": {want: 15 * time.Minute},
		"an hour": {args: []string{"--slack-nudge-interval=1h"}, want: time.Hour},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts, err := options(t, "", append([]string{"--leader-elect=false"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if opts.Slack.NudgeInterval != tc.want {
				t.Errorf("nudge interval %s, want %s", opts.Slack.NudgeInterval, tc.want)
			}
		})
	}
}
