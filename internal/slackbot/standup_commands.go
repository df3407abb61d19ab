package slackbot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/chat"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/internal/standup"
	"github.com/conch-dev/conch/internal/text"
)

// standupCommand carries out `/dibs standup skip|unskip|run`, which change one Standup: the one named, else the
// channel's, else the only one; its people and admins may.
func (b *Bot) standupCommand(ctx context.Context, cmd slack.SlashCommand, ns string, c chat.Command) reply {
	st, miss := b.pickStandup(ctx, ns, cmd.ChannelID, c.Standup)
	if st == nil {
		return miss
	}
	if !b.mayManage(ctx, st, cmd.UserID) {
		return ephemeral("Only the people of the *%s* stand-up (and admins) may change it.", st.Name)
	}
	if c.Verb == chat.VerbStandupRun {
		return b.runCommand(ctx, cmd, st)
	}
	return b.skipCommand(ctx, st, c)
}

// listStandups answers `/dibs standup`: each Standup of the namespace, when it runs and what it is doing.
func (b *Bot) listStandups(ctx context.Context, ns string) reply {
	var list conchv1.StandupList
	if err := b.client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return ephemeral("I could not list the stand-ups: %v", err)
	}
	if len(list.Items) == 0 {
		return ephemeral("There are no stand-ups in namespace %s. `%s standup help` says what the commands do.", ns, b.cfg.Command)
	}
	slices.SortFunc(list.Items, func(a, b conchv1.Standup) int { return strings.Compare(a.Name, b.Name) })
	lines := make([]string, 0, len(list.Items))
	for i := range list.Items {
		lines = append(lines, "• "+standupLine(&list.Items[i]))
	}
	return ephemeral("%s", text.Truncate(strings.Join(lines, "\n"), 3000, text.MoreLines))
}

// standupLine summarises a Standup for `/dibs standup`; `kubectl get standupruns` has each run's answers so far.
func standupLine(st *conchv1.Standup) string {
	s := fmt.Sprintf("*%s* — `%s` %s, in %s", st.Name, st.Spec.Schedule, st.Spec.TimeZone, channelLink(st.Spec.Channel))
	switch run := st.Status.ActiveRun; {
	case run != nil:
		s += fmt.Sprintf(" · collecting until %s", When(run.Deadline.Time))
	case st.Spec.Suspend:
		s += " · suspended"
	case st.Status.NextRunTime != nil:
		s += " · next " + When(st.Status.NextRunTime.Time)
	}
	for _, c := range st.Status.Conditions {
		if c.Type == conchv1.ConditionReady && c.Status != "True" {
			s += " · :warning: " + literal(c.Message)
		}
	}
	return s
}

// pickStandup finds the Standup a command means: the one named, else the one posting to this channel, else the
// only one in the namespace; or a reply saying which there are.
func (b *Bot) pickStandup(ctx context.Context, ns, channel, name string) (*conchv1.Standup, reply) {
	if name != "" {
		st := &conchv1.Standup{}
		err := b.get(ctx, types.NamespacedName{Namespace: ns, Name: name}, st)
		if err == nil {
			return st, reply{}
		}
		if !apierrors.IsNotFound(err) {
			return nil, ephemeral("I could not read the *%s* stand-up: %v. Try again in a moment.", name, err)
		}
	}
	var list conchv1.StandupList
	if err := b.client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, ephemeral("I could not list the stand-ups: %v", err)
	}
	names := make([]string, 0, len(list.Items))
	var here []*conchv1.Standup
	for i := range list.Items {
		names = append(names, list.Items[i].Name)
		if list.Items[i].Spec.Channel == channel {
			here = append(here, &list.Items[i])
		}
	}
	slices.Sort(names)
	switch {
	case name != "":
		if s := chat.Suggest(name, names, 3); len(s) > 0 {
			return nil, ephemeral("There is no *%s* stand-up here. Did you mean *%s*?", name, strings.Join(s, "*, *"))
		}
		return nil, ephemeral("There is no *%s* stand-up here. `%s standup` lists them.", name, b.cfg.Command)
	case len(here) == 1:
		return here[0], reply{}
	case len(list.Items) == 1:
		return &list.Items[0], reply{}
	case len(list.Items) == 0:
		return nil, ephemeral("There are no stand-ups in namespace %s.", ns)
	}
	return nil, ephemeral("Which stand-up? There are %d here: *%s*. Name one, as in `%s standup run %s`.",
		len(names), strings.Join(names, "*, *"), b.cfg.Command, names[0])
}

