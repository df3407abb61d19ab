package slackbot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
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

func (m standupMessenger) Prompt(st *conchv1.Standup, run *conchv1.StandupRun, user string) {
	m.b.out.enqueue(outMsg{user: user, msg: StandupPromptDM(st, run)})
}

func (m standupMessenger) Remind(st *conchv1.Standup, run *conchv1.StandupRun, user string) {
	m.b.out.enqueue(outMsg{user: user, msg: StandupReminderDM(st, run)})
}

func (m standupMessenger) Summary(st *conchv1.Standup, run *conchv1.StandupRun, envs standup.Environments) {
	for _, msg := range StandupSummary(st, run, envs) {
		m.b.out.enqueue(outMsg{channel: st.Spec.Channel, msg: msg})
	}
	if len(st.Spec.Charts.Resources) > 0 {
		// Drawn when the outbox gets to it, after the summary, from the Standup as it was at the summary.
		st := st.DeepCopy()
		m.b.out.enqueue(outMsg{channel: st.Spec.Channel, do: func(ctx context.Context) error { return m.b.postStandupCharts(ctx, st) }})
	}
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
	st, run, p, refusal := b.answerableRun(ctx, ref, cb.User.ID)
	if refusal != "" {
		return refusal
	}
	if _, err := b.API().OpenViewContext(ctx, cb.TriggerID, StandupAnswerModal(st, run, p.Answers)); err != nil {
		b.log.Error(err, "Cannot open the stand-up questions", "user", cb.User.ID, "standup", st.Name)
		return fmt.Sprintf("I could not open the questions (Slack said: %v). Please click *Answer* again.", err)
	}
	return ""
}

// answerableRun finds the run a button or modal is about and the user's place in it, or says why they cannot
// answer it.
func (b *Bot) answerableRun(ctx context.Context, ref, user string) (*conchv1.Standup, *conchv1.StandupRun, *conchv1.StandupParticipant, string) {
	ns, name, runID, ok := parseStandupRef(ref)
	if !ok {
		return nil, nil, nil, "That button is broken; it names no stand-up."
	}
	st := &conchv1.Standup{}
	key := types.NamespacedName{Namespace: ns, Name: name}
	err := b.client.Get(ctx, key, st)
	if apierrors.IsNotFound(err) && b.reader != nil {
		err = b.reader.Get(ctx, key, st)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil, nil, fmt.Sprintf("The *%s* stand-up no longer exists.", name)
	case err != nil:
		return nil, nil, nil, fmt.Sprintf("I could not read the *%s* stand-up: %v. Try again in a moment.", name, err)
	}
	run := st.Status.CurrentRun
	if run == nil || run.ID != runID || !b.clock.Now().Before(run.Deadline.Time) {
		return nil, nil, nil, closedRun(st, runID)
	}
	for i := range run.Participants {
		if run.Participants[i].User == user {
			return st, run, &run.Participants[i], ""
		}
	}
	return nil, nil, nil, fmt.Sprintf("You are not asked in this *%s* stand-up.", name)
}

// closedRun says that a run no longer takes answers, and what became of it.
func closedRun(st *conchv1.Standup, runID string) string {
	for _, h := range st.Status.History {
		if h.Outcome == conchv1.OutcomeCancelled && conchv1.StandupRunID(h.ScheduledTime.Time, h.Trigger) == runID {
			return fmt.Sprintf("That *%s* stand-up was cancelled.", st.Name)
		}
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

// saveAnswers writes the submitted answers into the run in status, with optimistic concurrency (the controller
// writes the same status), and returns "" or why it did not.
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
		st, run, p, why := b.answerableRun(ctx, cb.View.PrivateMetadata, user)
		if why != "" {
			refusal = why
			return nil
		}
		// The cache may lag the last write; the API server's copy makes conflicts rare.
		if err := reader.Get(ctx, client.ObjectKeyFromObject(st), st); err != nil {
			return err
		}
		if cur := st.Status.CurrentRun; cur == nil || cur.ID != run.ID {
			refusal = closedRun(st, run.ID)
			return nil
		}
		run = st.Status.CurrentRun
		for i := range run.Participants {
			if run.Participants[i].User == p.User {
				p = &run.Participants[i]
			}
		}
		patch := client.MergeFromWithOptions(st.DeepCopy(), client.MergeFromWithOptimisticLock{})
		now := metav1.NewTime(b.clock.Now())
		p.Answers, p.AnsweredAt = answers[:min(len(run.Questions), len(answers))], &now
		return b.client.Status().Patch(ctx, st, patch)
	})
	if err != nil {
		b.log.Error(err, "Cannot store stand-up answers", "user", user)
		return fmt.Sprintf("I could not save your answers (%v). Please submit again.", err)
	}
	return refusal
}
