package board

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/testutil"
)

func state(ns, name string) func() conchv1.ReservationState {
	return func() conchv1.ReservationState {
		r := &conchv1.Reservation{}
		_ = k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r)
		return r.Status.State
	}
}

// reserve creates a Reservation and waits until it holds or waits, so that the next one arrives after it.
func reserve(t *testing.T, r *conchv1.Reservation) {
	t.Helper()
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, state(r.Namespace, r.Name)).Should(BeElementOf(conchv1.StateGranted, conchv1.StateQueued))
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

func release(t *testing.T, ns, name string) {
	t.Helper()
	kubectl(t, "", "-n", ns, "patch", "reservation", name, "--type=merge", "-p", `{"spec":{"released":true}}`)
}

// seed makes a namespace that looks like a team's: a staging server handed over once and wanted by two, a pool
// of two QA clusters, a device paused for maintenance.
// It makes the namespace named ns, or a fresh one when ns is empty.
func seed(t *testing.T, ns string) string {
	t.Helper()
	if ns == "" {
		ns = suite.Namespace(t, "board")
	} else {
		create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	staging := testutil.Resource("staging").Namespace(ns).Default(2 * time.Hour).Obj()
	staging.Spec.Description = "Staging cluster in eu-west, shared by the web team"
	qa1 := testutil.Resource("qa-cluster-1").Namespace(ns).Capacity(2).Label("pool", "qa").Obj()
	qa1.Spec.Description = "QA cluster, two test runs at a time"
	qa2 := testutil.Resource("qa-cluster-2").Namespace(ns).Capacity(2).Label("pool", "qa").Obj()
	device := testutil.Resource("pixel-7").Namespace(ns).Paused().Label("kind", "device").Obj()
	device.Spec.Description = "Test phone on the lab bench (back after the OS update)"
	create(t, staging, qa1, qa2, device)

	reserve(t, testutil.Reservation("zoe-hotfix").Namespace(ns).On("staging").Holder("zoe@example.com").For(time.Hour).Because("hotfix 1.4.2").Obj())
	reserve(t, testutil.Reservation("alice-pr-345").Namespace(ns).On("staging").Holder("alice@example.com").For(90*time.Minute).Because("deploying PR #345").Obj())
	release(t, ns, "zoe-hotfix")
	eventually(t, state(ns, "alice-pr-345")).Should(Equal(conchv1.StateGranted))
	reserve(t, testutil.Reservation("bob-demo").Namespace(ns).On("staging").Holder("bob@example.com").For(30*time.Minute).Because("customer demo <rehearsal>").Obj())
	reserve(t, testutil.Reservation("ci-deploy-web").Namespace(ns).On("staging").Holder("ci:deploy-web").For(20*time.Minute).Obj())
	reserve(t, testutil.Reservation("e2e-8812").Namespace(ns).On("qa-cluster-1").Holder("ci:e2e").For(45*time.Minute).Because("end-to-end tests of main").Obj())
	reserve(t, testutil.Reservation("carol-perf").Namespace(ns).On("qa-cluster-1").Holder("carol@example.com").For(3*time.Hour).Obj())
	reserve(t, testutil.Reservation("dave-ios").Namespace(ns).On("pixel-7").Holder("dave@example.com").For(time.Hour).Obj())
	return ns
}

// card is a Resource as the overview shows it.
type card struct {
	Name     string   `json:"name"`
	Holders  []string `json:"holders"`
	Waiting  int      `json:"waiting"`
	Queue    []string `json:"queue"`
	Capacity int      `json:"capacity"`
	Phase    string   `json:"phase"`
	// Until is the earliest end of a current hold (kubectl's UNTIL), RFC 3339.
	Until string `json:"until"`
}

// cardsJS reads the cards of the page.
const cardsJS = `[...document.querySelectorAll("article.card")].map(c => ({
	name: c.dataset.resource,
	holders: [...c.querySelectorAll(".holders [data-holder]")].map(e => e.dataset.holder),
	waiting: +c.querySelector(".waiting").dataset.waiting,
	queue: [...c.querySelectorAll(".waiting [data-holder]")].map(e => e.dataset.holder),
	capacity: +[...c.querySelectorAll(".facts dt")].find(d => d.textContent === "Capacity").nextElementSibling.textContent,
	phase: c.querySelector(".phase").dataset.phase,
	until: [...c.querySelectorAll(".holders time")].map(e => e.getAttribute("datetime")).sort()[0] || "",
}))`

// TestOverviewListsWhatKubectlShows: the overview shows each Resource `kubectl get resources` lists, with the same
// holders, waiting count, next in line and capacity, and a phase from its conditions; it is accessible and fits
// a phone's width.
func TestOverviewListsWhatKubectlShows(t *testing.T) {
	readme := os.Getenv("CONCH_BOARD_SCREENSHOT") != ""
	ns := ""
	if readme {
		ns = "web-team" // a name for the README's picture (once per control plane: run it with -count=1)
	}
	ns = seed(t, ns)
	// The positions and estimates are refreshed off the grant path: wait for the last to be told.
	eventually(t, func() int32 {
		r := &conchv1.Reservation{}
		_ = k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "ci-deploy-web"}, r)
		return r.Status.Position
	}).Should(Equal(int32(2)))

	rows := table(t, kubectl(t, "", "get", "resources", "-n", ns))
	var want []card
	for _, name := range slices.Sorted(maps.Keys(rows)) {
		row := rows[name]
		c := card{Name: name, Queue: []string{}, Holders: []string{}}
		for h := range strings.SplitSeq(row["HOLDERS"], ",") {
			if h = strings.TrimSpace(h); h != "" && h != "<none>" {
				c.Holders = append(c.Holders, h)
			}
		}
		c.Waiting, _ = strconv.Atoi(row["WAITING"])
		c.Capacity, _ = strconv.Atoi(row["CAPACITY"])
		if next := row["NEXT"]; next != "" && next != "<none>" {
			c.Queue = append(c.Queue, next)
		}
		if until := row["UNTIL"]; until != "<none>" {
			c.Until = until
		}
		want = append(want, c)
	}
	if len(want) != 4 {
		t.Fatalf("kubectl get resources shows %d Resources, want 4:\n%v", len(want), rows)
	}

	tctx := tab(t, 1280, 900)
	open(tctx, t, "/?namespace="+ns)
	got := evaluate[[]card](tctx, t, cardsJS)
	phases := map[string]string{}
	for i := range got {
		phases[got[i].Name] = got[i].Phase
		got[i].Phase = ""
		if len(got[i].Queue) > 1 {
			got[i].Queue = got[i].Queue[:1] // kubectl shows the first in line only
		}
	}
	// kubectl's UNTIL is status.nextRelease, rounded up to the second; the board shows the holds' own ends.
	sameSecond := cmp.Comparer(func(a, b string) bool {
		ta, errA := time.Parse(time.RFC3339, a)
		tb, errB := time.Parse(time.RFC3339, b)
		if errA != nil || errB != nil {
			return a == b
		}
		return ta.Sub(tb).Abs() <= time.Second
	})
	if diff := cmp.Diff(want, got, sameSecond); diff != "" {
		t.Errorf("the board differs from kubectl get resources (-kubectl +board):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"staging": "Held", "qa-cluster-1": "Held", "qa-cluster-2": "Available", "pixel-7": "Maintenance"}, phases); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}
	// The holder's own words are shown, escaped.
	if text := evaluate[string](tctx, t, `document.querySelector("[data-resource=staging] .waiting").textContent`); !strings.Contains(text, "customer demo <rehearsal>") {
		t.Errorf("bob's purpose is not shown as text: %q", text)
	}
	png := screenshot(tctx, t, "overview")
	checkAccessible(tctx, t)
	if readme {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "images", "board.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("wrote docs/images/board.png")
	}

	// On a phone: nothing wider than the screen.
	phone := tab(t, 390, 844, chromedp.EmulateMobile)
	open(phone, t, "/?namespace="+ns)
	if w := evaluate[[]int](phone, t, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("on a phone the overview is %d px wide in a %d px screen", w[0], w[1])
	}
	screenshot(phone, t, "overview-phone")
}

// checkAccessible checks the basics on the open page: a language, one h1, a label for every form control, and
// the keyboard reaching the skip link first.
func checkAccessible(tctx context.Context, t *testing.T) {
	t.Helper()
	type report struct {
		Lang      string   `json:"lang"`
		H1        int      `json:"h1"`
		Unlabeled []string `json:"unlabeled"`
	}
	got := evaluate[report](tctx, t, `({
		lang: document.documentElement.lang,
		h1: document.querySelectorAll("h1").length,
		unlabeled: [...document.querySelectorAll("input, select, textarea")].filter(e => !e.labels || e.labels.length === 0).map(e => e.name),
	})`)
	if diff := cmp.Diff(report{Lang: "en", H1: 1}, got, cmp.Comparer(func(a, b []string) bool { return len(a) == len(b) })); diff != "" {
		t.Errorf("accessibility (-want +got):\n%s", diff)
	}
	if err := chromedp.Do(tctx, chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	if focused := evaluate[string](tctx, t, `document.activeElement.textContent`); focused != "Skip to the content" {
		t.Errorf("the first Tab focuses %q, want the skip link", focused)
	}
}

// TestChangesShowWithinASecondWithoutReload: an open page shows a grant made with kubectl, and a handover after a
// release made with kubectl, within a second of the change reaching the API server, without reloading.
func TestChangesShowWithinASecondWithoutReload(t *testing.T) {
	ns := suite.Namespace(t, "live")
	create(t, testutil.Resource("staging").Namespace(ns).Obj(), testutil.Resource("spare").Namespace(ns).Obj())
	reserve(t, testutil.Reservation("alice").Namespace(ns).On("staging").Holder("alice").For(time.Hour).Obj())
	reserve(t, testutil.Reservation("bob").Namespace(ns).On("staging").Holder("bob").For(time.Hour).Obj())

	tctx := tab(t, 1280, 900)
	open(tctx, t, "/?namespace="+ns)
	waitLive(tctx, t)
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[int](`window.conchMarker = 42`)); err != nil {
		t.Fatal(err)
	}

	// A grant made with kubectl: carol takes the spare.
	lag := timeToShow(tctx, t, ns, "spare", "carol", `[data-resource=spare] .holders [data-holder=carol]`, func() {
		kubectl(t, `{"apiVersion":"conch.dev/v1alpha1","kind":"Reservation","metadata":{"name":"carol"},
			"spec":{"resourceName":"spare","holder":"carol","duration":"1h"}}`, "-n", ns, "create", "-f", "-")
	})
	t.Logf("carol's grant showed %s after the API server had it", lag)

	// A handover: alice releases, bob is granted.
	lag = timeToShow(tctx, t, ns, "staging", "bob", `[data-resource=staging] .holders [data-holder=bob]`, func() {
		release(t, ns, "alice")
	})
	t.Logf("bob's grant showed %s after the API server had it", lag)
	if marker := evaluate[int](tctx, t, `window.conchMarker || 0`); marker != 42 {
		t.Errorf("the page was reloaded (its marker is %d)", marker)
	}
	screenshot(tctx, t, "overview-live")
}

// waitLive waits until the page's live stream delivered its first fragment.
func waitLive(tctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`document.getElementById("board").dataset.live !== undefined`,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the page did not go live: %v", err)
	}
}

