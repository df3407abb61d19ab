package slackbot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/charts"
	"github.com/conch-dev/conch/internal/schedule"
	"github.com/conch-dev/conch/internal/standup"
	"github.com/conch-dev/conch/internal/text"
)

// Standups returns the Bot as the StandupReconciler's messenger: prompts, reminders and summaries go through the
// Bot's outbox, in order and with retries on rate limits.
func (b *Bot) Standups() standup.Messenger { return standupMessenger{b} }

type standupMessenger struct{ b *Bot }

var _ standup.Messenger = standupMessenger{}

// UserGroupMembers calls usergroups.users.list. Slack's refusals (no_such_subteam, missing_scope) are for good;
// other failures (the network, a rate limit) are worth retrying.
func (m standupMessenger) UserGroupMembers(ctx context.Context, group string) ([]string, error) {
	users, err := m.b.API().GetUserGroupMembersContext(ctx, group)
	var refused slack.SlackErrorResponse
	if errors.As(err, &refused) {
		return nil, fmt.Errorf("%w: Slack says %s", standup.ErrUserGroupUnavailable, refused.Err)
	}
	return users, err
}

// UserTimeZone calls users.info (uncached, so that a person who moved is asked on their new clock from the next
// run on).
func (m standupMessenger) UserTimeZone(ctx context.Context, user string) (string, error) {
	u, err := m.b.API().GetUserInfoContext(ctx, user)
	if err != nil {
		return "", err
	}
	return u.TZ, nil
}

func (m standupMessenger) Prompt(st *conchv1.Standup, run *conchv1.StandupRun, user string) {
	m.b.out.enqueue(outMsg{user: user, msg: StandupPromptDM(st, run, user)})
}

func (m standupMessenger) Remind(st *conchv1.Standup, run *conchv1.StandupRun, user string) {
	m.b.out.enqueue(outMsg{user: user, msg: StandupReminderDM(st, run, user)})
}

func (m standupMessenger) Summary(st *conchv1.Standup, run *conchv1.StandupRun, envs standup.Environments) {
	msgs := StandupSummary(st, run, envs)
	var (
		mu      sync.Mutex
		channel string
		stamps  = make([]string, len(msgs))
		left    = len(msgs)
	)
	for i, msg := range msgs {
		m.b.out.enqueue(outMsg{channel: st.Spec.Channel, msg: msg, posted: func(ch, ts string) {
			mu.Lock()
			channel, stamps[i], left = ch, ts, left-1
			done := left == 0
			mu.Unlock()
			if done {
				m.b.recordSummary(run, channel, stamps)
			}
		}})
	}
	if len(st.Spec.Charts.Resources) > 0 {
		// Drawn when the outbox gets to it, after the summary, from the Standup as it was at the summary.
		st := st.DeepCopy()
		m.b.out.enqueue(outMsg{channel: st.Spec.Channel, do: func(ctx context.Context) error { return m.b.postStandupCharts(ctx, st) }})
	}
}

// UpdateSummary rewrites the messages of a posted summary in place. A summary that now needs more messages than
// were posted (rare: a team near 50 people whose answers grew) gets the rest as new posts.
func (m standupMessenger) UpdateSummary(st *conchv1.Standup, run *conchv1.StandupRun, envs standup.Environments) {
	post := run.Status.Summary
	if post == nil {
		return
	}
	for i, msg := range StandupSummary(st, run, envs) {
		if i < len(post.MessageTS) {
			m.b.out.enqueue(outMsg{channel: post.Channel, ts: post.MessageTS[i], msg: msg})
		} else {
			m.b.out.enqueue(outMsg{channel: post.Channel, msg: msg})
		}
	}
}

