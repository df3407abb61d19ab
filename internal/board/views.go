package board

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	conchv1 "github.com/conch-dev/conch/api/v1alpha1"
	"github.com/conch-dev/conch/internal/history"
)

// view is what a page shows: its kind selects the template of its main content.
type view struct {
	// Kind is overview, resource, contention or notFound.
	Kind  string
	Title string
	// Path is the page's own path and query, which its live stream renders again.
	Path string
	Now  time.Time
	// Error, when set, says what could not be read; the rest of the page shows what could.
	Error string

	Overview   []namespaceGroup
	Resource   *resourceCard
	Timeline   *timeline
	Handovers  []handover
	Contention *contention
}

// view renders nothing: it reads the cache (and histories) into the view of the page at u.
func (s *Server) view(ctx context.Context, u *url.URL) (view, int) {
	now := s.opts.Clock.Now()
	v := view{Path: u.Path, Now: now}
	if u.RawQuery != "" {
		v.Path += "?" + u.RawQuery
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case u.Path == "/":
		v.Kind, v.Title = "overview", "Resources"
		ns := u.Query().Get("namespace")
		if ns != "" {
			v.Title = "Resources in " + ns
		}
		ress, err := s.resources(ctx, ns)
		if err != nil {
			v.Error = "Cannot read the Resources: " + err.Error()
		}
		v.Overview = groupByNamespace(ress, s.purposes(ctx, ress), now)
	case len(parts) == 3 && parts[0] == "resources":
		ns, name := parts[1], parts[2]
		res := &conchv1.Resource{}
		if !s.allowed(ns) || s.cache.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, res) != nil {
			return view{Kind: "notFound", Title: "Not found", Path: v.Path, Now: now}, http.StatusNotFound
		}
		v.Kind, v.Title = "resource", name
		card := cardOf(res, s.purposes(ctx, []conchv1.Resource{*res}), now)
		v.Resource = &card
		holds, err := s.history.Holds(ctx, ns, name, now.Add(-timelineSpan))
		if err != nil {
			v.Error = "Cannot read the history: " + err.Error()
		}
		v.Timeline = buildTimeline(card, holds, now)
		v.Handovers = recentHandovers(holds, card.Holders, 10)
	case u.Path == "/contention":
		v.Kind, v.Title = "contention", "Contention"
		c, err := s.contention(ctx, u.Query(), now)
		if err != nil {
			v.Error = err.Error()
		}
		v.Contention = c
	default:
		return view{Kind: "notFound", Title: "Not found", Path: v.Path, Now: now}, http.StatusNotFound
	}
	return v, http.StatusOK
}

// resources lists the Resources the board shows (of namespace ns, or all when empty), by namespace and name.
func (s *Server) resources(ctx context.Context, ns string) ([]conchv1.Resource, error) {
	var list conchv1.ResourceList
	var opts []client.ListOption
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := s.cache.List(ctx, &list, opts...); err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(list.Items, func(r conchv1.Resource) bool { return !s.allowed(r.Namespace) })
	slices.SortFunc(out, func(a, b conchv1.Resource) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// purposes reads, from the cache, the holders' own words (spec.reason) of the Reservations in the ledgers of
// ress, by UID.
func (s *Server) purposes(ctx context.Context, ress []conchv1.Resource) map[types.UID]string {
	out := map[types.UID]string{}
	get := func(ns, name, uid string) {
		r := &conchv1.Reservation{}
		if s.cache.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r) == nil && string(r.UID) == uid && r.Spec.Reason != "" {
			out[r.UID] = r.Spec.Reason
		}
	}
	for _, res := range ress {
		for _, h := range res.Status.Holders {
			get(res.Namespace, h.Reservation, h.UID)
		}
		for _, q := range res.Status.Queue {
			get(res.Namespace, q.Reservation, q.UID)
		}
	}
	return out
}

// contention reads the histories of the Resources the query asks for (?weeks=1..5, ?namespace=, ?tz=) into days.
func (s *Server) contention(ctx context.Context, q url.Values, now time.Time) (*contention, error) {
	c := &contention{Weeks: 4, TZ: "UTC", Namespace: q.Get("namespace"), WeekChoices: []int{1, 2, 3, 4, 5}}
	if w, err := strconv.Atoi(q.Get("weeks")); err == nil && w >= 1 && w <= 5 {
		c.Weeks = w
	}
	loc := time.UTC
	if tz := q.Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || strings.Contains(tz, "..") {
			return c, errBadZone(tz)
		}
		loc, c.TZ = l, tz
	}
	ress, err := s.resources(ctx, c.Namespace)
	if err != nil {
		return c, err
	}
	for _, r := range ress {
		c.Namespaces = appendUnique(c.Namespaces, r.Namespace)
	}
	// Whole days: from midnight c.Weeks weeks ago (in the zone) to now.
	y, m, d := now.In(loc).Date()
	from := time.Date(y, m, d-7*c.Weeks+1, 0, 0, 0, 0, loc)
	var firstErr error
	for _, r := range ress {
		holds, err := s.history.Holds(ctx, r.Namespace, r.Name, from)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		c.Resources = append(c.Resources, contentionOf(r.Namespace, r.Name, history.Daily(holds, loc, from, now)))
	}
	return c, firstErr
}

type errBadZone string

func (e errBadZone) Error() string {
	return "Unknown time zone " + strconv.Quote(string(e)) + ": use a name such as Europe/Berlin; showing UTC"
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