// timeToShow runs change, then measures how long after the API server's Resource shows holder in its ledger the
// page shows selector, and fails beyond a second.
func timeToShow(tctx context.Context, t *testing.T, ns, resource, holder, selector string, change func()) time.Duration {
	t.Helper()
	inAPI := make(chan time.Time, 1)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for pctx.Err() == nil {
			r := &conchv1.Resource{}
			if k8s.Get(pctx, types.NamespacedName{Namespace: ns, Name: resource}, r) == nil &&
				slices.ContainsFunc(r.Status.Holders, func(h conchv1.ResourceHolder) bool { return h.Holder == holder }) {
				inAPI <- time.Now()
				return
			}
			time.Sleep(5 * time.Millisecond) // a poll of the API server, not a wait for it
		}
	}()
	change()
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`document.querySelector("`+strings.ReplaceAll(selector, `"`, `\"`)+`") !== null`,
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("%s did not show on the page: %v", holder, err)
	}
	onPage := time.Now()
	var apiAt time.Time
	select {
	case apiAt = <-inAPI:
	case <-time.After(10 * time.Second):
		t.Fatalf("the API server never showed %s holding %s", holder, resource)
	}
	lag := onPage.Sub(apiAt)
	if lag > time.Second {
		t.Errorf("%s holding %s showed on the page %s after the API server had it, want within 1s", holder, resource, lag)
	}
	return lag
}

