package eventsink

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/notify"
	"github.com/conch-dev/conch/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var tNow = time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)

// granted returns the granted event of a Reservation of alice on staging until 14:00, with reason.
func granted(reason string) notify.Event {
	r := testutil.Reservation("deploy-1").Namespace("team-a").On("staging").Holder("alice").Because(reason).
		BoundTo("staging").Granted(tNow).Obj()
	until := metav1.NewMicroTime(tNow.Add(time.Hour))
	r.Status.ExpiresAt = &until
	r.Status.Ticket = 7
	meta.SetStatusCondition(&r.Status.Conditions, metav1.Condition{Type: conchv1.ConditionReady, Status: "True",
		Reason: conchv1.ReasonGranted, Message: "Holds staging until 14:00"})
	evs, _ := notify.ReservationEvents(r, nil, nil, 0, tNow)
	if len(evs) != 1 {
		panic("no granted event")
	}
	return evs[0]
}

func paused() notify.Event {
	res := testutil.Resource("staging").Namespace("team-a").UID("uid-staging").Label("env", "staging").Obj()
	res.Spec.Granting = conchv1.GrantingPaused
	meta.SetStatusCondition(&res.Status.Conditions, metav1.Condition{Type: conchv1.ResourceConditionPaused,
		Status: "True", Reason: conchv1.ReasonPaused, Message: "DB migration <until 3pm>",
		LastTransitionTime: metav1.NewTime(tNow)})
	return notify.ResourceEvents(res, nil)[0]
}

// ofType returns ev as another type of Reservation event.
func ofType(ev notify.Event, typ string) notify.Event {
	ev.Type = typ
	return ev
}

func TestGuardCheck(t *testing.T) {
	api := netip.MustParseAddr("10.96.0.1")
	cases := map[string]struct {
		allowed []string
		addr    string
		refused bool
	}{
		"a public address":                     {addr: "93.184.216.34"},
		"a private address (in-cluster)":       {addr: "10.0.12.7"},
		"IPv4 loopback":                        {addr: "127.0.0.1", refused: true},
		"loopback, anywhere in 127/8":          {addr: "127.1.2.3", refused: true},
		"IPv6 loopback":                        {addr: "::1", refused: true},
		"IPv4-mapped loopback":                 {addr: "::ffff:127.0.0.1", refused: true},
		"cloud metadata":                       {addr: "169.254.169.254", refused: true},
		"IPv6 link-local":                      {addr: "fe80::1", refused: true},
		"AWS metadata over IPv6":               {addr: "fd00:ec2::254", refused: true},
		"this host":                            {addr: "0.0.0.0", refused: true},
		"IPv6 unspecified":                     {addr: "::", refused: true},
		"the API server":                       {addr: "10.96.0.1", refused: true},
		"next to the API server":               {addr: "10.96.0.2"},
		"loopback allowed by the admin":        {allowed: []string{"127.0.0.0/8"}, addr: "127.0.0.1"},
		"an allowance elsewhere changes none":  {allowed: []string{"10.0.0.0/8"}, addr: "169.254.169.254", refused: true},
		"the API server allowed by the admin":  {allowed: []string{"10.96.0.1/32"}, addr: "10.96.0.1"},
		"mapped address in an allowed range":   {allowed: []string{"127.0.0.0/8"}, addr: "::ffff:127.0.0.1"},
		"Alibaba metadata":                     {addr: "100.100.100.200", refused: true},
		"carrier-grade NAT next to it is fine": {addr: "100.100.100.201"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			allowed, err := ParseCIDRs(strings.Join(tc.allowed, ","))
			if err != nil {
				t.Fatal(err)
			}
			err = NewGuard(allowed, api).Check(netip.MustParseAddr(tc.addr))
			var ae *AddressError
			if got := errors.As(err, &ae); got != tc.refused {
				t.Errorf("Check(%s) = %v, want refused %v", tc.addr, err, tc.refused)
			}
		})
	}
}

