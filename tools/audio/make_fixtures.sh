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
# and one synthetic sentence of speech (espeak-ng, Debian package `espeak-ng`, American English, calm statement),
# as the same clip users would send in different forms:
#   speech.wav               16-bit PCM, 16 kHz, mono (the reference)
#   speech-44k.wav           16-bit PCM, 44.1 kHz, mono
#   speech-48k-stereo.flac   FLAC, 48 kHz, stereo
#   speech-8k.wav            16-bit PCM, 8 kHz, mono, 300-3400 Hz (telephone band)
#   speech-8k-mulaw.wav      G.711 μ-law, 8 kHz, mono, telephone band
#   speech-8k-alaw.wav       G.711 A-law, 8 kHz, mono, telephone band
#   speech.mp3               MP3 (LAME, 48 kbit/s), 22.05 kHz, mono
#   speech.ogg               Ogg Vorbis, 44.1 kHz, mono
#   speech.m4a               AAC-LC in an M4A (MP4) file, 32 kbit/s, 44.1 kHz, mono
#   speech.opus              Opus in Ogg (a voice note), 24 kbit/s, mono
# and one file in a codec the service does not decode, for its error message:
#   alac.m4a                 0.2 s of the sentence as Apple Lossless in an M4A file
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
sentence=$(mktemp --suffix=.wav)
espeak-ng -v en-us -s 150 -w "$sentence" "The meeting is on Thursday at three."
speech() { ffmpeg -hide_banner -loglevel error -y -i "$sentence" -map_metadata -1 -fflags +bitexact "$@"; }
speech -ar 16000 -ac 1 -c:a pcm_s16le "$out/speech.wav"
speech -ar 44100 -ac 1 -c:a pcm_s16le "$out/speech-44k.wav"
speech -ar 48000 -ac 2 -c:a flac -sample_fmt s16 "$out/speech-48k-stereo.flac"
speech -af "highpass=f=300,lowpass=f=3400" -ar 8000 -ac 1 -c:a pcm_s16le "$out/speech-8k.wav"
speech -af "highpass=f=300,lowpass=f=3400" -ar 8000 -ac 1 -c:a pcm_mulaw "$out/speech-8k-mulaw.wav"
speech -af "highpass=f=300,lowpass=f=3400" -ar 8000 -ac 1 -c:a pcm_alaw "$out/speech-8k-alaw.wav"
speech -ar 22050 -ac 1 -c:a libmp3lame -b:a 48k -id3v2_version 0 "$out/speech.mp3"
speech -ar 44100 -ac 1 -c:a libvorbis -q:a 2 "$out/speech.ogg"
speech -ar 44100 -ac 1 -c:a aac -b:a 32k "$out/speech.m4a"
speech -ac 1 -c:a libopus -b:a 24k "$out/speech.opus"
speech -t 0.2 -ar 16000 -ac 1 -c:a alac "$out/alac.m4a"
rm "$sentence"
ls -l "$out"
