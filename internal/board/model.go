package board

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/history"
	"github.com/conch-dev/conch/internal/queue"
)

// namespaceGroup is the Resources of one namespace on the overview.
type namespaceGroup struct {
	Namespace string
	Resources []resourceCard
}

// resourceCard is one Resource as the board shows it: what `kubectl get resource` says, and more.
type resourceCard struct {
	Namespace, Name, Description string
	// URL is the Resource's page.
	URL string
	// Phase is status.phase when the API has it, else derived from the conditions; PhaseClass styles it.
	Phase, PhaseClass string
	// PhaseWhy says why, from the condition the phase comes from.
	PhaseWhy string
	Capacity int32
	Holders  []holderRow
	Queue    []queueRow
	// Pool is the Resource's labels, which make pools, as key=value.
	Pool []string
}

// holderRow is one current hold.
type holderRow struct {
	Holder, Reservation, Purpose string
	Since, Until                 time.Time
}

// queueRow is one waiting Reservation, in the order they will be granted.
type queueRow struct {
	// Position is its place among those waiting for their turn; 0 for a booking, which starts at Expected.
	Position                     int
	Holder, Reservation, Purpose string
	// Expected is when its turn is expected; zero when granting is paused.
	Expected time.Time
	Duration time.Duration
}

// phaseUnknown is the phase of a Resource the controller has not written yet.
const phaseUnknown = "Unknown"

// groupByNamespace turns Resources (sorted by namespace) into the overview.
func groupByNamespace(ress []conchv1.Resource, purposes map[types.UID]string, now time.Time) []namespaceGroup {
	var out []namespaceGroup
	for i := range ress {
		r := &ress[i]
		if len(out) == 0 || out[len(out)-1].Namespace != r.Namespace {
			out = append(out, namespaceGroup{Namespace: r.Namespace})
		}
		g := &out[len(out)-1]
		g.Resources = append(g.Resources, cardOf(r, purposes, now))
	}
	return out
}

// cardOf is the card of res: its ledger's holders and queue, the queue's expected turns (from the ledger, as
// the controller estimates them), its phase and pool.
func cardOf(res *conchv1.Resource, purposes map[types.UID]string, now time.Time) resourceCard {
	c := resourceCard{
		Namespace: res.Namespace, Name: res.Name, Description: res.Spec.Description,
		URL:      "/resources/" + res.Namespace + "/" + res.Name,
		Capacity: max(res.Spec.Capacity, 1),
	}
	c.Phase, c.PhaseWhy = phaseOf(res)
	c.PhaseClass = "phase-" + strings.ToLower(c.Phase)
	for _, h := range res.Status.Holders {
		c.Holders = append(c.Holders, holderRow{
			Holder: h.Holder, Reservation: h.Reservation, Purpose: purposes[types.UID(h.UID)],
			Since: h.Since.Time, Until: h.Until.Time,
		})
	}
	turns := queue.Estimate(res, queue.LedgerOf(res), now)
	for i, q := range res.Status.Queue {
		row := queueRow{
			Position: int(turns.Positions[i]), Holder: q.Holder, Reservation: q.Reservation,
			Purpose: purposes[types.UID(q.UID)], Duration: q.Duration.Duration,
		}
		if i < len(turns.Turns) {
			row.Expected = turns.Turns[i]
		}
		c.Queue = append(c.Queue, row)
	}
	for k, v := range res.Labels {
		c.Pool = append(c.Pool, k+"="+v)
	}
	slices.Sort(c.Pool)
	return c
}

// phaseOf is res's phase (status.phase: Available, Held, Cleaning, Checking, Unhealthy, Maintenance) and why,
// from the condition it comes from. A Resource the controller has not written yet is derived from its spec:
// Maintenance when paused, else Unknown.
func phaseOf(res *conchv1.Resource) (phase, why string) {
	conds := res.Status.Conditions
	message := func(typ string) string {
		if c := meta.FindStatusCondition(conds, typ); c != nil {
			return c.Message
		}
		return ""
	}
	switch p := res.Status.Phase; {
	case p == conchv1.PhaseUnhealthy:
		return string(p), message(conchv1.ResourceConditionHealthy)
	case p == conchv1.PhaseMaintenance:
		return string(p), message(conchv1.ResourceConditionPaused)
	case p != "":
		return string(p), message(conchv1.ResourceConditionAvailable)
	case res.Spec.Granting == conchv1.GrantingPaused:
		return string(conchv1.PhaseMaintenance), "spec.granting is Paused"
	}
	return phaseUnknown, "Conch has not looked at it yet"
}

