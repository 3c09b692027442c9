#!/usr/bin/env bash
# Installs what Cellar's tests need on Debian bookworm (as root), and only what is missing:
#   - Mesa's Vulkan CPU driver (lavapipe) from bookworm-backports: Dawn, the WebGPU behind `webgpu`,
#     refuses bookworm's own Mesa 22, and without a GPU lavapipe is the adapter the WebGPU tests run on;
#   - postgresql-doc-15: the PostgreSQL HTML manual, the real website the crawl tests serve on 127.0.0.1;
#   - wget: the reference crawler bench/crawl.bench.ts measures against;
#   - curl: the reference downloader bench/hub-download.bench.ts measures model downloads against;
#   - chromium: the real browser the UI tests drive through playwright-core (its own download is unreachable);
#   - nats-server (2.9.10): the NATS JetStream that remote kernels use; the tests start real ones on 127.0.0.1,
#     as `cellar serve --nats-local` does;
#   - iproute2: `ip netns`, with which a remote-kernel test cuts a worker off the network in a namespace of its own;
#   - the npm packages in package-lock.json (npm ci), when node_modules does not match it.
# Usage: bash scripts/setup.sh        (scripts/test.sh runs it before the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package -> the suite it must come from ("" = any: bookworm's Vulkan loader serves the newer Mesa).
declare -A SUITE=([mesa-vulkan-drivers]=bookworm-backports [libvulkan1]="" [postgresql-doc-15]="" [wget]="" [curl]="" [chromium]="" [nats-server]="" [iproute2]="")

installed() { # a package is installed, and from backports when it must be
  local status
  status="$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null)" || return 1
  [[ "$status" == "install ok installed"* ]] || return 1
  [[ "${SUITE[$1]}" != bookworm-backports || "$status" == *bpo* ]]
}

missing=()
for pkg in "${!SUITE[@]}"; do installed "$pkg" || missing+=("$pkg"); done

if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run this script as root on Debian bookworm" >&2
    exit 1
  fi
  sources=/etc/apt/sources.list.d/debian.sources
  if [[ " ${missing[*]} " == *" mesa-vulkan-drivers "* || " ${missing[*]} " == *" libvulkan1 "* ]] &&
    [ -f "$sources" ] && ! grep -q bookworm-backports "$sources"; then
    echo "setup: adding bookworm-backports to the first Suites: line of $sources (the main mirror's)"
    sed -i '0,/^Suites: /{s/^Suites: \(.*\)$/Suites: \1 bookworm-backports/}' "$sources"
  fi
  echo "setup: apt-get update"
  apt-get update -qq
  backports=() plain=()
  for pkg in "${missing[@]}"; do
    if [ "${SUITE[$pkg]}" = bookworm-backports ]; then backports+=("$pkg"); else plain+=("$pkg"); fi
  done
  export DEBIAN_FRONTEND=noninteractive
  if ((${#backports[@]})); then
    echo "setup: installing ${backports[*]} from bookworm-backports"
    apt-get install -y -qq -t bookworm-backports "${backports[@]}" >/dev/null
  fi
  if ((${#plain[@]})); then
    echo "setup: installing ${plain[*]}"
    apt-get install -y -qq "${plain[@]}" >/dev/null
  fi
else
  echo "setup: Debian packages present (${!SUITE[*]})"
fi

# npm ci only when package-lock.json changed since node_modules was installed: npm writes
# node_modules/.package-lock.json at the end of every install.
if [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "setup: node_modules is up to date with package-lock.json"
else
  echo "setup: npm ci (node_modules is missing or older than package-lock.json)"
  npm ci --no-audit --no-fund
fi
