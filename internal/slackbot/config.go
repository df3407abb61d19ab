// Package slackbot is Conch's Slack front end, in socket mode: slash commands become Reservations, buttons
// release and extend them, and a notifier tells people about grants, expiries and handovers. It runs inside the
// manager, on the leader only, and only when a bot token and an app-level token are configured.
package slackbot

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Config configures the Slack front end.
type Config struct {
	// BotToken (xoxb-) calls the Web API; AppToken (xapp-) opens the socket-mode connection.
	BotToken, AppToken string
	// APIURL is the Web API's base URL, ending in "/". Empty: Slack's own.
	APIURL string
	// Command is the slash command, "/dibs" by default.
	Command string
	// DefaultNamespace is where commands act when the channel is not mapped.
	DefaultNamespace string
	// ChannelNamespaces maps channel IDs to the namespace commands in that channel act on.
	ChannelNamespaces map[string]string
	// Namespaces, when set, are the only namespaces commands may act on (the manager's own scope); a channel
	// mapped elsewhere gets a clear answer instead of an error from deep inside.
	Namespaces []string
	// Admins are Slack user IDs allowed to release anyone's hold.
	Admins []string
	// WarnBefore is how long before expiry a holder is warned.
	WarnBefore time.Duration
	// NudgeInterval is the least time between two nudges of one holder about one hold (`/dibs nudge`); 15
	// minutes by default.
	NudgeInterval time.Duration
	// PostInterval is the least time between two messages to one channel or person (Slack allows about one per
	// second per channel); 1 s by default.
	PostInterval time.Duration
	// ReplyWait bounds how long a command waits for the controllers' decision before replying.
	ReplyWait time.Duration
	// PingInterval is how often the client expects pings from Slack (tests shorten it).
	PingInterval time.Duration
}

// DefaultNudgeInterval is Config.NudgeInterval's default: a holder hears "someone is waiting" at most four times
// an hour about one hold, however many people ask.
const DefaultNudgeInterval = 15 * time.Minute

// Enabled reports whether both tokens are configured.
func (c *Config) Enabled() bool { return c.BotToken != "" && c.AppToken != "" }

func (c *Config) defaults() {
	if c.Command == "" {
		c.Command = "/dibs"
	}
	if c.DefaultNamespace == "" {
		c.DefaultNamespace = "default"
	}
	if c.WarnBefore == 0 {
		c.WarnBefore = 10 * time.Minute
	}
	if c.NudgeInterval <= 0 {
		c.NudgeInterval = DefaultNudgeInterval
	}
	if c.PostInterval == 0 {
		c.PostInterval = time.Second
	}
	if c.ReplyWait == 0 {
		c.ReplyWait = 2 * time.Second
	}
}

// Validate checks the tokens' kinds, so that swapped tokens fail at start with a message and not later with
// "invalid_auth".
func (c *Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if !strings.HasPrefix(c.BotToken, "xoxb-") {
		return fmt.Errorf("the Slack bot token must start with xoxb-")
	}
	if !strings.HasPrefix(c.AppToken, "xapp-") {
		return fmt.Errorf("the Slack app-level token must start with xapp-")
	}
	if c.APIURL != "" && !strings.HasSuffix(c.APIURL, "/") {
		return fmt.Errorf("the Slack API URL must end with /")
	}
	return nil
}

// Environment variables and Secret keys holding the tokens.
const (
	EnvBotToken = "SLACK_BOT_TOKEN"
	EnvAppToken = "SLACK_APP_TOKEN"
	KeyBotToken = "bot-token"
	KeyAppToken = "app-token"
)

// TokensFromEnv fills the tokens from SLACK_BOT_TOKEN and SLACK_APP_TOKEN when set.
func (c *Config) TokensFromEnv() {
	if v := os.Getenv(EnvBotToken); v != "" {
		c.BotToken = strings.TrimSpace(v)
	}
	if v := os.Getenv(EnvAppToken); v != "" {
		c.AppToken = strings.TrimSpace(v)
	}
}

// TokensFromSecret fills the tokens from the keys bot-token and app-token of the Secret "namespace/name".
// The tokens are never logged.
func (c *Config) TokensFromSecret(ctx context.Context, r client.Reader, ref string) error {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("the Slack Secret must be given as namespace/name, not %q", ref)
	}
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		return fmt.Errorf("reading the Slack tokens from Secret %s: %w", ref, err)
	}
	c.BotToken = strings.TrimSpace(string(s.Data[KeyBotToken]))
	c.AppToken = strings.TrimSpace(string(s.Data[KeyAppToken]))
	return nil
}

// ParseChannelNamespaces parses "C123=team-a,C456=team-b".
func ParseChannelNamespaces(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		ch, ns, ok := strings.Cut(pair, "=")
		if !ok || ch == "" || ns == "" {
			return nil, fmt.Errorf("channel mapping %q is not CHANNEL_ID=namespace", pair)
		}
		out[strings.TrimSpace(ch)] = strings.TrimSpace(ns)
	}
	return out, nil
}
