#!/usr/bin/env bash
# chromium.sh installs Debian's chromium, which the browser tests of the web board (test/board) drive through the
# Chrome DevTools protocol, when it is missing. The Makefile's test target calls it before `go test`; it does
# nothing when /usr/bin/chromium is there. Installing needs root (or sudo) and a reachable Debian mirror.
#
# Usage: hack/chromium.sh           # prints the path of the chromium binary
set -euo pipefail

bin=/usr/bin/chromium
if [[ -x "${bin}" ]]; then
  echo "${bin}"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "chromium.sh: ${bin} is missing and installing it needs root: apt-get install chromium" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "chromium.sh: installing Debian's chromium for the browser tests (once)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update >&2
"${sudo[@]}" apt-get install -y --no-install-recommends chromium >&2
echo "${bin}"
