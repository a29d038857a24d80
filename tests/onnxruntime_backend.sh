#!/usr/bin/env bash
# The HTTP API suite (crates/emosense-http/tests, and the router's unit tests) with every ONNX graph run by the
# onnxruntime backend on the CPU, ONNX Runtime's library taken from its PyPI wheel; api_backends.rs, which runs
# only in this build, checks that onnxruntime's answers equal tract's on the fixtures of every modality.
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_DYLIB_PATH="$(tools/onnxruntime/fetch.sh cpu)"
export ORT_DYLIB_PATH
EMOTION_INFERENCE_BACKEND=onnxruntime cargo test --locked -p emosense-http --features ort 2>&1
