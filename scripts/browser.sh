#!/usr/bin/env bash
# CORS in a real browser: the service runs with CORS_ALLOWED_ORIGINS naming one origin; the same
# page (scripts/browser/page.html) is served from that origin and from another 127.0.0.1 port, and
# headless Chromium loads both. From the listed origin the page must create a CRM contact, read it
# back and patch it with fetch (reading Location, ETag and x-request-id); from the other one the
# browser must block the calls. Needs Debian's `chromium` (.ci/run installs it when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${BROWSER_API_PORT:-18195}
LISTED=${BROWSER_PAGE_PORT:-18196}
STRANGER=${BROWSER_OTHER_PORT:-18197}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || { echo "chromium not found (apt-get install chromium)"; exit 1; }
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --quiet --bin property-contacts
BIN=${CARGO_TARGET_DIR:-target}/debug/property-contacts
DATABASE_URL="sqlite:$WORK/browser.db" BOOTSTRAP_KEY_FILE="$WORK/admin.key" \
  CORS_ALLOWED_ORIGINS="http://127.0.0.1:$LISTED" "$BIN" serve --listen "127.0.0.1:$PORT" \
  >"$WORK/service.out" 2>"$WORK/service.err" &
PIDS+=($!)
for port in "$LISTED" "$STRANGER"; do
  python3 -m http.server "$port" --bind 127.0.0.1 --directory scripts/browser >"$WORK/page-$port.log" 2>&1 &
  PIDS+=($!)
done
for _ in $(seq 1 100); do
  curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && curl -fs "127.0.0.1:$LISTED/page.html" >/dev/null &&
    curl -fs "127.0.0.1:$STRANGER/page.html" >/dev/null && break
  sleep 0.2
done
KEY=$(cat "$WORK/admin.key")

# Loads the page from `port` and prints what its script wrote into #result.
visit() {
  local url="http://127.0.0.1:$1/page.html?api=http://127.0.0.1:$PORT&key=$KEY"
  # The virtual time budget keeps the page alive until its fetches have settled.
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
    --user-data-dir="$WORK/profile-$1" --virtual-time-budget=20000 --dump-dom "$url" 2>"$WORK/chromium-$1.err" |
    python3 -c 'import html, re, sys; m = re.search(r"<pre id=\"result\">(.*?)</pre>", sys.stdin.read(), re.S); print(html.unescape(m.group(1)) if m else "no result")'
}

listed=$(visit "$LISTED")
stranger=$(visit "$STRANGER")
echo "listed origin:     $listed"
echo "other origin:      $stranger"
LISTED_RESULT=$listed STRANGER_RESULT=$stranger python3 - <<'PY'
import json, os, sys

failures = []
try:
    seen = json.loads(os.environ["LISTED_RESULT"])
except ValueError:
    sys.exit("the page on the listed origin wrote no result")
expected = {
    "created": 201, "read": 200, "firstName": "Browser", "lastName": "Jansen",
    "email": "browser@hotel.example", "patched": 200, "patchedFirstName": "Browsed",
    "etag": '"1"', "patchedEtag": '"2"',
}
for name, want in expected.items():
    if seen.get(name) != want:
        failures.append(f"listed origin: {name} = {seen.get(name)!r}, expected {want!r}")
if not str(seen.get("location", "")).startswith("/api/v3/contacts/"):
    failures.append(f"listed origin: Location not readable: {seen.get('location')!r}")
if not seen.get("requestId"):
    failures.append("listed origin: x-request-id not readable")
try:
    other = json.loads(os.environ["STRANGER_RESULT"])
except ValueError:
    other = {}
if "blocked" not in other:
    failures.append(f"other origin: expected the browser to block the calls, got {other!r}")
if failures:
    sys.exit("\n".join(failures))
print("browser: CORS holds (listed origin served, other origin blocked)")
PY
