package plugin_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/plugin"
	"github.com/conch-dev/conch/internal/testenv"
	"github.com/conch-dev/conch/internal/testutil"
)

// The plugin runs against a real API server with the real manager (on the real clock: waits are real), as a
// user who has nothing but the conch-editor ClusterRole of config/rbac/user_roles.yaml, bound in each test's
// namespace: what a CI job gets.

var (
	// k8s is an uncached administrator client for the tests' own reads and writes.
	k8s client.Client
	// kubeconfig reaches the API server as the user "ci-bot".
	kubeconfig string
)

const pluginUser = "ci-bot"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("CONCH_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(env.Config, client.Options{Scheme: manager.Scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := setupUser(env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.Remove(kubeconfig) }()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mgr, err := manager.New(ctx, env.Config, manager.Options{MetricsAddr: "0", ProbeAddr: "0"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

// setupUser installs the users' ClusterRoles and writes a kubeconfig for the user ci-bot.
func setupUser(env *testenv.Environment) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(root, "config", "rbac", "user_roles.yaml"))
	if err != nil {
		return err
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var role rbacv1.ClusterRole
		if err := yaml.UnmarshalStrict([]byte(doc), &role); err != nil {
			return fmt.Errorf("config/rbac/user_roles.yaml: %w", err)
		}
		if err := k8s.Create(context.Background(), &role); err != nil {
			return err
		}
	}
	user, err := env.AddUser(envtest.User{Name: pluginUser}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "conch-plugin-kubeconfig-")
	if err != nil {
		return err
	}
	kubeconfig = f.Name()
	if _, err := f.Write(kc); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

var nsCounter atomic.Int64

// namespace creates a fresh namespace where ci-bot has the conch-editor role.
func namespace(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: fmt.Sprintf("p%d-%d", nsCounter.Add(1), time.Now().UnixNano()%100000),
	}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ci-bot-conch", Namespace: ns.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "conch-editor"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: pluginUser}},
	}
	if err := k8s.Create(ctx, rb); err != nil {
		t.Fatalf("creating RoleBinding: %v", err)
	}
	return ns.Name
}

// syncBuffer is a bytes.Buffer safe to read while the plugin writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// invocation is one run of kubectl conch.
type invocation struct {
	out, err syncBuffer
	code     chan int
}

// conch runs kubectl conch with args as ci-bot in namespace ns, in the background until ctx ends or it exits.
func conch(ctx context.Context, ns string, args ...string) *invocation {
	return conchWithEnv(ctx, ns, nil, args...)
}

// conchWithEnv is conch with the environment variables env.
func conchWithEnv(ctx context.Context, ns string, env map[string]string, args ...string) *invocation {
	inv := &invocation{code: make(chan int, 1)}
	o := plugin.DefaultOptions()
	o.IOStreams = genericiooptions.IOStreams{In: strings.NewReader(""), Out: &inv.out, ErrOut: &inv.err}
	o.Getenv = func(k string) string { return env[k] }
	o.Hostname = func() (string, error) { return "test", nil }
	o.GracePeriod = 2 * time.Second
	full := append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)
	go func() { inv.code <- plugin.Run(ctx, full, o) }()
	return inv
}

// wait returns the exit code, failing the test when the plugin does not exit within d.
func (inv *invocation) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case code := <-inv.code:
		return code
	case <-time.After(d):
		t.Fatalf("kubectl conch did not exit within %s; stdout:\n%s\nstderr:\n%s", d, inv.out.String(), inv.err.String())
		return -1
	}
}

// reservations returns the Reservations in ns by holder.
func reservations(t *testing.T, ns string) map[string][]conchv1.Reservation {
	t.Helper()
	var list conchv1.ReservationList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string][]conchv1.Reservation{}
	for _, r := range list.Items {
		out[r.Spec.Holder] = append(out[r.Spec.Holder], r)
	}
	return out
}

// only returns the one Reservation of holder in ns.
func only(t *testing.T, ns, holder string) conchv1.Reservation {
	t.Helper()
	rs := reservations(t, ns)[holder]
	if len(rs) != 1 {
		t.Fatalf("want one Reservation of %s, got %d", holder, len(rs))
	}
	return rs[0]
}

// hold creates a Reservation for holder on resource and waits until it is granted.
func hold(t *testing.T, ns, resource, holder string) *conchv1.Reservation {
	t.Helper()
	r := testutil.Reservation(strings.ReplaceAll(holder, "@", "-")).Namespace(ns).On(resource).Holder(holder).UID("").Obj()
	if err := k8s.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() conchv1.ReservationState {
		_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(r), r)
		return r.Status.State
	}).Should(Equal(conchv1.StateGranted))
	return r
}

func createResource(t *testing.T, r *conchv1.Resource) {
	t.Helper()
	if err := k8s.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}

func stateOf(ns, name string) func() conchv1.ReservationState {
	return func() conchv1.ReservationState {
		var r conchv1.Reservation
		_ = k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &r)
		return r.Status.State
	}
}
