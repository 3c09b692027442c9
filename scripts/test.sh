#!/usr/bin/env bash
# The README's test command: installs what the tests need (scripts/setup.sh), then runs them all:
# type checks, the Node/Vitest suite and the Deno suite (npm test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Vulkan's loader wants a runtime directory; a root shell or CI has no login session to provide one.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
npm test
