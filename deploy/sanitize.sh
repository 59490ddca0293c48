#!/usr/bin/env bash
# The sanitizer stage of the test suite (called by deploy/test.sh): a clang
# build with AddressSanitizer and UndefinedBehaviorSanitizer runs every unit
# test binary (engine, backups, maintenance, gateway, the six stores), then
# each libFuzzer target for AGENTCOM_FUZZ_SECONDS (default 60) from the
# corpus in tests/fuzz/corpus. Prints ctest's summary.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${AGENTCOM_SANITIZE_BUILD_DIR:-$ROOT/build-sanitize}

CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAGENTCOM_SANITIZE=address,undefined -DAGENTCOM_LIBFUZZER=ON \
  -DAGENTCOM_FUZZ_SECONDS="${AGENTCOM_FUZZ_SECONDS:-60}" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
cd "$BUILD_DIR"
# Debian's gRPC, protobuf and LevelDB are not instrumented; ASan still checks
# every access our code makes. Leaks are checked too (LeakSanitizer).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure -j2 --timeout 900