// recordSummary writes where a run's summary was posted into the run's status, so that an edit can update it.
func (b *Bot) recordSummary(run *conchv1.StandupRun, channel string, stamps []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reader := b.reader
	if reader == nil {
		reader = b.client
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		fresh := &conchv1.StandupRun{}
		if err := reader.Get(ctx, client.ObjectKeyFromObject(run), fresh); err != nil {
			return err
		}
		patch := client.MergeFromWithOptions(fresh.DeepCopy(), client.MergeFromWithOptimisticLock{})
		fresh.Status.Summary = &conchv1.StandupSummaryPost{Channel: channel, MessageTS: stamps}
		return b.client.Status().Patch(ctx, fresh, patch)
	})
	if err != nil {
		b.log.Error(err, "Cannot record where a stand-up summary was posted; edits will not update it", "run", run.Name)
	}
}

func (m standupMessenger) Escalate(st *conchv1.Standup, blockers []conchv1.StandupBlocker) {
	esc := st.Spec.Escalation
	if esc == nil {
		return
	}
	for _, b := range blockers {
		msg := StandupEscalationPost(st, b)
		if esc.Channel != "" {
			m.b.out.enqueue(outMsg{channel: esc.Channel, msg: msg})
		}
		for _, u := range esc.Users {
			m.b.out.enqueue(outMsg{user: u, msg: msg})
		}
	}
}

// Digest posts the digest and, when the Standup has charts (spec.charts), a participation chart after it: per
// person, the runs answered, missed and away.
func (m standupMessenger) Digest(st *conchv1.Standup, d standup.Digest) {
	channel := st.Spec.Channel
	if st.Spec.Digest != nil && st.Spec.Digest.Channel != "" {
		channel = st.Spec.Digest.Channel
	}
	m.b.out.enqueue(outMsg{channel: channel, msg: StandupDigestPost(st, d)})
	if len(st.Spec.Charts.Resources) > 0 && len(d.People) > 0 {
		st := st.DeepCopy()
		m.b.out.enqueue(outMsg{channel: channel, do: func(ctx context.Context) error { return m.b.postParticipation(ctx, channel, st, d) }})
	}
}

// postParticipation draws the digest's participation chart, with people's Slack names, and shares it in channel.
func (b *Bot) postParticipation(ctx context.Context, channel string, st *conchv1.Standup, d standup.Digest) error {
	people := make([]charts.Participant, 0, len(d.People))
	for _, p := range d.People {
		name := b.people.byUserID(ctx, p.User, p.User).Name
		people = append(people, charts.Participant{Name: name, Answered: p.Answered, Missed: max(p.Asked-p.Answered, 0), Away: p.Away})
	}
	loc, _ := schedule.LoadLocation(st.Spec.TimeZone)
	if loc == nil {
		loc = time.UTC
	}
	title := fmt.Sprintf("%s: stand-ups answered, missed and away, %s – %s", st.Name,
		d.From.In(loc).Format("Mon 2 Jan"), d.To.In(loc).Format("Mon 2 Jan"))
	png, err := charts.Participation(title, people)
	if err != nil {
		return err
	}
	return b.upload(ctx, channel, "Participation in the *"+escape(st.Name)+"* stand-up", []chartFile{{
		name: st.Name + "-participation.png", title: title, alt: title, png: png,
	}})
}

func (m standupMessenger) Cancelled(st *conchv1.Standup, run *conchv1.StandupRun) {
	m.b.out.enqueue(outMsg{channel: st.Spec.Channel, msg: StandupCancelledPost(st, run)})
}

// handleStandupAction opens the answer modal when someone clicks Answer on a stand-up DM. When it cannot (the run
// is over, they are not asked), it says why, to them only.
func (b *Bot) handleStandupAction(ctx context.Context, cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID != ActionStandupAnswer {
			continue
		}
		text := b.openAnswers(ctx, cb, a.Value)
		if text == "" || cb.ResponseURL == "" {
			continue
		}
		msg := &slack.WebhookMessage{Text: text, ResponseType: slack.ResponseTypeEphemeral}
		if err := slack.PostWebhookContext(ctx, cb.ResponseURL, msg); err != nil {
			b.log.Error(err, "Cannot answer a Slack button", "user", cb.User.ID)
		}
	}
}

