#!/usr/bin/env bash
# Statement and branch coverage of kernel/ and cells/ over the Vitest suite, or over the test files given
# (`bash scripts/coverage.sh test/crash.test.ts test/reliability/`). It counts what the test workers run
# (Vitest's v8 provider) and what the child processes the tests start run — the CLI, cellar serve, workers,
# the processes the crash tests SIGKILL — which Vitest cannot see: Node writes their V8 coverage to
# NODE_V8_COVERAGE and c8 maps it to the sources. scripts/coverage-merge.ts merges the two into coverage/
# (a text summary, coverage-summary.json and an HTML report). A process killed by SIGKILL writes nothing: what
# it ran counts only through the processes that resume after it. Writing coverage slows every process, so the
# tests get a longer timeout (COVERAGE_TEST_TIMEOUT_MS, default 240 s); a failed test still gets its report.
# Both halves read the sources when they map lines, the workers' at the end, each child's as it starts: a
# file edited during the run is counted at shifted lines. COVERAGE_COMMIT=<commit> runs over a copy of that
# commit (git archive, with this checkout's node_modules) and brings its report back here.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -n "${COVERAGE_COMMIT:-}" ]; then
  tree=$(mktemp -d /tmp/cellar-coverage-XXXXXX)
  git archive "$COVERAGE_COMMIT" | tar -x -C "$tree" && ln -s "$PWD/node_modules" "$tree/node_modules" || exit 1
  out=${COVERAGE_DIR:-coverage}
  rm -rf "$out" && mkdir -p "$out" && out=$(cd "$out" && pwd)
  COVERAGE_COMMIT= COVERAGE_DIR="$out" bash "$tree/scripts/coverage.sh" "$@"
  status=$?
  rm -rf "$tree"
  exit $status
fi
out=${COVERAGE_DIR:-coverage}
rm -rf "$out"
mkdir -p "$out/raw"
# Absolute, whether COVERAGE_DIR is given relative or absolute: the child processes run in other directories.
out=$(cd "$out" && pwd)
NODE_V8_COVERAGE="$out/raw" npx vitest run --coverage.enabled --coverage.provider=v8 \
  --coverage.include='kernel/**' --coverage.include='cells/**' --coverage.reporter=json \
  --coverage.reportsDirectory="$out/workers" --coverage.reportOnFailure \
  --testTimeout="${COVERAGE_TEST_TIMEOUT_MS:-240000}" "$@"
status=$?
npx tsx scripts/coverage-merge.ts "$out" ${COVERAGE_LIST:+--list "$COVERAGE_LIST"} || status=$?
exit $status