// TestResourcePageShowsTheQueueInOrder: a Resource's page lists its queue in the ledger's order with positions,
// and its timeline has the hold that ended, the current hold and each waiting Reservation.
func TestResourcePageShowsTheQueueInOrder(t *testing.T) {
	ns := seed(t, "")
	for _, name := range []string{"erin", "frank", "grace"} {
		reserve(t, testutil.Reservation(name).Namespace(ns).On("staging").Holder(name+"@example.com").For(time.Hour).Obj())
	}
	res := &conchv1.Resource{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "staging"}, res); err != nil {
		t.Fatal(err)
	}
	var ledger []string
	for _, q := range res.Status.Queue {
		ledger = append(ledger, q.Holder)
	}
	if diff := cmp.Diff([]string{"bob@example.com", "ci:deploy-web", "erin@example.com", "frank@example.com", "grace@example.com"}, ledger); diff != "" {
		t.Fatalf("the ledger's queue is not in order of arrival (-want +got):\n%s", diff)
	}

	tctx := tab(t, 1280, 900)
	// The history of zoe's hold is written within a fraction of a second and read through a short cache.
	eventually(t, func() []string {
		open(tctx, t, "/resources/"+ns+"/staging")
		return evaluate[[]string](tctx, t, `[...document.querySelectorAll(".timeline [data-kind]")].map(e => e.dataset.kind + " " + e.dataset.holder)`)
	}).Should(Equal([]string{
		"ended zoe@example.com", "holding alice@example.com", "queued bob@example.com", "queued ci:deploy-web",
		"queued erin@example.com", "queued frank@example.com", "queued grace@example.com",
	}))
	rows := evaluate[[][]string](tctx, t, `[...document.querySelectorAll(".queue-table tbody tr")].map(r => [...r.cells].slice(0, 2).map(c => c.textContent))`)
	var want [][]string
	for i, h := range ledger {
		want = append(want, []string{strconv.Itoa(i + 1), h})
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("the queue on the page (-ledger +page):\n%s", diff)
	}
	if next := evaluate[string](tctx, t, `document.querySelector("#handovers-h").parentElement.querySelector("tbody tr").textContent`); !strings.Contains(next, "zoe@example.com") || !strings.Contains(next, "alice@example.com") {
		t.Errorf("the handover from zoe to alice is not shown: %q", next)
	}
	screenshot(tctx, t, "resource")
	checkAccessible(tctx, t)
}

