// Package board tests the web board in a real browser: Debian's headless Chromium, driven through the DevTools
// protocol by chromedp, against a manager (with its board on) on a real API server. Screenshots of every page are
// written to artifacts/ (git-ignored) for people to look at; CONCH_BOARD_SCREENSHOT=1 also copies the overview
// into docs/images/board.png, the README's picture.
package board

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/conch-dev/conch/internal/board"
	"github.com/conch-dev/conch/internal/manager"
	"github.com/conch-dev/conch/internal/testenv"
)

// chromiumPath is where Debian installs chromium; hack/chromium.sh installs it when missing (make test calls it).
const chromiumPath = "/usr/bin/chromium"

// artifacts is the folder the screenshots go to, beside this file.
const artifacts = "artifacts"

var (
	suite *testenv.Suite
	k8s   client.Client
	ctx   = context.Background()
	// boardURL is the board of the manager TestMain runs.
	boardURL string
	// browser is a Chromium every test opens its own tabs in.
	browser context.Context
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, manager.Scheme(), func(s *testenv.Suite) (func(), error) {
		suite, k8s = s, s.Client
		if _, err := os.Stat(chromiumPath); err != nil {
			return nil, fmt.Errorf("the browser tests need Debian's chromium at %s: run hack/chromium.sh (make test does)", chromiumPath)
		}
		addr, err := freeAddress()
		if err != nil {
			return nil, err
		}
		boardURL = "http://" + addr
		mctx, cancel := context.WithCancel(context.Background())
		mgr, err := manager.New(mctx, s.Config, manager.Options{
			MetricsAddr: "0", ProbeAddr: "0", HistoryEvery: 200 * time.Millisecond,
			Board: board.Options{Addr: addr, HistoryTTL: 500 * time.Millisecond},
		})
		if err != nil {
			cancel()
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- mgr.Start(mctx) }()

		profile, err := os.MkdirTemp("", "conch-chromium-")
		if err != nil {
			cancel()
			return nil, err
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.Flag("no-default-browser-check", true), chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900))
		var cancelBrowser context.CancelFunc
		browser, cancelBrowser = chromedp.NewContext(alloc)
		if err := chromedp.Do(browser); err != nil { // starts the browser
			cancelBrowser()
			cancelAlloc()
			cancel()
			return nil, fmt.Errorf("starting %s: %w", chromiumPath, err)
		}
		if err := os.MkdirAll(artifacts, 0o755); err != nil {
			cancelBrowser()
			cancelAlloc()
			cancel()
			return nil, err
		}
		return func() {
			cancelBrowser()
			cancelAlloc()
			_ = os.RemoveAll(profile)
			cancel()
			if err := <-done; err != nil {
				fmt.Fprintln(os.Stderr, "manager:", err)
			}
		}, nil
	}))
}

// freeAddress returns a loopback address with a port free right now.
func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// tab opens a new tab of the browser, of width×height, closed when the test ends.
func tab(t *testing.T, width, height int64, opts ...chromedp.EmulateViewportOption) context.Context {
	t.Helper()
	tctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tctx, cancelTimeout := context.WithTimeout(tctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(width, height, opts...)); err != nil {
		t.Fatal(err)
	}
	return tctx
}

// open navigates tctx to the board's path and waits for the page's main content.
func open(tctx context.Context, t *testing.T, path string) {
	t.Helper()
	if err := chromedp.Do(tctx, chromedp.Navigate(boardURL+path), chromedp.Query("#board", chromedp.NodeReady)); err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
}

// evaluate runs a JavaScript expression in the page and decodes its value.
func evaluate[T any](tctx context.Context, t *testing.T, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// screenshot writes the whole page to artifacts/name.png and returns it.
func screenshot(tctx context.Context, t *testing.T, name string) []byte {
	t.Helper()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: test/board/%s", path)
	return png
}

// kubectl runs the kubectl that hack/envtest.sh built beside the API server, as an administrator, with stdin,
// and returns its standard output.
func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	user, err := suite.AddUser(envtest.User{Name: "kubectl", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(suite.BinaryAssetsDirectory, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// eventually polls f every 20 ms for up to 10 s.
func eventually(t *testing.T, f any) AsyncAssertion {
	return NewWithT(t).Eventually(f).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond)
}
