package slackbot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/charts"
	"github.com/conch-dev/conch/internal/chat"
	"github.com/conch-dev/conch/internal/contention"
	"github.com/conch-dev/conch/internal/standup"
	"github.com/conch-dev/conch/internal/text"
)

// StatsSource gives a Resource's contention over a period: `/dibs stats` and the charts of stand-ups read it.
// contention.CacheSource is one.
type StatsSource interface {
	Stats(ctx context.Context, namespace, resource string, from, to time.Time, loc *time.Location) (contention.Stats, error)
}

// SetStats sets where charts read a Resource's contention; call it before Start. New sets a
// contention.CacheSource over the Bot's client.
func (b *Bot) SetStats(s StatsSource) { b.stats = s }

// chartFile is one PNG to upload.
type chartFile struct {
	name, title, alt string
	png              []byte
}

// maxAltText bounds a file's alt text (Slack takes 1,000 characters).
const maxAltText = 1000

// statsCommand answers `/dibs stats <resource> [period]`: it posts the Resource's charts in the channel where it
// was asked, with a summary, in one message. It runs in the command's own goroutine, never on a grant's path. On
// success the charts are the answer, and nothing else is said.
func (b *Bot) statsCommand(ctx context.Context, cmd slack.SlashCommand, who person, ns string, c chat.Command) reply {
	res, miss := b.statsResource(ctx, ns, c.Resource)
	if res == nil {
		return miss
	}
	loc := who.TZ
	if loc == nil {
		loc = time.UTC
	}
	from, to := contention.Period(b.clock.Now(), c.Days, loc)
	st, err := b.stats.Stats(ctx, ns, res.Name, from, to, loc)
	if err != nil {
		return ephemeral("I could not read what *%s* went through: %s. Try again in a moment.", escape(res.Name), escape(err.Error()))
	}
	files, err := resourceCharts(res.Name, st, c.Days, loc)
	if err != nil {
		return ephemeral("I could not draw the charts of *%s*: %s", escape(res.Name), escape(err.Error()))
	}
	if err := b.upload(ctx, cmd.ChannelID, StatsSummary(res.Name, st, c.Days, loc), files); err != nil {
		return ephemeral("I could not post the charts of *%s* here: %s", escape(res.Name), uploadProblem(err, b.cfg.Command))
	}
	return reply{}
}

// statsResource finds the Resource a stats command names. A name that is no Resource but a pool (the value of a
// label that Resources share) is told so, with its members, since stats are per Resource.
func (b *Bot) statsResource(ctx context.Context, ns, name string) (*conchv1.Resource, reply) {
	res, miss := b.resource(ctx, ns, name)
	if res != nil {
		return res, reply{}
	}
	var all conchv1.ResourceList
	if err := b.client.List(ctx, &all, client.InNamespace(ns)); err != nil {
		return nil, miss
	}
	var members []string
	for _, r := range all.Items {
		for _, v := range r.Labels {
			if v == name {
				members = append(members, r.Name)
				break
			}
		}
	}
	if len(members) == 0 {
		return nil, miss
	}
	slices.Sort(members)
	return nil, ephemeral("*%s* is a pool, not a Resource, and stats are kept per Resource. Ask for one of its members: `%s stats %s` (members: %s).",
		escape(name), b.cfg.Command, members[0], strings.Join(members, ", "))
}

// uploadProblem says why Slack refused an upload, and what to do about the common causes.
func uploadProblem(err error, command string) string {
	var se slack.SlackErrorResponse
	code := err.Error()
	if errors.As(err, &se) {
		code = se.Err
	}
	switch {
	case strings.Contains(code, "not_in_channel") || strings.Contains(code, "channel_not_found"):
		return fmt.Sprintf("I am not in this channel. Invite me (`/invite @Conch`), or ask with `%s stats` in a channel I am in.", command)
	case strings.Contains(code, "missing_scope"):
		return "the Slack app lacks the files:write scope. Ask whoever installed it to add the scope and reinstall it."
	}
	return "Slack said " + escape(text.Truncate(code, 200, text.Ellipsis)) + ". Try again in a moment."
}

// resourceCharts draws a Resource's three charts: contention per day, the waits, and the queue over time.
func resourceCharts(name string, st contention.Stats, days int, loc *time.Location) ([]chartFile, error) {
	period := periodPhrase(days)
	alt := text.Truncate(plainSummary(name, st, days, loc), maxAltText, text.Ellipsis)
	draw := []struct {
		suffix, title string
		render        func(title string) ([]byte, error)
	}{
		{"contention", fmt.Sprintf("%s: hours held and waited per day, %s (%s)", name, period, loc),
			func(t string) ([]byte, error) { return charts.Contention(t, st.Days) }},
		{"waits", fmt.Sprintf("%s: how long people waited, %s", name, period),
			func(t string) ([]byte, error) { return charts.Waits(t, st.Waits) }},
		{"queue", fmt.Sprintf("%s: people waiting, %s", name, period),
			func(t string) ([]byte, error) { return charts.QueueLength(t, st.Queue, st.To, loc) }},
	}
	files := make([]chartFile, 0, len(draw))
	for _, d := range draw {
		png, err := d.render(d.title)
		if err != nil {
			return nil, err
		}
		files = append(files, chartFile{name: fmt.Sprintf("%s-%s-%dd.png", name, d.suffix, days), title: d.title, alt: alt, png: png})
	}
	return files, nil
}

