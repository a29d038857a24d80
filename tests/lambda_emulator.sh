#!/usr/bin/env bash
# Runs each Lambda function binary under cargo-lambda's local Lambda runtime emulator (`cargo lambda watch`) and
# sends it real API Gateway events from tests/data/lambda/ with `cargo lambda invoke`.
# Usage: tests/lambda_emulator.sh   (installs cargo-lambda from PyPI into target/lambda-venv when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-lambda >/dev/null; then
  venv=target/lambda-venv
  [ -x "$venv/bin/cargo-lambda" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q cargo-lambda==1.9.2; }
  export PATH="$PWD/$venv/bin:$PATH"
fi
port="${LAMBDA_EMULATOR_PORT:-9311}"
log=target/lambda-watch.log
mkdir -p target
cargo build -q --locked -p emosense-lambda
setsid cargo lambda watch -P "$port" > "$log" 2>&1 &
watch_pid=$!
trap 'kill -- -"$watch_pid" 2>/dev/null; sleep 1; kill -9 -- -"$watch_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q "starting Runtime server" "$log" && break
  sleep 1
done
grep -q "starting Runtime server" "$log" || { cat "$log"; echo "emulator did not start"; exit 1; }

passed=0
failed=0
# function, event file, expected status, expected dominant emotion (or - to skip)
while read -r function event status emotion; do
  out=$(cargo lambda invoke "$function" -P "$port" --data-file "tests/data/lambda/$event" 2>&1) || true
  if python3 - "$out" "$status" "$emotion" <<'PY'
import json, sys
raw, status, emotion = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    response = json.loads(raw)
    body = json.loads(response["body"])
except Exception as e:
    sys.exit(f"not a Lambda HTTP response: {e}: {raw[:300]}")
if response["statusCode"] != status:
    sys.exit(f"status {response['statusCode']} != {status}: {body}")
# HTTP API (v2) answers carry `headers`; REST API (v1) answers `multiValueHeaders`.
content_type = response.get("headers", {}).get("content-type") or (response.get("multiValueHeaders", {}).get("content-type") or [None])[0]
if content_type != "application/json":
    sys.exit(f"content-type {content_type!r}")
if emotion != "-" and body.get("dominant_emotion") != emotion:
    sys.exit(f"dominant_emotion {body.get('dominant_emotion')} != {emotion}")
if status >= 400 and not body.get("error", {}).get("message"):
    sys.exit(f"error without message: {body}")
PY
  then
    passed=$((passed + 1)); echo "ok   $function $event"
  else
    failed=$((failed + 1)); echo "FAIL $function $event"
  fi
done <<'CASES'
analyze-text apigw-v2-analyze-text.json 200 joy
analyze-text apigw-v2-analyze-text-base64.json 200 joy
analyze-text apigw-v2-analyze-text-stage.json 200 fear
analyze-text apigw-v1-analyze-text.json 200 sadness
analyze-text apigw-v2-analyze-text-empty.json 422 -
analyze-text apigw-v2-analyze-text-form.json 415 -
analyze-text apigw-v1-analyze-text-malformed.json 400 -
analyze-batch apigw-v2-analyze-batch.json 200 -
analyze-audio apigw-v2-analyze-audio.json 200 -
analyze-face apigw-v2-analyze-face.json 200 joy
analyze-multimodal apigw-v2-analyze-multimodal.json 200 joy
analyze-file apigw-v2-analyze-file.json 200 joy
health apigw-v2-health.json 200 -
openapi apigw-v2-openapi.json 200 -
models apigw-v1-models.json 200 -
CASES
# Each invocation logged one JSON line that is also an Embedded Metric Format record.
if python3 - "$log" "$((passed + failed))" <<'PY'
import json, sys
invocations = int(sys.argv[2])
records = []
for line in open(sys.argv[1], errors="replace"):
    start = line.find('{"')
    try:
        record = json.loads(line[start:]) if start >= 0 else None
    except ValueError:
        continue
    if isinstance(record, dict) and "_aws" in record:
        records.append(record)
if len(records) != invocations:
    sys.exit(f"{len(records)} EMF log lines, expected {invocations}")
for record in records:
    directive = record["_aws"]["CloudWatchMetrics"][0]
    missing = [m["Name"] for m in directive["Metrics"] if not isinstance(record.get(m["Name"]), (int, float))]
    if missing or directive["Dimensions"] != [["route"]] or "route" not in record:
        sys.exit(f"bad EMF record {record}")
print(f"ok   {len(records)} EMF request log lines, statuses {sorted(r['status'] for r in records)}")
PY
then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL EMF request log lines"; fi
echo "lambda-emulator: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
