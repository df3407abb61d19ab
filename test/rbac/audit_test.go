package rbac

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// call is what RBAC authorises: a verb on a resource (or its subresource) of an API group.
type call struct {
	verb, group, resource, subresource string
}

func (c call) String() string {
	group := c.group
	if group == "" {
		group = "core"
	}
	r := c.resource
	if c.subresource != "" {
		r += "/" + c.subresource
	}
	return fmt.Sprintf("%s %s %s", c.verb, group, r)
}

// auditEvent is the part of an audit.k8s.io/v1 Event the test reads.
type auditEvent struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		APIGroup    string `json:"apiGroup"`
		Namespace   string `json:"namespace"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// observed is what one user asked of the API server: every call with its count by namespace ("" for a request
// across namespaces or of a cluster-scoped resource), and those refused (403) with a request each.
type observed struct {
	calls  map[call]map[string]int
	denied map[call]string
}

// count is how often c was called, in any namespace.
func (o observed) count(c call) int {
	n := 0
	for _, k := range o.calls[c] {
		n += k
	}
	return n
}

// readAudit reads the audit log for the requests user made (directly or impersonated). Requests for no resource
// (discovery, /version) are not RBAC's resource rules and are left out.
func readAudit(t *testing.T, path, user string) observed {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	out := observed{calls: map[call]map[string]int{}, denied: map[call]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		who := e.User.Username
		if e.ImpersonatedUser != nil {
			who = e.ImpersonatedUser.Username
		}
		if who != user || e.ObjectRef == nil {
			continue
		}
		c := call{verb: e.Verb, group: e.ObjectRef.APIGroup, resource: e.ObjectRef.Resource, subresource: e.ObjectRef.Subresource}
		if out.calls[c] == nil {
			out.calls[c] = map[string]int{}
		}
		out.calls[c][e.ObjectRef.Namespace]++
		if e.ResponseStatus != nil && e.ResponseStatus.Code == 403 {
			out.denied[c] = e.RequestURI
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// grant is a role bound to the ServiceAccount: the calls it allows, and where.
type grant struct {
	// role is "ClusterRole <name>" or "Role <name>".
	role string
	// namespace is where the binding applies; empty for a ClusterRoleBinding (everywhere).
	namespace string
	calls     map[call]bool
}

// allows reports whether g allows c in namespace ns.
func (g grant) allows(c call, ns string) bool {
	return g.calls[c] && (g.namespace == "" || g.namespace == ns)
}

// usedBy reports whether seen has c where g applies.
func (g grant) usedBy(seen observed, c call) bool {
	if g.namespace == "" {
		return seen.count(c) > 0
	}
	return seen.calls[c][g.namespace] > 0
}

// boundRoles returns the roles (ClusterRoles and Roles) that objs bind to the ServiceAccount ns/name. A rule's
// resourceNames are not compared here: test/delivery checks that scope.
func boundRoles(t *testing.T, objs []*unstructured.Unstructured, ns, name string) []grant {
	t.Helper()
	rules := map[string][]rbacv1.PolicyRule{}
	var out []grant
	for _, u := range objs {
		switch u.GetKind() {
		case "ClusterRole", "Role":
			var r rbacv1.Role // a ClusterRole's rules decode the same way
			convert(t, u, &r)
			rules[u.GetKind()+" "+u.GetName()] = r.Rules
		case "ClusterRoleBinding", "RoleBinding":
			var b rbacv1.RoleBinding
			convert(t, u, &b)
			for _, s := range b.Subjects {
				if s.Kind == rbacv1.ServiceAccountKind && s.Name == name && s.Namespace == ns {
					out = append(out, grant{role: b.RoleRef.Kind + " " + b.RoleRef.Name, namespace: b.Namespace})
				}
			}
		}
	}
	for i, g := range out {
		rs, ok := rules[g.role]
		if !ok {
			t.Fatalf("%s is bound to %s/%s but not installed", g.role, ns, name)
		}
		out[i].calls = map[call]bool{}
		for _, r := range rs {
			for _, group := range r.APIGroups {
				for _, res := range r.Resources {
					for _, verb := range r.Verbs {
						if group == "*" || res == "*" || verb == "*" {
							t.Errorf("%s grants a wildcard (%s %s %s): the manager's roles name what they grant", g.role, verb, group, res)
						}
						resource, sub, _ := strings.Cut(res, "/")
						out[i].calls[call{verb: verb, group: group, resource: resource, subresource: sub}] = true
					}
				}
			}
		}
	}
	return out
}

func convert(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// sorted lists calls in a stable order for messages.
func sorted[V any](m map[call]V) []call {
	out := make([]call, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
