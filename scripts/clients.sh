#!/usr/bin/env bash
# The spec as tools read it: lints openapi.yaml with Redocly (recommended rules) and Spectral
# (spectral:oas), generates a TypeScript client (openapi-typescript) and a Python client
# (openapi-python-client), and type-checks the programs in clients/ against them (tsc --noEmit,
# mypy --strict). Fails on any lint error, generator failure or type error, so a spec change that
# breaks a generated client fails CI.
#
# The tools are pinned and installed outside the repository, in CLIENTS_CACHE (default
# ~/.cache/property-contacts-clients), once per version set.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

REDOCLY=2.77.0
SPECTRAL=6.16.3
OPENAPI_TS=7.13.0
TYPESCRIPT=5.9.3
OPENAPI_PYTHON_CLIENT=0.29.1
MYPY=2.4.1
RUFF=0.17.6

CACHE=${CLIENTS_CACHE:-$HOME/.cache/property-contacts-clients}
NODE_DIR=$CACHE/node-$REDOCLY-$SPECTRAL-$OPENAPI_TS-$TYPESCRIPT
PY_DIR=$CACHE/py-$OPENAPI_PYTHON_CLIENT-$MYPY-$RUFF
if [ ! -x "$NODE_DIR/node_modules/.bin/tsc" ]; then
  echo "installing the Node tools into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm init -y >/dev/null &&
    npm install --silent --no-audit --no-fund --save-exact \
      "@redocly/cli@$REDOCLY" "@stoplight/spectral-cli@$SPECTRAL" \
      "openapi-typescript@$OPENAPI_TS" "typescript@$TYPESCRIPT")
fi
if [ ! -x "$PY_DIR/bin/mypy" ]; then
  echo "installing the Python tools into $PY_DIR"
  python3 -m venv "$PY_DIR"
  # ruff: the generator formats its output with it.
  "$PY_DIR/bin/pip" install --quiet --disable-pip-version-check \
    "openapi-python-client==$OPENAPI_PYTHON_CLIENT" "mypy==$MYPY" "ruff==$RUFF"
fi
BIN=$NODE_DIR/node_modules/.bin

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== redocly lint (recommended)"
"$BIN/redocly" lint --extends recommended --format stylish openapi.yaml

echo "== spectral lint (spectral:oas)"
printf 'extends: ["spectral:oas"]\n' >"$WORK/.spectral.yaml"
"$BIN/spectral" lint --ruleset "$WORK/.spectral.yaml" --fail-severity error openapi.yaml

echo "== openapi-typescript + tsc --noEmit"
mkdir -p "$WORK/ts"
"$BIN/openapi-typescript" openapi.yaml --output "$WORK/ts/schema.d.ts"
cp clients/typescript/readme_calls.ts "$WORK/ts/"
cat >"$WORK/ts/tsconfig.json" <<'JSON'
{ "compilerOptions": { "strict": true, "noEmit": true, "target": "es2022", "module": "es2022",
    "moduleResolution": "bundler", "lib": ["es2022", "dom"], "skipLibCheck": false },
  "files": ["readme_calls.ts", "schema.d.ts"] }
JSON
"$BIN/tsc" -p "$WORK/ts/tsconfig.json"

echo "== openapi-python-client generate + mypy --strict"
# --meta none: the package alone, as clients/python/readme_calls.py imports it.
(cd "$WORK" && PATH="$PY_DIR/bin:$PATH" "$PY_DIR/bin/openapi-python-client" generate --path "$ROOT/openapi.yaml" \
  --meta none --output-path "$WORK/property_contacts_client" >"$WORK/generate.log" 2>&1) ||
  { cat "$WORK/generate.log"; exit 1; }
# The generator still succeeds when it leaves something out, so every warning fails the run, but
# the one for GET /openapi.yaml: a YAML document, not a body a client parses.
problems=$(grep -E "^(WARNING|ERROR)" "$WORK/generate.log" | grep -v "^WARNING parsing GET /openapi.yaml within ops" || true)
if [ -n "$problems" ]; then
  cat "$WORK/generate.log"; echo "openapi-python-client left something out: $problems"; exit 1
fi
cp clients/python/readme_calls.py "$WORK/"
# Errors are reported in our program only (the generated package is checked through its use).
(cd "$WORK" && "$PY_DIR/bin/mypy" --strict --follow-imports=silent --no-incremental --cache-dir=/dev/null \
  readme_calls.py)
echo "clients: spec lint-clean; both clients generated and type-checked"
