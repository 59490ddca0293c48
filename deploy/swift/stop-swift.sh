#!/usr/bin/env bash
# Stops the Swift that start-swift.sh started under STATE_DIR.
set -uo pipefail
STATE=${1:?usage: stop-swift.sh STATE_DIR}
[[ -f "$STATE/pids" ]] || exit 0
while read -r pid; do kill "$pid" 2>/dev/null; done <"$STATE/pids"
for _ in $(seq 1 50); do
  alive=0
  while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$STATE/pids"
  ((alive)) || break
  sleep 0.1
done
while read -r pid; do kill -9 "$pid" 2>/dev/null; done <"$STATE/pids"
rm -f "$STATE/pids"
