#!/usr/bin/env bash
# Builds the deployable Lambda functions: target/lambda/<function>/{bootstrap, models-quantized/...} and a zip of
# each, as template.yaml expects. Needs cargo-lambda (`pip install cargo-lambda`; it brings zig for cross builds).
#   tools/lambda/build.sh            # x86_64
#   tools/lambda/build.sh --arm64    # Graviton
set -euo pipefail
cd "$(dirname "$0")/../.."
# cargo-lambda's own release settings replace the workspace profile (opt-level 3, thin LTO); with them tract loads
# and runs the model about twice as slowly, so they are turned off.
cargo lambda build --release --disable-optimizations --locked -p emosense-lambda "$@"
out="${CARGO_TARGET_DIR:-target}/lambda"
# Each function carries only the committed models of the modalities its route reads.
for function in analyze-text analyze-batch analyze-audio analyze-face analyze-multimodal analyze-file health models openapi; do
  case "$function" in
    analyze-text | analyze-batch) modalities="text" ;;
    analyze-audio) modalities="audio" ;;
    analyze-face) modalities="face" ;;
    analyze-multimodal | analyze-file | models) modalities="text audio face" ;;
    *) modalities="" ;;
  esac
  dir="$out/$function"
  rm -rf "$dir/models-quantized"
  mkdir -p "$dir/models-quantized"
  for modality in $modalities; do
    mkdir -p "$dir/models-quantized/$modality"
    git ls-files -z "models-quantized/$modality" | xargs -0 -I{} cp {} "$dir/{}"
  done
  (cd "$dir" && rm -f ../"$function".zip && zip -qr ../"$function".zip bootstrap models-quantized)
  printf '%-14s bootstrap %6.1f MB  zip %6.1f MB\n' "$function" \
    "$(echo "$(stat -c %s "$dir/bootstrap") / 1048576" | bc -l)" "$(echo "$(stat -c %s "$out/$function.zip") / 1048576" | bc -l)"
done