func TestParseCIDRs(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    []string
		wantErr bool
	}{
		"empty":                {in: "", want: nil},
		"two, with spaces":     {in: "127.0.0.0/8, 10.0.0.0/8", want: []string{"127.0.0.0/8", "10.0.0.0/8"}},
		"a bare address":       {in: "169.254.169.254", want: []string{"169.254.169.254/32"}},
		"masked":               {in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		"IPv6":                 {in: "fe80::/10", want: []string{"fe80::/10"}},
		"not a CIDR":           {in: "localhost", wantErr: true},
		"a bad prefix length":  {in: "10.0.0.0/33", wantErr: true},
		"a trailing comma too": {in: "127.0.0.1,", want: []string{"127.0.0.1/32"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseCIDRs(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			var gs []string
			for _, p := range got {
				gs = append(gs, p.String())
			}
			if d := cmp.Diff(tc.want, gs); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestAPIServerAddrs(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	got := APIServerAddrs(t.Context(), "https://192.168.1.10:6443")
	want := []netip.Addr{netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("10.96.0.1")}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestClassify(t *testing.T) {
	cases := map[string]struct {
		code       int
		retryAfter string
		wantNil    bool
		permanent  bool
		after      string // the "(retry after ...)" the error carries, "" for none
	}{
		"200":                         {code: 200, wantNil: true},
		"202":                         {code: 202, wantNil: true},
		"204":                         {code: 204, wantNil: true},
		"301 is not followed":         {code: 301, permanent: true},
		"400":                         {code: 400, permanent: true},
		"401 (a wrong signature)":     {code: 401, permanent: true},
		"404":                         {code: 404, permanent: true},
		"408 is retried":              {code: 408},
		"413":                         {code: 413, permanent: true},
		"429 without Retry-After":     {code: 429},
		"429 with seconds":            {code: 429, retryAfter: "7", after: "7s"},
		"429 with a date":             {code: 429, retryAfter: tNow.Add(90 * time.Second).Format(http.TimeFormat), after: "1m30s"},
		"429 with a date gone by":     {code: 429, retryAfter: tNow.Add(-time.Minute).Format(http.TimeFormat), after: "0s"},
		"429 asking too long":         {code: 429, retryAfter: "86400", after: "10m0s"},
		"429 with garbage":            {code: 429, retryAfter: "soon"},
		"500":                         {code: 500},
		"502":                         {code: 502},
		"503 with Retry-After":        {code: 503, retryAfter: "120", after: "2m0s"},
		"504":                         {code: 504},
		"500 ignores a Retry-After":   {code: 500, retryAfter: "30"},
		"a negative Retry-After":      {code: 503, retryAfter: "-5"},
		"a 1xx a receiver never ends": {code: 101, permanent: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := classify(tc.code, tc.retryAfter, []byte("nope\nsecond line"), tNow)
			if tc.wantNil {
				if err != nil {
					t.Fatalf("classify = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("classify = nil, want an error")
			}
			if notify.IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, !tc.permanent, tc.permanent)
			}
			gotAfter := ""
			if _, a, ok := strings.Cut(err.Error(), "(retry after "); ok {
				gotAfter = strings.TrimSuffix(a, ")")
			}
			if gotAfter != tc.after {
				t.Errorf("retry after %q, want %q (%v)", gotAfter, tc.after, err)
			}
			if !strings.Contains(err.Error(), "nope second line") {
				t.Errorf("error %q lacks the answer's start on one line", err)
			}
		})
	}
}

func TestFilterMatches(t *testing.T) {
	g := granted("")
	unbound := g
	unbound.Reservation = g.Reservation.DeepCopy()
	unbound.Reservation.Status.ResourceName = ""
	staging := map[string]string{"env": "staging"}
	cases := map[string]struct {
		sink      *conchv1.EventSink
		ev        notify.Event
		resLabels map[string]string
		known     bool
		want      bool
	}{
		"no filter takes everything":          {sink: testutil.EventSink("s").Obj(), ev: g, want: true},
		"no filter takes an unbound one":      {sink: testutil.EventSink("s").Obj(), ev: unbound, want: true},
		"a listed type":                       {sink: testutil.EventSink("s").Types(conchv1.EventReservationGranted).Obj(), ev: g, want: true},
		"an unlisted type":                    {sink: testutil.EventSink("s").Types(conchv1.EventReservationReleased).Obj(), ev: g},
		"a listed Resource":                   {sink: testutil.EventSink("s").Resources("prod", "staging").Obj(), ev: g, want: true},
		"an unlisted Resource":                {sink: testutil.EventSink("s").Resources("prod").Obj(), ev: g},
		"names, and no Resource yet":          {sink: testutil.EventSink("s").Resources("staging").Obj(), ev: unbound},
		"a Resource event by its name":        {sink: testutil.EventSink("s").Resources("staging").Obj(), ev: paused(), want: true},
		"selector matching the labels":        {sink: testutil.EventSink("s").Selecting(staging).Obj(), ev: g, resLabels: staging, known: true, want: true},
		"selector not matching":               {sink: testutil.EventSink("s").Selecting(map[string]string{"env": "prod"}).Obj(), ev: g, resLabels: staging, known: true},
		"selector and an unknown Resource":    {sink: testutil.EventSink("s").Selecting(staging).Obj(), ev: g},
		"an empty selector selects all":       {sink: testutil.EventSink("s").Selecting(map[string]string{}).Obj(), ev: g, want: true},
		"every field must match: type fails":  {sink: testutil.EventSink("s").Types(conchv1.EventResourcePaused).Resources("staging").Selecting(staging).Obj(), ev: g, resLabels: staging, known: true},
		"every field must match: all do":      {sink: testutil.EventSink("s").Types(conchv1.EventReservationGranted).Resources("staging").Selecting(staging).Obj(), ev: g, resLabels: staging, known: true, want: true},
		"a selector on Resource events":       {sink: testutil.EventSink("s").Selecting(staging).Obj(), ev: paused(), resLabels: staging, known: true, want: true},
		"a selector on a Resource without it": {sink: testutil.EventSink("s").Selecting(staging).Obj(), ev: paused(), known: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := compileFilter(tc.sink.Spec.Filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.matches(tc.ev, tc.resLabels, tc.known); got != tc.want {
				t.Errorf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAdmitted(t *testing.T) {
	var all []conchv1.EventSink
	for i := 40; i > 0; i-- { // created in reverse: the limit goes by name, not by order
		all = append(all, *testutil.EventSink(fmt.Sprintf("s%02d", i)).Obj())
	}
	got := Admitted(all)
	if len(got) != conchv1.MaxEventSinksPerNamespace {
		t.Fatalf("%d admitted, want %d", len(got), conchv1.MaxEventSinksPerNamespace)
	}
	if got[0].Name != "s01" || got[31].Name != "s32" {
		t.Errorf("admitted %s..%s, want the first 32 by name", got[0].Name, got[31].Name)
	}
}

func TestEscape(t *testing.T) {
	cases := map[string]struct {
		in, slack, teams string
	}{
		"plain":                  {in: "deploy pr-345", slack: "deploy pr-345", teams: "deploy pr-345"},
		"Slack's markup":         {in: "<!channel> & <http://x|y>", slack: "&lt;!channel&gt; &amp; &lt;http://x|y&gt;", teams: `\<!channel\> & \<http://x\|y\>`},
		"a Markdown link":        {in: "[click](http://evil)", slack: "[click]\u200b(http://evil)", teams: `\[click\]\(http://evil\)`},
		"a mention (Mattermost)": {in: "@channel @all", slack: "@\u200bchannel @\u200ball", teams: "@\u200bchannel @\u200ball"},
		"newlines fold":          {in: "line1\n> quote\r\n# heading", slack: "line1 &gt; quote  # heading", teams: `line1 \> quote  \# heading`},
		"emphasis":               {in: "*bold* _it_ ~s~ `code`", slack: "*bold* _it_ ~s~ `code`", teams: "\\*bold\\* \\_it\\_ \\~s\\~ \\`code\\`"},
		"a backslash":            {in: `a\*b`, slack: `a\*b`, teams: `a\\\*b`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := EscapeSlack(tc.in); got != tc.slack {
				t.Errorf("EscapeSlack = %q, want %q", got, tc.slack)
			}
			if got := EscapeTeams(tc.in); got != tc.teams {
				t.Errorf("EscapeTeams = %q, want %q", got, tc.teams)
			}
		})
	}
}

func TestSentences(t *testing.T) {
	g := granted("deploy pr-345")
	released := ofType(g, conchv1.EventReservationReleased)
	waited := ofType(g, conchv1.EventReservationReleased)
	waited.Reservation = g.Reservation.DeepCopy()
	waited.Reservation.Status.GrantedAt = nil
	tomorrow := g
	tomorrow.Reservation = g.Reservation.DeepCopy()
	later := metav1.NewMicroTime(tNow.Add(26 * time.Hour))
	tomorrow.Reservation.Status.ExpiresAt = &later
	bold := func(s string) string { return "*" + s + "*" }
	cases := map[string]struct {
		ev   notify.Event
		want string
	}{
		"granted":            {ev: g, want: "alice has *staging* until 14:00 UTC (deploy pr-345)"},
		"granted, long hold": {ev: tomorrow, want: "alice has *staging* until Dec 3 15:00 UTC (deploy pr-345)"},
		"expiring":           {ev: ofType(g, conchv1.EventReservationExpiring), want: "alice's hold on *staging* ends at 14:00 UTC (deploy pr-345)"},
		"extended":           {ev: ofType(g, conchv1.EventReservationExtended), want: "alice extended *staging* until 14:00 UTC (deploy pr-345)"},
		"released":           {ev: released, want: "alice released *staging* (deploy pr-345)"},
		"left the queue":     {ev: waited, want: "alice stopped waiting for *staging* (deploy pr-345)"},
		"expired":            {ev: ofType(g, conchv1.EventReservationExpired), want: "alice's hold on *staging* expired (deploy pr-345)"},
		"paused":             {ev: paused(), want: "*staging* is paused: it grants no new holds (DB migration &lt;until 3pm&gt;)"},
		"resumed":            {ev: ofType(paused(), conchv1.EventResourceResumed), want: "*staging* grants holds again"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := sentence(tc.ev, EscapeSlack, bold); got != tc.want {
				t.Errorf("sentence =\n %q, want\n %q", got, tc.want)
			}
		})
	}
}

// TestFormatsGolden pins the bodies of each format for a granted event whose reason tries every trick, and for a
// paused Resource: go test ./internal/eventsink -run Golden -update rewrites them.
func TestFormatsGolden(t *testing.T) {
	nasty := granted("<!channel> ship [it](http://evil) @here *now* & then")
	cases := map[string]struct {
		format conchv1.EventSinkFormat
		ev     notify.Event
	}{
		"slack-granted":      {format: conchv1.FormatSlack, ev: nasty},
		"teams-granted":      {format: conchv1.FormatTeams, ev: nasty},
		"structured-granted": {format: conchv1.FormatCloudEventsStructured, ev: nasty},
		"binary-granted":     {format: conchv1.FormatCloudEventsBinary, ev: nasty},
		"slack-paused":       {format: conchv1.FormatSlack, ev: paused()},
		"structured-paused":  {format: conchv1.FormatCloudEventsStructured, ev: paused()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h, body, err := encode(tc.format, tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]any{"headers": flatten(h)}
			var b any
			if err := json.Unmarshal(body, &b); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, body)
			}
			got["body"] = b
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".json")
			if *update {
				if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if d := cmp.Diff(strings.TrimSpace(string(want)), string(out)); d != "" {
				t.Errorf("%s differs (-want +got):\n%s", path, d)
			}
		})
	}
}

func flatten(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = strings.Join(v, ",")
	}
	return out
}

func TestSignatureVerifiesWithStandardWebhooks(t *testing.T) {
	raw := []byte("a raw key of any bytes")
	cases := map[string]struct {
		secret   string
		verifier func() (*standardwebhooks.Webhook, error)
	}{
		"whsec_ key": {
			secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			verifier: func() (*standardwebhooks.Webhook, error) {
				return standardwebhooks.NewWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
			},
		},
		"raw key": {
			secret:   string(raw) + "\n",
			verifier: func() (*standardwebhooks.Webhook, error) { return standardwebhooks.NewWebhookRaw(raw) },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			key, err := ParseSigningKey([]byte(tc.secret))
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(`{"holder":"alice"}`)
			h := http.Header{}
			now := time.Now()
			sign(h, key, "uid-1/granted:1:2", now, body)
			wh, err := tc.verifier()
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if err := wh.Verify([]byte(`{"holder":"mallory"}`), h); err == nil {
				t.Error("a changed body verified")
			}
			want, _ := wh.Sign("uid-1/granted:1:2", now, body)
			if got := h.Get(HeaderWebhookSignature); got != want {
				t.Errorf("signature %q, the library signs %q", got, want)
			}
		})
	}
}

func TestParseSigningKey(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    string
		wantErr bool
	}{
		"whsec_ base64":           {in: "whsec_aGVsbG8=", want: "hello"},
		"whsec_ with a newline":   {in: "whsec_aGVsbG8=\n", want: "hello"},
		"raw":                     {in: "hello", want: "hello"},
		"raw with a CRLF":         {in: "hello\r\n", want: "hello"},
		"whsec_ not base64":       {in: "whsec_!!!", wantErr: true},
		"whsec_ and nothing":      {in: "whsec_", wantErr: true},
		"empty":                   {in: "", wantErr: true},
		"only a newline":          {in: "\n", wantErr: true},
		"base64 without a prefix": {in: "aGVsbG8=", want: "aGVsbG8="},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSigningKey([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !isKeyError(err) {
				t.Errorf("err %v is not a keyError", err)
			}
			if string(got) != tc.want {
				t.Errorf("key %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAddress(t *testing.T) {
	cases := map[string]struct {
		sink        *conchv1.EventSink
		want, shown string
		wantErr     bool
	}{
		"a url":                      {sink: testutil.EventSink("s").URL("https://hooks.example.com/services/T0/B0/secret?x=1").Obj(), want: "https://hooks.example.com/services/T0/B0/secret?x=1", shown: "https://hooks.example.com/…"},
		"a url without a path":       {sink: testutil.EventSink("s").URL("http://receiver:8080").Obj(), want: "http://receiver:8080", shown: "http://receiver:8080"},
		"a Service, defaults":        {sink: testutil.EventSink("s").Service("recv", "", 0, "").Obj(), want: "http://recv.default.svc:80/", shown: "http://recv.default.svc:80/"},
		"a Service of its namespace": {sink: testutil.EventSink("s").Service("recv", "default", 8080, "/events").Obj(), want: "http://recv.default.svc:8080/events", shown: "http://recv.default.svc:8080/events"},
		"a Service of another":       {sink: testutil.EventSink("s").Service("recv", "kube-system", 80, "/").Obj(), wantErr: true},
		"neither":                    {sink: testutil.EventSink("s").Obj(), wantErr: true},
		"a url of another scheme":    {sink: testutil.EventSink("s").URL("file:///etc/passwd").Obj(), wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u, err := Address(tc.sink)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if u.String() != tc.want {
				t.Errorf("Address = %s, want %s", u, tc.want)
			}
			if got := ShownURL(tc.sink, u); got != tc.shown {
				t.Errorf("ShownURL = %s, want %s", got, tc.shown)
			}
		})
	}
}

func TestDesiredStatus(t *testing.T) {
	sink := testutil.EventSink("s").URL("https://example.com/x").Obj()
	sink.Generation = 3
	earlier := metav1.NewTime(tNow.Add(-time.Hour))
	withFigures := sink.DeepCopy()
	withFigures.Status.LastDeliveryTime = &earlier
	withFigures.Status.ConsecutiveFailures = 4
	cases := map[string]struct {
		sink        *conchv1.EventSink
		v           validity
		st          sinkStats
		ready       metav1.ConditionStatus
		reason      string
		stalled     bool
		consecutive int32
		lastDeliv   *metav1.Time
	}{
		"valid, nothing delivered yet":  {sink: sink, v: validity{url: "https://example.com/…"}, ready: "True", reason: conchv1.EventSinkReasonReady},
		"a delivery":                    {sink: sink, v: validity{url: "u"}, st: sinkStats{uid: "uid-s", lastDelivery: tNow}, ready: "True", reason: conchv1.EventSinkReasonReady, lastDeliv: &metav1.Time{Time: tNow}},
		"failing":                       {sink: sink, v: validity{url: "u"}, st: sinkStats{uid: "uid-s", lastFailure: tNow, failure: "HTTP 500", consecutive: 2}, ready: "False", reason: conchv1.EventSinkReasonDeliveryFailing, consecutive: 2},
		"recovered":                     {sink: sink, v: validity{url: "u"}, st: sinkStats{uid: "uid-s", lastFailure: tNow.Add(-time.Second), lastDelivery: tNow}, ready: "True", reason: conchv1.EventSinkReasonReady, lastDeliv: &metav1.Time{Time: tNow}},
		"a missing Secret stalls":       {sink: sink, v: validity{url: "u", reason: conchv1.EventSinkReasonSecretNotFound, message: "m"}, ready: "False", reason: conchv1.EventSinkReasonSecretNotFound, stalled: true},
		"refused address stalls":        {sink: sink, v: validity{reason: conchv1.EventSinkReasonAddressNotAllowed}, ready: "False", reason: conchv1.EventSinkReasonAddressNotAllowed, stalled: true},
		"after a restart, figures kept": {sink: withFigures, v: validity{url: "u"}, ready: "False", reason: conchv1.EventSinkReasonDeliveryFailing, consecutive: 4, lastDeliv: &earlier},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := desiredStatus(tc.sink, tc.v, tc.st)
			r := meta.FindStatusCondition(got.Conditions, conchv1.ConditionReady)
			if r == nil || r.Status != tc.ready || r.Reason != tc.reason || r.ObservedGeneration != 3 {
				t.Errorf("Ready = %+v, want %s/%s at generation 3", r, tc.ready, tc.reason)
			}
			if got := meta.IsStatusConditionTrue(got.Conditions, conchv1.ConditionStalled); got != tc.stalled {
				t.Errorf("Stalled = %v, want %v", got, tc.stalled)
			}
			if got.ObservedGeneration != 3 || got.ConsecutiveFailures != tc.consecutive {
				t.Errorf("observedGeneration %d, consecutiveFailures %d; want 3, %d", got.ObservedGeneration, got.ConsecutiveFailures, tc.consecutive)
			}
			if d := cmp.Diff(tc.lastDeliv, got.LastDeliveryTime); d != "" {
				t.Errorf("lastDeliveryTime (-want +got):\n%s", d)
			}
		})
	}
}

func TestCoalescing(t *testing.T) {
	ready := func(reason string) conchv1.EventSinkStatus {
		return conchv1.EventSinkStatus{URL: "u", ObservedGeneration: 1, Conditions: []metav1.Condition{{Type: conchv1.ConditionReady, Reason: reason}}}
	}
	cases := map[string]struct {
		a, b conchv1.EventSinkStatus
		want bool
	}{
		"figures only":      {a: ready(conchv1.EventSinkReasonReady), b: ready(conchv1.EventSinkReasonDeliveryFailing), want: true},
		"validity changed":  {a: ready(conchv1.EventSinkReasonReady), b: ready(conchv1.EventSinkReasonSecretNotFound)},
		"validity restored": {a: ready(conchv1.EventSinkReasonSecretNotFound), b: ready(conchv1.EventSinkReasonReady)},
		"a new generation": {a: ready(conchv1.EventSinkReasonReady), b: func() conchv1.EventSinkStatus {
			s := ready(conchv1.EventSinkReasonReady)
			s.ObservedGeneration = 2
			return s
		}()},
		"never written (no Ready)": {a: conchv1.EventSinkStatus{URL: "u", ObservedGeneration: 1}, b: ready(conchv1.EventSinkReasonReady)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := onlyFiguresDiffer(tc.a, tc.b); got != tc.want {
				t.Errorf("onlyFiguresDiffer = %v, want %v", got, tc.want)
			}
		})
	}
	if got := nextWrite(time.Time{}, tNow, 5*time.Second); got != 0 {
		t.Errorf("never written: wait %s", got)
	}
	if got := nextWrite(tNow.Add(-2*time.Second), tNow, 5*time.Second); got != 3*time.Second {
		t.Errorf("written 2s ago: wait %s, want 3s", got)
	}
	if got := nextWrite(tNow.Add(-time.Minute), tNow, 5*time.Second); got != 0 {
		t.Errorf("written long ago: wait %s", got)
	}
}

// TestEventTypesEnum checks that the CRD's enum of spec.filter.types lists every event type, and only those.
func TestEventTypesEnum(t *testing.T) {
	b, err := os.ReadFile("../../config/crd/bases/conch.dev_eventsinks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties struct {
									Filter struct {
										Properties struct {
											Types struct {
												Items struct {
													Enum []string `json:"enum"`
												} `json:"items"`
											} `json:"types"`
										} `json:"properties"`
									} `json:"filter"`
								} `json:"properties"`
							} `json:"spec"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &crd); err != nil || len(crd.Spec.Versions) != 1 {
		t.Fatalf("reading the CRD: %v", err)
	}
	got := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec.Properties.Filter.Properties.Types.Items.Enum
	if d := cmp.Diff(conchv1.EventTypes(), got); d != "" {
		t.Errorf("spec.filter.types enum (-EventTypes() +CRD):\n%s", d)
	}
}
