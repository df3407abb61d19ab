package slackbot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
)

// handleInteraction carries out a button click (Release, Extend) and answers through the response URL:
// replacing the message the button was on, or, when refused, with a note only the clicker sees.
func (b *Bot) handleInteraction(ctx context.Context, cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID != ActionRelease && a.ActionID != ActionExtend {
			continue
		}
		text, replace := b.click(ctx, cb, a)
		if cb.ResponseURL == "" {
			continue
		}
		msg := &slack.WebhookMessage{Text: text, ReplaceOriginal: replace}
		if !replace {
			msg.ResponseType = slack.ResponseTypeEphemeral
		}
		if err := slack.PostWebhookContext(ctx, cb.ResponseURL, msg); err != nil {
			b.log.Error(err, "Cannot answer a Slack button", "user", cb.User.ID)
		}
	}
}

// click performs one button action and returns the answer, and whether it replaces the original message.
func (b *Bot) click(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) (string, bool) {
	parts := strings.Split(a.Value, "/")
	if len(parts) < 2 {
		return "That button is broken; please use the slash command.", false
	}
	r := &conchv1.Reservation{}
	if err := b.client.Get(ctx, types.NamespacedName{Namespace: parts[0], Name: parts[1]}, r); err != nil {
		return "That Reservation is gone.", true
	}
	user := cb.User.ID
	holder, err := b.people.userOf(ctx, r.Spec.Holder)
	if err != nil {
		return fmt.Sprintf("I could not check who holds *%s*: %v. Try again in a moment.", r.Status.ResourceName, err), false
	}
	byOther := holder != user
	if byOther && !b.isAdmin(user) {
		verb := "release"
		if a.ActionID == ActionExtend {
			verb = "extend"
		}
		return b.onlyHolder(r.Spec.Holder, holder, verb), false
	}
	if r.Status.State.IsFinal() || r.Spec.Released {
		return fmt.Sprintf("Your Reservation for *%s* has already ended (%s).", r.Status.ResourceName, strings.ToLower(string(r.Status.State))), true
	}
	key := requestKey(cb.Team.ID, user, cb.TriggerID, a.ActionID, a.Value, a.ActionTs)
	switch a.ActionID {
	case ActionRelease:
		name := cb.User.Name
		if err := b.releaseOne(ctx, r, byOther, user, name, key); err != nil {
			return fmt.Sprintf("I could not release *%s*: %v", r.Status.ResourceName, err), false
		}
		return fmt.Sprintf("Released *%s*. Thanks for handing it over!", r.Status.ResourceName), true
	default:
		if len(parts) != 3 {
			return "That button is broken; please use the slash command.", false
		}
		d, err := time.ParseDuration(parts[2])
		if err != nil || d <= 0 {
			return "That button is broken; please use the slash command.", false
		}
		res := &conchv1.Resource{}
		if err := b.client.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: r.Status.ResourceName}, res); err != nil {
			return fmt.Sprintf("I could not read *%s*: %v", r.Status.ResourceName, err), false
		}
		until, clamped, err := b.extendOne(ctx, r, res, d, key)
		if err != nil {
			return fmt.Sprintf("I could not extend *%s*: %v", r.Status.ResourceName, err), false
		}
		return fmt.Sprintf("Extended: you hold *%s* until %s.%s", r.Status.ResourceName, When(until), clampedNote(res, clamped)), true
	}
}

// onlyHolder refuses a change to a hold, saying who may make it: the holder (holder, shown as the Slack user
// holderID when Slack knows them) and, when there are any, the admins.
func (b *Bot) onlyHolder(holder, holderID, verb string) string {
	who := Who(holder)
	if holderID != "" {
		who = Who(conchv1.SlackHolderPrefix + holderID)
	}
	if len(b.cfg.Admins) == 0 {
		return fmt.Sprintf("Only the holder (%s) can %s it.", who, verb)
	}
	return fmt.Sprintf("Only the holder (%s) or an admin can %s it.", who, verb)
}
