package slackbot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/slack-go/slack"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/calendar"
	"github.com/conch-dev/conch/internal/chat"
	"github.com/conch-dev/conch/internal/index"
	"github.com/conch-dev/conch/internal/text"
)

// reply is the answer to a command: ephemeral (only the user sees it) unless it concerns everyone in the channel.
type reply struct {
	text      string
	inChannel bool
}

func ephemeral(format string, args ...any) reply { return reply{text: fmt.Sprintf(format, args...)} }

// handleCommand carries out a slash command and answers through its response URL.
func (b *Bot) handleCommand(ctx context.Context, cmd slack.SlashCommand) {
	log := b.log.WithValues("user", cmd.UserID, "channel", cmd.ChannelID)
	r := b.command(ctx, cmd)
	log.V(1).Info("Answering a Slack command", "text", cmd.Text, "inChannel", r.inChannel)
	typ := slack.ResponseTypeEphemeral
	if r.inChannel {
		typ = slack.ResponseTypeInChannel
	}
	if cmd.ResponseURL == "" || r.text == "" {
		return // nothing to say: the answer was posted otherwise (stats' charts)
	}
	if err := slack.PostWebhookContext(ctx, cmd.ResponseURL, &slack.WebhookMessage{ResponseType: typ, Text: r.text}); err != nil {
		log.Error(err, "Cannot answer a Slack command")
	}
}

// command decides the reply to a slash command, doing what it asks on the way: the text is parsed once, by the
// chat grammar, and the command it makes is carried out here.
func (b *Bot) command(ctx context.Context, cmd slack.SlashCommand) reply {
	now := b.clock.Now()
	who := b.people.byUserID(ctx, cmd.UserID, cmd.UserName)
	parsed, err := chat.Parse(cmd.Text, now, who.TZ)
	if err != nil {
		var e *chat.Error
		if errors.As(err, &e) && e.Standup {
			return ephemeral("%s\nTry `%s standup help`.", sentence(escape(e.Message)), b.cfg.Command)
		}
		return ephemeral("%s\nTry `%s help`.", sentence(escape(err.Error())), b.cfg.Command)
	}
	ns := b.namespaceFor(cmd.ChannelID)
	if len(b.cfg.Namespaces) > 0 && !slices.Contains(b.cfg.Namespaces, ns) {
		if parsed.Verb.IsStandup() {
			return ephemeral("Commands in this channel act on namespace %s, which this Conch does not manage (it manages %s).",
				ns, strings.Join(b.cfg.Namespaces, ", "))
		}
		return ephemeral("Commands in this channel act on namespace %s, which this Conch does not manage (it manages %s). Ask your platform team to map the channel to one of those.",
			ns, strings.Join(b.cfg.Namespaces, ", "))
	}
	switch parsed.Verb {
	case chat.VerbHelp:
		return ephemeral("%s", chat.Help(b.cfg.Command))
	case chat.VerbList:
		return b.list(ctx, ns)
	case chat.VerbWho:
		return b.who(ctx, ns, parsed.Resource)
	case chat.VerbStats:
		return b.statsCommand(ctx, cmd, who, ns, parsed)
	case chat.VerbTake, chat.VerbRelease, chat.VerbExtend, chat.VerbNudge:
		return b.resourceCommand(ctx, cmd, who, ns, parsed)
	case chat.VerbWatch, chat.VerbUnwatch:
		return b.watchCommand(ctx, cmd, ns, parsed)
	case chat.VerbCalendar:
		return b.calendarCommand(ctx, who, ns, parsed)
	case chat.VerbStandupHelp:
		return ephemeral("%s", chat.StandupHelp(b.cfg.Command))
	case chat.VerbStandupList:
		return b.listStandups(ctx, ns)
	case chat.VerbStandupAway, chat.VerbStandupBack:
		return b.awayCommand(ctx, cmd, ns, parsed)
	case chat.VerbStandupSkip, chat.VerbStandupUnskip, chat.VerbStandupRun:
		return b.standupCommand(ctx, cmd, ns, parsed)
	}
	return ephemeral("I do not know that command. Try `%s help`.", b.cfg.Command)
}

// sentence makes a message of the chat grammar, written the way Go errors are (lower-case, no full stop, so that
// the kubectl plugin can wrap them), a sentence for Slack.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	first, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	s = string(unicode.ToUpper(first)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
		s += "."
	}
	return s
}

