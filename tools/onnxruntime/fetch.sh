#!/usr/bin/env bash
# Fetches ONNX Runtime's shared library for the onnxruntime inference backend from its PyPI wheel (the one registry
# package that ships it) and prints the path to give ORT_DYLIB_PATH.
#   tools/onnxruntime/fetch.sh [cpu|gpu] [DEST]     # default: cpu into target/onnxruntime/cpu
# cpu: `onnxruntime`; gpu: `onnxruntime-gpu` (its CUDA execution provider beside it, which links CUDA 13's runtime
# and cuBLAS and loads cuDNN 9: those come from the host or the image). Both 1.31.1, the ONNX Runtime release the `ort` crate (2.0.0-rc.15) targets.
set -euo pipefail
variant="${1:-cpu}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${2:-$repo/target/onnxruntime/$variant}"
version=1.31.1
case "$variant" in
  cpu) package=onnxruntime ;;
  gpu) package=onnxruntime-gpu ;;
  *) echo "usage: $0 [cpu|gpu] [DEST]" >&2; exit 2 ;;
esac
library="$dest/libonnxruntime.so"
if [ ! -f "$library" ]; then
  wheels="$dest/wheel"
  mkdir -p "$wheels"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
    "$package==$version" -d "$wheels" >&2
  python3 - "$wheels" "$dest" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, dest = sys.argv[1:]
(wheel,) = glob.glob(os.path.join(wheels, "*.whl"))
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        base = os.path.basename(name)
        if name.startswith("onnxruntime/capi/lib") and ".so" in base and "tensorrt" not in base:
            target = "libonnxruntime.so" if base.startswith("libonnxruntime.so.") else base
            with archive.open(name) as src, open(os.path.join(dest, target), "wb") as out:
                shutil.copyfileobj(src, out)
shutil.rmtree(wheels)
PY
fi
echo "$library"
