#!/usr/bin/env bash
# CRM scale benchmark (issue 15): seeds N contacts in one tenant with a bulk SQL load, starts the
# service on them (which gives them their search terms at start, as after an upgrade), then times at
# CONCURRENCY clients each CRM read that must stay flat as data grows -- `q` search, each list
# filter, a cursor page deep into the list, a duplicate lookup -- and a 1,000-item batch against
# 1,000 single creates.
#
#   bench/crm_scale.sh                                  # Postgres, 1,000,000 contacts (the lead's run)
#   N=10000 STORE=sqlite bench/crm_scale.sh
#   N=20000 BIN=target/debug/property-contacts bench/crm_scale.sh   # a quick check (debug build)
#
# Knobs: N (1000000), STORE (postgres | sqlite), CONCURRENCY (8), REQUESTS (per client and query,
# 50), BIN (default: build the release binary), BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432;
# a database pc_scale is dropped and created), BENCH_PORT (18282). Output: one line per query with
# p50/p95/p99/max in ms, the batch comparison, and the time the load and the term backfill took.
# Loopback only. Fails on any non-2xx answer.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
STORE=${STORE:-postgres}
CONCURRENCY=${CONCURRENCY:-8}
REQUESTS=${REQUESTS:-50}
PORT=${BENCH_PORT:-18282}
PG=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}
OUT=bench-out/crm-scale
mkdir -p "$OUT"

if [[ -z "${BIN:-}" ]]; then
  cargo build --release --locked
  BIN=${CARGO_TARGET_DIR:-target}/release/property-contacts
fi

case "$STORE" in
  postgres)
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS pc_scale" -c "CREATE DATABASE pc_scale"
    URL="$PG/pc_scale"
    TIME="to_timestamp(1767225600 + i)" PAD7="lpad((id % 10000000)::text, 7, '0')"
    run_sql() { psql "$URL" -qv ON_ERROR_STOP=1 -f "$1"; }
    ;;
  sqlite)
    rm -f "$OUT"/scale.db*
    URL="sqlite:$OUT/scale.db"
    TIME="strftime('%Y-%m-%dT%H:%M:%SZ', 1767225600 + i, 'unixepoch')"
    PAD7="substr('0000000' || (id % 10000000), -7)"
    run_sql() { sqlite3 "$OUT/scale.db" < "$1"; }
    ;;
  *) echo "STORE is postgres or sqlite" >&2; exit 2 ;;
esac

DATABASE_URL="$URL" "$BIN" migrate
KEY=$(DATABASE_URL="$URL" "$BIN" keys create --tenant bench --name bench --scopes read,write)

sed -e "s/@N@/$N/g" -e "s/@TIME@/$TIME/g" -e "s/@PAD7@/$PAD7/g" bench/crm_scale.sql.in > "$OUT/load.sql"
start=$(date +%s.%N)
run_sql "$OUT/load.sql"
if [[ "$STORE" == postgres ]]; then psql "$URL" -qc "VACUUM ANALYZE"; else sqlite3 "$OUT/scale.db" "ANALYZE"; fi
echo "load: $N contacts in $(echo "$(date +%s.%N) - $start" | bc) s"

start=$(date +%s.%N)
DATABASE_URL="$URL" BOOTSTRAP_KEY_FILE="$OUT/admin.key" "$BIN" serve --listen "127.0.0.1:$PORT" \
  > "$OUT/service.log" 2>&1 &
SERVICE=$!
trap 'kill $SERVICE 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null; do
  kill -0 $SERVICE 2>/dev/null || { tail -20 "$OUT/service.log"; exit 1; }
  sleep 0.5
done
echo "start with search-term backfill: $(echo "$(date +%s.%N) - $start" | bc) s"
# As autovacuum would within a minute of the backfill's inserts (an insert-driven vacuum since
# Postgres 13): without the visibility map the terms' index-only scans fetch every heap row.
if [[ "$STORE" == postgres ]]; then psql "$URL" -qc "VACUUM ANALYZE"; else sqlite3 "$OUT/scale.db" "ANALYZE"; fi

python3 bench/crm_scale.py --url "http://127.0.0.1:$PORT" --key "$KEY" --contacts "$N" \
  --clients "$CONCURRENCY" --requests "$REQUESTS" --store "$STORE"