// TestPagesWorkWithJavaScriptOff: with scripts disabled, every page renders from the server as it is (the
// overview, a Resource, the contention with zoe's hold from the history), and says it does not update by itself.
func TestPagesWorkWithJavaScriptOff(t *testing.T) {
	ns := seed(t, "")
	tctx := tab(t, 1280, 900)
	if err := chromedp.Do(tctx, chromedp.Action[chromedp.Void](func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, target, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return chromedp.Void{}, err
	})); err != nil {
		t.Fatal(err)
	}

	open(tctx, t, "/?namespace="+ns)
	html, err := chromedp.Run(tctx, chromedp.OuterHTML("body"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-resource="staging"`, `data-holder="alice@example.com"`, `data-holder="bob@example.com"`,
		"Reload to update", "customer demo &lt;rehearsal&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("without JavaScript the overview lacks %s", want)
		}
	}
	if strings.Contains(html, "data-live=") || strings.Contains(html, "Live:") {
		t.Error("the page went live without JavaScript: the test's JavaScript switch did not hold")
	}
	screenshot(tctx, t, "overview-nojs")

	open(tctx, t, "/resources/"+ns+"/staging")
	if html, _ = chromedp.Run(tctx, chromedp.OuterHTML("body")); !strings.Contains(html, `class="queue-table"`) {
		t.Error("without JavaScript the Resource page has no queue table")
	}

	eventually(t, func() string {
		open(tctx, t, "/contention?weeks=1&namespace="+ns)
		text, _ := chromedp.Run(tctx, chromedp.OuterHTML(`[data-resource="staging"] .totals`))
		return text
	}).Should(ContainSubstring("in 1 hold;"))
	screenshot(tctx, t, "contention")
}

// table reads kubectl's table output into rows keyed by the first column (NAME), each a map from column header to
// cell. Cells start where their header starts.
func table(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := lines[0]
	var names []string
	var starts []int
	for i := 0; i < len(header); {
		if header[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(header) && header[j] != ' ' {
			j++
		}
		names, starts = append(names, header[i:j]), append(starts, i)
		i = j
	}
	rows := map[string]map[string]string{}
	for _, line := range lines[1:] {
		row := map[string]string{}
		for i, name := range names {
			end := len(line)
			if i+1 < len(starts) {
				end = min(starts[i+1], len(line))
			}
			if starts[i] < len(line) {
				row[name] = strings.TrimSpace(line[starts[i]:end])
			}
		}
		rows[row["NAME"]] = row
	}
	return rows
}
