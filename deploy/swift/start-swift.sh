#!/usr/bin/env bash
# Starts a single-node OpenStack Swift (Debian's swift packages) with its S3
# API (the s3api middleware) on 127.0.0.1, everything under STATE_DIR: the
# configuration, the rings, one device (a plain directory) and the logs.
# The tests start one with it; an operator can use it to try off-host
# backups on one machine (README, "Backups off this host").
#
#   deploy/swift/start-swift.sh STATE_DIR [PROXY_PORT]
#
# Run again on the same STATE_DIR (after stop-swift.sh), it starts the same
# Swift again: same ports, credentials and objects.
# Prints the S3 endpoint (http://127.0.0.1:PORT) once the proxy answers.
# Writes STATE_DIR/s3.credentials (mode 0600; access key and secret of the
# tempauth user, as agentcom's remote_backup.credentials_file expects) and
# STATE_DIR/pids. Stop it with deploy/swift/stop-swift.sh STATE_DIR.
set -euo pipefail
STATE=${1:?usage: start-swift.sh STATE_DIR [PROXY_PORT]}
PROXY_PORT=${2:-0}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
ETC=$STATE/etc
DEV=$STATE/srv
mkdir -p "$ETC" "$DEV/d1" "$STATE/cache" "$STATE/log"

# Free loopback ports, picked by the kernel (bound and released at once).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
if [[ -f "$STATE/ports" ]]; then
  # Started before: the same configuration, rings, data and credentials.
  source "$STATE/ports"
else
[[ "$PROXY_PORT" == 0 ]] && PROXY_PORT=$(free_port)
ACCOUNT_PORT=$(free_port)
CONTAINER_PORT=$(free_port)
OBJECT_PORT=$(free_port)

cat >"$ETC/swift.conf" <<CONF
[swift-hash]
swift_hash_path_suffix = agentcom-test-$RANDOM$RANDOM
swift_hash_path_prefix = agentcom-test
[storage-policy:0]
name = Policy-0
default = yes
CONF

common() {  # the [DEFAULT] of every server
  cat <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = 1
user = $(id -un)
swift_dir = $ETC
devices = $DEV
mount_check = false
log_facility = LOG_LOCAL0
log_level = WARNING
log_name = swift-$2
CONF
}

for server in account container object; do
  port_var=${server^^}_PORT
  { common "${!port_var}" "$server"
    printf '[pipeline:main]\npipeline = %s-server\n[app:%s-server]\nuse = egg:swift#%s\n' \
      "$server" "$server" "$server"
  } >"$ETC/$server-server.conf"
done

# s3api with tempauth: S3 access key "agentcom:backup", secret its password.
SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
{ common "$PROXY_PORT" proxy
  cat <<CONF
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:tempauth]
use = egg:swift#tempauth
user_agentcom_backup = $SECRET .admin
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:1
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
CONF
} >"$ETC/proxy-server.conf"

(umask 077 && printf 'access_key_id = agentcom:backup\nsecret_access_key = %s\n' "$SECRET" \
  >"$STATE/s3.credentials")

(cd "$ETC"
for ring in account container object; do
  port_var=${ring^^}_PORT
  rm -f "$ring.builder" "$ring.ring.gz"
  swift-ring-builder "$ring.builder" create 10 1 1 >/dev/null
  swift-ring-builder "$ring.builder" add "r1z1-127.0.0.1:${!port_var}/d1" 100 >/dev/null
  swift-ring-builder "$ring.builder" rebalance >/dev/null
done)

printf 'PROXY_PORT=%s\nACCOUNT_PORT=%s\nCONTAINER_PORT=%s\nOBJECT_PORT=%s\n' \
  "$PROXY_PORT" "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" >"$STATE/ports"
fi

: >"$STATE/pids"
for server in account container object proxy; do
  "swift-$server-server" "$ETC/$server-server.conf" >>"$STATE/log/$server.log" 2>&1 &
  echo $! >>"$STATE/pids"
done

for _ in $(seq 1 200); do
  # Every server answers (any HTTP status), and the proxy is healthy.
  if curl -s -o /dev/null "http://127.0.0.1:$ACCOUNT_PORT/" &&
    curl -s -o /dev/null "http://127.0.0.1:$CONTAINER_PORT/" &&
    curl -s -o /dev/null "http://127.0.0.1:$OBJECT_PORT/" &&
    curl -fs "http://127.0.0.1:$PROXY_PORT/healthcheck" >/dev/null 2>&1; then
    echo "http://127.0.0.1:$PROXY_PORT"
    exit 0
  fi
  sleep 0.1
done
echo "start-swift: the proxy did not answer on port $PROXY_PORT; logs in $STATE/log" >&2
"$(dirname "$0")/stop-swift.sh" "$STATE" || true
exit 1
