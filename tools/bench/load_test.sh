#!/usr/bin/env bash
# Load test of a release `emosense serve` on loopback: 64 connections for 60 s on /text, twice, then the same on
# /face, while 64 slow clients trickle their headers one byte a second; prints each round's requests per second,
# p50/p99 latency and status counts (only 200 and the documented 503 are expected), and the server's resident
# memory after each round. Bounded: loopback only, fixed rounds, the server is stopped at the end.
#   tools/bench/load_test.sh [SECONDS_PER_ROUND] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
connections="${2:-64}"
port=18090
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked -p emosense-cli
work="$(mktemp -d)"
trap 'kill "$server" "$slow" 2>/dev/null || true; rm -rf "$work"' EXIT

target/release/emosense serve --addr "127.0.0.1:$port" --warmup 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null && break; sleep 0.2; done

# Slow clients: each sends a request line and then one header byte a second; the server's HEADER_READ_TIMEOUT
# closes them, and they reconnect, for the whole test.
python3 - "$port" "$connections" "$(( seconds * 4 + 30 ))" <<'PY' &
import socket, sys, time, threading
port, count, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
end = time.time() + duration
def trickle():
    while time.time() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /api/v1/emotion/analyze/text HTTP/1.1\r\n")
            while time.time() < end:
                s.sendall(b"X")
                time.sleep(1)
        except OSError:
            time.sleep(0.2)
for _ in range(count):
    threading.Thread(target=trickle, daemon=True).start()
time.sleep(duration)
PY
slow=$!

python3 - "$work" <<'PY'
import base64, json, sys
work = sys.argv[1]
open(f"{work}/text.json", "w").write(json.dumps({"text": "I finally got the job, I am over the moon!"}))
photo = base64.b64encode(open("tests/data/images/portrait.jpg", "rb").read()).decode()
open(f"{work}/face.json", "w").write(json.dumps({"image_base64": photo}))
PY
cat >"$work/post.lua" <<'LUA'
local body_file = os.getenv("BODY")
local f = io.open(body_file, "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body; wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local totals, counts = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do totals[status] = (totals[status] or 0) + n end
  end
  for status, n in pairs(totals) do counts[#counts + 1] = status .. ":" .. n end
  io.write(string.format("requests %d, %.1f/s, p50 %.1f ms, p99 %.1f ms, statuses %s, socket errors %d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, table.concat(counts, " "), summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
LUA

rss() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$server/status"; }
echo "server resident memory at start: $(rss)"
for route in text face; do
  for round in 1 2; do
    printf '%s round %s: ' "$route" "$round"
    BODY="$work/$route.json" wrk -t2 -c"$connections" -d"${seconds}s" --timeout 35s -s "$work/post.lua" \
      "http://127.0.0.1:$port/api/v1/emotion/analyze/$route" | tail -1
    echo "  resident memory after the round: $(rss)"
  done
done
kill -0 "$server" && echo "server still serving: $(curl -s "http://127.0.0.1:$port/api/v1/health")"
