// Package charts renders Conch's charts as PNG images: a Resource's contention (hours held and hours waited per
// day), the distribution of waits, and a queue-length timeline. It takes plain series, knows nothing of
// Reservations, clients or Slack, and reads no clock, so the same input always gives the same bytes.
//
// Text is drawn with the Liberation fonts that gonum.org/v1/plot embeds: no system font and no network is needed.
// Empty series give a chart that says there is no data, never an error.
package charts

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Width and Height are the size of every chart, in pixels: wide enough to read 35 days of bars, small enough for
// Slack to show inline.
const (
	Width  = 960
	Height = 480
	dpi    = 96
)

// Bounds on what a chart draws, so that a caller's mistake costs milliseconds, not the manager's memory.
const (
	// MaxDays is the most days a contention chart draws; later days are left out.
	MaxDays = 366
	// MaxPoints is the most points a queue-length timeline draws; later points are left out.
	MaxPoints = 20000
)

// Day is one day of a Resource's contention.
type Day struct {
	// Date is the day's start in the time zone the chart is read in; only its date is shown.
	Date time.Time
	// Held is how long the Resource was held that day, added up over its holders (two holders for an hour make
	// two hours).
	Held time.Duration
	// Waited is how long people waited for it that day, added up over everyone waiting.
	Waited time.Duration
}

// QueuePoint is the length of a queue from Time until the next point.
type QueuePoint struct {
	Time   time.Time
	Length int
}

// The colours of the charts: blue for holding, orange for waiting (told apart by people with the common colour
// blindnesses), grey for text that says there is nothing to draw.
var (
	heldColor   = color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0xff}
	waitedColor = color.RGBA{R: 0xe0, G: 0x7b, B: 0x12, A: 0xff}
	greyColor   = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
	sans        = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

// Contention draws hours held and hours waited per day, as pairs of bars. title is shown as is (plain text).
func Contention(title string, days []Day) ([]byte, error) {
	if len(days) > MaxDays {
		days = days[:MaxDays]
	}
	empty := true
	for _, d := range days {
		empty = empty && d.Held <= 0 && d.Waited <= 0
	}
	if empty {
		return noData(title, "No holds and no waits in this period")
	}
	p := newPlot(title)
	held := make(plotter.Values, len(days))
	waited := make(plotter.Values, len(days))
	labels := make([]string, len(days))
	every := labelEvery(len(days), 14)
	for i, d := range days {
		held[i], waited[i] = hours(d.Held), hours(d.Waited)
		if i%every == 0 {
			labels[i] = dayLabel(d.Date, len(days))
		}
	}
	// Two bars share a day's slot, a third of its width each.
	slot := vg.Length(Width) / dpi * vg.Inch * 0.85 / vg.Length(len(days))
	w := min(slot/3, 24)
	hb, err := bars(held, w, -w/2, heldColor)
	if err != nil {
		return nil, err
	}
	wb, err := bars(waited, w, w/2, waitedColor)
	if err != nil {
		return nil, err
	}
	p.Add(rows(), hb, wb)
	p.Legend.Add("held", hb)
	p.Legend.Add("waited", wb)
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.6, float64(len(days))-0.4
	p.Y.Label.Text = "hours"
	p.Y.Min = 0
	p.Y.Max = max(p.Y.Max*1.15, 1) // room for the legend
	return render(p)
}

// waitBuckets are the bins of the waits chart: waits are skewed (most are short, a few very long), so the bins
// grow as people think of waits, not by a fixed width.
var waitBuckets = []struct {
	upTo  time.Duration
	label string
}{
	{5 * time.Minute, "< 5m"},
	{15 * time.Minute, "5-15m"},
	{30 * time.Minute, "15-30m"},
	{time.Hour, "30m-1h"},
	{2 * time.Hour, "1-2h"},
	{4 * time.Hour, "2-4h"},
	{8 * time.Hour, "4-8h"},
	{24 * time.Hour, "8-24h"},
	{math.MaxInt64, "1d+"},
}

// WaitBucket returns the index of the waits chart's bin that holds d, and the bin's label.
func WaitBucket(d time.Duration) (int, string) {
	for i, b := range waitBuckets {
		if d < b.upTo {
			return i, b.label
		}
	}
	last := len(waitBuckets) - 1
	return last, waitBuckets[last].label
}

