#!/usr/bin/env bash
# Rebuilds every text model from registry packages, GoEmotions and XED English, evaluates each tier on every
# source's dev and test splits with the Rust code that serves them, and writes models-quantized/text/ (models +
# manifest.json) and the reliability plots (docs/text/reliability_*.png).
#   tools/text/build.sh            # full pipeline (~40 min on 2 cores, most of it fine-tuning)
#   SKIP_TRAIN=1 tools/text/build.sh   # reuse target/modelgen/text/ from an earlier fine-tuning run
# Data are read from $EMOSENSE_DATA (default ../shared/data).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
export EMOSENSE_DATA="${EMOSENSE_DATA:-$repo/../shared/data}"
venv="$repo/tools/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r tools/requirements.txt
fi
py="$venv/bin/python"
build="$repo/target/modelgen/text"
mkdir -p "$build"
"$py" tools/text/emoji_table.py
[ -n "${SKIP_TRAIN:-}" ] || "$py" tools/text/train_transformer.py
"$py" tools/text/calibrate_transformer.py
"$py" tools/text/quantize_transformer.py
"$py" tools/text/train_linear.py
"$py" tools/text/build_lexicon.py
# The release binary checks every file's sha256 against the manifest, so the new files are listed before it runs.
"$py" tools/manifest_files.py text
cargo build --release --locked -p emosense-cli
bin="$repo/target/release/emosense"
export EMOTION_MODEL_CACHE_DIR="$repo/models-quantized"
for source in goemotions xed-en; do
  for split in dev test; do
    for tier in primary secondary fallback; do
      "$bin" eval --data "$EMOSENSE_DATA" --source "$source" --split "$split" --tier "$tier" > "$build/eval_${source}_${split}_${tier}.json"
    done
    EMOTION_MODEL_PRECISION=fp32 "$bin" eval --data "$EMOSENSE_DATA" --source "$source" --split "$split" --tier primary \
      > "$build/eval_${source}_${split}_primary_fp32.json"
  done
done
"$py" tools/text/write_manifest.py
"$py" tools/text/plot_reliability.py
cat "$build"/eval_*_test_*.json