// contentionChart draws one Resource's contention chart, for a stand-up.
func contentionChart(name string, st contention.Stats, days int, loc *time.Location) (chartFile, error) {
	title := fmt.Sprintf("%s: hours held and waited per day, %s (%s)", name, periodPhrase(days), loc)
	png, err := charts.Contention(title, st.Days)
	if err != nil {
		return chartFile{}, err
	}
	return chartFile{
		name: fmt.Sprintf("%s-contention-%dd.png", name, days), title: title, png: png,
		alt: text.Truncate(plainSummary(name, st, days, loc), maxAltText, text.Ellipsis),
	}, nil
}

// upload shares files in channel in one message with comment (mrkdwn), the way Slack uploads files now: an
// upload URL per file (files.getUploadURLExternal), its bytes POSTed there, then one files.completeUploadExternal.
func (b *Bot) upload(ctx context.Context, channel, comment string, files []chartFile) error {
	api := b.API()
	shared := make([]slack.FileSummary, 0, len(files))
	for _, f := range files {
		u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
			FileName: f.name, FileSize: len(f.png), AltTxt: f.alt,
		})
		if err != nil {
			return err
		}
		if err := api.UploadToURL(ctx, slack.UploadToURLParameters{
			UploadURL: u.UploadURL, Reader: bytes.NewReader(f.png), Filename: f.name,
		}); err != nil {
			return err
		}
		shared = append(shared, slack.FileSummary{ID: u.FileID, Title: f.title})
	}
	_, err := api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
		Files: shared, Channel: channel, InitialComment: comment,
	})
	return err
}

// periodPhrase is "today" or "the last 7 days".
func periodPhrase(days int) string {
	if days <= 1 {
		return "today"
	}
	return fmt.Sprintf("the last %d days", days)
}

// StatsSummary is the text posted with a Resource's charts, in mrkdwn: how long it was held and waited for, by
// how many holds, and the longest wait, over the period, with the days and time zone it was read in.
func StatsSummary(name string, st contention.Stats, days int, loc *time.Location) string {
	return fmt.Sprintf("*%s*, %s (%s): %s", escape(name), escape(periodPhrase(days)), escape(dayRange(st, loc)), statsLine(st))
}

// statsLine is the figures of a summary: "held 41h30m in 12 holds; waited 7h30m, longest wait 5h."
func statsLine(st contention.Stats) string {
	if st.Held == 0 && st.Waited == 0 {
		return "nobody held it or waited for it."
	}
	holds := "holds"
	if st.Grants == 1 {
		holds = "hold"
	}
	s := fmt.Sprintf("held *%s* in %d %s granted; waited *%s*", hoursAndMinutes(st.Held), st.Grants, holds, hoursAndMinutes(st.Waited))
	if st.LongestWait > 0 {
		s += fmt.Sprintf(", longest wait *%s*", hoursAndMinutes(st.LongestWait))
	}
	return s + "."
}

// plainSummary is StatsSummary without mrkdwn, for alt text.
func plainSummary(name string, st contention.Stats, days int, loc *time.Location) string {
	return strings.ReplaceAll(fmt.Sprintf("%s, %s (%s): %s", name, periodPhrase(days), dayRange(st, loc), statsLine(st)), "*", "")
}

// dayRange is the period's days and time zone: "Mon 30 Nov – Sun 6 Dec, Europe/Paris".
func dayRange(st contention.Stats, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	from, to := st.From.In(loc), st.To.In(loc)
	if from.YearDay() == to.YearDay() && from.Year() == to.Year() {
		return fmt.Sprintf("%s, %s", from.Format("Mon 2 Jan"), loc)
	}
	return fmt.Sprintf("%s – %s, %s", from.Format("Mon 2 Jan"), to.Format("Mon 2 Jan"), loc)
}

// hoursAndMinutes writes a long duration as people read it: 41h30m, 5h, 20m, 0m.
func hoursAndMinutes(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

// postStandupCharts posts the contention chart of each Resource a Standup names, in its channel, in one message
// with a line per Resource. It runs from the outbox, after the summary.
func (b *Bot) postStandupCharts(ctx context.Context, st *conchv1.Standup) error {
	loc := standup.Location(st)
	days := int(st.Spec.Charts.Days)
	if days < 1 || days > conchv1.MaxStandupChartDays {
		days = conchv1.DefaultStandupChartDays
	}
	from, to := contention.Period(b.clock.Now(), days, loc)
	lines := []string{fmt.Sprintf("Contention, %s (%s):", escape(periodPhrase(days)), escape(fmt.Sprint(loc)))}
	var files []chartFile
	for _, name := range st.Spec.Charts.Resources {
		res := &conchv1.Resource{}
		if err := b.client.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: name}, res); err != nil {
			if client.IgnoreNotFound(err) != nil {
				return err
			}
			lines = append(lines, fmt.Sprintf("• *%s*: there is no such Resource in namespace %s.", escape(name), escape(st.Namespace)))
			continue
		}
		stats, err := b.stats.Stats(ctx, st.Namespace, name, from, to, loc)
		if err != nil {
			return err
		}
		f, err := contentionChart(name, stats, days, loc)
		if err != nil {
			return err
		}
		files = append(files, f)
		lines = append(lines, fmt.Sprintf("• *%s*: %s", escape(name), statsLine(stats)))
	}
	comment := text.Truncate(strings.Join(lines, "\n"), maxSectionText, text.MoreLines)
	if len(files) == 0 {
		_, _, err := b.API().PostMessageContext(ctx, st.Spec.Channel, slack.MsgOptionText(comment, false))
		return err
	}
	return b.upload(ctx, st.Spec.Channel, comment, files)
}
