#!/usr/bin/env bash
# One run, one machine: the primary tier of every modality (crates/emosense-core/benches/backends.rs) on tract and
# on onnxruntime, at int8 and, where the model pipelines have built the fp32 twins, at fp32; then a Markdown table.
# CPU by default; on a GPU host with the onnxruntime-gpu library, DEVICE=cuda adds the CUDA rows.
#   tools/bench/backends.sh [ITERATIONS]          # default 50
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
iterations="${1:-50}"
out=target/bench-backends
mkdir -p "$out"
cargo bench --locked -p emosense-core --features ort --bench backends --no-run 2> "$out/build.log"
cpu_library="$(tools/onnxruntime/fetch.sh cpu)"
settings="tract:cpu:int8 onnxruntime:cpu:int8"
if ls models-quantized/*/*.fp32.onnx > /dev/null 2>&1; then
  # The fp32 twins, listed in a copy of the model folders (the committed manifests list int8 files only).
  rm -rf "$out/models" && cp -r models-quantized "$out/models"
  for modality in text audio face; do python3 tools/manifest_files.py "$modality" "$out/models/$modality"; done
  settings="$settings tract:cpu:fp32 onnxruntime:cpu:fp32"
fi
if [ "${DEVICE:-cpu}" = cuda ]; then
  settings="$settings onnxruntime:cuda:int8"
  [ -d "$out/models" ] && settings="$settings onnxruntime:cuda:fp32"
fi
rm -f "$out/results.jsonl"
for setting in $settings; do
  IFS=: read -r backend device precision <<< "$setting"
  library="$cpu_library"
  [ "$device" = cuda ] && library="$(tools/onnxruntime/fetch.sh gpu)"
  models="$repo/models-quantized"
  [ "$precision" = int8 ] || models="$repo/$out/models"
  echo "== $backend $device $precision" >&2
  EMOTION_INFERENCE_BACKEND="$backend" EMOTION_MODEL_DEVICE="$device" EMOTION_MODEL_PRECISION="$precision" \
    EMOTION_MODEL_CACHE_DIR="$models" ORT_DYLIB_PATH="$library" \
    cargo bench --locked -q -p emosense-core --features ort --bench backends -- "$iterations" 2>> "$out/build.log" | tail -1 >> "$out/results.jsonl"
done
python3 - "$out/results.jsonl" "$iterations" <<'PY'
import json, os, platform, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"CPU: {cpu}; one thread per graph (the face detector on every core: {os.cpu_count()}); {sys.argv[2]} iterations per row (the batch: a quarter as many)\n")
print("| backend | device | precision | text load ms | 16 tok p50 / p95 | 64 tok p50 / p95 | 256 tok p50 / p95 | batch 32 x 64 tok p50 | face 640x480: first call / p50 / p95 | speech 5 s: first call / p50 / p95 | peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    s, t, f, a = r["setting"], r["text"], r["face_640x480"], r["speech_5s_16khz"]
    pair = lambda m: f"{m['p50_ms']:.2f} / {m['p95_ms']:.2f}"
    print(f"| {s['backend']} | {s['device']} | {s['precision']} | {t['load_ms']} | {pair(t['16_tokens'])} | {pair(t['64_tokens'])} | "
          f"{pair(t['256_tokens'])} | {t['batch_32x64_tokens']['p50_ms']:.1f} | {f['first_call_ms']} / {pair(f)} | "
          f"{a['first_call_ms']} / {pair(a)} | {r['peak_rss_mb']} |")
PY