// isParticipant reports whether user is one of st's people: listed, in its user group, or in its active run.
func (b *Bot) isParticipant(ctx context.Context, st *conchv1.Standup, user string) bool {
	if slices.Contains(st.Spec.Participants, user) {
		return true
	}
	if ref := st.Status.ActiveRun; ref != nil {
		run := &conchv1.StandupRun{}
		if b.getFresh(ctx, types.NamespacedName{Namespace: st.Namespace, Name: ref.Name}, run) == nil &&
			(slices.Contains(run.Status.Away, user) || slices.ContainsFunc(run.Status.Participants, func(p conchv1.StandupParticipant) bool { return p.User == user })) {
			return true
		}
	}
	if st.Spec.UserGroup != "" {
		members, err := b.API().GetUserGroupMembersContext(ctx, st.Spec.UserGroup)
		return err == nil && slices.Contains(members, user)
	}
	return false
}

// mayManage reports whether user may skip a day of st or start it: its people and admins.
func (b *Bot) mayManage(ctx context.Context, st *conchv1.Standup, user string) bool {
	return b.isAdmin(user) || b.isParticipant(ctx, st, user)
}

// resolveDate turns a command's date into a date in st's time zone.
func resolveDate(date string, now time.Time, loc *time.Location) schedule.Date {
	switch date {
	case "today", "":
		return schedule.DateOf(now, loc)
	case "tomorrow":
		l := now.In(loc)
		return schedule.DateOf(time.Date(l.Year(), l.Month(), l.Day()+1, 12, 0, 0, 0, loc), loc)
	}
	return schedule.Date(date)
}

// longDate writes a date as people read it: "Thursday 24 December".
func longDate(d schedule.Date) string {
	t, err := time.Parse(schedule.DateLayout, string(d))
	if err != nil {
		return string(d)
	}
	return t.Format("Monday 2 January")
}

// editSpec changes a Standup's spec with optimistic concurrency, retrying on conflict from a fresh copy.
func (b *Bot) editSpec(ctx context.Context, st *conchv1.Standup, change func(*conchv1.Standup) error) error {
	reader := b.reader
	if reader == nil {
		reader = b.client
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		fresh := &conchv1.Standup{}
		if err := reader.Get(ctx, client.ObjectKeyFromObject(st), fresh); err != nil {
			return err
		}
		patch := client.MergeFromWithOptions(fresh.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if err := change(fresh); err != nil {
			return err
		}
		if err := b.client.Patch(ctx, fresh, patch); err != nil {
			return err
		}
		*st = *fresh
		return nil
	})
}

// refusal is an error that is the answer to give, not a failure.
type refusal struct{ msg string }

func (r refusal) Error() string { return r.msg }

