#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder and request parser with cargo fuzz (libFuzzer, the stable toolchain, no
# sanitizer: the code is safe Rust over C/C++ decoders built from source). Each target runs for SECONDS (20 in CI)
# from seeds: the repository's media fixtures, the hostile inputs of crates/emosense-http/tests/hardening.rs (made here from the
# fixtures), what earlier runs found (tests/data/fuzz/) and fuzz/seeds/. A crash, a panic that escapes, an input
# slower than 10 s or a run over 512 MB of memory fails the script and leaves the input under fuzz/artifacts/.
#   tests/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(audio_file face_file containers http_request)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
cargo fuzz build -s none -O

seeds="$(mktemp -d)"
log="$(mktemp)"
trap 'rm -rf "$seeds" "$log"' EXIT
mkdir -p "$seeds"/{audio_file,face_file,containers,http_request}
cp tests/data/audio/*.{flac,ogg,opus,mp3,m4a} tests/data/audio/speech-8k-*law.wav "$seeds/audio_file/"
cp tests/data/images/*.{jpg,png} tests/data/video/*.{mp4,gif} "$seeds/face_file/"
cp tests/data/video/*.{mp4,gif} tests/data/audio/tone.m4a "$seeds/containers/"
cp fuzz/seeds/http_request/* "$seeds/http_request/"
cp tests/data/fuzz/*.m4a "$seeds/audio_file/"
cp tests/data/fuzz/*.mp4 "$seeds/face_file/"
cp tests/data/fuzz/*.mp4 "$seeds/containers/"
python3 - "$seeds" <<'PY'
import struct, sys
seeds = sys.argv[1]
def patched(data, marker, offset, value):
    at = data.index(marker) + offset
    return data[:at] + value + data[at + len(value):]
m4a = open("tests/data/audio/tone.m4a", "rb").read()
for table in (b"stsc", b"stts", b"stco"):
    open(f"{seeds}/audio_file/tone-{table.decode()}-count.m4a", "wb").write(patched(m4a, table, 8, b"\xff" * 4))
mp4 = open("tests/data/video/faces.mp4", "rb").read()
at = mp4.index(b"edts")
zero_box = mp4[:at - 4] + b"\0\0\0\0zzzz" + mp4[at + 4:]
def gif(width, height, frames):
    out = b"GIF89a" + struct.pack("<HH", width, height) + bytes([0x80, 0, 0, 0, 0, 0, 255, 255, 255])
    out += (bytes([0x21, 0xF9, 4, 0, 0, 0, 0, 0]) + bytes([0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4C, 0x01, 0])) * frames
    return out + b"\x3b"
for target in ("face_file", "containers"):
    open(f"{seeds}/{target}/faces-zero-box.mp4", "wb").write(zero_box)
    open(f"{seeds}/{target}/huge-canvas.gif", "wb").write(gif(60000, 60000, 1))
    open(f"{seeds}/{target}/many-frames.gif", "wb").write(gif(7000, 7000, 300))
PY

for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  echo "fuzz $target for ${seconds} s"
  if ! cargo fuzz run -s none -O "$target" "fuzz/corpus/$target" "$seeds/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=512 -max_len=262144 -print_final_stats=1 >"$log" 2>&1; then
    tail -60 "$log"
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|^#[0-9]+ +DONE" "$log"
done
