// Package deploy is the pure part of deploy on grant (docs/deploy.md): it renders a Resource's deploy patch with
// a Reservation's values, checks what it may touch, and decides what should be applied to the target for the
// Resource's current hold. It has no client and no clock; the DeployReconciler in controllers applies what it
// decides.
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/conch-dev/conch/internal/text"
)

// Vars are the values placeholders take.
type Vars struct {
	// Parameters are the Reservation's spec.parameters by name; nil for a default, which has none.
	Parameters map[string]string
	// Holder and Reservation are the holding Reservation's spec.holder and name; empty for a default.
	Holder, Reservation string
	// Resource is the Resource's name.
	Resource string
	// Holding is false for a default, which may name {{ .resource }} only.
	Holding bool
}

// MissingParameterError is a placeholder naming a parameter the Reservation does not carry.
type MissingParameterError struct {
	// Names are the missing parameters, sorted, without repeats.
	Names []string
}

// Error implements error.
func (e *MissingParameterError) Error() string {
	return fmt.Sprintf("the patch needs the parameter%s %s, which the Reservation does not set (spec.parameters)",
		plural(len(e.Names)), strings.Join(quoteAll(e.Names), ", "))
}

// InvalidPatchError is a patch (or default) that cannot be applied as written: not an object, a field Conch
// must not set, or a placeholder it does not know.
type InvalidPatchError struct {
	// Message says what is wrong, for the Resource's condition.
	Message string
}

// Error implements error.
func (e *InvalidPatchError) Error() string { return e.Message }

func invalid(format string, args ...any) *InvalidPatchError {
	return &InvalidPatchError{Message: fmt.Sprintf(format, args...)}
}

// MaxPatchBytes bounds a patch and its rendering: the API server keeps whole objects under 1.5 MB, and a patch
// is a small part of one.
const MaxPatchBytes = 256 << 10

// Render decodes raw (a partial object, JSON) and replaces the placeholders in its string values with vars. Keys
// are never rendered. Numbers keep their exact text. Every missing parameter is reported at once.
func Render(raw []byte, vars Vars) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	if len(raw) > MaxPatchBytes {
		return nil, invalid("the patch is %d bytes; at most %d", len(raw), MaxPatchBytes)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, invalid("the patch is not JSON: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("the patch must be an object (a part of the target), not %s", jsonType(v))
	}
	if err := checkFields(obj); err != nil {
		return nil, err
	}
	r := renderer{vars: vars, missing: map[string]bool{}}
	out := r.value(obj, "").(map[string]any)
	switch {
	case r.err != nil:
		return nil, r.err
	case len(r.missing) > 0:
		names := make([]string, 0, len(r.missing))
		for n := range r.missing {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, &MissingParameterError{Names: names}
	}
	return out, nil
}

// checkFields refuses the parts of an object that are not Conch's to set: its identity (the target names it),
// its status (a subresource an apply does not reach) and metadata beyond labels and annotations.
func checkFields(obj map[string]any) error {
	for _, k := range []string{"apiVersion", "kind", "status"} {
		if _, ok := obj[k]; ok {
			return invalid("the patch sets %s; the target names the object, and a patch sets its spec (and labels or annotations) only", k)
		}
	}
	md, ok := obj["metadata"]
	if !ok {
		return nil
	}
	m, ok := md.(map[string]any)
	if !ok {
		return invalid("the patch's metadata must be an object")
	}
	for k := range m {
		if k != "labels" && k != "annotations" {
			return invalid("the patch sets metadata.%s; of metadata, a patch may set labels and annotations only", k)
		}
	}
	return nil
}

type renderer struct {
	vars    Vars
	missing map[string]bool
	err     error
}

func (r *renderer) value(v any, path string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = r.value(e, path+"."+k)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = r.value(e, fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	case string:
		s, err := r.expand(t)
		if err != nil && r.err == nil {
			r.err = invalid("%s: %v", strings.TrimPrefix(path, "."), err)
		}
		return s
	default:
		return v
	}
}

// expand replaces each "{{ .name }}" in s. The only names are parameters.<name>, holder, reservation and
// resource; anything else between "{{" and "}}" is an error, so that a typo never reaches the target verbatim.
func (r *renderer) expand(s string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("%q opens a placeholder that does not close with }}", short(s[i:]))
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		val, err := r.lookup(name)
		if err != nil {
			return "", err
		}
		b.WriteString(val)
		s = s[i+j+2:]
	}
}

func (r *renderer) lookup(name string) (string, error) {
	switch {
	case name == ".resource":
		return r.vars.Resource, nil
	case (name == ".holder" || name == ".reservation" || strings.HasPrefix(name, ".parameters.")) && !r.vars.Holding:
		return "", fmt.Errorf("{{ %s }} has no value here: a default is applied when nobody holds the Resource, and may name {{ .resource }} only", short(name))
	case name == ".holder":
		return r.vars.Holder, nil
	case name == ".reservation":
		return r.vars.Reservation, nil
	case strings.HasPrefix(name, ".parameters."):
		p := strings.TrimPrefix(name, ".parameters.")
		if !isIdentifier(p) {
			return "", fmt.Errorf("{{ %s }}: a parameter's name is letters, digits and '_'", short(name))
		}
		v, ok := r.vars.Parameters[p]
		if !ok {
			r.missing[p] = true
		}
		return v, nil
	}
	return "", fmt.Errorf("{{ %s }} is not a placeholder; write {{ .parameters.<name> }}, {{ .holder }}, {{ .reservation }} or {{ .resource }}", short(name))
}

// isIdentifier reports whether s is a parameter name: letters, digits and '_', not starting with a digit.
func isIdentifier(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, c := range []byte(s) {
		letter := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func jsonType(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func short(s string) string { return text.Truncate(s, 60, text.Ellipsis) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