// resourceCommand carries out take, release, extend and nudge on the Resource the command names.
func (b *Bot) resourceCommand(ctx context.Context, cmd slack.SlashCommand, who person, ns string, c chat.Command) reply {
	res, miss := b.resource(ctx, ns, c.Resource)
	if res == nil {
		return miss
	}
	switch c.Verb {
	case chat.VerbTake:
		return b.take(ctx, cmd, who, res, c)
	case chat.VerbRelease:
		return b.release(ctx, cmd, who, res)
	case chat.VerbNudge:
		return b.nudge(ctx, cmd, res)
	default:
		return b.extend(ctx, cmd, res, c)
	}
}

// namespaceFor returns the namespace commands from a channel act on.
func (b *Bot) namespaceFor(channel string) string {
	if ns, ok := b.cfg.ChannelNamespaces[channel]; ok {
		return ns
	}
	return b.cfg.DefaultNamespace
}

// get reads an object from the cache and, when the cache does not have it, from the API server: the cache may not
// have seen an object created a moment ago, and a person who just applied it should not be told it does not exist.
func (b *Bot) get(ctx context.Context, key types.NamespacedName, obj client.Object) error {
	err := b.client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && b.reader != nil {
		err = b.reader.Get(ctx, key, obj)
	}
	return err
}

// resource finds the named Resource, or returns a reply that suggests the closest names.
func (b *Bot) resource(ctx context.Context, ns, name string) (*conchv1.Resource, reply) {
	res := &conchv1.Resource{}
	err := b.get(ctx, types.NamespacedName{Namespace: ns, Name: name}, res)
	if err == nil {
		return res, reply{}
	}
	if !apierrors.IsNotFound(err) {
		return nil, ephemeral("I could not read *%s*: %v. Try again in a moment.", name, err)
	}
	var all conchv1.ResourceList
	if err := b.client.List(ctx, &all, client.InNamespace(ns)); err != nil {
		return nil, ephemeral("There is no *%s* here.", name)
	}
	names := make([]string, 0, len(all.Items))
	for _, r := range all.Items {
		names = append(names, r.Name)
	}
	if s := chat.Suggest(name, names, 3); len(s) > 0 {
		return nil, ephemeral("There is no *%s* here. Did you mean %s?", name, "*"+strings.Join(s, "*, *")+"*")
	}
	if len(names) == 0 {
		return nil, ephemeral("There is no *%s* here: no Resources exist in namespace %s yet.", name, ns)
	}
	return nil, ephemeral("There is no *%s* here. `%s list` shows what there is.", name, b.cfg.Command)
}