// skipCommand adds a date to spec.skipDates (skip) or removes it (unskip), dropping dates already past.
func (b *Bot) skipCommand(ctx context.Context, st *conchv1.Standup, c chat.Command) reply {
	loc := standup.Location(st)
	today := schedule.DateOf(b.clock.Now(), loc)
	day := resolveDate(c.Date, b.clock.Now(), loc)
	if day < today {
		return ephemeral("%s is past in the *%s* stand-up's time zone (%s).", longDate(day), st.Name, loc)
	}
	err := b.editSpec(ctx, st, func(s *conchv1.Standup) error {
		dates := slices.DeleteFunc(slices.Clone(s.Spec.SkipDates), func(d string) bool { return d < string(today) })
		has := slices.Contains(dates, string(day))
		switch {
		case c.Verb == chat.VerbStandupSkip && has:
			return refusal{fmt.Sprintf("*%s* already skips %s.", s.Name, longDate(day))}
		case c.Verb == chat.VerbStandupSkip && len(dates) >= 64:
			return refusal{fmt.Sprintf("*%s* already skips 64 days, the most it can; remove some with `kubectl edit standup %s`.", s.Name, s.Name)}
		case c.Verb == chat.VerbStandupSkip:
			dates = append(dates, string(day))
			slices.Sort(dates)
		case !has:
			return refusal{fmt.Sprintf("*%s* does not skip %s.", s.Name, longDate(day))}
		default:
			dates = slices.DeleteFunc(dates, func(d string) bool { return d == string(day) })
		}
		s.Spec.SkipDates = dates
		return nil
	})
	var r refusal
	switch {
	case errors.As(err, &r):
		return ephemeral("%s", r.msg)
	case err != nil:
		return ephemeral("I could not change the *%s* stand-up: %v", st.Name, err)
	case c.Verb == chat.VerbStandupUnskip:
		return reply{text: fmt.Sprintf("The *%s* stand-up takes place on %s after all.", st.Name, longDate(day)), inChannel: true}
	}
	text := fmt.Sprintf("No *%s* stand-up on %s.", st.Name, longDate(day))
	if b.collectingOn(ctx, st, day, loc) {
		text += " Today's was collecting answers: it is cancelled, and there will be no summary."
	}
	return reply{text: text, inChannel: true}
}

// collectingOn reports whether a scheduled run of st for day collects answers: the run status.activeRun points to,
// or, should the Standup's status not point to it yet (its run is written first, and prompts may be out before
// the Standup's own status is), a run of st in that state read from the API server. The controller cancels it
// either way; this only decides what the reply says.
func (b *Bot) collectingOn(ctx context.Context, st *conchv1.Standup, day schedule.Date, loc *time.Location) bool {
	if run := st.Status.ActiveRun; run != nil && !strings.HasSuffix(run.ID, "m") && schedule.DateOf(run.ScheduledTime.Time, loc) == day {
		return true
	}
	reader := b.reader
	if reader == nil {
		reader = b.client
	}
	var runs conchv1.StandupRunList
	if err := reader.List(ctx, &runs, client.InNamespace(st.Namespace), client.MatchingLabels{conchv1.LabelStandup: st.Name}); err != nil {
		return false
	}
	for _, r := range runs.Items {
		if r.Status.State == conchv1.RunCollecting && r.Spec.Trigger != conchv1.TriggerManual &&
			schedule.DateOf(r.Spec.ScheduledTime.Time, loc) == day {
			return true
		}
	}
	return false
}

// awayCommand sets (away) or clears (back) the user's away entry in the Standup named, or in every Standup of
// the namespace they are in.
func (b *Bot) awayCommand(ctx context.Context, cmd slack.SlashCommand, ns string, c chat.Command) reply {
	var targets []*conchv1.Standup
	if c.Standup != "" {
		st, miss := b.pickStandup(ctx, ns, cmd.ChannelID, c.Standup)
		if st == nil {
			return miss
		}
		if !b.isParticipant(ctx, st, cmd.UserID) {
			return ephemeral("You are not in the *%s* stand-up.", st.Name)
		}
		targets = append(targets, st)
	} else {
		var list conchv1.StandupList
		if err := b.client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return ephemeral("I could not list the stand-ups: %v", err)
		}
		for i := range list.Items {
			if b.isParticipant(ctx, &list.Items[i], cmd.UserID) {
				targets = append(targets, &list.Items[i])
			}
		}
		if len(targets) == 0 {
			return ephemeral("You are not in any stand-up in namespace %s.", ns)
		}
	}
	var names []string
	var until schedule.Date
	for _, st := range targets {
		loc := standup.Location(st)
		today := schedule.DateOf(b.clock.Now(), loc)
		until = resolveDate(c.Date, b.clock.Now(), loc)
		if c.Verb == chat.VerbStandupAway && until < today {
			return ephemeral("%s is past; give the last day you will be away.", longDate(until))
		}
		err := b.editSpec(ctx, st, func(s *conchv1.Standup) error {
			away := slices.DeleteFunc(slices.Clone(s.Spec.Away), func(a conchv1.StandupAway) bool {
				return a.User == cmd.UserID || a.Until < string(today)
			})
			if c.Verb == chat.VerbStandupAway {
				if len(away) >= conchv1.MaxStandupParticipants {
					return refusal{fmt.Sprintf("*%s* already lists %d people away, the most it can.", s.Name, len(away))}
				}
				away = append(away, conchv1.StandupAway{User: cmd.UserID, Until: string(until)})
			}
			s.Spec.Away = away
			return nil
		})
		var r refusal
		switch {
		case errors.As(err, &r):
			return ephemeral("%s", r.msg)
		case err != nil:
			return ephemeral("I could not change the *%s* stand-up: %v", st.Name, err)
		}
		names = append(names, st.Name)
	}
	list := "*" + strings.Join(names, "*, *") + "*"
	if c.Verb == chat.VerbStandupBack {
		return ephemeral("Welcome back: %s will ask you again.", list)
	}
	next, _ := time.Parse(schedule.DateLayout, string(until))
	return ephemeral("You are away from %s through %s; you will be asked again from %s.",
		list, longDate(until), next.AddDate(0, 0, 1).Format("Monday 2 January"))
}