// Waits draws how many waits took how long, in bins from under five minutes to over a day.
func Waits(title string, waits []time.Duration) ([]byte, error) {
	if len(waits) == 0 {
		return noData(title, "Nobody waited in this period")
	}
	counts := make(plotter.Values, len(waitBuckets))
	labels := make([]string, len(waitBuckets))
	for i, b := range waitBuckets {
		labels[i] = b.label
	}
	for _, d := range waits {
		i, _ := WaitBucket(d)
		counts[i]++
	}
	p := newPlot(title)
	b, err := bars(counts, 36, 0, waitedColor)
	if err != nil {
		return nil, err
	}
	p.Add(rows(), b)
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.6, float64(len(labels))-0.4
	p.X.Label.Text = "wait before the hold began (or the request was withdrawn)"
	p.Y.Label.Text = "waits"
	p.Y.Min = 0
	p.Y.Tick.Marker = wholeTicks{}
	return render(p)
}

// QueueLength draws how many waited for a Resource over time, as steps: each point's length holds until the next
// point, and the last one until end. Times are shown in loc (nil: UTC).
func QueueLength(title string, points []QueuePoint, end time.Time, loc *time.Location) ([]byte, error) {
	if loc == nil {
		loc = time.UTC
	}
	if len(points) > MaxPoints {
		points = points[:MaxPoints]
	}
	if len(points) == 0 {
		return noData(title, "No queue in this period")
	}
	xys := make(plotter.XYs, 0, len(points)+1)
	top := 0
	for _, pt := range points {
		xys = append(xys, plotter.XY{X: unix(pt.Time), Y: float64(pt.Length)})
		top = max(top, pt.Length)
	}
	last := points[len(points)-1]
	if end.After(last.Time) {
		xys = append(xys, plotter.XY{X: unix(end), Y: float64(last.Length)})
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return nil, fmt.Errorf("drawing the queue: %w", err)
	}
	line.StepStyle = plotter.PostStep
	line.Color = waitedColor
	line.Width = vg.Points(2)
	line.FillColor = color.NRGBA{R: 0xe0, G: 0x7b, B: 0x12, A: 0x40}

	p := newPlot(title)
	p.Add(plotter.NewGrid(), line)
	p.X.Tick.Marker = timeTicks{loc: loc}
	p.X.Label.Text = "time (" + loc.String() + ")"
	p.Y.Label.Text = "waiting"
	p.Y.Min, p.Y.Max = 0, math.Max(1, float64(top)*1.1)
	p.Y.Tick.Marker = wholeTicks{}
	return render(p)
}

// newPlot is a plot with the title and Conch's fonts.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 14)
	p.Title.Padding = vg.Points(8)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 11)
		a.Tick.Label.Font = font.From(sans, 10)
	}
	p.Legend.TextStyle.Font = font.From(sans, 11)
	return p
}

// rows is a grid of horizontal lines only: between bars, vertical lines only clutter.
func rows() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	return g
}

func bars(vs plotter.Values, width, offset vg.Length, c color.Color) (*plotter.BarChart, error) {
	b, err := plotter.NewBarChart(vs, width)
	if err != nil {
		return nil, fmt.Errorf("drawing bars: %w", err)
	}
	b.Color, b.Offset = c, offset
	b.LineStyle.Width = 0
	return b, nil
}

// noData draws the title and a sentence saying there is nothing to show, so that a request for a quiet Resource
// still gets a chart.
func noData(title, message string) ([]byte, error) {
	p := newPlot(title)
	p.HideAxes()
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	return render(p, func(dc draw.Canvas) {
		style := text.Style{
			Color: greyColor, Font: font.From(sans, 18), XAlign: draw.XCenter, YAlign: draw.YCenter,
			Handler: p.TextHandler,
		}
		dc.FillText(style, dc.Center(), message)
	})
}

// render draws p, then extras, into a PNG. A panic inside the plotting library becomes an error: a chart is never
// worth the manager.
func render(p *plot.Plot, extras ...func(draw.Canvas)) (png []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			png, err = nil, fmt.Errorf("drawing the chart: %v", r)
		}
	}()
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(Width)/dpi*vg.Inch, vg.Length(Height)/dpi*vg.Inch), vgimg.UseDPI(dpi))
	dc := draw.New(c)
	pad := vg.Points(10)
	dc = draw.Crop(dc, pad, -pad, pad, -pad)
	p.Draw(dc)
	for _, f := range extras {
		f(dc)
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encoding the chart: %w", err)
	}
	if buf.Len() == 0 {
		return nil, errors.New("encoding the chart: no bytes")
	}
	return buf.Bytes(), nil
}

// wholeTicks marks whole numbers only: a count of waits or people has no halves.
type wholeTicks struct{}

func (wholeTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value == math.Trunc(t.Value) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		out = []plot.Tick{{Value: 0, Label: "0"}, {Value: math.Ceil(hi), Label: fmt.Sprint(math.Ceil(hi))}}
	}
	return out
}

