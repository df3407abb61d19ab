# Conch's developer commands. `make help` lists them.

include hack/versions.env

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
CONTROLLER_GEN := go tool controller-gen
# Both linters are pinned in go.mod's tool block; the second is golangci-lint built with the Kube API Linter in it.
# Their results are cached in $GOLANGCI_LINT_CACHE (default ~/.cache/golangci-lint): keep it between CI runs.
GOLANGCI_LINT := go tool golangci-lint
KUBE_API_LINTER := go tool golangci-lint-kube-api-linter
# Tests that need a control plane find its binaries here; hack/envtest.sh builds them once into a cache.
ENVTEST_ASSETS = $(shell hack/envtest.sh)
GO_TEST_FLAGS ?= -race

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: ## Generate the CRDs and RBAC under config/.
	$(CONTROLLER_GEN) rbac:roleName=conch-manager crd paths=./api/... paths=./controllers/... paths=./internal/slackbot/... paths=./internal/notify/... paths=./internal/eventsink/... paths=./internal/history/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: lint
lint: ## gofmt, go vet, golangci-lint (.golangci.yml) and the Kube API Linter over api/ (.golangci-kal.yml).
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(GOLANGCI_LINT) run ./...
	$(KUBE_API_LINTER) run -c .golangci-kal.yml ./api/...

GENERATED_SUM = find api config -type f -print0 | sort -z | xargs -0 sha256sum

.PHONY: verify
verify: ## Regenerate and fail if that changes any generated file.
	@before=$$(mktemp); after=$$(mktemp); trap 'rm -f $$before $$after' EXIT; \
	$(GENERATED_SUM) > $$before; \
	$(MAKE) --no-print-directory generate manifests >/dev/null; \
	$(GENERATED_SUM) > $$after; \
	if ! diff -u $$before $$after; then \
		echo "Generated files were out of date; they are regenerated now: review and commit them."; exit 1; fi

.PHONY: envtest
envtest: ## Build the control-plane binaries (kube-apiserver, etcd, kubectl) into the cache, once.
	@hack/envtest.sh

.PHONY: test
test: lint verify ## Run every test: unit, integration against a real API server, the board in a real browser, and a short fuzz of the chat grammar.
	@hack/chromium.sh >/dev/null
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test $(GO_TEST_FLAGS) ./...
	@$(MAKE) --no-print-directory fuzz

# The packages whose tests need no control plane: none of their test files imports internal/testenv or envtest.
UNIT_PACKAGES = $(shell go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}{{end}}' ./... | awk 'NF && !/internal\/testenv|pkg\/envtest/ {print $$1}')

.PHONY: board-screenshot
board-screenshot: ## Run the board's browser test and update docs/images/board.png, the README's picture of the board.
	@hack/chromium.sh >/dev/null
	CONCH_BOARD_SCREENSHOT=1 KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -count=1 -run TestOverviewListsWhatKubectlShows ./test/board/

.PHONY: test-unit
test-unit: ## The fast loop: the tests that need no control plane (no lint, no envtest). make test runs them all.
	go test $(GO_TEST_FLAGS) $(UNIT_PACKAGES)

# A count of inputs, not a duration: Go's fuzzer given a duration can end a run on a busy machine with "context
# deadline exceeded" and no failing input, and a count does the same work on a fast machine and a slow one.
FUZZTIME ?= 100000x

.PHONY: fuzz
fuzz: ## Fuzz what parses user text (FUZZTIME each: a count such as 100000x, or a duration such as 1m).
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/chat/
	go test -run '^$$' -fuzz '^FuzzParseDuration$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/chat/
	go test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/deploy/

##@ Build and run

.PHONY: build
build: ## Build the manager into bin/.
	go build -o bin/manager ./cmd/manager

.PHONY: run
run: ## Run Conch against the current kubeconfig, or a local control plane when no cluster answers.
	go run ./hack/run

##@ Delivery

HELM = $(shell hack/helm.sh)
IMG ?= ghcr.io/conch-dev/conch:v0.1.0

.PHONY: chart
chart: manifests ## Regenerate the Helm chart's CRDs and RBAC rules from config/.
	go run ./hack/chart

.PHONY: chart-lint
chart-lint: ## Lint the Helm chart (helm is built into the cache the first time, about a minute).
	$(HELM) lint --strict charts/conch

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-conch (put it on the PATH: kubectl conch).
	go build -o bin/kubectl-conch ./cmd/kubectl-conch

.PHONY: docker-build
docker-build: ## Build the manager's image $(IMG) (needs a container engine).
	docker build -t $(IMG) .

##@ Benchmarks

BENCH_FLAGS ?=

.PHONY: bench
bench: ## Measure Conch against the API server's own limits (docs/performance.md); BENCH_FLAGS=-quick for a short run.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./test/bench $(BENCH_FLAGS)
