package slackbot

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/chat"
)

// Watchers (`/dibs watch`) are kept on the Resources themselves, in the annotation conchv1.AnnotationWatchers, so
// that a restart keeps them and a platform team reads them with kubectl: a Slack user ID per person who watches
// the Resource, and "<user>:<label>=<value>" for one who watches a pool, on the pool's first member by name. The
// watcher below reacts to changes of Resources in the manager's cache: when what someone watches is free, it
// removes their entry (with a resourceVersion precondition, so the Resource was free in the version it saw and no
// second reconcile removes it again) and then DMs them, once.

// watcher is one entry of conchv1.AnnotationWatchers.
type watcher struct {
	// User is the Slack user ID to DM.
	User string
	// Pool is "label=value" for a pool watch, "" for a watch of the Resource the entry is on.
	Pool string
}

func (w watcher) String() string {
	if w.Pool == "" {
		return w.User
	}
	return w.User + ":" + w.Pool
}

// parseWatchers reads conchv1.AnnotationWatchers. Entries that are no Slack user ID (and pool), which only a
// hand edit makes, are dropped, as are repeats; so is anything past conchv1.MaxWatchers.
func parseWatchers(s string) []watcher {
	var out []watcher
	for _, f := range strings.Fields(s) {
		user, pool, hasPool := strings.Cut(f, ":")
		w := watcher{User: user, Pool: pool}
		if !slackID.MatchString(user) || (hasPool && !chat.ValidPool(pool)) || slices.Contains(out, w) {
			continue
		}
		if out = append(out, w); len(out) == conchv1.MaxWatchers {
			break
		}
	}
	return out
}

// formatWatchers writes conchv1.AnnotationWatchers.
func formatWatchers(ws []watcher) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.String()
	}
	return strings.Join(parts, " ")
}

// poolText shows a pool in a message, as code: it is a label and a value, checked by chat.ValidPool.
func poolText(pool string) string { return "`" + strings.ReplaceAll(escape(pool), "`", "'") + "`" }

// watchCommand answers `/dibs watch` and `/dibs unwatch`, of a Resource or of a pool.
func (b *Bot) watchCommand(ctx context.Context, cmd slack.SlashCommand, ns string, c chat.Command) reply {
	if c.Pool != "" {
		return b.watchPool(ctx, cmd, ns, c)
	}
	res, miss := b.resource(ctx, ns, c.Resource)
	if res == nil {
		return miss
	}
	w := watcher{User: cmd.UserID}
	if c.Verb == chat.VerbUnwatch {
		removed, err := b.editWatchers(ctx, res, func(ws []watcher) ([]watcher, bool) {
			if !slices.Contains(ws, w) {
				return ws, false
			}
			return slices.DeleteFunc(ws, func(x watcher) bool { return x == w }), true
		})
		switch {
		case err != nil:
			return ephemeral("I could not stop your watch of *%s*: %s", res.Name, escape(err.Error()))
		case !removed:
			return ephemeral("You do not watch *%s*.", res.Name)
		}
		return ephemeral("You no longer watch *%s*.", res.Name)
	}
	if res.IsFree() {
		return ephemeral("*%s* is free now, so there is nothing to watch. Take it: `%s %s`", res.Name, b.cfg.Command, res.Name)
	}
	return b.addWatcher(ctx, res, w, fmt.Sprintf("*%s*", res.Name),
		fmt.Sprintf("I will DM you once *%s* is free. You are not in its queue (`%s %s` joins it); `%s unwatch %s` stops this.",
			res.Name, b.cfg.Command, res.Name, b.cfg.Command, res.Name))
}

