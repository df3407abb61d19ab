package plugin

import (
	"os/user"
	"strings"
)

// maxHolder is the longest holder the API accepts.
const maxHolder = 256

// EnvHolder names the environment variable that sets the holder when --holder is not given, for CI systems
// Conch does not recognise (Tekton, Argo Workflows) and for matrix jobs that need one holder per leg.
const EnvHolder = "CONCH_HOLDER"

// ciHolders are the CI systems whose jobs DefaultHolder recognises, in the order it tries them: the variable
// that says the job runs there, and the variables that make up "ci:<job>#<run>".
var ciHolders = []struct {
	system string
	marker string
	job    []string // joined with "/"
	run    string
}{
	{"GitHub Actions", "GITHUB_ACTIONS", []string{"GITHUB_REPOSITORY", "GITHUB_JOB"}, "GITHUB_RUN_ID"},
	{"GitLab CI", "GITLAB_CI", []string{"CI_PROJECT_PATH", "CI_JOB_NAME"}, "CI_PIPELINE_ID"},
	{"CircleCI", "CIRCLECI", []string{"CIRCLE_PROJECT_REPONAME", "CIRCLE_JOB"}, "CIRCLE_BUILD_NUM"},
	{"Jenkins", "JENKINS_URL", []string{"JOB_NAME"}, "BUILD_NUMBER"},
	{"Buildkite", "BUILDKITE", []string{"BUILDKITE_PIPELINE_SLUG", "BUILDKITE_STEP_KEY"}, "BUILDKITE_BUILD_NUMBER"},
}

// DefaultHolder says who the caller is when --holder is not given:
//
//   - $CONCH_HOLDER when set;
//   - in a CI job it recognises, "ci:<job>#<run>": for GitHub Actions "ci:<owner>/<repo>/<job>#<run id>", for
//     GitLab CI "ci:<group>/<project>/<job>#<pipeline id>", and likewise for CircleCI, Jenkins and Buildkite. Every
//     step of one run gets the same holder, so `off` in a later step releases what `on` took; another run of the
//     same job is another holder;
//   - else "$USER@<hostname>".
//
// The result fits the API's limit of 256 characters.
func DefaultHolder(getenv func(string) string, hostname func() (string, error)) string {
	if h := strings.TrimSpace(getenv(EnvHolder)); h != "" {
		return clip(h)
	}
	for _, ci := range ciHolders {
		if getenv(ci.marker) == "" {
			continue
		}
		var parts []string
		for _, v := range ci.job {
			if s := strings.TrimSpace(getenv(v)); s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) == 0 {
			continue
		}
		h := "ci:" + strings.Join(parts, "/")
		if run := strings.TrimSpace(getenv(ci.run)); run != "" {
			h += "#" + run
		}
		return clip(h)
	}
	name := getenv("USER")
	if name == "" {
		name = getenv("USERNAME") // Windows
	}
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "unknown"
	}
	host, err := hostname()
	if err != nil || host == "" {
		return clip(name)
	}
	return clip(name + "@" + host)
}

// clip cuts s to maxHolder bytes without splitting a UTF-8 sequence or leaving trailing spaces.
func clip(s string) string {
	if len(s) <= maxHolder {
		return s
	}
	cut := maxHolder
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return strings.TrimSpace(s[:cut])
}
