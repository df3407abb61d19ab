package plugin

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultHolder(t *testing.T) {
	host := func() (string, error) { return "laptop", nil }
	for name, tc := range map[string]struct {
		env  map[string]string
		host func() (string, error)
		want string
	}{
		"a person":                {env: map[string]string{"USER": "alice"}, want: "alice@laptop"},
		"Windows":                 {env: map[string]string{"USERNAME": "bob"}, want: "bob@laptop"},
		"no hostname":             {env: map[string]string{"USER": "alice"}, host: func() (string, error) { return "", errors.New("no") }, want: "alice"},
		"CONCH_HOLDER wins":       {env: map[string]string{"CONCH_HOLDER": " ci:tekton/deploy ", "GITHUB_ACTIONS": "true", "GITHUB_JOB": "x", "USER": "alice"}, want: "ci:tekton/deploy"},
		"GitHub Actions":          {env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/web", "GITHUB_JOB": "deploy", "GITHUB_RUN_ID": "8812", "USER": "runner"}, want: "ci:acme/web/deploy#8812"},
		"GitLab CI":               {env: map[string]string{"GITLAB_CI": "true", "CI_PROJECT_PATH": "acme/web", "CI_JOB_NAME": "deploy staging", "CI_PIPELINE_ID": "77"}, want: "ci:acme/web/deploy staging#77"},
		"CircleCI":                {env: map[string]string{"CIRCLECI": "true", "CIRCLE_PROJECT_REPONAME": "web", "CIRCLE_JOB": "e2e", "CIRCLE_BUILD_NUM": "5"}, want: "ci:web/e2e#5"},
		"Jenkins":                 {env: map[string]string{"JENKINS_URL": "https://ci", "JOB_NAME": "web/main", "BUILD_NUMBER": "12"}, want: "ci:web/main#12"},
		"Buildkite without a run": {env: map[string]string{"BUILDKITE": "true", "BUILDKITE_PIPELINE_SLUG": "web", "BUILDKITE_STEP_KEY": "deploy"}, want: "ci:web/deploy"},
		"CI marker but no job":    {env: map[string]string{"GITHUB_ACTIONS": "true", "USER": "runner"}, want: "runner@laptop"},
		"too long":                {env: map[string]string{"CONCH_HOLDER": strings.Repeat("é", 200)}, want: strings.Repeat("é", 128)},
	} {
		t.Run(name, func(t *testing.T) {
			h := tc.host
			if h == nil {
				h = host
			}
			getenv := func(k string) string { return tc.env[k] }
			if got := DefaultHolder(getenv, h); got != tc.want {
				t.Errorf("DefaultHolder = %q, want %q", got, tc.want)
			}
		})
	}
}