// watchPool answers `/dibs watch pool=web` and `/dibs unwatch pool=web`. A pool watch is kept on the pool's first
// member by name; unwatch looks for it on every member, in case members came and went.
func (b *Bot) watchPool(ctx context.Context, cmd slack.SlashCommand, ns string, c chat.Command) reply {
	members, err := b.poolMembers(ctx, ns, c.Pool)
	if err != nil {
		return ephemeral("I could not list the Resources of the pool %s: %s", poolText(c.Pool), escape(err.Error()))
	}
	w := watcher{User: cmd.UserID, Pool: c.Pool}
	if c.Verb == chat.VerbUnwatch {
		found := false
		for i := range members {
			removed, err := b.editWatchers(ctx, &members[i], func(ws []watcher) ([]watcher, bool) {
				if !slices.Contains(ws, w) {
					return ws, false
				}
				return slices.DeleteFunc(ws, func(x watcher) bool { return x == w }), true
			})
			if err != nil {
				return ephemeral("I could not stop your watch of the pool %s: %s", poolText(c.Pool), escape(err.Error()))
			}
			found = found || removed
		}
		if !found {
			return ephemeral("You do not watch the pool %s.", poolText(c.Pool))
		}
		return ephemeral("You no longer watch the pool %s.", poolText(c.Pool))
	}
	if len(members) == 0 {
		return ephemeral("No Resource here has the label %s, so there is no such pool to watch.", poolText(c.Pool))
	}
	for i := range members {
		if members[i].IsFree() {
			return ephemeral("*%s* of the pool %s is free now, so there is nothing to watch. Take it: `%s %s`",
				members[i].Name, poolText(c.Pool), b.cfg.Command, members[i].Name)
		}
	}
	names := make([]string, len(members))
	for i := range members {
		names[i] = members[i].Name
	}
	return b.addWatcher(ctx, &members[0], w, "the pool "+poolText(c.Pool),
		fmt.Sprintf("I will DM you once a Resource of the pool %s is free (%s). `%s unwatch %s` stops this.",
			poolText(c.Pool), strings.Join(names, ", "), b.cfg.Command, c.Pool))
}

// addWatcher records w on res and returns ok as the answer; what names what is watched in the other answers.
func (b *Bot) addWatcher(ctx context.Context, res *conchv1.Resource, w watcher, what, ok string) reply {
	already, full := false, false
	_, err := b.editWatchers(ctx, res, func(ws []watcher) ([]watcher, bool) {
		already, full = slices.Contains(ws, w), len(ws) >= conchv1.MaxWatchers
		if already || full {
			return ws, false
		}
		return append(ws, w), true
	})
	switch {
	case err != nil:
		return ephemeral("I could not record your watch of %s: %s", what, escape(err.Error()))
	case already:
		return ephemeral("You already watch %s; I will DM you once it is free.", what)
	case full:
		return ephemeral("%s already has %d watchers, the most I keep. Join the queue instead: `%s %s`.",
			what, conchv1.MaxWatchers, b.cfg.Command, res.Name)
	}
	return ephemeral("%s", ok)
}

// poolMembers lists the Resources of ns that have the label and value of pool, by name.
func (b *Bot) poolMembers(ctx context.Context, ns, pool string) ([]conchv1.Resource, error) {
	label, value := chat.PoolLabel(pool)
	var list conchv1.ResourceList
	if err := b.client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{label: value}); err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, func(a, b conchv1.Resource) int { return strings.Compare(a.Name, b.Name) })
	return list.Items, nil
}