// timelineSpan is how far the timeline looks back and ahead.
const timelineSpan = 24 * time.Hour

// timeline is the last and next 24 hours of a Resource: holds that ended (from the history), the current holds
// and the queue's expected turns.
type timeline struct {
	From, To, Now time.Time
	// NowX is where now is, in thousandths of the width.
	NowX  int
	Ticks []tick
	Rows  []timelineRow
}

// tick is a mark on the time axis.
type tick struct {
	X     int
	Label string
}

// timelineRow is one Reservation on the timeline: a bar for its wait and one for its hold.
type timelineRow struct {
	Holder, Reservation string
	// Kind is ended, holding or queued.
	Kind string
	// Text says the same as the bars in words.
	Text string
	Bars []bar
}

// bar is a span of a row, in thousandths of the timeline's width.
type bar struct {
	X, W int
	// Class is waited, held, holding or expected.
	Class string
	Title string
}

// buildTimeline lays out card's holds and queue and the ended holds around now.
func buildTimeline(card resourceCard, ended []history.Hold, now time.Time) *timeline {
	t := &timeline{From: now.Add(-timelineSpan), To: now.Add(timelineSpan), Now: now}
	t.NowX = t.x(now)
	for h := 0; h <= 48; h += 6 {
		at := t.From.Add(time.Duration(h) * time.Hour)
		label := at.UTC().Format("15:04")
		if h == 24 {
			label = "now"
		}
		t.Ticks = append(t.Ticks, tick{X: t.x(at), Label: label})
	}
	for _, h := range ended {
		if h.Ended.Before(t.From) {
			continue
		}
		row := timelineRow{Holder: h.Holder, Reservation: h.Reservation, Kind: "ended"}
		waitEnd := h.Granted
		if waitEnd.IsZero() {
			waitEnd = h.Ended
		}
		row.Bars = append(row.Bars, t.bar(h.Created, waitEnd, "waited", "waited "+fmtDuration(h.Waited())))
		if !h.Granted.IsZero() {
			row.Bars = append(row.Bars, t.bar(h.Granted, h.Ended, "held", "held "+fmtDuration(h.Held())))
			row.Text = fmt.Sprintf("held %s to %s (%s), %s; waited %s", fmtClock(h.Granted), fmtClock(h.Ended),
				fmtDuration(h.Held()), strings.ToLower(h.Reason), fmtDuration(h.Waited()))
		} else {
			row.Text = fmt.Sprintf("waited %s and left at %s, %s", fmtDuration(h.Waited()), fmtClock(h.Ended), strings.ToLower(h.Reason))
		}
		t.Rows = append(t.Rows, row)
	}
	for _, h := range card.Holders {
		t.Rows = append(t.Rows, timelineRow{
			Holder: h.Holder, Reservation: h.Reservation, Kind: "holding",
			Text: fmt.Sprintf("holding since %s, until %s", fmtClock(h.Since), fmtClock(h.Until)),
			Bars: []bar{t.bar(h.Since, h.Until, "holding", "holding until "+fmtClock(h.Until))},
		})
	}
	for _, q := range card.Queue {
		row := timelineRow{Holder: q.Holder, Reservation: q.Reservation, Kind: "queued"}
		if q.Position == 0 && !q.Expected.IsZero() {
			end := q.Expected.Add(q.Duration)
			row.Kind, row.Text = "booked", fmt.Sprintf("booked from %s to %s", fmtClock(q.Expected), fmtClock(end))
			row.Bars = append(row.Bars, t.bar(q.Expected, end, "booked", "booked from "+fmtClock(q.Expected)))
			t.Rows = append(t.Rows, row)
			continue
		}
		if q.Expected.IsZero() {
			row.Text = fmt.Sprintf("number %d in line; granting is paused", q.Position)
		} else {
			end := q.Expected.Add(q.Duration)
			row.Text = fmt.Sprintf("number %d in line, expected %s to %s", q.Position, fmtClock(q.Expected), fmtClock(end))
			row.Bars = append(row.Bars, t.bar(q.Expected, end, "expected", "expected from "+fmtClock(q.Expected)))
		}
		t.Rows = append(t.Rows, row)
	}
	for i := range t.Rows {
		t.Rows[i].Bars = slices.DeleteFunc(t.Rows[i].Bars, func(b bar) bool { return b.W <= 0 && b.X <= 0 })
	}
	return t
}

