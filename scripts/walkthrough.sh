#!/usr/bin/env bash
# The README walk-through, as written, on a fresh store: starts the service the way the README
# does (default SQLite file and bootstrap key file, in an empty directory), with a webhook receiver
# beside it, and runs scripts/walkthrough.py on README.md against it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${WALKTHROUGH_PORT:-18198}
WORK=$(mktemp -d)
cargo build --quiet --bin property-contacts
BIN=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/property-contacts
# The webhooks block delivers to a receiver on this machine, which the service refuses unless told.
python3 scripts/webhook_receiver.py 9000 &
RECEIVER=$!
(cd "$WORK" && WEBHOOK_ALLOW_PRIVATE_TARGETS=true exec "$BIN" serve --listen "127.0.0.1:$PORT" >service.out 2>service.err) &
SERVICE=$!
trap 'kill $SERVICE $RECEIVER 2>/dev/null; wait $SERVICE $RECEIVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
# `$ property-contacts ...` (the CLI) is the binary the service runs, on the same store.
(cd "$WORK" && PATH="$(dirname "$BIN"):$PATH" python3 "$ROOT/scripts/walkthrough.py" "$ROOT/README.md" "http://127.0.0.1:$PORT")
