#!/usr/bin/env bash
# Assembles what a container image holds, the same way inside `docker build` and outside any container (CI runs it
# so): the binaries built with the onnxruntime backend, ONNX Runtime's library, and the model folders.
#   tools/container/assemble.sh gpu|lambda DEST [PRECISION]
# gpu:    DEST/bin/emosense, ONNX Runtime from the onnxruntime-gpu wheel (with its CUDA execution provider).
# lambda: DEST/bin/<function> for each Lambda function, ONNX Runtime from the onnxruntime wheel.
# The binaries are built with the `ort` feature (the onnxruntime backend, CPU and CUDA).
# Both:   DEST/lib/libonnxruntime.so*, DEST/models-quantized/ (the int8 files; for PRECISION fp16 or fp32, also each
#         graph's twin at that precision, which must have been built: see README, Full precision).
# CARGO_PROFILE (default release) picks the cargo profile; CI assembles with the dev profile.
set -euo pipefail
kind="${1:?usage: $0 gpu|lambda DEST [PRECISION]}"
dest="${2:?usage: $0 gpu|lambda DEST [PRECISION]}"
precision="${3:-int8}"
profile="${CARGO_PROFILE:-release}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
case "$kind" in
  gpu) package=emosense-cli binaries="emosense" onnxruntime=gpu ;;
  lambda) package=emosense-lambda onnxruntime=cpu
    binaries="$(basename -s .rs crates/emosense-lambda/src/bin/*.rs)" ;;
  *) echo "usage: $0 gpu|lambda DEST [PRECISION]" >&2; exit 2 ;;
esac
case "$precision" in
  int8 | fp16 | fp32) ;;
  *) echo "PRECISION is int8, fp16 or fp32" >&2; exit 2 ;;
esac

# Every graph needs its twin at the chosen precision; without them the models would answer from lower tiers.
missing=""
if [ "$precision" != int8 ]; then
  for graph in models-quantized/*/*.int8.onnx; do
    [ -f "${graph%.int8.onnx}.$precision.onnx" ] || missing="$missing ${graph%.int8.onnx}.$precision.onnx"
  done
fi
if [ -n "$missing" ]; then
  echo "missing $precision graphs:$missing" >&2
  echo "build them with the model pipelines (README, Full precision), or assemble with PRECISION int8" >&2
  exit 1
fi

cargo build --locked --profile "$profile" -p "$package" --features ort
target_dir="${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")"
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib"
for binary in $binaries; do
  cp "$target_dir/$binary" "$dest/bin/"
done
library="$(tools/onnxruntime/fetch.sh "$onnxruntime")"
cp "$(dirname "$library")"/lib*.so* "$dest/lib/"
# The model folders, with the full-precision twins of the chosen precision only; the manifests then list the twins
# with their sha256 (checked at load).
cp -r models-quantized "$dest/"
find "$dest/models-quantized" \( -name '*.fp32.onnx' -o -name '*.fp16.onnx' \) ! -name "*.$precision.onnx" -delete
for modality in text audio face; do
  python3 tools/manifest_files.py "$modality" "$dest/models-quantized/$modality"
done
du -sh "$dest"/* >&2