// openAnswers opens the modal with the run's questions and the user's answers so far, and returns "" on
// success or a sentence saying why not. Slack's trigger ID lives about 3 s: the Standup is read from the cache.
func (b *Bot) openAnswers(ctx context.Context, cb slack.InteractionCallback, ref string) string {
	st, run, refusal := b.answerableRun(ctx, ref, cb.User.ID)
	if refusal != "" {
		return refusal
	}
	var answers []string
	for _, p := range run.Status.Participants {
		if p.User == cb.User.ID {
			answers = p.Answers
		}
	}
	if _, err := b.API().OpenViewContext(ctx, cb.TriggerID, StandupAnswerModal(st, run, answers)); err != nil {
		b.log.Error(err, "Cannot open the stand-up questions", "user", cb.User.ID, "standup", st.Name)
		return fmt.Sprintf("I could not open the questions (Slack said: %v). Please click *Answer* again.", err)
	}
	return ""
}

// answerableRun finds the run a button or modal is about and the user's place in it, or says why they cannot
// answer it. A run collecting answers takes them until its deadline; after it, the Standup's last run takes
// edits (which update its posted summary) until the next run ends.
func (b *Bot) answerableRun(ctx context.Context, ref, user string) (*conchv1.Standup, *conchv1.StandupRun, string) {
	ns, name, runID, ok := parseStandupRef(ref)
	if !ok {
		return nil, nil, "That button is broken; it names no stand-up."
	}
	st := &conchv1.Standup{}
	if err := b.getFresh(ctx, types.NamespacedName{Namespace: ns, Name: name}, st); apierrors.IsNotFound(err) {
		return nil, nil, fmt.Sprintf("The *%s* stand-up no longer exists.", name)
	} else if err != nil {
		return nil, nil, fmt.Sprintf("I could not read the *%s* stand-up: %v. Try again in a moment.", name, err)
	}
	run := &conchv1.StandupRun{}
	if err := b.getFresh(ctx, types.NamespacedName{Namespace: ns, Name: conchv1.StandupRunName(name, runID)}, run); apierrors.IsNotFound(err) {
		return nil, nil, closedRun(st, nil)
	} else if err != nil {
		return nil, nil, fmt.Sprintf("I could not read the *%s* stand-up: %v. Try again in a moment.", name, err)
	}
	if !slices.ContainsFunc(run.Status.Participants, func(p conchv1.StandupParticipant) bool { return p.User == user }) {
		return nil, nil, fmt.Sprintf("You are not asked in this *%s* stand-up.", name)
	}
	if !answerable(st, run, user, b.clock.Now()) {
		return nil, nil, closedRun(st, run)
	}
	return st, run, ""
}

// answerable reports whether run takes user's answers at now: it collects them (until the user's own deadline,
// with timing Participant, once they were prompted), or it is the Standup's last run and its summary was posted
// (an edit then updates it).
func answerable(st *conchv1.Standup, run *conchv1.StandupRun, user string, now time.Time) bool {
	switch run.Status.State {
	case conchv1.RunCollecting:
		i := slices.IndexFunc(run.Status.Participants, func(p conchv1.StandupParticipant) bool { return p.User == user })
		return i >= 0 && run.Status.Participants[i].Prompted && now.Before(deadlineOf(run, user))
	case conchv1.RunCompleted:
		return st.Status.LastRun != nil && st.Status.LastRun.Name == run.Name && run.Status.Summary != nil
	}
	return false
}

// getFresh reads an object from the cache, and from the API server when the cache does not have it yet.
func (b *Bot) getFresh(ctx context.Context, key types.NamespacedName, obj client.Object) error {
	err := b.client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && b.reader != nil {
		err = b.reader.Get(ctx, key, obj)
	}
	return err
}