// mine returns the user's Reservations for res that have not ended, oldest first. A Reservation is the user's
// when its spec.holder names them ("slack:<id>", or their e-mail address): the holder cannot change, while the
// label conch.dev/slack-user is written by whoever may label Reservations, so it only says who a Reservation was
// made for, never who may change it.
func (b *Bot) mine(ctx context.Context, ns, user, resource string) ([]conchv1.Reservation, error) {
	var list conchv1.ReservationList
	if err := b.client.List(ctx, &list, client.InNamespace(ns),
		client.MatchingFields{index.BoundResourceField: resource}); err != nil {
		return nil, err
	}
	out := make([]conchv1.Reservation, 0, 1)
	for _, r := range list.Items {
		if r.Status.State.IsFinal() || r.Spec.Released || r.DeletionTimestamp != nil {
			continue
		}
		holder, err := b.people.userOf(ctx, r.Spec.Holder)
		if err != nil {
			return nil, err
		}
		if holder == user {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b conchv1.Reservation) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	return out, nil
}

// take creates a Reservation for the user, named after the request so that a redelivered command finds it
// instead of making a second one, and answers with the controllers' decision. A take with a start is a booking:
// it is answered with when it starts and ends on the user's clock, unless the controllers reject it.
func (b *Bot) take(ctx context.Context, cmd slack.SlashCommand, who person, res *conchv1.Resource, c chat.Command) reply {
	mine, err := b.mine(ctx, res.Namespace, cmd.UserID, res.Name)
	if err != nil {
		return ephemeral("I could not check your Reservations: %v", err)
	}
	key := requestKey(cmd.TeamID, cmd.UserID, cmd.TriggerID, cmd.Text)
	booking := !c.Start.IsZero()
	for _, m := range mine {
		// One hold at a time, but bookings ahead stand in the way of nothing: a person may hold staging now and
		// have it booked for tomorrow, or book several mornings.
		if booking || isBookingAhead(&m, b.clock.Now()) {
			continue
		}
		if m.Labels[conchv1.LabelRequest] != key {
			return b.describe(&m, "You already", false)
		}
	}

	rsv := &conchv1.Reservation{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   res.Namespace,
			Name:        reservationName(res.Name, key),
			Labels:      map[string]string{conchv1.LabelSlackUser: cmd.UserID, conchv1.LabelRequest: key},
			Annotations: map[string]string{conchv1.AnnotationSlackUserName: who.Name},
		},
		Spec: conchv1.ReservationSpec{
			ResourceName: res.Name,
			Holder:       conchv1.SlackHolderPrefix + cmd.UserID,
			Reason:       c.Reason,
		},
	}
	if c.Duration > 0 {
		rsv.Spec.Duration = &metav1.Duration{Duration: c.Duration}
	}
	if booking {
		rsv.Spec.StartTime = &metav1.Time{Time: c.Start}
	}
	if c.Priority > 0 {
		rsv.Spec.Priority = &c.Priority
	}
	if c.NoPreempt {
		rsv.Spec.Preemptible = conchv1.PreemptibleNever
	}
	if c.Revision != "" {
		if !res.Spec.Deploy.IsSet() {
			return ephemeral("*%s* deploys nothing on grant (it has no spec.deploy), so `deploy %s` would do nothing. Take it without `deploy`, or ask an admin to set it up (docs/deploy.md).",
				res.Name, literal(c.Revision))
		}
		rsv.Spec.Parameters = []conchv1.Parameter{{Name: conchv1.ParameterRevision, Value: c.Revision}}
	}
	if err := b.client.Create(ctx, rsv); err != nil && !apierrors.IsAlreadyExists(err) {
		return ephemeral("I could not reserve *%s*: %s", res.Name, escape(err.Error()))
	}
	decided := b.awaitDecision(ctx, client.ObjectKeyFromObject(rsv))
	if booking {
		if decided != nil && decided.Status.State == conchv1.StateRejected {
			return b.describe(decided, "You", false)
		}
		return ephemeral("%s", BookedReply(rsv, c.Start, c.Start.Add(calendar.HoldDuration(res, rsv)), c.StartRepeats, who.TZ, b.cfg.Command))
	}
	if decided == nil {
		return ephemeral("Your request for *%s* is in; I will DM you when it is your turn.", res.Name)
	}
	// In the Resource's own channel the Notifier's handover post announces the grant: the reply is for the user.
	return b.describe(decided, "You", cmd.ChannelID != res.Spec.SlackChannel)
}

// isBookingAhead reports whether r is a booking whose hold has not started: it does not count as the person's
// current hold or place in the queue.
func isBookingAhead(r *conchv1.Reservation, now time.Time) bool {
	return r.Spec.StartTime != nil && r.Spec.StartTime.After(now) && r.Status.State != conchv1.StateGranted
}

// awaitDecision waits briefly for the controllers to grant or queue a Reservation, so the reply can say which.
func (b *Bot) awaitDecision(ctx context.Context, key client.ObjectKey) *conchv1.Reservation {
	var got *conchv1.Reservation
	_ = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, b.cfg.ReplyWait, true, func(ctx context.Context) (bool, error) {
		r := &conchv1.Reservation{}
		if err := b.client.Get(ctx, key, r); err != nil {
			return false, nil
		}
		if r.Status.State == "" || r.Status.State == conchv1.StatePending {
			return false, nil
		}
		got = r
		return true, nil
	})
	return got
}

// describe tells the user where their Reservation stands. subject is "You" or "You already"; announce makes a
// grant a reply the whole channel sees, saying who took what.
func (b *Bot) describe(r *conchv1.Reservation, subject string, announce bool) reply {
	res := r.Status.ResourceName
	switch r.Status.State {
	case conchv1.StateGranted:
		text := fmt.Sprintf("%s hold *%s* until %s.", subject, res, When(r.Status.ExpiresAt.Time))
		if announce {
			text = fmt.Sprintf("<@%s> took *%s* until %s.", SlackUserOf(r.Spec.Holder), res, When(r.Status.ExpiresAt.Time))
			text += reasonNote(r)
		}
		text += deployNote(r)
		text += clampNote(r)
		return reply{text: text, inChannel: announce}
	case conchv1.StateQueued:
		text := fmt.Sprintf("%s wait for *%s*: number %d in the queue", subject, res, r.Status.Position)
		if r.Status.EstimatedGrantTime != nil {
			text += ", expected around " + When(r.Status.EstimatedGrantTime.Time)
		}
		return ephemeral("%s. I will DM you when it is your turn.%s", text, clampNote(r))
	case conchv1.StateRejected:
		return ephemeral("You may not hold *%s*: %s", res, literal(readyMessage(r)))
	default:
		return ephemeral("Your Reservation for *%s* is %s: %s", res, strings.ToLower(string(r.Status.State)), literal(readyMessage(r)))
	}
}

