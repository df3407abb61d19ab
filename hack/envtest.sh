#!/usr/bin/env bash
# envtest.sh builds the control-plane binaries envtest needs (kube-apiserver, etcd, kubectl) from Go modules,
# because setup-envtest downloads from a bucket that is not reachable here. The binaries land in a cache outside
# the repo, keyed by version; when they are already there this script only prints the directory.
#
# Usage: hack/envtest.sh            # prints the directory to use as KUBEBUILDER_ASSETS
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "${here}/versions.env"

cache_root=${CONCH_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/conch/envtest}
dir="${cache_root}/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"

have_all() {
  [[ -x "${dir}/kube-apiserver" && -x "${dir}/etcd" && -x "${dir}/kubectl" ]]
}

if have_all; then
  echo "${dir}"
  exit 0
fi

mkdir -p "${cache_root}"
# One builder at a time: a second `make test` started meanwhile waits and then reuses the result.
exec 9>"${cache_root}/.lock"
flock 9
if have_all; then
  echo "${dir}"
  exit 0
fi

work=$(mktemp -d "${cache_root}/build.XXXXXX")
trap 'rm -rf "${work}"' EXIT
out="${work}/bin"
mkdir -p "${out}"
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
ldflags="-s -w"

log() { echo "envtest: $*" >&2; }

# kube-apiserver: k8s.io/kubernetes refers to its staging modules by relative path; a throwaway module
# points each of them at the published k8s.io/<name> module of the matching version instead.
build_apiserver() {
  local m="${work}/apiserver"
  mkdir -p "${m}" && cd "${m}"
  go mod init conch.local/envtest-apiserver >/dev/null 2>&1
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  [[ -f "${gomod}" ]] || { log "cannot find go.mod of k8s.io/kubernetes@v${K8S_VERSION}"; exit 1; }
  {
    echo "require k8s.io/kubernetes v${K8S_VERSION}"
    grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/' "${gomod}" |
      awk -v v="v${K8S_STAGING_VERSION}" '{print "replace " $1 " => " $1 " " v}'
  } >>go.mod
  go get "k8s.io/kubernetes/cmd/kube-apiserver@v${K8S_VERSION}" >/dev/null 2>&1 || go mod tidy >/dev/null
  go build -trimpath -ldflags "${ldflags}" -o "${out}/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
}

build_etcd() {
  local m="${work}/etcd"
  mkdir -p "${m}" && cd "${m}"
  go mod init conch.local/envtest-etcd >/dev/null 2>&1
  cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >/dev/null 2>&1
  go mod tidy >/dev/null 2>&1
  go build -trimpath -ldflags "${ldflags}" -o "${out}/etcd" .
}

build_kubectl() {
  local m="${work}/kubectl"
  mkdir -p "${m}" && cd "${m}"
  go mod init conch.local/envtest-kubectl >/dev/null 2>&1
  cat >main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() { os.Exit(cli.Run(cmd.NewDefaultKubectlCommand())) }
GO
  go get "k8s.io/kubectl@v${K8S_STAGING_VERSION}" "k8s.io/component-base@v${K8S_STAGING_VERSION}" >/dev/null 2>&1
  go mod tidy >/dev/null 2>&1
  go build -trimpath -ldflags "${ldflags}" -o "${out}/kubectl" .
}

start=$(date +%s)
log "building etcd ${ETCD_VERSION}, kubectl ${K8S_STAGING_VERSION} and kube-apiserver ${K8S_VERSION} into ${dir} (about 6 minutes on 2 cores, once)"
build_etcd
log "etcd built after $(( $(date +%s) - start ))s"
build_kubectl
log "kubectl built after $(( $(date +%s) - start ))s"
build_apiserver
log "kube-apiserver built after $(( $(date +%s) - start ))s"

rm -rf "${dir}"
mv "${out}" "${dir}"
echo "${dir}"
