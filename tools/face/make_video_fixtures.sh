#!/usr/bin/env bash
# Makes the video fixtures under tests/data/video from the image fixtures, with ffmpeg (Debian package `ffmpeg`):
#   faces.mp4          H.264 High profile with B-frames, 320 x 320, 10 fps, 3 s: the smiling portrait for 1.5 s, then
#                      the landscape (no face) for 1.5 s
#   faces.gif          the same two pictures as an animated GIF, 160 x 160, 0.5 s per frame, 3 s
#   mpeg4-part2.mp4    an MP4 whose video is MPEG-4 Part 2, not H.264 (a codec that is refused)
set -euo pipefail
cd "$(dirname "$0")/../.."
images=tests/data/images
out=tests/data/video
mkdir -p "$out"
two_scenes="[0]scale=SIZE:SIZE,setsar=1[a];[1]scale=SIZE:SIZE,setsar=1[b];[a][b]concat=n=2:v=1:a=0"
ff() { ffmpeg -hide_banner -loglevel error -y -loop 1 -t 1.5 -i "$images/portrait.jpg" -loop 1 -t 1.5 -i "$images/landscape.jpg" "$@"; }
ff -filter_complex "${two_scenes//SIZE/320},fps=10,format=yuv420p" -c:v libx264 -profile:v high -bf 2 -crf 28 \
  -movflags +faststart -map_metadata -1 -fflags +bitexact "$out/faces.mp4"
ff -filter_complex "${two_scenes//SIZE/160},fps=2,split[x][y];[x]palettegen=max_colors=64[p];[y][p]paletteuse" \
  -map_metadata -1 -fflags +bitexact "$out/faces.gif"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=64x64:rate=5 -t 1 -c:v mpeg4 -map_metadata -1 \
  -fflags +bitexact "$out/mpeg4-part2.mp4"
ls -l "$out"