// closedRun says that a run no longer takes answers, and what became of it.
func closedRun(st *conchv1.Standup, run *conchv1.StandupRun) string {
	switch {
	case run != nil && run.Status.State == conchv1.RunCancelled:
		return fmt.Sprintf("That *%s* stand-up was cancelled.", st.Name)
	case run != nil && run.Status.State == conchv1.RunCompleted && run.Status.Summary == nil:
		return fmt.Sprintf("That *%s* stand-up's summary is being posted in %s; try again in a moment to change your answers.", st.Name, channelLink(st.Spec.Channel))
	}
	return fmt.Sprintf("That *%s* stand-up is over: answers are no longer collected. The summary is in %s.", st.Name, channelLink(st.Spec.Channel))
}

// isStandupSubmission reports whether an interaction is the submission of the answer modal.
func isStandupSubmission(cb slack.InteractionCallback) bool {
	return cb.Type == slack.InteractionTypeViewSubmission && cb.View.CallbackID == StandupCallbackID
}

// submitStandup stores the answers of a submitted modal, then acks: empty when they are stored (Slack closes the
// modal), or with errors that Slack shows in the modal, so that nobody believes answers were saved that were not.
// It is bounded well within the 3 s Slack allows for an ack.
func (b *Bot) submitStandup(ctx context.Context, sm *socketmode.Client, req socketmode.Request, cb slack.InteractionCallback) {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var err error
	if refusal := b.saveAnswers(sctx, cb); refusal != "" {
		err = sm.Ack(req, slack.NewErrorsViewSubmissionResponse(map[string]string{"q0": refusal}))
	} else {
		err = sm.Ack(req)
	}
	if err != nil {
		b.log.Error(err, "Cannot ack a stand-up submission", "envelope", req.EnvelopeID)
	}
}

// saveAnswers writes the submitted answers into the run's status, with optimistic concurrency (the controller
// writes the same status), and returns "" or why it did not. An answer saved after the summary was posted bumps
// the run's answersRevision: the controller then updates the summary.
func (b *Bot) saveAnswers(ctx context.Context, cb slack.InteractionCallback) string {
	user := cb.User.ID
	var answers []string
	for i := range conchv1.MaxStandupQuestions {
		v := cb.View.State.Values[fmt.Sprintf("q%d", i)][standupAnswerAction].Value
		answers = append(answers, text.Truncate(strings.TrimSpace(v), conchv1.MaxStandupAnswerLength, text.Ellipsis))
	}
	reader := b.reader
	if reader == nil {
		reader = b.client
	}
	var refusal string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		refusal = ""
		st, run, why := b.answerableRun(ctx, cb.View.PrivateMetadata, user)
		if why != "" {
			refusal = why
			return nil
		}
		// The cache may lag the last write; the API server's copy makes conflicts rare.
		if err := reader.Get(ctx, client.ObjectKeyFromObject(run), run); err != nil {
			return err
		}
		if !answerable(st, run, user, b.clock.Now()) {
			refusal = closedRun(st, run)
			return nil
		}
		patch := client.MergeFromWithOptions(run.DeepCopy(), client.MergeFromWithOptimisticLock{})
		now := metav1.NewTime(b.clock.Now())
		for i := range run.Status.Participants {
			if p := &run.Status.Participants[i]; p.User == user {
				p.Answers, p.AnsweredAt = answers[:min(len(run.Spec.Questions), len(answers))], &now
			}
		}
		if run.Status.State == conchv1.RunCompleted {
			run.Status.AnswersRevision++
		}
		return b.client.Status().Patch(ctx, run, patch)
	})
	if err != nil {
		b.log.Error(err, "Cannot store stand-up answers", "user", user)
		return fmt.Sprintf("I could not save your answers (%v). Please submit again.", err)
	}
	return refusal
}
