package charts

import (
	"bytes"
	"image"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var monday = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

func week(held, waited []time.Duration) []Day {
	days := make([]Day, len(held))
	for i := range held {
		days[i] = Day{Date: monday.AddDate(0, 0, i), Held: held[i], Waited: waited[i]}
	}
	return days
}

// charts are the cases TestChartsArePNGsOfTheirSize draws: each kind with data, empty, and at its edges.
func charts() map[string]struct {
	draw  func() ([]byte, error)
	twice bool // drawn twice, to check the bytes are the same: one case of each kind (drawing is slow under -race)
} {
	h := time.Hour
	busy := week([]time.Duration{8 * h, 6 * h, 0, 9 * h, 3 * h, 0, 0}, []time.Duration{2 * h, 30 * time.Minute, 0, 5 * h, 0, 0, 0})
	month := make([]Day, 35)
	for i := range month {
		month[i] = Day{Date: monday.AddDate(0, 0, i), Held: time.Duration(i%9) * h, Waited: time.Duration(i%4) * h}
	}
	tooMany := make([]Day, MaxDays+50)
	for i := range tooMany {
		tooMany[i] = Day{Date: monday.AddDate(0, 0, i), Held: h}
	}
	queue := []QueuePoint{{monday, 0}, {monday.Add(9 * h), 2}, {monday.Add(10 * h), 3}, {monday.Add(12 * h), 1}, {monday.Add(15 * h), 0}}
	return map[string]struct {
		draw  func() ([]byte, error)
		twice bool
	}{
		"contention, a week":         {draw: func() ([]byte, error) { return Contention("staging: held and waited", busy) }, twice: true},
		"contention, 35 days":        {draw: func() ([]byte, error) { return Contention("staging", month) }},
		"contention, beyond MaxDays": {draw: func() ([]byte, error) { return Contention("staging", tooMany) }},
		"contention, one day":        {draw: func() ([]byte, error) { return Contention("staging", busy[:1]) }},
		"contention, no days":        {draw: func() ([]byte, error) { return Contention("staging", nil) }},
		"contention, only zeros": {draw: func() ([]byte, error) {
			return Contention("staging", week(make([]time.Duration, 7), make([]time.Duration, 7)))
		}},
		"contention, negative durations": {draw: func() ([]byte, error) { return Contention("staging", week([]time.Duration{-h}, []time.Duration{h})) }},
		"contention, longest durations": {draw: func() ([]byte, error) {
			return Contention("staging", week([]time.Duration{math.MaxInt64}, []time.Duration{1}))
		}},
		"contention, untrusted title": {draw: func() ([]byte, error) { return Contention("<@U1> *bold* $x^2$ \x00 é", busy) }},
		"waits": {draw: func() ([]byte, error) {
			return Waits("staging: waits", []time.Duration{time.Minute, 7 * time.Minute, 40 * time.Minute, 3 * h, 3 * h, 50 * h})
		}, twice: true},
		"waits, one":                         {draw: func() ([]byte, error) { return Waits("staging: waits", []time.Duration{0}) }},
		"waits, none":                        {draw: func() ([]byte, error) { return Waits("staging: waits", nil) }},
		"waits, negative and huge":           {draw: func() ([]byte, error) { return Waits("w", []time.Duration{-h, math.MaxInt64}) }},
		"queue length":                       {draw: func() ([]byte, error) { return QueueLength("staging: queue", queue, monday.Add(20*h), time.UTC) }, twice: true},
		"queue length over days":             {draw: func() ([]byte, error) { return QueueLength("q", queue, monday.AddDate(0, 0, 7), nil) }},
		"queue length, one point at the end": {draw: func() ([]byte, error) { return QueueLength("q", queue[:1], monday, time.UTC) }},
		"queue length, end before the start": {draw: func() ([]byte, error) { return QueueLength("q", queue, monday.Add(-h), time.UTC) }},
		"queue length, none":                 {draw: func() ([]byte, error) { return QueueLength("q", nil, monday, time.UTC) }},
		"participation": {draw: func() ([]byte, error) {
			return Participation("team: stand-ups", []Participant{{Name: "Alice", Answered: 4, Missed: 1}, {Name: "Bob", Answered: 2, Away: 3}, {Name: "<@U1> é", Missed: 5}})
		}, twice: true},
		"participation, nobody":         {draw: func() ([]byte, error) { return Participation("team", nil) }},
		"participation, beyond the max": {draw: func() ([]byte, error) { return Participation("team", make([]Participant, MaxParticipants+5)) }},
	}
}

// TestChartsArePNGsOfTheirSize decodes every chart, checks its size, that something is drawn on it, and that
// drawing it again gives the same bytes. With CHARTS_OUT set, the charts are written there to be looked at.
func TestChartsArePNGsOfTheirSize(t *testing.T) {
	out := os.Getenv("CHARTS_OUT")
	for name, tc := range charts() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := tc.draw()
			if err != nil {
				t.Fatalf("drawing: %v", err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if diff := cmp.Diff(image.Rect(0, 0, Width, Height), img.Bounds()); diff != "" {
				t.Errorf("size (-want +got):\n%s", diff)
			}
			if ink := inked(img); ink < 0.002 {
				t.Errorf("only %.4f of the pixels are drawn: the chart looks blank", ink)
			}
			if tc.twice {
				again, err := tc.draw()
				if err != nil || !bytes.Equal(b, again) {
					t.Errorf("drawing the same input twice gave different bytes (err %v)", err)
				}
			}
			if out != "" {
				name := strings.NewReplacer(" ", "-", ",", "").Replace(name) + ".png"
				if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestChartsWithDataDifferFromEmptyOnes checks that data is drawn: a chart with data is not the "no data" chart,
// and draws more than it.
func TestChartsWithDataDifferFromEmptyOnes(t *testing.T) {
	h := time.Hour
	cases := map[string]struct{ data, empty func() ([]byte, error) }{
		"contention": {
			data:  func() ([]byte, error) { return Contention("t", week([]time.Duration{h}, []time.Duration{0})) },
			empty: func() ([]byte, error) { return Contention("t", week([]time.Duration{0}, []time.Duration{0})) },
		},
		"waits": {
			data:  func() ([]byte, error) { return Waits("t", []time.Duration{h}) },
			empty: func() ([]byte, error) { return Waits("t", nil) },
		},
		"participation": {
			data:  func() ([]byte, error) { return Participation("t", []Participant{{Name: "a", Answered: 1}}) },
			empty: func() ([]byte, error) { return Participation("t", []Participant{{Name: "a"}}) },
		},
		"queue length": {
			data:  func() ([]byte, error) { return QueueLength("t", []QueuePoint{{monday, 1}}, monday.Add(h), nil) },
			empty: func() ([]byte, error) { return QueueLength("t", nil, monday.Add(h), nil) },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := tc.data()
			if err != nil {
				t.Fatal(err)
			}
			empty, err := tc.empty()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(data, empty) {
				t.Fatal("the chart with data is the empty chart")
			}
			di, _ := png.Decode(bytes.NewReader(data))
			ei, _ := png.Decode(bytes.NewReader(empty))
			if d, e := inked(di), inked(ei); d <= e {
				t.Errorf("the chart with data has %.4f of its pixels drawn, the empty one %.4f", d, e)
			}
		})
	}
}

// TestDataChangesTheChart checks that the bars follow the data: different numbers, different pictures.
func TestDataChangesTheChart(t *testing.T) {
	h := time.Hour
	a, err := Contention("t", week([]time.Duration{h, 2 * h}, []time.Duration{0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Contention("t", week([]time.Duration{2 * h, h}, []time.Duration{0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two different weeks drew the same chart")
	}
	p, err := Participation("t", []Participant{{Name: "a", Answered: 3, Missed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := Participation("t", []Participant{{Name: "a", Answered: 1, Missed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(p, q) {
		t.Fatal("two different participations drew the same chart")
	}
}

func TestWaitBucket(t *testing.T) {
	cases := map[string]struct {
		wait  time.Duration
		index int
		label string
	}{
		"negative":          {-time.Minute, 0, "< 5m"},
		"none":              {0, 0, "< 5m"},
		"just under 5m":     {5*time.Minute - 1, 0, "< 5m"},
		"5m":                {5 * time.Minute, 1, "5-15m"},
		"an hour":           {time.Hour, 4, "1-2h"},
		"a day":             {24 * time.Hour, 8, "1d+"},
		"the longest there": {math.MaxInt64, 8, "1d+"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			i, label := WaitBucket(tc.wait)
			if diff := cmp.Diff([2]any{tc.index, tc.label}, [2]any{i, label}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// inked is the share of pixels that are not the white background. It reads the pixels' bytes directly: through
// image.Image's At, under the race detector, it took seconds a chart.
func inked(img image.Image) float64 {
	var pix []byte
	switch m := img.(type) {
	case *image.RGBA:
		pix = m.Pix
	case *image.NRGBA:
		pix = m.Pix
	default:
		b := img.Bounds()
		rgba := image.NewRGBA(b)
		draw.Draw(rgba, b, img, b.Min, draw.Src)
		pix = rgba.Pix
	}
	n := 0
	for i := 0; i+3 < len(pix); i += 4 {
		if pix[i] != 0xff || pix[i+1] != 0xff || pix[i+2] != 0xff || pix[i+3] != 0xff {
			n++
		}
	}
	return float64(n) / float64(len(pix)/4)
}
