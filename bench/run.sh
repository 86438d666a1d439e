#!/usr/bin/env bash
# Hot-route benchmark: each hot route of the service under wrk, beside a raw client running the same
# statements on the same data in the same run, on Postgres (pgbench with bench/raw_<op>.sql, against
# the same database) and on the embedded SQLite store (bench/raw_sqlite.rs: sqlx, the service's
# driver and settings, without HTTP; every point on a fresh copy of the file the service seeded).
#
#   bench/run.sh                                        # everything: both stores, c = 1 8 32, 10 s
#   DURATION=2 CONCURRENCY="1 8" OPS="put crm_get" STORES=postgres bench/run.sh
#   BIN=new/property-contacts BASELINE_BIN=old/property-contacts bench/run.sh   # A/B: op[old], op[new]
#
# Routes (OPS, default all): put get su_set crm_create crm_get crm_list_email feed crm_tel_add
# cust_post cust_get. Stores (STORES): postgres sqlite.
#
# put and su_set send another set every request (the first contact's name carries a random number),
# so each one is a real replace: a set equal to the stored one stores nothing. feed reads the change
# feed's first page (GET /api/v1/changes?limit=100), next to crm_list_email (a CRM list page) in the
# table: the feed is meant to serve its page at least as fast. Every write records an event, so the
# seeding leaves ~9 000 in the tenant; the script checks there are BENCH_FEED_EVENTS (5000) and
# otherwise writes more (contact-set PUTs through a binary that serves the feed, e.g. when the
# BASELINE_BIN predates it; such a binary gets n/a rows for feed).
#
# Run time with the defaults: a point lasts DURATION (10 s); each route and concurrency takes one
# point per binary plus one raw point (Postgres: plus put*): 10 routes x 3 concurrencies x 2 points x
# 10 s = 10 min a store (10.5 on Postgres), about 22 min for both with the seeding (~20 s a store) and
# the SQLite restarts, plus the release builds without BIN / RAW_SQLITE_BIN (fat LTO: ~5 min for the
# service, ~3 for raw_sqlite). BASELINE_BIN adds 5 min a store (about 32 min in all).
# (DURATION=2 CONCURRENCY="1 8": about 4 min; with BASELINE_BIN about 5.5.)
#
# BENCH_WEBHOOK=1: every binary that serves webhooks has an active subscription (all event types) to a
# receiver on 127.0.0.1 that answers 204 at once, so its write points pay for the feed and for
# deliveries (WEBHOOK_ALLOW_PRIVATE_TARGETS=true is exported for it).
#
# Knobs: DURATION, CONCURRENCY, OPS, STORES; BIN (the binary to measure; default: build the release
# one), BASELINE_BIN (a second binary: every point runs with both, one after the other, in an order
# that alternates from point to point, each beside
# the same raw point), RAW_SQLITE_BIN (default: build the example), SQLITE_WRITERS (single, the
# default: one writer connection behind a mutex; per-client: BEGIN IMMEDIATE on each client's
# connection); BENCH_DATABASE_URL (the Postgres server, default
# postgres://postgres@127.0.0.1:5432), BENCH_PORT (18181), BENCH_PROPERTIES (1000),
# BENCH_CRM_CONTACTS (1000), BENCH_TEL_CONTACTS (5000: a point may add 20 telephones to each),
# BENCH_CUSTOMERS (1000), BENCH_FEED_EVENTS (5000: the fewest events the feed route runs on).
#
# The raw SQLite client commits every transaction on its own; the service commits the writes queued
# together as one (src/store/group_commit.rs), so its SQLite write ratios can pass 1.
#
# pgbench sends BEGIN and COMMIT as prepared statements (-M prepared), sqlx as simple queries; the
# raw scripts' other differences are in their headers.
#
# Creates and drops a Postgres database of its own (pc_bench) and SQLite files under bench-out/.
# Installs wrk and jq with apt-get if missing. Loopback only, bounded. Fails on any non-2xx answer or
# raw error.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-"1 8 32"}
OPS=${OPS:-"put get su_set crm_create crm_get crm_list_email feed crm_tel_add cust_post cust_get"}
STORES=${STORES:-"postgres sqlite"}
SQLITE_WRITERS=${SQLITE_WRITERS:-single}
PROPERTIES=${BENCH_PROPERTIES:-1000}
CRM_CONTACTS=${BENCH_CRM_CONTACTS:-1000}
TEL_CONTACTS=${BENCH_TEL_CONTACTS:-5000}
CUSTOMERS=${BENCH_CUSTOMERS:-1000}
FEED_EVENTS=${BENCH_FEED_EVENTS:-5000}
TEL_FIRST=$((CRM_CONTACTS + 1))
TEL_LAST=$((CRM_CONTACTS + TEL_CONTACTS))
SERVER_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}
DB=pc_bench
PORT=${BENCH_PORT:-18181}
OUT=bench-out
TARGET_DIR=${CARGO_TARGET_DIR:-target}
mkdir -p "$OUT" && rm -f "$OUT"/*.key
export RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0

for tool in wrk jq; do
  command -v $tool >/dev/null || { apt-get update -qq && apt-get install -y -qq $tool >/dev/null; }
done
command -v pgbench >/dev/null || { echo "pgbench is missing (Debian: postgresql-client)" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$TARGET_DIR/release/property-contacts
fi
if [[ " $STORES " == *" sqlite "* && -z "${RAW_SQLITE_BIN:-}" ]]; then
  cargo build --release --quiet --example raw_sqlite
  RAW_SQLITE_BIN=$TARGET_DIR/release/examples/raw_sqlite
fi
RAW_SQLITE=${RAW_SQLITE_BIN:-}
for op in $OPS; do
  [ -f "bench/$op.lua" ] && [ -f "bench/raw_$op.sql" ] || { echo "unknown route $op" >&2; exit 1; }
done
# The binaries measured, in start order: a baseline first (it may know fewer migrations).
if [ -n "${BASELINE_BIN:-}" ]; then
  BINS=("$BASELINE_BIN" "$BIN") LABELS=("[old]" "[new]")
else
  BINS=("$BIN") LABELS=("")
fi

PIDS=()
stop_services() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap stop_services EXIT

start_service() { # index database_url store
  local port=$((PORT + $1))
  # Older binaries print the bootstrap key to stderr; newer ones write it to BOOTSTRAP_KEY_FILE.
  DATABASE_URL="$2" BOOTSTRAP_KEY_FILE="$OUT/$3-service$1.key" "${BINS[$1]}" serve --listen "127.0.0.1:$port" \
    >"$OUT/$3-service$1.out" 2>"$OUT/$3-service$1.err" &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -fs "127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  echo "service ${BINS[$1]} did not become ready; see $OUT/$3-service$1.err" >&2
  exit 1
}

# Seeding, through the first service: properties bp<i> (each mapped to booking listing bk<i>, with the
# three-contact set), CRM contacts 1..CRM_CONTACTS (e-mail guest<i>@bench.example; the first one's
# create answer is the contact JSON the raw CRM writes record), TEL_CONTACTS contacts after them for
# the telephone adds (no telephones), customers cust<i> with a billing and a service contact. One
# curl process per kind sends them, 8 at a time (a curl per request costs more than the request).
seed_config() { # kind first last: a curl config, one request per id
  local i q=\\\" crm
  crm=$(sed 's/"/\\"/g' bench/crm_contact.json)
  for ((i = $2; i <= $3; i++)); do
    printf 'next\nfail\nshow-error\noutput = "/dev/null"\nheader = "Authorization: Bearer %s"\n' "$KEY"
    printf 'header = "Content-Type: application/json"\n'
    case $1 in
      property)
        printf 'url = "%s/api/v1/properties/bp%d"\nrequest = "PUT"\n' "$SEED_URL" "$i"
        printf 'data = "{%schannel_mappings%s:[{%schannel%s:%sbooking%s,%schannel_property_id%s:%sbk%d%s}]}"\n' \
          "$q" "$q" "$q" "$q" "$q" "$q" "$q" "$q" "$q" "$i" "$q" ;;
      contact_set)
        printf 'url = "%s/contacts-api/properties/bp%d/contacts"\nrequest = "PUT"\n' "$SEED_URL" "$i"
        printf 'data-binary = "@%s"\n' "${SET_FILE:-bench/contact_set.json}" ;;
      crm)
        printf 'url = "%s/api/v3/contacts"\ndata = "%s"\n' "$SEED_URL" "${crm/@EMAIL@/guest$i@bench.example}" ;;
      tel)
        printf 'url = "%s/api/v3/contacts"\n' "$SEED_URL"
        printf 'data = "{%sfirstName%s:%sTel%s,%slastName%s:%sTeladd%s}"\n' "$q" "$q" "$q" "$q" "$q" "$q" "$q" "$q" ;;
      customer)
        printf 'url = "%s/api/v1/customers/cust%d/contacts"\ndata-binary = "@bench/customer_seed.json"\n' "$SEED_URL" "$i" ;;
    esac
  done | tail -n +2 # no "next" before the first request
}
seed_all() { # kind first last
  [ "$2" -le "$3" ] || return 0
  seed_config "$@" >"$OUT/seed-$1.curl"
  curl --no-progress-meter --parallel --parallel-max 8 --fail-early -K "$OUT/seed-$1.curl" ||
    { echo "seeding $1 failed" >&2; exit 1; }
}
# "first_id total" of the CRM contacts with this last name.
id_range() { # last_name sort
  curl -fsS -H "Authorization: Bearer $KEY" "$SEED_URL/api/v3/contacts?lastName=$1&size=1&sort=id,$2" |
    jq -r '"\(.content[0].id) \(.page.totalElements)"'
}
seed_store() { # store
  KEY=$(cat "$OUT/$1-service0.key" 2>/dev/null || grep -o 'pck_[A-Za-z0-9_-]*' "$OUT/$1-service0.err" | head -1)
  [ -n "$KEY" ] || { echo "no bootstrap key in $OUT/$1-service0.err" >&2; exit 1; }
  export BENCH_KEY=$KEY
  SEED_URL=http://127.0.0.1:$PORT
  echo "seeding ($1): $PROPERTIES properties, $CRM_CONTACTS + $TEL_CONTACTS CRM contacts, $CUSTOMERS customers..."
  seed_all property 1 "$PROPERTIES"
  seed_all contact_set 1 "$PROPERTIES"
  sed "s/@EMAIL@/guest1@bench.example/" bench/crm_contact.json |
    curl -fsS -o "$OUT/crm_contact_created.json" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
      -X POST "$SEED_URL/api/v3/contacts" --data-binary @-
  seed_all crm 2 "$CRM_CONTACTS"
  seed_all tel "$TEL_FIRST" "$TEL_LAST"
  seed_all customer 1 "$CUSTOMERS"
  # The routes pick ids from these ranges: check the store numbered them so.
  [ "$(id_range Berg desc)" = "$CRM_CONTACTS $CRM_CONTACTS" ] &&
    [ "$(id_range Teladd asc)" = "$TEL_FIRST $TEL_CONTACTS" ] ||
    { echo "the seeded CRM contacts are not numbered 1..$CRM_CONTACTS, $TEL_FIRST..$TEL_LAST" >&2; exit 1; }
}

# The change feed (op feed). FEED_SERVES[i]: whether binary i serves GET /api/v1/changes (a
# baseline from before the feed answers 404; its feed rows read n/a).
FEED_SERVES=()
serves_feed() { # port
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" \
    "127.0.0.1:$1/api/v1/changes?limit=1")" = 200 ]
}
# The tenant's events, by paging the feed (1000 a page), counted up to FEED_EVENTS.
count_events() { # port
  local n=0 got after="" page
  while [ "$n" -lt "$FEED_EVENTS" ]; do
    page=$(curl -fsS -H "Authorization: Bearer $KEY" "127.0.0.1:$1/api/v1/changes?limit=1000${after:+&after=$after}")
    got=$(jq '.items | length' <<<"$page")
    n=$((n + got))
    [ "$got" = 1000 ] || break
    after=$(jq -r .next <<<"$page")
  done
  echo "$n"
}
# Makes sure the tenant has FEED_EVENTS events, through the service on this port: the seeding's
# writes record ~9 000 with a binary that records events; otherwise (the seeding ran through a
# baseline from before the feed) passes of contact-set PUTs, each another set (the first contact
# named "Sarah Jansen seed<n>"), one event each. Fails unless the first page (100) is full.
seed_events() { # port
  local n pass=0
  n=$(count_events "$1")
  while [ "$n" -lt "$FEED_EVENTS" ] && [ "$pass" -lt 50 ]; do
    pass=$((pass + 1))
    jq -c ".contacts[0].contact_person.name += \" seed$pass\"" bench/contact_set.json >"$OUT/contact_set_seed.json"
    SEED_URL=http://127.0.0.1:$1 SET_FILE=$OUT/contact_set_seed.json seed_all contact_set 1 "$PROPERTIES"
    n=$(count_events "$1")
  done
  [ "$pass" = 0 ] || echo "seeding: $pass pass(es) of contact-set PUTs for the feed ($n events)"
  [ "$n" -ge 100 ] || { echo "the feed has $n events, not a full page of 100" >&2; exit 1; }
}

# wrk: "rps p50_ms p99_ms" (fails on any non-2xx answer or socket error).
run_wrk() { # op conc port log
  local threads=$(($2 < 2 ? 1 : 2))
  BENCH_WRK_THREADS=$threads wrk --timeout 10s -t"$threads" -c"$2" -d"${DURATION}s" --latency -s "bench/$1.lua" \
    "http://127.0.0.1:$3" >"$4"
  if grep -q "Non-2xx\|Socket errors" "$4"; then echo "wrk saw errors:" >&2; cat "$4" >&2; exit 1; fi
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    / 50%/ { p50 = ms($2) } / 99%/ { p99 = ms($2) } /Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }' "$4"
}

# pgbench with per-transaction logs: "tps p50_ms p99_ms".
run_pgbench() { # name conc script
  local threads=$(($2 < 2 ? 1 : 2))
  local dir="$OUT/pgbench-$1-$2"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && pgbench -n -M prepared -c "$2" -j "$threads" -T "$DURATION" -l -D clients="$2" \
      "${PGBENCH_VARS[@]}" -f "$3" "$PGBENCH_URL" >summary.txt 2>&1) || { cat "$dir/summary.txt" >&2; exit 1; }
  local tps
  tps=$(awk '/^tps/ { print $3; exit }' "$dir/summary.txt")
  cat "$dir"/pgbench_log.* | awk '{ print $3 }' | sort -n | awk -v tps="$tps" '
    { v[NR] = $1 } END { printf "%.0f %.2f %.2f\n", tps, v[int(NR*0.50)]/1000, v[int(NR*0.99)]/1000 }'
}

# bench/raw_sqlite.rs on $RAW_DB: "tps p50_ms p99_ms".
run_raw_sqlite() { # op conc
  "$RAW_SQLITE" run --db "$RAW_DB" --op "$1" --concurrency "$2" --duration "$DURATION" \
    --writers "$SQLITE_WRITERS" --properties "$PROPERTIES" --crm-contacts "$CRM_CONTACTS" \
    --tel-first "$TEL_FIRST" --tel-contacts "$TEL_CONTACTS" --customers "$CUSTOMERS" \
    --set-json bench/contact_set.json --contact-json "$OUT/crm_contact_created.json" \
    2>"$OUT/raw-sqlite-$1-$2.err" || { cat "$OUT/raw-sqlite-$1-$2.err" >&2; exit 1; }
}

TEL_RESET="DELETE FROM crm_contact_telephones WHERE contact_id BETWEEN $TEL_FIRST AND $TEL_LAST"
reset_tel() {
  psql -q "$DB_URL" -c "$TEL_RESET"
}
# After a raw point (pgbench cannot refuse as the service does): no contact past the maximum.
check_tel_cap() {
  local most
  most=$(psql -qAt "$DB_URL" -c "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) n FROM crm_contact_telephones \
    WHERE contact_id BETWEEN $TEL_FIRST AND $TEL_LAST GROUP BY contact_id) t")
  [ "$most" -le 20 ] || { echo "a contact got $most telephones: raise BENCH_TEL_CONTACTS" >&2; exit 1; }
}

# A request cancelled while sqlx opens its transaction (wrk closes its connections with requests in
# flight when a point ends) can leave the service's pooled connection inside that transaction (sqlx
# 0.8.6: the cancelled BEGIN is not rolled back); the next request on it then runs in the stale one
# (a CRM write in a READ ONLY one fails). Such sessions are ended before every point, and said so; the
# pool replaces them (a connection idle for a second is pinged before use).
end_stale_transactions() {
  local n
  n=$(psql -qAt "$DB_URL" -c "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
    WHERE datname = '$DB' AND application_name = 'property-contacts' AND state = 'idle in transaction' \
    AND state_change < now() - interval '1 second'")
  [ "$n" = 0 ] || echo "(ended $n service connection(s) left idle in transaction by a request cancelled when the last point stopped)" >&2
}

NA="n/a - -" # the service figures of a binary that does not serve the route
# The binaries' order at the next point (ORDER), alternating from point to point: on this noisy
# two-core machine the second of two back-to-back points ran slower, whichever binary it was, so an
# A/B with a fixed order favoured the first binary.
POINT=0
next_order() {
  local n=${#BINS[@]} i
  ORDER=()
  if ((POINT % 2 == 0)); then
    for ((i = 0; i < n; i++)); do ORDER+=("$i"); done
  else
    for ((i = n - 1; i >= 0; i--)); do ORDER+=("$i"); done
  fi
  POINT=$((POINT + 1))
}
row() { # label conc svc(3) raw(3)
  local ratio
  ratio=$(awk -v a="$3" -v b="$6" 'BEGIN { if (a == "n/a") print "-"; else printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '%-20s %5s | %9s %8s %8s | %9s %8s %8s | %6s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$ratio"
}
# One row per binary: its service figures beside the same raw figures.
rows() { # op conc raw
  local i
  for i in "${!BINS[@]}"; do
    # shellcheck disable=SC2086 # the three figures split into three columns
    row "$1${LABELS[$i]}" "$2" ${svc[$i]} $3
  done
}
header() {
  printf '\n%s\n%-20s %5s | %9s %8s %8s | %9s %8s %8s | %6s\n' "$1" op conc "svc req/s" "p50 ms" "p99 ms" \
    "raw tx/s" "p50 ms" "p99 ms" ratio
}

# BENCH_WEBHOOK: a receiver that answers every POST 204 (its own process), and a subscription of the
# store's tenant. nginx when installed (apt-get install nginx-light): the service's deliveries are
# what is measured, and on 2 cores a Python receiver at thousands of requests a second takes a core
# from the service; python3's http.server otherwise.
RECEIVER_PORT=$((PORT + 50))
if [ -n "${BENCH_WEBHOOK:-}" ]; then
  export WEBHOOK_ALLOW_PRIVATE_TARGETS=true
  if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
    RECEIVER_DIR=$(mktemp -d)
    cat >"$RECEIVER_DIR/nginx.conf" <<NGINX
worker_processes 1;
pid $RECEIVER_DIR/nginx.pid;
error_log $RECEIVER_DIR/error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $RECEIVER_DIR;
  server { listen 127.0.0.1:$RECEIVER_PORT; location / { return 204; } }
}
NGINX
    "$(command -v nginx || echo /usr/sbin/nginx)" -c "$RECEIVER_DIR/nginx.conf" -p "$RECEIVER_DIR" &
    echo "webhook receiver: nginx on 127.0.0.1:$RECEIVER_PORT"
  else
    python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$RECEIVER_PORT" &
    echo "webhook receiver: python3 http.server on 127.0.0.1:$RECEIVER_PORT"
  fi
  RECEIVER_PID=$!
  trap 'kill $RECEIVER_PID 2>/dev/null || true' EXIT
fi
subscribe() { # port: true when that service took the subscription
  [ -n "${BENCH_WEBHOOK:-}" ] || return 1
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -X POST "127.0.0.1:$1/api/v1/webhooks" -d "{\"url\":\"http://127.0.0.1:$RECEIVER_PORT/hook\"}")" = 201 ]
}

# Postgres: one database for the whole store, the services (all binaries) up throughout, each point
# of the service beside the pgbench point on the same database.
bench_postgres() {
  psql -q "$SERVER_URL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  local i
  for i in "${!BINS[@]}"; do
    start_service "$i" "$DB_URL" postgres
    [ "$i" != 0 ] || seed_store postgres
  done
  # One subscription in the shared database: every binary with a delivery loop shares its work.
  if [ -n "${BENCH_WEBHOOK:-}" ]; then
    for i in "${!BINS[@]}"; do subscribe $((PORT + i)) && echo "webhook subscription via ${BINS[$i]}" && break; done
  fi
  local feed_port=""
  if [[ " $OPS " == *" feed "* ]]; then
    for i in "${!BINS[@]}"; do
      FEED_SERVES[i]=0
      if serves_feed $((PORT + i)); then FEED_SERVES[i]=1 && feed_port=${feed_port:-$((PORT + i))}; fi
    done
    if [ -n "$feed_port" ]; then seed_events "$feed_port"; else echo "(no binary serves the change feed: feed skipped)" >&2; fi
  fi
  # Autovacuum would have analyzed a live database by now; without statistics the planner takes the
  # fresh tables for empty (the e-mail filter then walks every contact).
  psql -q "$DB_URL" -c "ANALYZE"
  PGBENCH_VARS=(-D crm_json="$(jq -c . "$OUT/crm_contact_created.json")" "${PGBENCH_CONST[@]}")
  header "postgres: the service (wrk) beside pgbench, same database"
  local op c svc raw
  for op in $OPS; do
    [ "$op" != feed ] || [ -n "$feed_port" ] || continue
    for c in $CONCURRENCY; do
      svc=()
      end_stale_transactions
      next_order
      for i in "${ORDER[@]}"; do
        [ "$op" != crm_tel_add ] || reset_tel
        if [ "$op" = feed ] && [ "${FEED_SERVES[i]}" = 0 ]; then svc[i]=$NA && continue; fi
        svc[i]="$(run_wrk "$op" "$c" $((PORT + i)) "$OUT/wrk-postgres-$op$i-$c.txt")"
      done
      [ "$op" != crm_tel_add ] || reset_tel
      raw=$(run_pgbench "$op" "$c" "$PWD/bench/raw_$op.sql")
      [ "$op" != crm_tel_add ] || check_tel_cap
      rows "$op" "$c" "$raw"
      if [ "$op" = put ]; then
        raw=$(run_pgbench put-pipelined "$c" "$PWD/$OUT/raw_put_pipelined.sql")
        rows "put*" "$c" "$raw"
      fi
    done
  done
  stop_services
  psql -q "$SERVER_URL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null || true
}

# SQLite: the first binary seeds a file; every point then starts from a copy of it: each binary in
# turn is started on a fresh copy, measured and stopped, then the raw client runs on another fresh
# copy (of the seed as the last binary migrated it). Restarting is not only for equal data: a request cancelled when wrk stops can leave one of the
# service's pooled SQLite connections inside its BEGIN IMMEDIATE (sqlx 0.8: a cancelled begin),
# holding the write lock for good, so no point may inherit a running service. It also lets a baseline
# binary that knows fewer migrations run on its own copy.
bench_sqlite() {
  rm -rf "$OUT/sqlite" && mkdir -p "$OUT/sqlite"
  start_service 0 "sqlite:$SQLITE_SEED" sqlite
  seed_store sqlite
  # The feed needs events: the first binary writes them when it serves the feed.
  local feed_seed="" feed_raw_seed="" last=$((${#BINS[@]} - 1))
  FEED_SERVES=()
  if [[ " $OPS " == *" feed "* ]] && serves_feed "$PORT"; then
    seed_events "$PORT" && feed_seed=$SQLITE_SEED
  fi
  stop_services
  # The raw client runs today's statements, so with a baseline (which may know fewer migrations, its
  # seed lacking tables and columns) it starts from a copy of the seed that the last binary migrated,
  # as the last binary's own points migrate their copies.
  RAW_SEED=$SQLITE_SEED
  if [ "$last" != 0 ]; then
    RAW_SEED=$SQLITE_RAW_SEED
    "$RAW_SQLITE" copy "$SQLITE_SEED" "$RAW_SEED"
    start_service "$last" "sqlite:$RAW_SEED" sqlite
    HOOK_SEED=""
    ! subscribe $((PORT + last)) || HOOK_SEED=$RAW_SEED
    stop_services
  fi
  feed_raw_seed=$RAW_SEED
  # A first binary from before the feed wrote no events: the last one writes them to a copy of the
  # migrated seed, which the feed's points (service and raw) start from; the first binary could not
  # open it, and its feed rows read n/a.
  if [[ " $OPS " == *" feed "* ]] && [ -z "$feed_seed" ] && [ "$last" != 0 ]; then
    FEED_SERVES[0]=0
    "$RAW_SQLITE" copy "$RAW_SEED" "$SQLITE_FEED_SEED"
    start_service "$last" "sqlite:$SQLITE_FEED_SEED" sqlite
    if serves_feed $((PORT + last)); then
      seed_events $((PORT + last)) && feed_seed=$SQLITE_FEED_SEED && feed_raw_seed=$SQLITE_FEED_SEED
    fi
    stop_services
  fi
  [[ " $OPS " != *" feed "* ]] || [ -n "$feed_seed" ] || echo "(no binary serves the change feed: feed skipped)" >&2
  header "sqlite: the service (wrk) beside bench/raw_sqlite.rs (writers: $SQLITE_WRITERS), same data"
  local op c i svc raw seed raw_seed
  for op in $OPS; do
    seed=$SQLITE_SEED raw_seed=$RAW_SEED
    if [ "$op" = feed ]; then
      [ -n "$feed_seed" ] || continue
      seed=$feed_seed raw_seed=$feed_raw_seed
    fi
    for c in $CONCURRENCY; do
      svc=()
      next_order
      for i in "${ORDER[@]}"; do
        if [ "$op" = feed ] && [ "${FEED_SERVES[i]:-1}" = 0 ]; then svc[i]=$NA && continue; fi
        # With BENCH_WEBHOOK the last binary starts from the migrated seed holding its subscription.
        if [ "$i" = "$last" ] && [ -n "${HOOK_SEED:-}" ] && [ "$op" != feed ]; then
          "$RAW_SQLITE" copy "$HOOK_SEED" "$SQLITE_DB"
        else
          "$RAW_SQLITE" copy "$seed" "$SQLITE_DB"
        fi
        start_service "$i" "sqlite:$SQLITE_DB" sqlite
        if [ "$op" = feed ] && ! serves_feed $((PORT + i)); then
          svc[i]=$NA
        else
          svc[i]="$(run_wrk "$op" "$c" $((PORT + i)) "$OUT/wrk-sqlite-$op$i-$c.txt")"
        fi
        stop_services
      done
      "$RAW_SQLITE" copy "$raw_seed" "$RAW_DB"
      raw=$(run_raw_sqlite "$op" "$c")
      rows "$op" "$c" "$raw"
    done
  done
}

DB_URL="$SERVER_URL/$DB"
# The service talks plain TCP to Postgres (no TLS backend is compiled into sqlx); libpq would negotiate
# TLS when the server offers it, which costs pgbench ~10 % of its rate. Same transport for both.
PGBENCH_URL="$DB_URL?sslmode=disable"
SQLITE_SEED=$PWD/$OUT/sqlite/seed.db
SQLITE_RAW_SEED=$PWD/$OUT/sqlite/raw-seed.db
SQLITE_FEED_SEED=$PWD/$OUT/sqlite/feed-seed.db
SQLITE_DB=$PWD/$OUT/sqlite/service.db
RAW_DB=$PWD/$OUT/sqlite/raw.db
export BENCH_PROPERTIES=$PROPERTIES BENCH_DIR=$PWD/bench BENCH_CRM_CONTACTS=$CRM_CONTACTS \
  BENCH_TEL_FIRST=$TEL_FIRST BENCH_TEL_CONTACTS=$TEL_CONTACTS BENCH_CUSTOMERS=$CUSTOMERS

# pgbench's variables: what the service binds, for the bodies the wrk scripts send (the contact set's
# columns as the arrays src/store/postgres/replace.rs binds; CRM and customer values as
# src/store/crm/ and src/store/customers.rs bind them; events as src/store/changes.rs binds them; the
# feed's cursor and limit). `at` stands for the service's now(), which pgbench cannot bind. @N@ in
# set_name and set_json is the random number that makes every raw replace store another set.
PGBENCH_CONST=(
  -D tenant=default -D author=bootstrap-admin -D "at=2026-01-01 00:00:00+00" -D yes=true -D no=false -D n=0
  -D properties="$PROPERTIES" -D crm_contacts="$CRM_CONTACTS" -D tel_first="$TEL_FIRST"
  -D tel_count="$TEL_CONTACTS" -D customers="$CUSTOMERS"
  -D set_json="$(jq -c '.contacts | .[0].contact_person.name += " @N@"' bench/contact_set.json)" -D set_count=3
  -D set_position='{0,1,2}' -D set_profiles='{general,"reservations,invoices,availability",requests}'
  -D set_general='{t,f,f}' -D set_name='{"Sarah Jansen @N@","John Smith","Clare Bos"}'
  -D set_gender='{female,male,NULL}'
  -D set_job_title='{"General Manager","Reservations Manager","Front Office Manager"}'
  -D set_language='{en-gb,en-gb,nl}' -D set_email='{sarah@hotel.example,john@hotel.example,clare@hotel.example}'
  -D set_address_line='{"Damrak 1","Damrak 1",NULL}' -D set_city='{Amsterdam,Amsterdam,NULL}'
  -D set_postal_code='{"1012 LG","1012 LG",NULL}' -D set_country='{NL,NL,NULL}'
  -D set_address_language='{nl,nl,NULL}' -D set_state='{NULL,NULL,NULL}'
  -D phone_contact='{0,1,2}' -D phone_position='{0,0,0}'
  -D phone_number='{+31201234567,+31201234568,+31612345678}' -D phone_tech_type='{1,1,5}'
  -D phone_extension='{12,NULL,NULL}'
  -D crm_type=GUEST -D crm_title=Ms -D crm_first_name=Anna -D crm_last_name=Berg -D crm_order_references='[]'
  -D crm_new_email=new.guest@bench.example -D crm_email_type=WORK -D "crm_number=+31 20 123 4567"
  -D crm_e164=+31201234567 -D crm_phone_type=HOME -D crm_add_phone_type=WORK -D "crm_address_line1=Damrak 1"
  -D crm_city=Amsterdam -D "crm_postcode=1012 LG" -D crm_country=NL -D page_size=20 -D page_offset=0
  -D cust_type=billing -D "cust_name=John Smith" -D cust_work_phone=9147212006 -D cust_work_phone_extension=2006
  -D cust_mobile_phone=9147212006 -D cust_fax=9147212006 -D cust_email=billing@customer.example
  -D "cust_organization=Apple Bank for Savings" -D cust_types='["billing"]'
  -D ev_contact_created=contact.created -D ev_contact_updated=contact.updated
  -D ev_customer_contacts=customer_contacts.replaced -D after_tx=0 -D after_id=0 -D feed_limit=100
  -D audit_key_id=key_0f1e2d3c4b5a69788796a5b4 -D audit_request_id=0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b
)

# The service sends a PUT's statements pipelined (one round trip); pgbench sends one statement per
# round trip unless told otherwise. "put*" rows run the same statements pipelined by pgbench too.
awk '/^BEGIN;/ { print "\\startpipeline" } { print } /^COMMIT;/ { print "\\endpipeline" }' \
  bench/raw_put.sql >"$OUT/raw_put_pipelined.sql"

for store in $STORES; do
  case $store in postgres) bench_postgres ;; sqlite) bench_sqlite ;; *) echo "unknown store $store" >&2; exit 1 ;; esac
done
echo
echo "ratio = service requests/s / raw transactions/s, same data, same run. Logs: $OUT/"
echo "put* = the same PUT statements pipelined by pgbench (\\startpipeline), as the service sends them."
[ -z "${BASELINE_BIN:-}" ] || echo "[old] = BASELINE_BIN ${BASELINE_BIN}, [new] = BIN ${BIN}: same database, same raw point."