func clampNote(r *conchv1.Reservation) string {
	for _, c := range r.Status.Conditions {
		if c.Type == conchv1.ConditionDurationClamped && c.Status == metav1.ConditionTrue {
			return fmt.Sprintf(" (*%s* allows at most %s, so that is how long you get.)", r.Status.ResourceName, ShortDuration(durationOf(r)))
		}
	}
	return ""
}

func readyMessage(r *conchv1.Reservation) string {
	for _, c := range r.Status.Conditions {
		if c.Type == conchv1.ConditionReady {
			return c.Message
		}
	}
	return string(r.Status.State)
}

// release ends the user's hold on res or takes them out of its queue. An admin who holds nothing releases the
// current holders, and an Event names them.
func (b *Bot) release(ctx context.Context, cmd slack.SlashCommand, who person, res *conchv1.Resource) reply {
	mine, err := b.mine(ctx, res.Namespace, cmd.UserID, res.Name)
	if err != nil {
		return ephemeral("I could not check your Reservations: %v", err)
	}
	key := requestKey(cmd.TeamID, cmd.UserID, cmd.TriggerID, cmd.Text)
	if len(mine) == 0 {
		if len(res.Status.Holders) == 0 {
			return ephemeral("You do not hold or wait for *%s*. %s", res.Name, ResourceLine(res))
		}
		if !b.isAdmin(cmd.UserID) {
			return ephemeral("You do not hold or wait for *%s*. %s", res.Name, b.onlyHolders(ctx, res, "release"))
		}
		var released []string
		for _, h := range res.Status.Holders {
			r := &conchv1.Reservation{}
			if err := b.client.Get(ctx, types.NamespacedName{Namespace: res.Namespace, Name: h.Reservation}, r); err != nil {
				continue
			}
			if err := b.releaseOne(ctx, r, true, cmd.UserID, who.Name, key); err != nil {
				return ephemeral("I could not release %s's hold on *%s*: %v", Who(h.Holder), res.Name, err)
			}
			released = append(released, Who(h.Holder))
		}
		return reply{text: fmt.Sprintf("<@%s> released *%s* (held by %s).", cmd.UserID, res.Name, strings.Join(released, ", ")), inChannel: true}
	}
	// Bookings ahead are kept while there is a hold or a place in the queue to give up, and cancelled by an
	// "off" that finds nothing else: a person done with staging today has not cancelled tomorrow's booking.
	var current, ahead []conchv1.Reservation
	for _, m := range mine {
		if isBookingAhead(&m, b.clock.Now()) {
			ahead = append(ahead, m)
		} else {
			current = append(current, m)
		}
	}
	if len(current) == 0 {
		for i := range ahead {
			if err := b.releaseOne(ctx, &ahead[i], false, cmd.UserID, who.Name, key); err != nil {
				return ephemeral("I could not cancel your booking of *%s*: %v", res.Name, err)
			}
		}
		if len(ahead) == 1 {
			return ephemeral("You cancelled your booking of *%s* (%s).", res.Name, When(ahead[0].Spec.StartTime.Time))
		}
		return ephemeral("You cancelled your %d bookings of *%s*.", len(ahead), res.Name)
	}
	held := false
	for i := range current {
		held = held || current[i].Status.State == conchv1.StateGranted
		if err := b.releaseOne(ctx, &current[i], false, cmd.UserID, who.Name, key); err != nil {
			return ephemeral("I could not release *%s*: %v", res.Name, err)
		}
	}
	note := ""
	if len(ahead) > 0 {
		note = fmt.Sprintf(" Your booking from %s stands; `%s off %s` again cancels it.", When(ahead[0].Spec.StartTime.Time), b.cfg.Command, res.Name)
	}
	if held {
		r := reply{text: fmt.Sprintf("<@%s> released *%s*.", cmd.UserID, res.Name), inChannel: true}
		if note != "" {
			// The note is for the person alone: the channel hears of the release only.
			r = ephemeral("You released *%s*.%s", res.Name, note)
		}
		return r
	}
	return ephemeral("You left the queue for *%s*.%s", res.Name, note)
}

