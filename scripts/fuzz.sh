#!/usr/bin/env bash
# Schema-driven fuzzing: starts the service on a fresh embedded store, seeds a property, and runs
# schemathesis against openapi.yaml. Fails on any server error (5xx) and on any response whose
# status, content type, headers or body the spec does not allow.
#
#   scripts/fuzz.sh                  # 25 examples per operation
#   FUZZ_EXAMPLES=100 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES=${FUZZ_EXAMPLES:-25}
PORT=${FUZZ_PORT:-18190}
WORK=$(mktemp -d)
command -v st >/dev/null || python3 -m pip install --quiet --disable-pip-version-check schemathesis

cargo build --quiet --bin property-contacts
DATABASE_URL="sqlite:$WORK/fuzz.db" BOOTSTRAP_KEY_FILE="$WORK/admin.key" "${CARGO_TARGET_DIR:-target}/debug/property-contacts" serve --listen "127.0.0.1:$PORT" \
  >"$WORK/service.out" 2>"$WORK/service.err" &
SERVICE=$!
trap 'kill $SERVICE 2>/dev/null; wait $SERVICE 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 50); do curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
KEY=$(cat "$WORK/admin.key" 2>/dev/null)

# A property the generated requests can hit (the spec's examples use NT7 / 12837615).
curl -fsS -o /dev/null -X PUT "127.0.0.1:$PORT/api/v1/properties/NT7" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d '{"channel_mappings":[{"channel":"booking","channel_property_id":"12837615"}]}'
# A CRM contact (id 1) with one item in each collection, so {id}/{...Id} paths find something.
curl -fsS -o /dev/null -X POST "127.0.0.1:$PORT/api/v3/contacts" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d '{"firstName":"Ann","lastName":"Fuzz","propertyIds":["NT7"],
    "emailAddresses":[{"emailAddress":"ann@hotel.example"}],
    "telephones":[{"number":"+31201234567"}],
    "addresses":[{"addressLine1":"Damrak 1","city":"Amsterdam","postcode":"1012 LG","countryCode":"NL"}]}'

st run openapi.yaml --url "http://127.0.0.1:$PORT" \
  -H "Authorization: Bearer $KEY" -H "app-id: fuzz" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$EXAMPLES" --workers 2 --seed 1 --no-color --generation-database none \
  --report junit --report-dir "${FUZZ_REPORT_DIR:-$WORK/report}"
