package delivery

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestDockerfile checks what can be checked of the Dockerfile without a container engine: it builds with the Go
// version of go.mod, statically (CGO_ENABLED=0), copies in every package the manager imports (and .dockerignore
// lets them through), and runs the manager from distroless as the non-root user the Deployment expects.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := string(b)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(gomod))[1]
	if !strings.Contains(dockerfile, "ARG GO_VERSION="+goVersion+"\n") || !strings.Contains(dockerfile, "FROM golang:${GO_VERSION} AS build") {
		t.Errorf("the build stage must use golang:%s, the version of go.mod", goVersion)
	}
	stages := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(dockerfile, -1)
	if last := stages[len(stages)-1][1]; last != "gcr.io/distroless/static:nonroot" {
		t.Errorf("the image runs from %s, want gcr.io/distroless/static:nonroot", last)
	}
	final := dockerfile[strings.LastIndex(dockerfile, "\nFROM "):]
	for _, want := range []string{"\nUSER 65532:65532\n", `ENTRYPOINT ["/manager"]`, "COPY --from=build /out/manager /manager"} {
		if !strings.Contains(final, want) {
			t.Errorf("the final stage lacks %q", want)
		}
	}
	if !regexp.MustCompile(`RUN CGO_ENABLED=0 [^\n]*\\\n\s+go build [^\n]*-o /out/manager ./cmd/manager`).MatchString(dockerfile) {
		t.Errorf("the manager must be built with CGO_ENABLED=0 into /out/manager")
	}

	// Every directory of the module the manager's packages live in is copied, and not ignored.
	list := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./cmd/manager")
	list.Dir, list.Stderr = root, os.Stderr
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var tops []string
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		if top := strings.Split(filepath.ToSlash(rel), "/")[0]; !slices.Contains(tops, top) {
			tops = append(tops, top)
		}
	}
	if len(tops) == 0 {
		t.Fatal("go list found no packages of the manager")
	}
	for _, top := range tops {
		if !strings.Contains(dockerfile, "\nCOPY "+top+"/ "+top+"/\n") {
			t.Errorf("the manager imports packages under %s/, which the Dockerfile does not copy", top)
		}
		if !slices.Contains(strings.Split(string(ignore), "\n"), "!"+top+"/**") {
			t.Errorf(".dockerignore does not let %s/ through", top)
		}
	}

	// The Deployment runs the image as the user the image declares.
	objs, err := kustomizeBuild("config/default")
	if err != nil {
		t.Fatal(err)
	}
	d := typed[appsv1.Deployment](t, only(objs, "Deployment")[0])
	if psc := d.Spec.Template.Spec.SecurityContext; psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("the Deployment must run as user 65532, the image's")
	}
}
