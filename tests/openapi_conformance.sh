#!/usr/bin/env bash
# Checks the API contract: docs/openapi.json is a valid OpenAPI 3.1 document (openapi-spec-validator), and the local
# server's live answers conform to the document it serves (Schemathesis: no server errors, documented statuses,
# content types and response schemas, schema-violating requests refused). Installs both, pinned, into
# target/schemathesis-venv. Usage: tests/openapi_conformance.sh [examples per operation, default 50]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/schemathesis-venv
[ -x "$venv/bin/st" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q schemathesis==4.32.5 openapi-spec-validator==0.9.0; }
"$venv/bin/openapi-spec-validator" docs/openapi.json
cargo build -q --locked -p emosense-cli
log=target/openapi-serve.log
target/debug/emosense serve --addr 127.0.0.1:0 2> "$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  grep -q "serving on" "$log" && break
  sleep 0.2
done
url=$(grep -o "http://[0-9.:]*" "$log" | head -1)
[ -n "$url" ] || { cat "$log"; echo "server did not start"; exit 1; }
curl -sf "$url/api/v1/openapi.json" | python3 -c 'import json, sys; live = json.load(sys.stdin); sys.exit(0 if live == json.load(open("docs/openapi.json")) else "the served document differs from docs/openapi.json")'
"$venv/bin/st" --config-file tests/schemathesis.toml run "$url/api/v1/openapi.json" \
  --checks all --exclude-checks positive_data_acceptance --max-examples "${1:-50}" --generation-deterministic