// onlyHolders refuses a change to res's holds to someone who holds none, saying who may make it: its holders
// (shown as Slack users when Slack knows them) and, when there are any, the admins.
func (b *Bot) onlyHolders(ctx context.Context, res *conchv1.Resource, verb string) string {
	if len(res.Status.Holders) == 1 {
		h := res.Status.Holders[0].Holder
		id, _ := b.people.userOf(ctx, h) // on a Slack error, the holder as written
		return b.onlyHolder(h, id, verb)
	}
	names := make([]string, 0, len(res.Status.Holders))
	for _, h := range res.Status.Holders {
		who := Who(h.Holder)
		if id, _ := b.people.userOf(ctx, h.Holder); id != "" {
			who = Who(conchv1.SlackHolderPrefix + id)
		}
		names = append(names, who)
	}
	if len(b.cfg.Admins) == 0 {
		return fmt.Sprintf("Only its holders (%s) can %s their holds.", strings.Join(names, ", "), verb)
	}
	return fmt.Sprintf("Only its holders (%s) or an admin can %s their holds.", strings.Join(names, ", "), verb)
}

// releaseOne sets spec.released for the Slack user userID, recording who did it when they are not the holder
// (byOther: an admin).
func (b *Bot) releaseOne(ctx context.Context, r *conchv1.Reservation, byOther bool, userID, userName, key string) error {
	err := b.patchSpec(ctx, r, func(r *conchv1.Reservation) (bool, error) {
		if r.Spec.Released {
			return false, nil
		}
		r.Spec.Released = true
		if byOther {
			if r.Annotations == nil {
				r.Annotations = map[string]string{}
			}
			r.Annotations[conchv1.AnnotationReleasedBy] = fmt.Sprintf("<@%s>", userID)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if byOther {
		b.recorder.Eventf(r, nil, "Normal", "ReleasedByAdmin", "Release",
			"Released from Slack by admin %s (%s), not the holder %s", userName, userID, r.Spec.Holder)
	}
	return nil
}

// patchSpec changes a Reservation for a person: change edits r (and says whether there is anything to write), and
// the patch carries r's resourceVersion, so that it applies to what change saw. The controllers write status all
// the time, so a patch that loses reads the Reservation from the API server and applies change to that, a few
// times at most.
func (b *Bot) patchSpec(ctx context.Context, r *conchv1.Reservation, change func(*conchv1.Reservation) (bool, error)) error {
	for attempt := 0; ; attempt++ {
		before := r.DeepCopy()
		write, err := change(r)
		if err != nil || !write {
			return err
		}
		err = b.client.Patch(ctx, r, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		if !apierrors.IsConflict(err) || attempt == 4 {
			return err
		}
		if err := b.reader.Get(ctx, client.ObjectKeyFromObject(r), r); err != nil {
			return err
		}
	}
}

// extend lengthens the user's current hold on res: by c.Duration, or to c.Until ("extend staging until 18:00").
func (b *Bot) extend(ctx context.Context, cmd slack.SlashCommand, res *conchv1.Resource, c chat.Command) reply {
	mine, err := b.mine(ctx, res.Namespace, cmd.UserID, res.Name)
	if err != nil {
		return ephemeral("I could not check your Reservations: %v", err)
	}
	for i := range mine {
		r := &mine[i]
		if r.Status.State != conchv1.StateGranted || r.Status.ExpiresAt == nil {
			continue
		}
		by := c.Duration
		if !c.Until.IsZero() {
			by = c.Until.Sub(r.Status.ExpiresAt.Time)
			if by <= 0 {
				return ephemeral("Your hold on *%s* already lasts until %s.", res.Name, When(r.Status.ExpiresAt.Time))
			}
		}
		until, clamped, err := b.extendOne(ctx, r, res, by, requestKey(cmd.TeamID, cmd.UserID, cmd.TriggerID, cmd.Text))
		if err != nil {
			return ephemeral("I could not extend *%s*: %v", res.Name, err)
		}
		return ephemeral("You now hold *%s* until %s.%s", res.Name, When(until), clampedNote(res, clamped))
	}
	return ephemeral("You do not hold *%s*, so there is nothing to extend. %s", res.Name, ResourceLine(res))
}

// extendOne adds d to a granted Reservation's duration, once per request key, and returns the new end and
// whether the Resource's maxDuration cut the extension short.
func (b *Bot) extendOne(ctx context.Context, r *conchv1.Reservation, res *conchv1.Resource, d time.Duration, key string) (time.Time, bool, error) {
	if r.Status.GrantedAt == nil {
		return time.Time{}, false, errors.New("it is not granted yet")
	}
	var next time.Duration
	clamped := false
	err := b.patchSpec(ctx, r, func(r *conchv1.Reservation) (bool, error) {
		// What was asked for last (spec), rather than what the controllers report (status): right after an
		// extension the status still has the old length, and building on it would undo that extension.
		current := durationOf(r)
		if r.Spec.Duration != nil {
			current = r.Spec.Duration.Duration
		}
		next, clamped = current+d, false
		if handled(r, key) {
			next = current // a redelivered request: already done
			return false, nil
		}
		if limit := res.Spec.MaxDuration; limit != nil && next > limit.Duration {
			next, clamped = limit.Duration, true
		}
		if next > 720*time.Hour {
			next, clamped = 720*time.Hour, true
		}
		r.Spec.Duration = &metav1.Duration{Duration: next}
		remember(r, key)
		return true, nil
	})
	if err != nil {
		return time.Time{}, false, err
	}
	return r.Status.GrantedAt.Add(next), clamped, nil
}

// maxRequests is how many request keys a Reservation remembers (conchv1.AnnotationSlackRequests). Slack
// redelivers an envelope for about five minutes; nobody changes one hold sixteen times in that while.
const maxRequests = 16

// annotationLastRequest is where Conch kept the key of the last request only, before it kept several; it is read
// as one more remembered key and dropped at the next change.
const annotationLastRequest = "conch.dev/last-request"

// handled reports whether the request key has already changed r.
func handled(r *conchv1.Reservation, key string) bool {
	return r.Annotations[annotationLastRequest] == key ||
		slices.Contains(strings.Fields(r.Annotations[conchv1.AnnotationSlackRequests]), key)
}

// remember records key in r's annotations as the newest request, forgetting the oldest beyond maxRequests.
func remember(r *conchv1.Reservation, key string) {
	keys := slices.DeleteFunc(strings.Fields(r.Annotations[conchv1.AnnotationSlackRequests]), func(k string) bool { return k == key })
	keys = append(keys, key)
	if len(keys) > maxRequests {
		keys = keys[len(keys)-maxRequests:]
	}
	if r.Annotations == nil {
		r.Annotations = map[string]string{}
	}
	delete(r.Annotations, annotationLastRequest)
	r.Annotations[conchv1.AnnotationSlackRequests] = strings.Join(keys, " ")
}

func clampedNote(res *conchv1.Resource, clamped bool) string {
	if !clamped {
		return ""
	}
	limit := 720 * time.Hour
	if res.Spec.MaxDuration != nil {
		limit = res.Spec.MaxDuration.Duration
	}
	return fmt.Sprintf(" (*%s* allows holds of at most %s.)", res.Name, ShortDuration(limit))
}

// list answers `/dibs list`: every Resource in the namespace with its holders and queue length.
func (b *Bot) list(ctx context.Context, ns string) reply {
	var all conchv1.ResourceList
	if err := b.client.List(ctx, &all, client.InNamespace(ns)); err != nil {
		return ephemeral("I could not list the Resources: %v", err)
	}
	if len(all.Items) == 0 {
		return ephemeral("There are no Resources in namespace %s yet.", ns)
	}
	slices.SortFunc(all.Items, func(a, b conchv1.Resource) int { return strings.Compare(a.Name, b.Name) })
	lines := make([]string, 0, len(all.Items))
	for i := range all.Items {
		lines = append(lines, "• "+ResourceLine(&all.Items[i]))
	}
	return ephemeral("%s", text.Truncate(strings.Join(lines, "\n"), 3000, text.MoreLines))
}

// who answers `/dibs who <resource>`.
func (b *Bot) who(ctx context.Context, ns, name string) reply {
	res, miss := b.resource(ctx, ns, name)
	if res == nil {
		return miss
	}
	var queued []conchv1.Reservation
	for _, q := range res.Status.Queue {
		r := &conchv1.Reservation{}
		if err := b.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: q.Reservation}, r); err == nil {
			queued = append(queued, *r)
		}
	}
	return ephemeral("%s", text.Truncate(ResourceDetail(res, queued), 3000, text.MoreLines))
}

func (b *Bot) isAdmin(user string) bool { return slices.Contains(b.cfg.Admins, user) }

// reservationName is "<resource>-<key>", with the resource part shortened to keep the name valid.
func reservationName(resource, key string) string {
	if len(resource) > 40 {
		resource = strings.TrimRight(resource[:40], "-.")
	}
	return resource + "-" + key[:10]
}
