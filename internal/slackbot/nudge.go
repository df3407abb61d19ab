package slackbot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"k8s.io/apimachinery/pkg/types"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/text"
)

// nudge answers `/dibs nudge <resource>`: each holder of res whom Slack can DM, and who was not nudged about this
// hold within Config.NudgeInterval, gets a DM saying who would like it, with Release and Extend buttons. The
// asker is told whom Conch nudged, and why not the others.
func (b *Bot) nudge(ctx context.Context, cmd slack.SlashCommand, res *conchv1.Resource) reply {
	if len(res.Status.Holders) == 0 {
		return ephemeral("Nobody holds *%s*, so there is nobody to nudge. Take it: `%s %s`.", res.Name, b.cfg.Command, res.Name)
	}
	users := make([]string, len(res.Status.Holders))
	for i, h := range res.Status.Holders {
		user, err := b.people.userOf(ctx, h.Holder)
		if err != nil {
			return ephemeral("I could not check who holds *%s*: %s. Try again in a moment.", res.Name, escape(err.Error()))
		}
		if user == cmd.UserID {
			return ephemeral("You hold *%s* yourself, so there is nobody to nudge. `%s off %s` hands it over.", res.Name, b.cfg.Command, res.Name)
		}
		users[i] = user
	}
	lines := make([]string, 0, len(users))
	for i, h := range res.Status.Holders {
		lines = append(lines, b.nudgeOne(ctx, cmd.UserID, res, h, users[i]))
	}
	return ephemeral("%s", text.Truncate(strings.Join(lines, "\n"), 3000, text.MoreLines))
}

// nudgeOne nudges the holder of one hold, the Slack user user ("" when Slack cannot DM them), and says what it
// did. The nudge is recorded on the holding Reservation (conchv1.AnnotationNudgedAt) before it is sent, so that
// a redelivered command, another asker or a restarted manager finds it and sends nothing: a nudge is sent at most
// once per interval, and lost if the manager stops between the record and the send.
func (b *Bot) nudgeOne(ctx context.Context, asker string, res *conchv1.Resource, h conchv1.ResourceHolder, user string) string {
	who := Who(h.Holder)
	if user == "" {
		return fmt.Sprintf("%s is not someone Slack can DM (a pipeline or a service), so I cannot nudge it; its hold ends %s.",
			who, When(h.Until.Time))
	}
	who = Who(conchv1.SlackHolderPrefix + user)
	r := &conchv1.Reservation{}
	if err := b.get(ctx, types.NamespacedName{Namespace: res.Namespace, Name: h.Reservation}, r); err != nil || string(r.UID) != h.UID {
		return fmt.Sprintf("%s's hold has just ended.", who)
	}
	now := b.clock.Now()
	var last time.Time
	recorded := false
	err := b.patchSpec(ctx, r, func(r *conchv1.Reservation) (bool, error) {
		recorded = false
		if r.Status.State != conchv1.StateGranted || r.Spec.Released || r.Status.ExpiresAt == nil {
			return false, nil
		}
		if t, ok := nudgedAt(r); ok && now.Sub(t) < b.cfg.NudgeInterval {
			last = t
			return false, nil
		}
		if r.Annotations == nil {
			r.Annotations = map[string]string{}
		}
		r.Annotations[conchv1.AnnotationNudgedAt] = now.UTC().Format(time.RFC3339)
		recorded = true
		return true, nil
	})
	switch {
	case err != nil:
		return fmt.Sprintf("I could not nudge %s: %s", who, escape(err.Error()))
	case !last.IsZero():
		return fmt.Sprintf("%s was nudged %s ago; I nudge a holder at most once every %s about one hold. Their hold ends %s.",
			who, ago(now.Sub(last)), ShortDuration(b.cfg.NudgeInterval), When(r.Status.ExpiresAt.Time))
	case !recorded:
		return fmt.Sprintf("%s's hold has just ended.", who)
	}
	b.out.enqueue(outMsg{user: user, msg: NudgeDM(r, asker, res.Status.Waiting)})
	b.recorder.Eventf(r, nil, "Normal", "Nudged", "Nudge", "Slack user %s asked the holder %s to hand %s over", asker, r.Spec.Holder, res.Name)
	b.log.V(1).Info("Nudged a holder", "resource", res.Name, "reservation", r.Name, "holder", user, "by", asker)
	return fmt.Sprintf("I nudged %s, who holds *%s* until %s.", who, res.Name, When(r.Status.ExpiresAt.Time))
}

// nudgedAt reads conchv1.AnnotationNudgedAt; a value that is no time counts as no nudge.
func nudgedAt(r *conchv1.Reservation) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, r.Annotations[conchv1.AnnotationNudgedAt])
	return t, err == nil
}

// ago renders a time since, in whole minutes, as people say it: "less than a minute", "1 minute", "7 minutes".
func ago(d time.Duration) string {
	switch m := int(d / time.Minute); {
	case m < 1:
		return "less than a minute"
	case m == 1:
		return "1 minute"
	default:
		return fmt.Sprintf("%d minutes", m)
	}
}
