#!/usr/bin/env bash
# Installs what the tests need, builds, and runs the whole test suite with
# ctest (unit, multi-process integration, faults, access), then the sanitizer
# stage (deploy/sanitize.sh: ASan+UBSan unit tests and bounded fuzzing).
# Prints each ctest summary.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${AGENTCOM_TEST_BUILD_DIR:-$ROOT/build}

"$ROOT/deploy/setup.sh" --tests
(cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
# The sanitizer builds (and, on a fresh machine, the ThreadSanitizer copies
# of Abseil and LevelDB) run meanwhile in the idle scheduling class: the
# multi-process tests mostly wait on each other, and leave about 60% of the
# CPU idle, which the builds take without taking any from the tests.
sanitize_log="$BUILD_DIR/sanitize-build.log"
chrt --idle 0 nice -n 19 "$ROOT/deploy/sanitize.sh" build >"$sanitize_log" 2>&1 &
sanitize_build=$!
# Both stages run even if the first fails, so one run shows everything.
status=0
(cd "$BUILD_DIR" && ctest --output-on-failure -j2 --timeout 600) || status=1
if ! wait "$sanitize_build"; then
  echo "== the sanitizer builds failed in the background; the end of $sanitize_log:"
  tail -n 40 "$sanitize_log"
fi
"$ROOT/deploy/sanitize.sh" test || status=1
exit "$status"
