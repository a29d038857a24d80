#!/usr/bin/env bash
# Makes the compressed audio fixtures under tests/data/audio with ffmpeg (Debian package `ffmpeg`): the same 1.5 s
# 440 Hz tone (-18 dBFS) as
#   tone.flac   FLAC, 16-bit, 22.05 kHz, stereo
#   tone.ogg    Ogg Vorbis, 44.1 kHz, mono
#   tone.mp3    MP3 (LAME, 64 kbit/s), 44.1 kHz, mono
#   tone.m4a    AAC-LC in an M4A (MP4) file, 24 kHz, mono
# and, with the reference encoder (Debian package `flac`), a hostile one:
#   rate-655350.flac   0.1 s of the tone at 655,350 Hz, the highest rate FLAC can declare (23 KB that would decode
#                      to 120 s of samples at that rate if the rate were not refused)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=tests/data/audio
tone() { ffmpeg -hide_banner -loglevel error -y -f lavfi -i "sine=frequency=440:sample_rate=$1:duration=1.5" -map_metadata -1 -fflags +bitexact "${@:2}"; }
tone 22050 -ac 2 -c:a flac -sample_fmt s16 "$out/tone.flac"
tone 44100 -c:a libvorbis -q:a 2 "$out/tone.ogg"
tone 44100 -c:a libmp3lame -b:a 64k -id3v2_version 0 "$out/tone.mp3"
tone 24000 -c:a aac -b:a 48k "$out/tone.m4a"
python3 - "$out/rate-655350.wav" <<'PY'
import math, struct, sys, wave
rate = 655350
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(rate // 10)))
PY
flac --silent --force --best --no-seektable -o "$out/rate-655350.flac" "$out/rate-655350.wav"
rm "$out/rate-655350.wav"
ls -l "$out"
