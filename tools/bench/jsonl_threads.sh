#!/usr/bin/env bash
# Throughput of `emosense analyze text --jsonl` on one core and on two (taskset), over the first N texts of the
# GoEmotions dev split (../shared/data, read in place): texts per second, best of three runs each.
#   tools/bench/jsonl_threads.sh [N=1000] [BINARY=target/release/emosense]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000}
bin=${2:-target/release/emosense}
texts=$(mktemp)
trap 'rm -f "$texts"' EXIT
head -n "$n" ../shared/data/goemotions/ekman/dev.tsv | cut -f1 > "$texts"
lines=$(wc -l < "$texts")
for cores in 0 0,1; do
  best=""
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    taskset -c "$cores" "$bin" analyze text --jsonl < "$texts" > /dev/null
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    if [ -z "$best" ] || [ "$(echo "$seconds < $best" | bc)" = 1 ]; then best=$seconds; fi
  done
  echo "cores $cores: $lines texts in $best s, $(echo "scale=1; $lines / $best" | bc) texts/s"
done
