#!/usr/bin/env bash
# Bounded abuse run: starts the service on a fresh store and drives scripts/abuse.py against it
# (malformed-input battery on every route, idle and slow sockets, a long CRM history read in
# parallel), then prints a figures table. Fails on any 5xx, a request left unanswered, a crash,
# /livez or an API call slower than 1 s under socket pressure, slow sockets left open, or the
# service's RSS over 100 MB while the history is read.
#
#   scripts/abuse.sh                           # short (CI): every probe kind on every route, 100 revisions,
#                                              # 150 silent + 10 one-byte + 30 slow sockets; ~2 min on a debug build
#   ABUSE_SCALE=full scripts/abuse.sh          # every variant plus 400 seeded combinations per body route,
#                                              # 1,000 revisions, 300 + 16 + 50 sockets
#   BIN=target/release/property-contacts scripts/abuse.sh
#   STORE=postgres ABUSE_DATABASE_URL=postgres://postgres@127.0.0.1:5432 scripts/abuse.sh
#
# BIN: the binary to run (default: the debug build, built first). STORE: sqlite (default, a file in a
# temporary directory) or postgres: a fresh database is created on the server of ABUSE_DATABASE_URL
# (else DATABASE_URL; its database name is ignored) and dropped afterwards.
# The service runs with HTTP_HEADER_READ_TIMEOUT_SECS=ABUSE_HEADER_TIMEOUT (3),
# HTTP_IDLE_TIMEOUT_SECS=ABUSE_IDLE_TIMEOUT (8) and REQUEST_TIMEOUT_SECS=ABUSE_REQUEST_TIMEOUT (30).
# ABUSE_RSS_LIMIT_MB (100; 0 reports RSS without gating on it).
# Counts (override the scale): ABUSE_REVISIONS, ABUSE_READERS, ABUSE_PASSES, ABUSE_IDLE, ABUSE_SLOW,
# ABUSE_WORKERS (parallel probes), ABUSE_WIDE=1|0 (every variant of each probe), ABUSE_RANDOM (seeded
# combined mutations per body route). ABUSE_PHASES=battery,sockets,history picks phases;
# ABUSE_TRACE=file writes one line per request (phase, probe, target, status, ms); ABUSE_KEEP=1 keeps
# the work directory (the service's log) afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

STARTED=$(date +%s.%N)
SCALE=${ABUSE_SCALE:-short}
STORE=${STORE:-sqlite}
HEADER_TIMEOUT=${ABUSE_HEADER_TIMEOUT:-3}
REQUEST_TIMEOUT=${ABUSE_REQUEST_TIMEOUT:-30}
IDLE_TIMEOUT=${ABUSE_IDLE_TIMEOUT:-8}
WORK=$(mktemp -d)

if [[ -z "${BIN:-}" ]]; then
  cargo build --quiet --bin property-contacts
  BIN="${CARGO_TARGET_DIR:-target}/debug/property-contacts"
fi
[[ -x "$BIN" ]] || { echo "abuse: no executable at $BIN" >&2; exit 2; }

DB_ADMIN_URL=""
DB_NAME=""
case "$STORE" in
  sqlite)
    SERVICE_DB="sqlite:$WORK/abuse.db"
    ;;
  postgres)
    SERVER_URL=${ABUSE_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432}}
    # scheme://user@host:port[/db][?params]: keep the server part and the params, pick our own database.
    if [[ ! "$SERVER_URL" =~ ^(postgres(ql)?://[^/?]+)(/[^?]*)?(\?.*)?$ ]]; then
      echo "abuse: cannot read the server out of $SERVER_URL" >&2
      exit 2
    fi
    BASE=${BASH_REMATCH[1]}
    PARAMS=${BASH_REMATCH[4]}
    DB_NAME="abuse_$$_$(date +%s)"
    DB_ADMIN_URL="$BASE/postgres$PARAMS"
    psql -q -v ON_ERROR_STOP=1 "$DB_ADMIN_URL" -c "CREATE DATABASE $DB_NAME" >/dev/null
    SERVICE_DB="$BASE/$DB_NAME$PARAMS"
    ;;
  *)
    echo "abuse: STORE must be sqlite or postgres" >&2
    exit 2
    ;;
esac

SERVICE=""
cleanup() {
  if [[ -n "$SERVICE" ]]; then
    kill "$SERVICE" 2>/dev/null || true
    wait "$SERVICE" 2>/dev/null || true
  fi
  if [[ -n "$DB_NAME" ]]; then
    psql -q "$DB_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [[ "${ABUSE_KEEP:-}" == 1 ]]; then echo "abuse: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

DATABASE_URL="$SERVICE_DB" BOOTSTRAP_KEY_FILE="$WORK/admin.key" LISTEN_ADDR=127.0.0.1:0 \
  HTTP_HEADER_READ_TIMEOUT_SECS="$HEADER_TIMEOUT" REQUEST_TIMEOUT_SECS="$REQUEST_TIMEOUT" \
  HTTP_IDLE_TIMEOUT_SECS="$IDLE_TIMEOUT" RATE_LIMIT_PER_SECOND=0 RUST_LOG="${RUST_LOG:-info}" \
  "$BIN" serve >"$WORK/service.out" 2>"$WORK/service.err" &
SERVICE=$!

ADDR=""
for _ in $(seq 1 150); do
  ADDR=$(sed -n 's/.*"listen":"\([^"]*\)".*property-contacts listening.*/\1/p; s/.*property-contacts listening.*"listen":"\([^"]*\)".*/\1/p' \
    "$WORK/service.err" | head -n1)
  [[ -n "$ADDR" && -s "$WORK/admin.key" ]] && break
  kill -0 "$SERVICE" 2>/dev/null || break
  sleep 0.2
done
if [[ -z "$ADDR" ]]; then
  echo "abuse: the service did not start; its log:" >&2
  tail -n 30 "$WORK/service.err" >&2
  exit 2
fi
echo "abuse: $BIN (pid $SERVICE) on $ADDR, store $STORE ($(sed 's#//[^@]*@#//…@#' <<<"$SERVICE_DB"))"

status=0
python3 scripts/abuse.py --addr "$ADDR" --key-file "$WORK/admin.key" --pid "$SERVICE" --scale "$SCALE" \
  --store "$STORE" --header-timeout "$HEADER_TIMEOUT" --request-timeout "$REQUEST_TIMEOUT" \
  --idle-timeout "$IDLE_TIMEOUT" --started "$STARTED" \
  ${ABUSE_PHASES:+--phases "$ABUSE_PHASES"} || status=$?

# What the service logged that deserves a look: panics and error lines (never bodies: the log has none).
panics=$(grep -c '"panicked\|panicked at' "$WORK/service.err" || true)
errors=$(grep -c '"level":"ERROR"' "$WORK/service.err" || true)
echo "abuse: service log: ${panics:-0} panic line(s), ${errors:-0} ERROR line(s)"
if [[ "${errors:-0}" != 0 ]]; then
  grep '"level":"ERROR"' "$WORK/service.err" \
    | sed -E 's/"timestamp":"[^"]*",//; s/,?"(request_id|tracking_id)":"[^"]*"//g' | cut -c1-300 \
    | sort | uniq -c | sort -rn | head -n 15
fi
if ! kill -0 "$SERVICE" 2>/dev/null; then
  echo "abuse: FAIL: the service process exited; the end of its log:" >&2
  tail -n 20 "$WORK/service.err" >&2
  status=1
fi
exit "$status"
