#!/usr/bin/env bash
# Builds the storage plane (Release), prepares its directories and tokens, and
# runs every process in the foreground under supervisord. Ctrl-C stops it all.
#   AGENTCOM_HOME      where config, data, backups, state, tokens and logs live
#                      (default: <checkout>/run); a second run reuses them.
#   AGENTCOM_TOPOLOGY  topology copied into AGENTCOM_HOME on the first run
#                      (default: deploy/agentcom.yaml)
#   AGENTCOM_PROGRAMS  which programs supervisord runs
#                      (default: stores,maintenance,gateway)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOME_DIR=${AGENTCOM_HOME:-$ROOT/run}
BUILD_DIR=${AGENTCOM_BUILD_DIR:-$ROOT/build-release}
BIN=$BUILD_DIR/bin

"$ROOT/deploy/setup.sh"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DAGENTCOM_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

mkdir -p "$HOME_DIR/logs"
CONFIG=$HOME_DIR/agentcom.yaml
[[ -f "$CONFIG" ]] || cp "${AGENTCOM_TOPOLOGY:-$ROOT/deploy/agentcom.yaml}" "$CONFIG"
"$BIN/agentcomctl" init --config="$CONFIG"
"$BIN/agentcomctl" supervisord-conf --config="$CONFIG" --bin-dir="$BIN" \
  --run-dir="$HOME_DIR" --static-dir="$ROOT/services/gateway/static" \
  --programs="${AGENTCOM_PROGRAMS:-stores,maintenance,gateway}" >"$HOME_DIR/supervisord.conf"

first_store=$("$BIN/agentcomctl" endpoints --config="$CONFIG" | sed -n 3p)
read -r _ dashboard _ <<<"$("$BIN/agentcomctl" endpoints --config="$CONFIG" | sed -n 2p)"
read -r _ first_addr _ <<<"$first_store"
read -r _ maint_addr _ <<<"$("$BIN/agentcomctl" endpoints --config="$CONFIG" | head -n1)"
cat <<INFO

agentcom storage plane
  dashboard:    $dashboard  (sign in with the admin token)
  config:       $CONFIG
  logs:         $HOME_DIR/logs/
  admin token:  $HOME_DIR/tokens/admin.token
  agent token:  $HOME_DIR/tokens/agent.token

processes (name, gRPC address, metrics):
$("$BIN/agentcomctl" endpoints --config="$CONFIG" | sed 's/^/  /')

try it (agentcom_grpcurl takes grpcurl's arguments; upstream grpcurl works too):
  $BIN/agentcom_grpcurl -plaintext -H "authorization: Bearer \$(cat $HOME_DIR/tokens/agent.token)" \\
    -d '{"agent_id":"alice","message":{"body":"aGVsbG8="}}' $first_addr agentcom.mailbox.v1.Mailbox/Enqueue
  $BIN/agentcom_grpcurl -plaintext -H "authorization: Bearer \$(cat $HOME_DIR/tokens/admin.token)" \\
    $first_addr agentcom.store_admin.v1.StoreAdmin/ListTables
  $BIN/agentcom_grpcurl -plaintext -H "authorization: Bearer \$(cat $HOME_DIR/tokens/admin.token)" \\
    $maint_addr agentcom.maintenance.v1.Maintenance/GetHealth

starting supervisord (Ctrl-C stops everything)...
INFO
exec supervisord -n -c "$HOME_DIR/supervisord.conf"
