#!/usr/bin/env bash
# Local AWS emulators for courier's AWS-protocol integration tests.
#
#   scripts/emulators.sh install      # idempotent; a no-op once installed
#   scripts/emulators.sh start DIR    # kinesis-local + moto server on 127.0.0.1, writes DIR/env
#   scripts/emulators.sh stop DIR     # stops what `start DIR` started
#   scripts/emulators.sh status DIR   # prints DIR/env and whether both still answer
#   scripts/emulators.sh python ...   # runs the emulator venv's python (boto3 available)
#   scripts/emulators.sh kpl-aggregate # stdin groups -> KPL-aggregated records (aws-kinesis-agg)
#
# Everything is installed into a cache outside the repo:
#   ${COURIER_EMULATORS_DIR:-$HOME/.cache/courier/emulators}
#
# kinesis-local (npm) is etspaceman's kinesis-mock compiled to a single
# Scala.js file (main.js). Upstream hard-codes the listen host as
# Host.fromString("0.0.0.0"); `install` rewrites that one literal to
# "127.0.0.1" in the cached copy and verifies the result, so both of its
# listeners (plain HTTP and TLS) bind to loopback only.
#
# Both servers only ever get traffic from this machine: endpoints in DIR/env
# are http://127.0.0.1:PORT.
set -euo pipefail

KINESIS_LOCAL_VERSION=0.6.2
# sha256 of the unpatched main.js of kinesis-local@0.6.2 (npm already checks
# the tarball's integrity; this pins the exact file the loopback patch targets)
KINESIS_LOCAL_MAIN_SHA256=6d46874682bffd8c06a3ca90735e292d144626541d1450bc43326557b3dda414
# awslabs' KPL aggregation library for Node.js: makes the aggregated
# records tests/it/aws.rs puts (scripts/kpl_aggregate.js).
KINESIS_AGG_VERSION=4.2.8
MOTO_VERSION=5.2.5
BOTO3_VERSION=1.44.8
BOTOCORE_VERSION=1.44.8
# Prometheus's own Python client: its text parser reads courier's /metrics in tests.
PROMETHEUS_CLIENT_VERSION=0.26.0

CACHE_DIR="${COURIER_EMULATORS_DIR:-$HOME/.cache/courier/emulators}"
KL_DIR="$CACHE_DIR/kinesis-local-$KINESIS_LOCAL_VERSION"
KL_PKG="$KL_DIR/node_modules/kinesis-local"
KL_MAIN="$KL_PKG/main.js"
KA_DIR="$CACHE_DIR/aws-kinesis-agg-$KINESIS_AGG_VERSION"
VENV_DIR="$CACHE_DIR/venv-moto$MOTO_VERSION-boto3-$BOTO3_VERSION-prom$PROMETHEUS_CLIENT_VERSION"
PYTHON_BIN="${PYTHON:-python3}"

# The listen-host literal in main.js, before and after the patch.
KL_HOST_ORIG='ip4s_Host$().em("0.0.0.0")'
KL_HOST_PATCHED='ip4s_Host$().em("127.0.0.1")'

# kinesis-local timings/limits (override from the environment if needed).
KL_DURATION="${KINESIS_LOCAL_DURATION:-10ms}"
KL_SHARD_LIMIT="${KINESIS_LOCAL_SHARD_LIMIT:-1000}"
KL_LOG_LEVEL="${KINESIS_LOCAL_LOG_LEVEL:-INFO}"
START_TIMEOUT="${COURIER_EMULATORS_START_TIMEOUT:-60}"

die() { echo "emulators.sh: error: $*" >&2; exit 1; }
log() { echo "emulators.sh: $*" >&2; }

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

need_node() {
  command -v node >/dev/null 2>&1 || die "node is not installed (Node.js >= 18 needed for kinesis-local; e.g. apt-get install nodejs npm)"
  command -v npm >/dev/null 2>&1 || die "npm is not installed (needed to install kinesis-local; e.g. apt-get install npm)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 18 ] || die "node $(node -v) is too old; kinesis-local needs Node.js >= 18"
}