// editWatchers changes the watchers of res with change, which returns the new list and whether it changed it. The
// patch carries res's resourceVersion; one that loses reads the Resource from the API server and applies change
// to that, a few times at most. res is updated to what was written.
func (b *Bot) editWatchers(ctx context.Context, res *conchv1.Resource, change func([]watcher) ([]watcher, bool)) (bool, error) {
	for attempt := 0; ; attempt++ {
		before := res.DeepCopy()
		next, changed := change(parseWatchers(res.Annotations[conchv1.AnnotationWatchers]))
		if !changed {
			return false, nil
		}
		setWatchers(res, next)
		err := b.client.Patch(ctx, res, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		if err == nil {
			return true, nil
		}
		if !apierrors.IsConflict(err) || attempt == 4 {
			return false, err
		}
		if err := b.reader.Get(ctx, client.ObjectKeyFromObject(res), res); err != nil {
			return false, err
		}
	}
}

// setWatchers writes ws into res's annotations, removing the annotation when nobody watches.
func setWatchers(res *conchv1.Resource, ws []watcher) {
	if len(ws) == 0 {
		delete(res.Annotations, conchv1.AnnotationWatchers)
		return
	}
	if res.Annotations == nil {
		res.Annotations = map[string]string{}
	}
	res.Annotations[conchv1.AnnotationWatchers] = formatWatchers(ws)
}

// watchReconciler DMs the watchers of a Resource once what they watch is free. It runs on the leader only, beside
// the Bot, and is woken by every change of a Resource in the cache: the Resource itself, and the Resources that
// keep watches of a pool the changed Resource belongs to.
type watchReconciler struct {
	bot    *Bot
	client client.Client
}

var _ reconcile.Reconciler = (*watchReconciler)(nil)

// Reconcile reads a Resource's watchers; those whose Resource or pool is free are removed from it, with a
// resourceVersion precondition, and only then DMed, so that each is DMed at most once. A conflict (the cache was
// behind) is returned, and the next pass decides on the newer version.
func (w *watchReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	res := &conchv1.Resource{}
	if err := w.client.Get(ctx, req.NamespacedName, res); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	watchers := parseWatchers(res.Annotations[conchv1.AnnotationWatchers])
	if len(watchers) == 0 {
		return reconcile.Result{}, nil
	}
	type due struct {
		w    watcher
		free *conchv1.Resource
	}
	var fired []due
	var keep []watcher
	freeOf := map[string]*conchv1.Resource{} // pool → a free member, nil when none
	for _, wt := range watchers {
		free := res
		if wt.Pool != "" {
			m, seen := freeOf[wt.Pool]
			if !seen {
				var err error
				if m, err = w.freeMember(ctx, res.Namespace, wt.Pool); err != nil {
					return reconcile.Result{}, err
				}
				freeOf[wt.Pool] = m
			}
			free = m
		} else if !res.IsFree() {
			free = nil
		}
		if free == nil {
			keep = append(keep, wt)
			continue
		}
		fired = append(fired, due{w: wt, free: free})
	}
	if len(fired) == 0 {
		return reconcile.Result{}, nil
	}
	before := res.DeepCopy()
	setWatchers(res, keep)
	if err := w.client.Patch(ctx, res, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return reconcile.Result{}, err
	}
	log := ctrl.LoggerFrom(ctx)
	for _, f := range fired {
		log.V(1).Info("Telling a watcher that a Resource is free", "user", f.w.User, "pool", f.w.Pool, "free", f.free.Name)
		w.bot.out.enqueue(outMsg{user: f.w.User, msg: WatchDM(f.free, f.w.Pool, w.bot.cfg.Command)})
	}
	return reconcile.Result{}, nil
}

// freeMember returns a free Resource of pool in ns (the first by name), or nil.
func (w *watchReconciler) freeMember(ctx context.Context, ns, pool string) (*conchv1.Resource, error) {
	members, err := w.bot.poolMembers(ctx, ns, pool)
	if err != nil {
		return nil, err
	}
	for i := range members {
		if members[i].IsFree() {
			return &members[i], nil
		}
	}
	return nil, nil
}

// keepersOf maps a changed Resource to itself and to the Resources of its namespace that keep a watch of a pool it
// belongs to (by its labels).
func (w *watchReconciler) keepersOf(ctx context.Context, o client.Object) []reconcile.Request {
	reqs := []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
	var list conchv1.ResourceList
	if err := w.client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot list the Resources that keep watches")
		return reqs
	}
	labels := o.GetLabels()
	for i := range list.Items {
		keeper := &list.Items[i]
		if keeper.Name == o.GetName() {
			continue
		}
		for _, wt := range parseWatchers(keeper.Annotations[conchv1.AnnotationWatchers]) {
			label, value := chat.PoolLabel(wt.Pool)
			if wt.Pool != "" && labels[label] == value {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(keeper)})
				break
			}
		}
	}
	return reqs
}

// setupWatcher registers the watcher with mgr.
func (b *Bot) setupWatcher(mgr ctrl.Manager) error {
	w := &watchReconciler{bot: b, client: mgr.GetClient()}
	return ctrl.NewControllerManagedBy(mgr).
		Named("slack-watch").
		Watches(&conchv1.Resource{}, handler.EnqueueRequestsFromMapFunc(w.keepersOf)).
		Complete(w)
}
