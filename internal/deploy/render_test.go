package deploy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRender(t *testing.T) {
	holding := Vars{
		Parameters: map[string]string{"revision": "pr-345", "image": `evil", "x": "<&>` + "\n"},
		Holder:     "alice@example.com", Reservation: "deploy-345", Resource: "staging", Holding: true,
	}
	cases := map[string]struct {
		raw     string
		vars    Vars
		want    string // JSON
		wantErr string
		missing []string
	}{
		"empty is nothing": {raw: ``, vars: holding, want: `{}`},
		"argo targetRevision": {
			raw:  `{"spec":{"source":{"targetRevision":"{{ .parameters.revision }}"}}}`,
			vars: holding, want: `{"spec":{"source":{"targetRevision":"pr-345"}}}`,
		},
		"placeholders without spaces, several in one string": {
			raw:  `{"metadata":{"annotations":{"by":"{{.holder}} via {{.reservation}} on {{ .resource }}"}}}`,
			vars: holding, want: `{"metadata":{"annotations":{"by":"alice@example.com via deploy-345 on staging"}}}`,
		},
		"values are text, escaped by the encoder": {
			raw:  `{"spec":{"image":"registry/web:{{ .parameters.image }}"}}`,
			vars: holding, want: `{"spec":{"image":"registry/web:evil\", \"x\": \"\u003c\u0026\u003e\n"}}`,
		},
		"keys are never rendered": {
			raw:  `{"spec":{"{{ .holder }}":"x"}}`,
			vars: holding, want: `{"spec":{"{{ .holder }}":"x"}}`,
		},
		"lists, numbers and booleans kept exactly": {
			raw:  `{"spec":{"replicas":12345678901234567890,"paused":false,"containers":[{"name":"web","image":"web:{{ .parameters.revision }}"}]}}`,
			vars: holding, want: `{"spec":{"containers":[{"image":"web:pr-345","name":"web"}],"paused":false,"replicas":12345678901234567890}}`,
		},
		"missing parameters, all named": {
			raw:     `{"spec":{"a":"{{ .parameters.zeta }}","b":["{{ .parameters.alpha }}","{{ .parameters.zeta }}"]}}`,
			vars:    holding,
			wantErr: `the patch needs the parameters "alpha", "zeta", which the Reservation does not set (spec.parameters)`,
			missing: []string{"alpha", "zeta"},
		},
		"unknown placeholder": {
			raw:     `{"spec":{"a":"{{ .Values.x }}"}}`,
			vars:    holding,
			wantErr: `spec.a: {{ .Values.x }} is not a placeholder; write {{ .parameters.<name> }}, {{ .holder }}, {{ .reservation }} or {{ .resource }}`,
		},
		"template code is not run": {
			raw:     `{"spec":{"a":"{{ range 1000000000 }}x{{ end }}"}}`,
			vars:    holding,
			wantErr: `spec.a: {{ range 1000000000 }} is not a placeholder`,
		},
		"unclosed placeholder": {
			raw: `{"spec":{"a":["x","{{ .holder"]}}`, vars: holding,
			wantErr: `spec.a[1]: "{{ .holder" opens a placeholder that does not close with }}`,
		},
		"bad parameter name": {
			raw: `{"spec":{"a":"{{ .parameters.a-b }}"}}`, vars: holding,
			wantErr: `spec.a: {{ .parameters.a-b }}: a parameter's name is letters, digits and '_'`,
		},
		"default names the resource": {
			raw: `{"spec":{"a":"{{ .resource }}-main"}}`, vars: Vars{Resource: "staging"},
			want: `{"spec":{"a":"staging-main"}}`,
		},
		"default cannot name a holder": {
			raw: `{"spec":{"a":"{{ .parameters.revision }}"}}`, vars: Vars{Resource: "staging"},
			wantErr: `spec.a: {{ .parameters.revision }} has no value here: a default is applied when nobody holds the Resource, and may name {{ .resource }} only`,
		},
		"not an object":   {raw: `["x"]`, vars: holding, wantErr: "the patch must be an object (a part of the target), not a list"},
		"not JSON":        {raw: `{"spec":`, vars: holding, wantErr: "the patch is not JSON"},
		"sets the kind":   {raw: `{"kind":"Secret"}`, vars: holding, wantErr: "the patch sets kind; the target names the object"},
		"sets the status": {raw: `{"status":{}}`, vars: holding, wantErr: "the patch sets status"},
		"sets the name": {
			raw: `{"metadata":{"name":"other"}}`, vars: holding,
			wantErr: "the patch sets metadata.name; of metadata, a patch may set labels and annotations only",
		},
		"too big": {raw: `{"a":"` + strings.Repeat("x", MaxPatchBytes) + `"}`, vars: holding, wantErr: "the patch is 262152 bytes; at most 262144"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Render([]byte(tc.raw), tc.vars)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("Render() error = %v, want one starting %q", err, tc.wantErr)
				}
				var missing *MissingParameterError
				var inv *InvalidPatchError
				switch {
				case errors.As(err, &missing):
					if diff := cmp.Diff(tc.missing, missing.Names); diff != "" {
						t.Errorf("missing parameters (-want +got):\n%s", diff)
					}
				case tc.missing != nil || !errors.As(err, &inv):
					t.Errorf("Render() error %T, want a MissingParameterError or an InvalidPatchError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(b)); diff != "" {
				t.Errorf("Render() (-want +got):\n%s", diff)
			}
		})
	}
}