need_python() {
  command -v "$PYTHON_BIN" >/dev/null 2>&1 || die "$PYTHON_BIN is not installed (Python >= 3.9 with venv needed for moto/boto3; e.g. apt-get install python3 python3-venv)"
  "$PYTHON_BIN" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null \
    || die "$PYTHON_BIN must be Python >= 3.9 with the venv module (e.g. apt-get install python3-venv)"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Counts occurrences of a fixed string in a file (0 when absent).
count_fixed() { grep -o -F -- "$1" "$2" | wc -l | tr -d ' '; }

kl_patch_ok() {
  [ -f "$KL_MAIN" ] || return 1
  [ "$(count_fixed "$KL_HOST_ORIG" "$KL_MAIN")" = 0 ] || return 1
  [ "$(count_fixed "$KL_HOST_PATCHED" "$KL_MAIN")" = 1 ] || return 1
  [ "$(count_fixed '"0.0.0.0"' "$KL_MAIN")" = 0 ] || return 1
}

ka_installed() { [ -f "$KA_DIR/.installed" ] && [ -f "$KA_DIR/node_modules/aws-kinesis-agg/index.js" ]; }
kl_installed() { [ -f "$KL_DIR/.installed" ] && kl_patch_ok; }
venv_installed() {
  [ -f "$VENV_DIR/.installed" ] && [ -x "$VENV_DIR/bin/python" ] && [ -x "$VENV_DIR/bin/moto_server" ]
}

install_kinesis_local() {
  if kl_installed; then return 0; fi
  need_node
  log "installing kinesis-local@$KINESIS_LOCAL_VERSION into $KL_DIR"
  rm -rf "$KL_DIR"
  mkdir -p "$KL_DIR"
  printf '{"name":"courier-emulators-kinesis-local","private":true}\n' >"$KL_DIR/package.json"
  (cd "$KL_DIR" && npm install --no-audit --no-fund --no-save --no-package-lock --loglevel=error \
    "kinesis-local@$KINESIS_LOCAL_VERSION" >&2) || die "npm install kinesis-local@$KINESIS_LOCAL_VERSION failed"
  [ -f "$KL_MAIN" ] || die "kinesis-local installed, but $KL_MAIN is missing"
  local sum
  sum="$(sha256_of "$KL_MAIN")"
  [ "$sum" = "$KINESIS_LOCAL_MAIN_SHA256" ] \
    || die "kinesis-local main.js sha256 $sum differs from the pinned $KINESIS_LOCAL_MAIN_SHA256; the loopback patch was written for that exact file"
  [ "$(count_fixed "$KL_HOST_ORIG" "$KL_MAIN")" = 1 ] \
    || die "expected exactly one listen-host literal $KL_HOST_ORIG in $KL_MAIN"
  # Loopback patch: Host.fromString("0.0.0.0") -> Host.fromString("127.0.0.1")
  sed -i 's/ip4s_Host\$()\.em("0\.0\.0\.0")/ip4s_Host$().em("127.0.0.1")/' "$KL_MAIN"
  kl_patch_ok || die "loopback patch of $KL_MAIN did not verify"
  printf 'kinesis-local %s\npatched-main-sha256 %s\n' "$KINESIS_LOCAL_VERSION" "$(sha256_of "$KL_MAIN")" >"$KL_DIR/.installed"
  log "kinesis-local installed and patched to listen on 127.0.0.1"
}

install_kinesis_agg() {
  if ka_installed; then return 0; fi
  need_node
  log "installing aws-kinesis-agg@$KINESIS_AGG_VERSION into $KA_DIR"
  rm -rf "$KA_DIR"
  mkdir -p "$KA_DIR"
  printf '{"name":"courier-emulators-kinesis-agg","private":true}\n' >"$KA_DIR/package.json"
  (cd "$KA_DIR" && npm install --no-audit --no-fund --no-save --no-package-lock --loglevel=error \
    "aws-kinesis-agg@$KINESIS_AGG_VERSION" >&2) || die "npm install aws-kinesis-agg@$KINESIS_AGG_VERSION failed"
  [ "$(node -p "require('$KA_DIR/node_modules/aws-kinesis-agg/package.json').version")" = "$KINESIS_AGG_VERSION" ] \
    || die "aws-kinesis-agg installed, but not version $KINESIS_AGG_VERSION"
  printf 'aws-kinesis-agg %s\n' "$KINESIS_AGG_VERSION" >"$KA_DIR/.installed"
  log "aws-kinesis-agg installed"
}

install_venv() {
  if venv_installed; then return 0; fi
  need_python
  log "creating venv with moto[server]==$MOTO_VERSION boto3==$BOTO3_VERSION in $VENV_DIR"
  rm -rf "$VENV_DIR"
  "$PYTHON_BIN" -m venv "$VENV_DIR" || die "$PYTHON_BIN -m venv failed (install python3-venv?)"
  "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "boto3==$BOTO3_VERSION" "botocore==$BOTOCORE_VERSION" \
    "prometheus_client==$PROMETHEUS_CLIENT_VERSION" >&2 \
    || die "pip install moto[server]==$MOTO_VERSION boto3==$BOTO3_VERSION failed"
  "$VENV_DIR/bin/python" -c 'import boto3, moto, flask, prometheus_client.parser' || die "venv check failed"
  printf 'moto %s\nboto3 %s\nbotocore %s\nprometheus_client %s\n' "$MOTO_VERSION" "$BOTO3_VERSION" "$BOTOCORE_VERSION" \
    "$PROMETHEUS_CLIENT_VERSION" >"$VENV_DIR/.installed"
  log "venv ready"
}

cmd_install() {
  mkdir -p "$CACHE_DIR"
  # Serialise concurrent installs (parallel test runs) when flock exists.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE_DIR/.install.lock"
    flock 9
  fi
  install_kinesis_local
  install_kinesis_agg
  install_venv
  # Release the lock so that servers started afterwards do not inherit it.
  if command -v flock >/dev/null 2>&1; then exec 9>&-; fi
}

# Prints N distinct free TCP ports on 127.0.0.1.
free_ports() {
  "$VENV_DIR/bin/python" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# Exit 0 when kinesis-local answers a ListStreams call with HTTP 200.
kinesis_ready() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \
    -H 'X-Amz-Date: 20200101T000000Z' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0' \
    --data '{}' "http://127.0.0.1:$1/" 2>/dev/null || true)"
  [ "$code" = 200 ]
}

moto_ready() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/moto-api/data.json" 2>/dev/null || true)"
  [ "$code" = 200 ]
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Stops a process group started by `start` (setsid makes pid == pgid), but only
# when the pid still runs the expected program (guards against pid reuse).
stop_pid() {
  local pid="$1" expect="$2" i
  alive "$pid" || return 0
  if [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -F -- "$expect"; then
    log "pid $pid no longer runs $expect; not killing it"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

cmd_start() {
  local dir="${1:-}"
  [ -n "$dir" ] || die "usage: emulators.sh start DIR"
  command -v curl >/dev/null 2>&1 || die "curl is not installed (used to wait for the servers)"
  cmd_install
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/env" ]; then
    # shellcheck disable=SC1091
    if (. "$dir/env" && { alive "${KINESIS_PID:-}" || alive "${MOTO_PID:-}"; }); then
      die "$dir/env belongs to emulators that are still running; run: $0 stop $dir"
    fi
    rm -f "$dir/env"
  fi

  local attempt kl_pid="" moto_pid="" kport tport mport ok=""
  for attempt in 1 2 3; do
    read -r kport tport mport < <(free_ports 3)
    mkdir -p "$dir/kinesis-data"
    # kinesis-local: plain HTTP on $kport, TLS (self-signed, server.json) on $tport,
    # both on 127.0.0.1 thanks to the install-time patch.
    (
      cd "$dir"
      exec setsid env \
        KINESIS_MOCK_PLAIN_PORT="$kport" \
        KINESIS_MOCK_TLS_PORT="$tport" \
        KINESIS_MOCK_CERT_PATH="$KL_PKG/server.json" \
        AWS_REGION=us-east-1 \
        AWS_ACCOUNT_ID=000000000000 \
        CREATE_STREAM_DURATION="$KL_DURATION" \
        DELETE_STREAM_DURATION="$KL_DURATION" \
        REGISTER_STREAM_CONSUMER_DURATION="$KL_DURATION" \
        DEREGISTER_STREAM_CONSUMER_DURATION="$KL_DURATION" \
        START_STREAM_ENCRYPTION_DURATION="$KL_DURATION" \
        STOP_STREAM_ENCRYPTION_DURATION="$KL_DURATION" \
        MERGE_SHARDS_DURATION="$KL_DURATION" \
        SPLIT_SHARD_DURATION="$KL_DURATION" \
        UPDATE_SHARD_COUNT_DURATION="$KL_DURATION" \
        UPDATE_STREAM_MODE_DURATION="$KL_DURATION" \
        SHARD_LIMIT="$KL_SHARD_LIMIT" \
        ON_DEMAND_STREAM_COUNT_LIMIT=100 \
        SHOULD_PERSIST_DATA=false \
        LOAD_DATA_IF_EXISTS=false \
        PERSIST_PATH="$dir/kinesis-data" \
        LOG_LEVEL="$KL_LOG_LEVEL" \
        ROOT_LOG_LEVEL=ERROR \
        node "$KL_MAIN" >"$dir/kinesis.log" 2>&1 </dev/null
    ) &
    kl_pid=$!
    # moto server (S3 and the rest of moto's services) on 127.0.0.1:$mport.
    (
      cd "$dir"
      exec setsid env AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
        "$VENV_DIR/bin/moto_server" -H 127.0.0.1 -p "$mport" >"$dir/moto.log" 2>&1 </dev/null
    ) &
    moto_pid=$!

    local deadline=$((SECONDS + START_TIMEOUT)) k_ok="" m_ok=""
    while [ "$SECONDS" -lt "$deadline" ]; do
      [ -n "$k_ok" ] || { kinesis_ready "$kport" && k_ok=1; } || true
      [ -n "$m_ok" ] || { moto_ready "$mport" && m_ok=1; } || true
      [ -n "$k_ok" ] && [ -n "$m_ok" ] && { ok=1; break; }
      alive "$kl_pid" && alive "$moto_pid" || break
      sleep 0.2
    done
    [ -n "$ok" ] && break
    stop_pid "$kl_pid" "$KL_MAIN"
    stop_pid "$moto_pid" moto_server
    if grep -q -i 'EADDRINUSE\|address already in use' "$dir/kinesis.log" "$dir/moto.log" 2>/dev/null; then
      log "port race on attempt $attempt, retrying with new ports"
      continue
    fi
    break
  done
  if [ -z "$ok" ]; then
    echo "--- $dir/kinesis.log (tail)" >&2; tail -n 5 "$dir/kinesis.log" >&2 || true
    echo "--- $dir/moto.log (tail)" >&2; tail -n 5 "$dir/moto.log" >&2 || true
    die "emulators did not become ready within ${START_TIMEOUT}s"
  fi

  cat >"$dir/env.tmp" <<EOF
KINESIS_ENDPOINT=http://127.0.0.1:$kport
KINESIS_TLS_ENDPOINT=https://127.0.0.1:$tport
KINESIS_PORT=$kport
KINESIS_TLS_PORT=$tport
KINESIS_PID=$kl_pid
S3_ENDPOINT=http://127.0.0.1:$mport
MOTO_ENDPOINT=http://127.0.0.1:$mport
MOTO_PORT=$mport
MOTO_PID=$moto_pid
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
EMULATORS_PYTHON=$VENV_DIR/bin/python
EOF
  mv "$dir/env.tmp" "$dir/env"
  cat "$dir/env"
}

cmd_stop() {
  local dir="${1:-}"
  [ -n "$dir" ] || die "usage: emulators.sh stop DIR"
  [ -f "$dir/env" ] || { log "no $dir/env; nothing to stop"; return 0; }
  local kpid mpid
  kpid="$(sed -n 's/^KINESIS_PID=//p' "$dir/env")"
  mpid="$(sed -n 's/^MOTO_PID=//p' "$dir/env")"
  [ -z "$kpid" ] || stop_pid "$kpid" "$KL_MAIN"
  [ -z "$mpid" ] || stop_pid "$mpid" moto_server
  mv "$dir/env" "$dir/env.stopped"
  log "stopped kinesis-local (pid ${kpid:-?}) and moto (pid ${mpid:-?})"
}

cmd_status() {
  local dir="${1:-}"
  [ -n "$dir" ] && [ -f "$dir/env" ] || die "no running emulators recorded in ${dir:-DIR}/env"
  cat "$dir/env"
  local kport mport rc=0
  kport="$(sed -n 's/^KINESIS_PORT=//p' "$dir/env")"
  mport="$(sed -n 's/^MOTO_PORT=//p' "$dir/env")"
  if kinesis_ready "$kport"; then echo "kinesis-local: up"; else echo "kinesis-local: DOWN"; rc=1; fi
  if moto_ready "$mport"; then echo "moto: up"; else echo "moto: DOWN"; rc=1; fi
  return "$rc"
}

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  python) shift; cmd_install; exec "$VENV_DIR/bin/python" "$@" ;;
  kpl-aggregate)
    shift; cmd_install
    NODE_PATH="$KA_DIR/node_modules" exec node "$(dirname "$0")/kpl_aggregate.js" "$@"
    ;;
  paths)
    echo "CACHE_DIR=$CACHE_DIR"
    echo "KINESIS_LOCAL_MAIN=$KL_MAIN"
    echo "VENV_PYTHON=$VENV_DIR/bin/python"
    echo "KINESIS_AGG_NODE_MODULES=$KA_DIR/node_modules"
    ;;
  -h | --help | help | "") usage ;;
  *) die "unknown subcommand '$1' (install | start DIR | stop DIR | status DIR | python ARGS | kpl-aggregate | paths)" ;;
esac