// x is where at lies on the timeline, in thousandths, clamped to it.
func (t *timeline) x(at time.Time) int {
	f := float64(at.Sub(t.From)) / float64(t.To.Sub(t.From))
	return int(min(max(f, 0), 1) * 1000)
}

// bar spans [from, to) clipped to the timeline, at least 2 thousandths wide so that a short hold shows.
func (t *timeline) bar(from, to time.Time, class, title string) bar {
	x0, x1 := t.x(from), t.x(to)
	if !to.After(t.From) || !from.Before(t.To) {
		return bar{}
	}
	return bar{X: x0, W: max(x1-x0, 2), Class: class, Title: title}
}

// handover is one ended hold, newest first, and who was granted after it.
type handover struct {
	Holder, Reservation, State, Reason string
	Granted, Ended                     time.Time
	Held, Waited                       time.Duration
	// Next is the holder granted next after this hold ended, if the history knows.
	Next string
}

// recentHandovers are the n latest ended holds that were granted, newest first, each with who was granted next
// (from the history, or a current holder).
func recentHandovers(holds []history.Hold, current []holderRow, n int) []handover {
	type grant struct {
		holder string
		uid    types.UID
		at     time.Time
	}
	var grants []grant
	var ended []history.Hold
	for _, h := range holds {
		if !h.Granted.IsZero() {
			grants = append(grants, grant{h.Holder, h.UID, h.Granted})
			ended = append(ended, h)
		}
	}
	for _, h := range current {
		grants = append(grants, grant{h.Holder, "", h.Since})
	}
	sort.SliceStable(grants, func(i, j int) bool { return grants[i].at.Before(grants[j].at) })
	sort.SliceStable(ended, func(i, j int) bool { return ended[i].Ended.After(ended[j].Ended) })
	var out []handover
	for _, h := range ended[:min(n, len(ended))] {
		ho := handover{Holder: h.Holder, Reservation: h.Reservation, State: h.State, Reason: h.Reason,
			Granted: h.Granted, Ended: h.Ended, Held: h.Held(), Waited: h.Waited()}
		// The first grant at or after the end; a second early, since ends are stored in whole seconds.
		for _, g := range grants {
			if g.uid != h.UID && !g.at.Before(h.Ended.Add(-time.Second)) {
				ho.Next = g.holder
				break
			}
		}
		out = append(out, ho)
	}
	return out
}

// contention is the contention page: per Resource, per day, held and waited hours.
type contention struct {
	Weeks       int
	WeekChoices []int
	TZ          string
	Namespace   string
	Namespaces  []string
	Resources   []resourceContention
}

// resourceContention is one Resource's days, newest first, and their totals.
type resourceContention struct {
	Namespace, Name, URL string
	Days                 []dayRow
	Held, Waited         time.Duration
	LongestWait          time.Duration
	Holds                int
}

// dayRow is one day, with bars scaled to the busiest day of the Resource.
type dayRow struct {
	history.Day
	HeldW, WaitedW int // in thousandths
}

// contentionOf sums the days of one Resource and scales their bars.
func contentionOf(ns, name string, days []history.Day) resourceContention {
	c := resourceContention{Namespace: ns, Name: name, URL: "/resources/" + ns + "/" + name}
	var most time.Duration
	for _, d := range days {
		c.Held += d.Held
		c.Waited += d.Waited
		c.LongestWait = max(c.LongestWait, d.LongestWait)
		c.Holds += d.Holds
		most = max(most, d.Held+d.Waited)
	}
	for i := len(days) - 1; i >= 0; i-- {
		d := days[i]
		row := dayRow{Day: d}
		if most > 0 {
			row.HeldW = int(1000 * d.Held / most)
			row.WaitedW = int(1000 * d.Waited / most)
		}
		c.Days = append(c.Days, row)
	}
	return c
}

// fmtDuration is a duration for people: "45s", "12m", "1h 20m", "2d 3h".
func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	default:
		days, h := int(d.Hours())/24, int(d.Hours())%24
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd %dh", days, h)
	}
}

// fmtClock is a time of day in UTC, with the date when it is not today's (relative to the time itself).
func fmtClock(t time.Time) string {
	return t.UTC().Format("Jan 2 15:04 UTC")
}

// fmtRelative says how far t is from now: "in 23m", "5m ago", "now".
func fmtRelative(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d > -30*time.Second && d < 30*time.Second:
		return "now"
	case d > 0:
		return "in " + fmtDuration(d)
	default:
		return fmtDuration(-d) + " ago"
	}
}