// runCommand starts a run now by setting the run-requested-at annotation to a key of this request (a redelivered
// command asks for the same run), then waits briefly for the controller to say what it did.
func (b *Bot) runCommand(ctx context.Context, cmd slack.SlashCommand, st *conchv1.Standup) reply {
	if run := st.Status.ActiveRun; run != nil {
		return ephemeral("The *%s* stand-up is already collecting answers, until %s.", st.Name, When(run.Deadline.Time))
	}
	key := requestKey(cmd.TeamID, cmd.UserID, cmd.TriggerID, cmd.Text)
	if err := b.editSpec(ctx, st, func(s *conchv1.Standup) error {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[conchv1.AnnotationRunRequested] = key
		return nil
	}); err != nil {
		return ephemeral("I could not start the *%s* stand-up: %v", st.Name, err)
	}
	var got *conchv1.Standup
	_ = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, b.cfg.ReplyWait, true, func(ctx context.Context) (bool, error) {
		s := &conchv1.Standup{}
		if err := b.client.Get(ctx, client.ObjectKeyFromObject(st), s); err != nil {
			return false, nil
		}
		if s.Status.LastRunRequest != conchv1.RunRequestKey(key) {
			return false, nil
		}
		got = s
		return true, nil
	})
	switch {
	case got == nil:
		return ephemeral("Asked the *%s* stand-up to start; its people get a DM shortly.", st.Name)
	case got.Status.ActiveRun == nil:
		return ephemeral("The *%s* stand-up did not start: %s", st.Name, skippedMessage(got))
	}
	run := &conchv1.StandupRun{}
	if err := b.getFresh(ctx, types.NamespacedName{Namespace: st.Namespace, Name: got.Status.ActiveRun.Name}, run); err != nil {
		return ephemeral("Started the *%s* stand-up; its people get a DM shortly.", st.Name)
	}
	n := len(run.Status.Participants)
	text := fmt.Sprintf("<@%s> started the *%s* stand-up: %d %s asked", cmd.UserID, st.Name, n, plural(n, "person", "people"))
	if len(run.Status.Away) > 0 {
		text += fmt.Sprintf(" (%d away)", len(run.Status.Away))
	}
	text += fmt.Sprintf("; answers until %s, then the summary goes to %s.", When(run.Spec.Deadline.Time), channelLink(st.Spec.Channel))
	return reply{text: text, inChannel: true}
}

// skippedMessage says why the newest history entry did not run.
func skippedMessage(st *conchv1.Standup) string {
	if len(st.Status.History) > 0 && st.Status.History[0].Reason == conchv1.StandupReasonNobodyToAsk {
		return "nobody to ask (everyone is away)."
	}
	return "see `kubectl describe standup " + st.Name + "`."
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
