#!/usr/bin/env bash
# Makes the compressed audio fixtures under tests/data/audio with ffmpeg (Debian package `ffmpeg`): the same 1.5 s
# 440 Hz tone (-18 dBFS) as
#   tone.flac   FLAC, 16-bit, 22.05 kHz, stereo
#   tone.ogg    Ogg Vorbis, 44.1 kHz, mono
#   tone.mp3    MP3 (LAME, 64 kbit/s), 44.1 kHz, mono
#   tone.m4a    AAC-LC in an M4A (MP4) file, 24 kHz, mono
set -euo pipefail
cd "$(dirname "$0")/../.."
out=tests/data/audio
tone() { ffmpeg -hide_banner -loglevel error -y -f lavfi -i "sine=frequency=440:sample_rate=$1:duration=1.5" -map_metadata -1 -fflags +bitexact "${@:2}"; }
tone 22050 -ac 2 -c:a flac -sample_fmt s16 "$out/tone.flac"
tone 44100 -c:a libvorbis -q:a 2 "$out/tone.ogg"
tone 44100 -c:a libmp3lame -b:a 64k -id3v2_version 0 "$out/tone.mp3"
tone 24000 -c:a aac -b:a 48k "$out/tone.m4a"
ls -l "$out"
