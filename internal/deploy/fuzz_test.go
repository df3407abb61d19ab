package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"
)

// FuzzRender checks that rendering any patch with any parameter value never panics, fails only with this
// package's errors, and that a value, whatever it holds, lands inside a string: the rendered object has the
// patch's keys, no more.
func FuzzRender(f *testing.F) {
	for _, s := range []struct{ patch, value string }{
		{`{"spec":{"source":{"targetRevision":"{{ .parameters.revision }}"}}}`, "pr-345"},
		{`{"spec":{"a":["{{.holder}}",1,true,null,{"b":"{{ .reservation }}-{{ .resource }}"}]}}`, `"},"x":{"`},
		{`{"metadata":{"labels":{"x":"{{ .parameters.revision"}}}`, "\n"},
		{`{"spec":"{{ .parameters.missing }}"}`, "{{ .holder }}"},
		{`[1]`, ""}, {`{"kind":"x"}`, "x"}, {`{"a":1e999}`, "x"}, {``, ""}, {`{"a":"{{}}"}`, "\xff"},
	} {
		f.Add(s.patch, s.value)
	}
	f.Fuzz(func(t *testing.T, patch, value string) {
		vars := Vars{Parameters: map[string]string{"revision": value}, Holder: value, Reservation: "r", Resource: "s", Holding: true}
		out, err := Render([]byte(patch), vars)
		if err != nil {
			var missing *MissingParameterError
			var invalid *InvalidPatchError
			if !errors.As(err, &missing) && !errors.As(err, &invalid) || err.Error() == "" {
				t.Fatalf("Render(%q) error %#v is not one of the package's, with a message", patch, err)
			}
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("Render(%q) = %v, which does not marshal: %v", patch, out, err)
		}
		var again, in map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber() // numbers pass through as written, even those a float64 cannot hold
		if err := d.Decode(&again); err != nil {
			t.Fatalf("Render(%q) marshals to %s, which does not decode: %v", patch, b, err)
		}
		if len(patch) > 0 && json.Unmarshal([]byte(patch), &in) == nil {
			if !slices.Equal(slices.Sorted(maps.Keys(in)), slices.Sorted(maps.Keys(again))) {
				t.Fatalf("Render(%q) with %q has keys %v, the patch %v", patch, value, slices.Sorted(maps.Keys(again)), slices.Sorted(maps.Keys(in)))
			}
		}
	})
}
