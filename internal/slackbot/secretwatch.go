package slackbot

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// SecretWatcher follows the one Secret that holds the Slack tokens and hands new tokens to the Bot, so that
// rotating them is updating the Secret. It watches that Secret by name only (a field selector on metadata.name),
// which RBAC can grant with resourceNames: Conch never lists or watches other Secrets.
type SecretWatcher struct {
	bot       *Bot
	cfg       *rest.Config
	namespace string
	name      string
}

var _ manager.LeaderElectionRunnable = (*SecretWatcher)(nil)

// NewSecretWatcher returns a watcher of the Secret ref ("namespace/name") for bot.
func NewSecretWatcher(bot *Bot, cfg *rest.Config, ref string) (*SecretWatcher, error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return nil, fmt.Errorf("the Slack Secret must be given as namespace/name, not %q", ref)
	}
	return &SecretWatcher{bot: bot, cfg: cfg, namespace: ns, name: name}, nil
}

// NeedLeaderElection is true: the Bot it feeds runs on the leader only.
func (w *SecretWatcher) NeedLeaderElection() bool { return true }

// Start watches the Secret until ctx ends.
func (w *SecretWatcher) Start(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(w.cfg)
	if err != nil {
		return err
	}
	lw := toolscache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "secrets", w.namespace,
		fields.OneTermEqualSelector("metadata.name", w.name))
	informer := toolscache.NewSharedInformer(lw, &corev1.Secret{}, 0)
	update := func(obj any) {
		s, ok := obj.(*corev1.Secret)
		if !ok {
			return
		}
		bot := strings.TrimSpace(string(s.Data[KeyBotToken]))
		app := strings.TrimSpace(string(s.Data[KeyAppToken]))
		if err := w.bot.Rotate(bot, app); err != nil {
			w.bot.log.Error(err, "Ignoring the updated Slack Secret", "secret", w.namespace+"/"+w.name)
		}
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj any) { update(obj) },
	}); err != nil {
		return err
	}
	informer.RunWithContext(ctx)
	return nil
}
