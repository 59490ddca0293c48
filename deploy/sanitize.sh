#!/usr/bin/env bash
# The sanitizer stage of the test suite (called by deploy/test.sh):
#  1. a clang build with AddressSanitizer and UndefinedBehaviorSanitizer runs
#     every unit test binary, then each libFuzzer target for
#     AGENTCOM_FUZZ_SECONDS (default 60) from the corpus in tests/fuzz/corpus;
#  2. a clang build with ThreadSanitizer runs storage_test, maintenance_test,
#     wait_room_test, call_pool_test and the tests of the cores that queue writes without
#     waiting (mailbox, config, task queue, channels) against Abseil and
#     LevelDB built from Debian's
#     sources with -fsanitize=thread (deploy/tsan-deps.sh, cached outside the
#     clone). Tests that drive gRPC calls are left out: Debian's gRPC is not
#     instrumented, so TSan reports its own internal hand-offs.
#   sanitize.sh [build|test|all]
# `build` only configures and builds both (deploy/test.sh runs it in the idle
# scheduling class while the main tests run); `test` builds what is missing
# and runs the tests; `all` (the default) does both. Prints each ctest
# summary; fails if either stage fails.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${AGENTCOM_SANITIZE_BUILD_DIR:-$ROOT/build-sanitize}
TSAN_BUILD_DIR=${AGENTCOM_TSAN_BUILD_DIR:-$ROOT/build-tsan}
PHASE=${1:-all}
TSAN_TESTS=(storage_test maintenance_test wait_room_test call_pool_test mailbox_test
  config_store_test task_queue_test channels_test)
status=0

build() {
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DAGENTCOM_SANITIZE=address,undefined -DAGENTCOM_LIBFUZZER=ON \
    -DAGENTCOM_FUZZ_SECONDS="${AGENTCOM_FUZZ_SECONDS:-60}" >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)"
  TSAN_LIBS=$("$ROOT/deploy/tsan-deps.sh")
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$TSAN_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DAGENTCOM_SANITIZE=thread >/dev/null
  cmake --build "$TSAN_BUILD_DIR" -j"$(nproc)" --target "${TSAN_TESTS[@]}"
}

run_tests() {
  # Debian's gRPC, protobuf and LevelDB are not instrumented; ASan still
  # checks every access our code makes. Leaks are checked too (LeakSanitizer).
  (
    cd "$BUILD_DIR"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    ctest --output-on-failure -j2 --timeout 900
  ) || status=1

  echo "== ThreadSanitizer: storage_test, maintenance_test, wait_room_test, call_pool_test and the cores that queue writes"
  (
    cd "$TSAN_BUILD_DIR"
    # The instrumented Abseil and LevelDB replace Debian's at run time (same
    # sonames), for our code and for Debian's gRPC alike.
    export LD_LIBRARY_PATH="$TSAN_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # detect_deadlocks=0: TSan's lock-order detector tracks at most 64 locks
    # held by one thread, and a table write holds one stripe lock per key
    # stripe it touches (up to 64) besides the table's lock. die_after_fork=0:
    # the crash tests fork a child that opens a table (and so starts threads)
    # and then _exits.
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:detect_deadlocks=0:die_after_fork=0:suppressions=$ROOT/deploy/tsan.supp}
    ctest --output-on-failure -j2 --timeout 900 \
      -R "^($(IFS='|'; echo "${TSAN_TESTS[*]}"))\$"
  ) || status=1
}

case "$PHASE" in
  build) build ;;
  test | all)
    # A no-op when `build` already ran (the cached libraries print at once).
    build
    run_tests
    ;;
  *)
    echo "usage: sanitize.sh [build|test|all]" >&2
    exit 2
    ;;
esac
exit "$status"
