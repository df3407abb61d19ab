package slackbot

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"k8s.io/utils/clock"
)

// person is what Conch needs to know of a Slack user.
type person struct {
	ID   string
	Name string
	TZ   *time.Location
}

// userOf returns the Slack user ID of a holder: "slack:<id>", or an e-mail address Slack knows (users.lookupByEmail);
// "" for a holder that is no Slack user ("ci:deploy"). It decides who may act on a Reservation from Slack, so it
// reads the holder the way the Notifier does to decide who is told about it.
func (p *people) userOf(ctx context.Context, holder string) (string, error) {
	if id := SlackUserOf(holder); id != "" {
		return id, nil
	}
	if !isEmail(holder) {
		return "", nil
	}
	pr, ok, err := p.byEmail(ctx, holder)
	if err != nil || !ok {
		return "", err
	}
	return pr.ID, nil
}

// isEmail reports whether a holder is written as an e-mail address.
func isEmail(holder string) bool {
	return strings.Contains(holder, "@") && !strings.ContainsAny(holder, " :")
}

// people looks up Slack users (users.info, users.lookupByEmail) and remembers them for an hour: names and time
// zones rarely change, and Slack rate-limits the look-ups.
type people struct {
	api   func() *slack.Client
	clock clock.PassiveClock

	mu     sync.Mutex
	byID   map[string]cached
	byMail map[string]cached
}

type cached struct {
	p  person
	ok bool
	at time.Time
}

const peopleTTL = time.Hour

func newPeople(api func() *slack.Client, clk clock.PassiveClock) *people {
	return &people{api: api, clock: clk, byID: map[string]cached{}, byMail: map[string]cached{}}
}

// byUserID returns the user; on a Slack error it returns a person with the ID, the fallback name and UTC, so a
// command still works when users.info does not.
func (p *people) byUserID(ctx context.Context, id, fallbackName string) person {
	p.mu.Lock()
	c, ok := p.byID[id]
	p.mu.Unlock()
	if ok && c.ok && p.clock.Since(c.at) < peopleTTL {
		return c.p
	}
	u, err := p.api().GetUserInfoContext(ctx, id)
	if err != nil {
		return person{ID: id, Name: fallbackName, TZ: time.UTC}
	}
	pr := fromUser(u)
	p.mu.Lock()
	p.byID[id] = cached{p: pr, ok: true, at: p.clock.Now()}
	p.mu.Unlock()
	return pr
}

// byEmail finds the Slack user of an e-mail holder; ok is false when there is none.
func (p *people) byEmail(ctx context.Context, email string) (person, bool, error) {
	key := strings.ToLower(email)
	p.mu.Lock()
	c, hit := p.byMail[key]
	p.mu.Unlock()
	if hit && p.clock.Since(c.at) < peopleTTL {
		return c.p, c.ok, nil
	}
	u, err := p.api().GetUserByEmailContext(ctx, email)
	if err != nil {
		if strings.Contains(err.Error(), "users_not_found") {
			p.mu.Lock()
			p.byMail[key] = cached{at: p.clock.Now()}
			p.mu.Unlock()
			return person{}, false, nil
		}
		return person{}, false, err
	}
	pr := fromUser(u)
	p.mu.Lock()
	p.byMail[key] = cached{p: pr, ok: true, at: p.clock.Now()}
	p.mu.Unlock()
	return pr, true, nil
}

func fromUser(u *slack.User) person {
	pr := person{ID: u.ID, Name: u.Profile.DisplayName, TZ: time.UTC}
	if pr.Name == "" {
		pr.Name = u.RealName
	}
	if pr.Name == "" {
		pr.Name = u.Name
	}
	if loc, err := time.LoadLocation(u.TZ); err == nil && u.TZ != "" {
		pr.TZ = loc
	} else if u.TZOffset != 0 {
		pr.TZ = time.FixedZone(u.TZLabel, u.TZOffset)
	}
	return pr
}
