#!/usr/bin/env bash
# The playground page end to end in headless Chromium (Debian's package, installed here when missing) driven by
# playwright-core (npm, pinned, installed into target/playground-node): starts `emosense serve` on a free port and
# runs tests/playground/e2e.mjs; screenshots of every state go to target/playground/.
#   tests/playground.sh [BINARY=target/debug/emosense]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/emosense}
[ -x "$bin" ] || cargo build --locked -p emosense-cli
if ! command -v chromium > /dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
fi
node_dir=target/playground-node
if [ ! -d "$node_dir/node_modules/playwright-core" ]; then
  mkdir -p "$node_dir"
  (cd "$node_dir" && echo '{"private": true}' > package.json && npm install --silent --no-audit --no-fund playwright-core@1.65.1)
fi
log=$(mktemp)
"$bin" serve --addr 127.0.0.1:0 2> "$log" &
server=$!
trap 'kill $server 2> /dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
  url=$(sed -n 's/^emosense: serving on \(http:[^ ]*\).*/\1/p' "$log")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$log"; echo "the server did not start"; exit 1; }
rm -rf target/playground
NODE_MODULES="$PWD/$node_dir/node_modules" node tests/playground/e2e.mjs "$url" target/playground
