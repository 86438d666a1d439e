#!/usr/bin/env bash
# Contact-set benchmark: the service on Postgres under wrk, beside pgbench running the same SQL
# transaction against the same database, in one run.
#
#   bench/run.sh                       # defaults: 10 s per point, concurrency 1 8 32
#   DURATION=20 CONCURRENCY="4 16" OPS=get bench/run.sh
#
# Needs Postgres at BENCH_DATABASE_URL's server (default: the machine's, user postgres); creates and
# drops a database of its own. Installs wrk with apt-get if it is missing. Loopback only, bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-"1 8 32"}
PROPERTIES=${BENCH_PROPERTIES:-1000}
SERVER_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}
DB=pc_bench
PORT=${BENCH_PORT:-18181}
OUT=bench-out
mkdir -p "$OUT"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v pgbench >/dev/null || { echo "pgbench is missing (Debian: postgresql-client)" >&2; exit 1; }

psql -q "$SERVER_URL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
DB_URL="$SERVER_URL/$DB"
# The service talks plain TCP to Postgres (no TLS backend is compiled into sqlx); libpq would negotiate
# TLS when the server offers it, which costs pgbench ~10 % of its rate. Same transport for both.
PGBENCH_URL="$DB_URL?sslmode=disable"

cargo build --release --quiet
DATABASE_URL="$DB_URL" ./target/release/property-contacts serve --listen "127.0.0.1:$PORT" \
  >"$OUT/service.out" 2>"$OUT/service.err" &
SERVICE=$!
trap 'kill $SERVICE 2>/dev/null; wait $SERVICE 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
KEY=$(grep -o 'pck_[A-Za-z0-9_-]*' "$OUT/service.err" | head -1)
[ -n "$KEY" ] || { echo "no bootstrap key in $OUT/service.err" >&2; exit 1; }

echo "seeding $PROPERTIES properties with a three-contact set..."
seed() {
  local h=(-fsS -o /dev/null -X PUT -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json')
  curl "${h[@]}" "127.0.0.1:$PORT/api/v1/properties/bp$1" -d '{}'
  curl "${h[@]}" "127.0.0.1:$PORT/contacts-api/properties/bp$1/contacts" --data-binary @bench/contact_set.json
}
export -f seed
export KEY PORT
seq 1 "$PROPERTIES" | xargs -P 8 -n 1 bash -c 'seed "$0"'

export BENCH_KEY=$KEY BENCH_PROPERTIES=$PROPERTIES BENCH_DIR=$PWD/bench
CONTACTS_JSON=$(jq -c .contacts bench/contact_set.json 2>/dev/null || python3 -c 'import json;print(json.dumps(json.load(open("bench/contact_set.json"))["contacts"]))')

# wrk: "rps p50_ms p99_ms" (fails on any non-2xx answer).
run_wrk() { # op conc
  local threads=$(( $2 < 2 ? 1 : 2 ))
  local log="$OUT/wrk-$1-$2.txt"
  wrk -t"$threads" -c"$2" -d"${DURATION}s" --latency -s "bench/$1.lua" "http://127.0.0.1:$PORT" >"$log"
  if grep -q "Non-2xx" "$log"; then echo "wrk saw errors:" >&2; cat "$log" >&2; exit 1; fi
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    / 50%/ { p50 = ms($2) } / 99%/ { p99 = ms($2) } /Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }' "$log"
}

# pgbench with per-transaction logs: "tps p50_ms p99_ms".
run_pgbench() { # name conc script
  local threads=$(( $2 < 2 ? 1 : 2 ))
  local dir="$OUT/pgbench-$1-$2"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && pgbench -n -M prepared -c "$2" -j "$threads" -T "$DURATION" -l \
      -D properties="$PROPERTIES" -D contacts_json="$CONTACTS_JSON" \
      -f "$3" "$PGBENCH_URL" >summary.txt 2>&1) || { cat "$dir/summary.txt" >&2; exit 1; }
  local tps
  tps=$(awk '/^tps/ { print $3; exit }' "$dir/summary.txt")
  cat "$dir"/pgbench_log.* | awk '{ print $3 }' | sort -n | awk -v tps="$tps" '
    { v[NR] = $1 } END { printf "%.0f %.2f %.2f\n", tps, v[int(NR*0.50)]/1000, v[int(NR*0.99)]/1000 }'
}

# The service sends a PUT's statements pipelined (one round trip); pgbench sends one statement per
# round trip unless told otherwise. "put*" rows run the same statements pipelined by pgbench too.
awk '/^BEGIN;/ { print "\\startpipeline" } { print } /^COMMIT;/ { print "\\endpipeline" }' \
  bench/raw_put.sql >"$OUT/raw_put_pipelined.sql"

row() { # op conc svc(3) sql(3)
  local ratio
  ratio=$(awk -v a="$3" -v b="$6" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '%-4s %5s | %9s %8s %8s | %9s %8s %8s | %6s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$ratio"
}

printf '\n%-4s %5s | %9s %8s %8s | %9s %8s %8s | %6s\n' op conc "svc req/s" "p50 ms" "p99 ms" "sql tx/s" "p50 ms" "p99 ms" ratio
for op in ${OPS:-put get}; do
  for c in $CONCURRENCY; do
    read -r s_rps s_p50 s_p99 < <(run_wrk "$op" "$c")
    read -r r_rps r_p50 r_p99 < <(run_pgbench "$op" "$c" "$PWD/bench/raw_$op.sql")
    row "$op" "$c" "$s_rps" "$s_p50" "$s_p99" "$r_rps" "$r_p50" "$r_p99"
    if [ "$op" = put ]; then
      read -r r_rps r_p50 r_p99 < <(run_pgbench put-pipelined "$c" "$PWD/$OUT/raw_put_pipelined.sql")
      row "put*" "$c" "$s_rps" "$s_p50" "$s_p99" "$r_rps" "$r_p50" "$r_p99"
    fi
  done
done
echo
echo "ratio = service requests/s / raw SQL transactions/s, same database, same run. Logs: $OUT/"
echo "put* = the same PUT statements pipelined by pgbench (\\startpipeline), as the service sends them."
psql -q "$SERVER_URL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null || true
