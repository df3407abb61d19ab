package integration

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestMalformedObjectsAreRejected applies malformed objects to the real API server and checks that each is refused
// with a message that names the field and says what is allowed.
func TestMalformedObjectsAreRejected(t *testing.T) {
	ns := namespace(t)
	resource := func(spec string) string {
		return "apiVersion: conch.dev/v1alpha1\nkind: Resource\nmetadata: {name: bad}\nspec: " + spec
	}
	reservation := func(spec string) string {
		return "apiVersion: conch.dev/v1alpha1\nkind: Reservation\nmetadata: {name: bad}\nspec: " + spec
	}
	long := strings.Repeat("x", 1025)

	cases := map[string]struct {
		yaml string
		want []string
	}{
		"resource capacity zero": {resource(`{capacity: 0}`),
			[]string{"spec.capacity", "should be greater than or equal to 1"}},
		"resource capacity too large": {resource(`{capacity: 1000}`),
			[]string{"spec.capacity", "should be less than or equal to 100"}},
		"resource default duration not a duration": {resource(`{defaultDuration: soon}`),
			[]string{"spec.defaultDuration", "defaultDuration must be a duration between 1s and 720h (30 days), such as 30m or 2h"}},
		"resource default duration zero": {resource(`{defaultDuration: 0s}`),
			[]string{"spec.defaultDuration", "between 1s and 720h"}},
		"resource max duration over 30 days": {resource(`{maxDuration: 1000h}`),
			[]string{"spec.maxDuration", "maxDuration must be a duration between 1s and 720h (30 days)"}},
		"resource default longer than max": {resource(`{defaultDuration: 5h, maxDuration: 1h}`),
			[]string{"spec", "defaultDuration must not be longer than maxDuration"}},
		"resource granting unknown": {resource(`{granting: Closed}`),
			[]string{"spec.granting", `supported values: "Open", "Paused"`}},
		"resource description too long": {resource(`{description: ` + long + `}`),
			[]string{"spec.description", "may not be more than 1024"}},
		"resource too many allowed holders": {resource(`{allowedHolders: [` + strings.Repeat("a,", 32) + `b]}`),
			[]string{"spec.allowedHolders", "must have at most 32 items"}},
		"resource capacity negative": {resource(`{capacity: -1}`),
			[]string{"spec.capacity", "should be greater than or equal to 1"}},
		"resource capacity not a number": {resource(`{capacity: two}`),
			[]string{"spec.capacity", "must be of type integer"}},
		"resource default duration negative": {resource(`{defaultDuration: -5m}`),
			[]string{"spec.defaultDuration", "between 1s and 720h"}},
		"resource max duration in years": {resource(`{maxDuration: 1y}`),
			[]string{"spec.maxDuration", "such as 4h"}},
		"resource max duration zero": {resource(`{maxDuration: 0s}`),
			[]string{"spec.maxDuration", "between 1s and 720h"}},
		"resource granting lower case": {resource(`{granting: paused}`),
			[]string{"spec.granting", `supported values: "Open", "Paused"`}},
		"resource allowed holder empty": {resource(`{allowedHolders: [""]}`),
			[]string{"spec.allowedHolders[0]", "at least 1 chars long"}},
		"resource allowed holder too long": {resource(`{allowedHolders: [` + strings.Repeat("h", 257) + `]}`),
			[]string{"spec.allowedHolders[0]", "may not be more than 256"}},
		"resource allowed holders repeated": {resource(`{allowedHolders: ["ci:*", "ci:*"]}`),
			[]string{"spec.allowedHolders[1]", "Duplicate value"}},
		"resource slack channel too long": {resource(`{slackChannel: ` + strings.Repeat("c", 81) + `}`),
			[]string{"spec.slackChannel", "may not be more than 80"}},
		"resource description not text": {resource(`{description: {text: hi}}`),
			[]string{"spec.description", "must be of type string"}},
		"resource name not a name": {strings.Replace(resource(`{}`), "name: bad", "name: Staging_1", 1),
			[]string{"Staging_1", "a lowercase RFC 1123 subdomain"}},
		"reservation heartbeat too short": {reservation(`{resourceName: staging, holder: ci, heartbeatTimeout: 1s}`),
			[]string{"spec.heartbeatTimeout", "heartbeatTimeout must be a duration between 5s and 1h, such as 1m"}},
		"reservation heartbeat too long": {reservation(`{resourceName: staging, holder: ci, heartbeatTimeout: 2h}`),
			[]string{"spec.heartbeatTimeout", "between 5s and 1h"}},
		"reservation resource name too long": {reservation(`{holder: alice, resourceName: ` + strings.Repeat("a", 254) + `}`),
			[]string{"spec.resourceName", "may not be more than 253"}},
		"reservation released not a boolean": {reservation(`{resourceName: staging, holder: alice, released: "yes"}`),
			[]string{"spec.released", "must be of type boolean"}},
		"reservation duration in days": {reservation(`{resourceName: staging, holder: alice, duration: 1d}`),
			[]string{"spec.duration", "for example 30m or 2h"}},
		"reservation holder with a newline": {reservation(`{resourceName: staging, holder: "alice\n"}`),
			[]string{"spec.holder", "must not be blank or start or end with spaces"}},
		"reservation names neither resource nor pool": {reservation(`{holder: alice}`),
			[]string{"spec", "set exactly one of resourceName (a Resource by name) or selector (any Resource of a pool)"}},
		"reservation names both resource and pool": {reservation(`{holder: alice, resourceName: staging, selector: {matchLabels: {pool: qa}}}`),
			[]string{"set exactly one of resourceName"}},
		"reservation without holder": {reservation(`{resourceName: staging}`),
			[]string{"spec.holder", "Required value"}},
		"reservation holder blank": {reservation(`{resourceName: staging, holder: "  "}`),
			[]string{"spec.holder", "holder must not be blank or start or end with spaces"}},
		"reservation holder too long": {reservation(`{resourceName: staging, holder: ` + strings.Repeat("h", 257) + `}`),
			[]string{"spec.holder", "may not be more than 256"}},
		"reservation resource name not a name": {reservation(`{resourceName: Staging_1, holder: alice}`),
			[]string{"spec.resourceName", "resourceName must be a Resource name: lower-case letters, digits"}},
		"reservation duration zero": {reservation(`{resourceName: staging, holder: alice, duration: 0s}`),
			[]string{"spec.duration", "duration must be between 1s and 720h (30 days), for example 30m or 2h"}},
		"reservation duration in words": {reservation(`{resourceName: staging, holder: alice, duration: two hours}`),
			[]string{"spec.duration", "for example 30m or 2h"}},
		"reservation duration negative": {reservation(`{resourceName: staging, holder: alice, duration: -1h}`),
			[]string{"spec.duration", "between 1s and 720h"}},
		"reservation reason too long": {reservation(`{resourceName: staging, holder: alice, reason: ` + long + `}`),
			[]string{"spec.reason", "may not be more than 1024"}},
		"reservation selector operator unknown": {reservation(`{holder: alice, selector: {matchExpressions: [{key: pool, operator: Near}]}}`),
			[]string{"spec.selector", "operator must be In, NotIn, Exists or DoesNotExist"}},
		"reservation selector In without values": {reservation(`{holder: alice, selector: {matchExpressions: [{key: pool, operator: In}]}}`),
			[]string{"spec.selector", "values must be non-empty for In and NotIn"}},
		"reservation selector empty": {reservation(`{holder: alice, selector: {}}`),
			[]string{"spec.selector", "an empty selector would match every Resource"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(tc.yaml), &obj.Object); err != nil {
				t.Fatalf("bad test YAML: %v", err)
			}
			obj.SetNamespace(ns)
			err := k8s.Create(ctx, obj)
			if err == nil {
				_ = k8s.Delete(ctx, obj)
				t.Fatalf("accepted; want a rejection mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestImmutableFieldsAreProtected checks the update rules: what a Reservation is for cannot change under it.
func TestImmutableFieldsAreProtected(t *testing.T) {
	ns := namespace(t)
	cases := map[string]struct {
		patch string
		want  string
	}{
		"resource name changed":     {`{"spec":{"resourceName":"other"}}`, "resourceName cannot be changed; create a new Reservation"},
		"switched to a pool":        {`{"spec":{"resourceName":null,"selector":{"matchLabels":{"pool":"qa"}}}}`, "resourceName cannot be changed"},
		"holder changed":            {`{"spec":{"holder":"mallory"}}`, "holder cannot be changed; create a new Reservation"},
		"released taken back":       {`{"spec":{"released":false}}`, "a released Reservation cannot be taken back; create a new Reservation"},
		"duration extended too far": {`{"spec":{"duration":"721h"}}`, "duration must be between 1s and 720h"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			spec := `{resourceName: staging, holder: alice}`
			if name == "released taken back" {
				spec = `{resourceName: staging, holder: alice, released: true}`
			}
			if err := yaml.Unmarshal([]byte("apiVersion: conch.dev/v1alpha1\nkind: Reservation\nspec: "+spec), &obj.Object); err != nil {
				t.Fatal(err)
			}
			obj.SetGenerateName("imm-")
			obj.SetNamespace(ns)
			if err := k8s.Create(ctx, obj); err != nil {
				t.Fatalf("creating: %v", err)
			}
			err := k8s.Patch(ctx, obj, rawMergePatch(tc.patch))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("patch %s: got %v, want an error mentioning %q", tc.patch, err, tc.want)
			}
		})
	}
}
