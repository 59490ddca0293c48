#!/usr/bin/env bash
# The README's run command from a clean checkout (issue 6): deploy/run.sh in
# a fresh clone, in a temporary AGENTCOM_HOME, must build, bring up every
# process under supervisord (all RUNNING, every health check SERVING), and
# the grpcurl command it prints must work as printed. A second run reuses the
# data; Ctrl-C (SIGINT) stops everything.
#   run_command_test.sh <source checkout>
set -euo pipefail
SRC=$1
WORK=$(mktemp -d /tmp/agentcom-run-XXXXXX)
RUN_PID=""
cleanup() {
  if [[ -n "$RUN_PID" ]] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -INT "$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- run.log"; tail -n 40 "$WORK/run.log" || true; exit 1; }

git clone -q "$SRC" "$WORK/checkout"
cd "$WORK/checkout"
export AGENTCOM_HOME="$WORK/home"
CONF="$AGENTCOM_HOME/supervisord.conf"
BIN="$WORK/checkout/build-release/bin"

start() {
  deploy/run.sh >"$WORK/run.log" 2>&1 &
  RUN_PID=$!
  for _ in $(seq 1 1200); do
    kill -0 "$RUN_PID" 2>/dev/null || fail "run.sh exited early"
    if grep -q "starting supervisord" "$WORK/run.log" 2>/dev/null &&
       [[ $(supervisorctl -c "$CONF" status 2>/dev/null | grep -c RUNNING) -eq 8 ]]; then
      return 0
    fi
    sleep 1
  done
  fail "processes did not all reach RUNNING"
}

stop() {
  kill -INT "$RUN_PID"
  wait "$RUN_PID" || true
  RUN_PID=""
  sleep 1
  if pgrep -f "$BIN/agentcom_" >/dev/null; then fail "processes left running after Ctrl-C"; fi
}

start
echo "ok - all 8 programs RUNNING under supervisord"
while read -r name address _; do
  [[ "$name" == gateway ]] && continue
  for _ in $(seq 1 60); do
    if "$BIN/agentcom_grpcurl" -plaintext -d '{}' "$address" grpc.health.v1.Health/Check 2>/dev/null |
       grep -q SERVING; then continue 2; fi
    sleep 0.5
  done
  fail "$name at $address is not SERVING"
done < <("$BIN/agentcomctl" endpoints --config="$AGENTCOM_HOME/agentcom.yaml")
echo "ok - every health check SERVING"
dashboard=$(grep "dashboard:" "$WORK/run.log" | awk '{print $2}')
curl -fsS "${dashboard}healthz" >/dev/null || fail "the printed dashboard URL does not answer"
echo "ok - the printed dashboard URL answers"

# The first command printed under "try it", exactly as printed.
command=$(sed -n '/^try it/,/^$/p' "$WORK/run.log" | sed '1d' | sed -n '1,2p' | sed 's/\\$//' | tr -d '\n')
[[ "$command" == *Mailbox/Enqueue* ]] || fail "no Enqueue command printed"
out=$(bash -c "$command") || fail "the printed command failed: $out"
[[ "$out" == *'"seq": "1"'* ]] || fail "unexpected answer: $out"
echo "ok - the printed grpcurl command works as printed"
stop
echo "ok - Ctrl-C stopped everything"

start
out=$(bash -c "$command")
[[ "$out" == *'"seq": "2"'* ]] || fail "a second run did not reuse the data: $out"
echo "ok - a second run reuses the data"
stop
echo "run command: 5 passed, 0 failed"