// timeTicks marks round times in loc (whole hours, midnights), about six to eight of them over the axis, and
// writes them as a person reads a time axis: "15:04" within a day or so, the day beyond.
type timeTicks struct{ loc *time.Location }

// tickSteps are the spaces between time ticks, shortest first.
var tickSteps = []time.Duration{
	time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

func (t timeTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	span := time.Duration(hi-lo) * time.Second
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 8 {
			step = s
			break
		}
	}
	format := "15:04"
	switch {
	case span > 10*24*time.Hour:
		format = "2 Jan"
	case step >= 24*time.Hour || span > 36*time.Hour:
		format = "Mon 2"
		if step < 24*time.Hour {
			format = "Mon 15:04"
		}
	}
	start := time.Unix(int64(math.Floor(lo)), 0).In(t.loc)
	var tm time.Time
	switch {
	case step >= 24*time.Hour:
		tm = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, t.loc)
	case step >= time.Hour:
		// Hours that are multiples of the step on the local clock: 00:00, 06:00, 12:00.
		tm = time.Date(start.Year(), start.Month(), start.Day(), start.Hour(), 0, 0, 0, t.loc)
		for tm.Hour()%int(step/time.Hour) != 0 {
			tm = tm.Add(-time.Hour)
		}
	default:
		// Minutes: every time zone in use is offset from UTC by whole quarters of an hour.
		tm = start.Truncate(step)
	}
	var out []plot.Tick
	for i := 0; i < 100 && unix(tm) <= hi; i++ {
		if unix(tm) >= lo {
			out = append(out, plot.Tick{Value: unix(tm), Label: tm.Format(format)})
		}
		if step >= 24*time.Hour {
			tm = tm.AddDate(0, 0, int(step/(24*time.Hour)))
		} else {
			tm = tm.Add(step)
		}
	}
	return out
}

// labelEvery says every how many days a date is written under the bars, so that at most about limit fit.
func labelEvery(n, limit int) int {
	return max(1, (n+limit-1)/limit)
}

// dayLabel names a day under its bars: with the weekday when there are few days ("Mon 30"), else "30 Nov".
func dayLabel(d time.Time, days int) string {
	if days <= 10 {
		return d.Format("Mon 2")
	}
	return d.Format("2 Jan")
}

func hours(d time.Duration) float64 { return max(0, d.Hours()) }

func unix(t time.Time) float64 { return float64(t.Unix()) }

// Participant is one person's part in a stand-up digest: of the runs they were asked in, how many they answered,
// missed, or were away for.
type Participant struct {
	// Name is shown under their bars (plain text).
	Name string
	// Answered, Missed and Away count runs.
	Answered, Missed, Away int
}

// MaxParticipants is the most people a participation chart draws; later ones are left out.
const MaxParticipants = 40

// Participation draws, per person, the runs they answered, missed and were away for, as groups of bars.
func Participation(title string, people []Participant) ([]byte, error) {
	if len(people) > MaxParticipants {
		people = people[:MaxParticipants]
	}
	empty := true
	for _, p := range people {
		empty = empty && p.Answered <= 0 && p.Missed <= 0 && p.Away <= 0
	}
	if empty {
		return noData(title, "Nobody was asked in this period")
	}
	plt := newPlot(title)
	answered := make(plotter.Values, len(people))
	missed := make(plotter.Values, len(people))
	away := make(plotter.Values, len(people))
	labels := make([]string, len(people))
	for i, p := range people {
		answered[i], missed[i], away[i] = float64(max(p.Answered, 0)), float64(max(p.Missed, 0)), float64(max(p.Away, 0))
		labels[i] = p.Name
	}
	slot := vg.Length(Width) / dpi * vg.Inch * 0.85 / vg.Length(len(people))
	w := min(slot/4, 24)
	ab, err := bars(answered, w, -w, heldColor)
	if err != nil {
		return nil, err
	}
	mb, err := bars(missed, w, 0, waitedColor)
	if err != nil {
		return nil, err
	}
	wb, err := bars(away, w, w, greyColor)
	if err != nil {
		return nil, err
	}
	plt.Add(rows(), ab, mb, wb)
	plt.Legend.Add("answered", ab)
	plt.Legend.Add("missed", mb)
	plt.Legend.Add("away", wb)
	plt.Legend.Top, plt.Legend.Left = true, true
	plt.NominalX(labels...)
	plt.X.Min, plt.X.Max = -0.6, float64(len(people))-0.4
	plt.Y.Label.Text = "stand-ups"
	plt.Y.Min = 0
	plt.Y.Max = max(plt.Y.Max*1.2, 1)
	plt.Y.Tick.Marker = wholeTicks{}
	return render(plt)
}
