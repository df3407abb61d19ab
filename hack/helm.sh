#!/usr/bin/env bash
# helm.sh builds helm from its Go module (helm.sh/helm/v3/cmd/helm), because the release binaries cannot be
# downloaded here. The binary lands in a cache outside the repo, keyed by version; when it is already there this
# script only prints its path.
#
# Usage: hack/helm.sh            # prints the path of the helm binary
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "${here}/versions.env"

cache_root=${CONCH_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/conch/helm}
bin="${cache_root}/v${HELM_VERSION}/helm"

if [[ -x "${bin}" ]]; then
  echo "${bin}"
  exit 0
fi

mkdir -p "${cache_root}"
# One builder at a time: a second caller waits and then reuses the result.
exec 9>"${cache_root}/.lock"
flock 9
if [[ -x "${bin}" ]]; then
  echo "${bin}"
  exit 0
fi

work=$(mktemp -d "${cache_root}/build.XXXXXX")
trap 'rm -rf "${work}"' EXIT
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

start=$(date +%s)
echo "helm: building helm v${HELM_VERSION} into ${bin} (about a minute, once)" >&2
cd "${work}"
go mod init conch.local/helm >/dev/null 2>&1
go get "helm.sh/helm/v3@v${HELM_VERSION}" >/dev/null 2>&1
# The same -X flags as helm's Makefile: its version, and the Kubernetes version that `helm template` and
# `helm lint` assume without a cluster (the client-go minor it is built with; else they assume 1.20).
k8s=$(go list -m -f '{{.Version}}' k8s.io/client-go) # v0.37.0
k8s_minor=$(echo "${k8s}" | cut -d. -f2)
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=v${HELM_VERSION}"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${k8s_minor}"
done
go build -trimpath -ldflags "${ldflags}" -o "${work}/helm" helm.sh/helm/v3/cmd/helm
mkdir -p "$(dirname "${bin}")"
mv "${work}/helm" "${bin}"
echo "helm: built after $(( $(date +%s) - start ))s" >&2
echo "${bin}"
