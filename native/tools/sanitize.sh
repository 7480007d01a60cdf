#!/bin/sh
# Builds native/tools/sanitize_driver with ASan+UBSan and runs it over the given media files
# (e.g. a corpus of corrupted files). Any sanitizer report fails the run.
#   native/tools/sanitize.sh FILE...
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${TMPDIR:-/tmp}/engine-sanitize-driver
g++ -std=c++17 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  "$here/sanitize_driver.cpp" "$here"/../av_raii.cpp "$here"/../decoder.cpp "$here"/../features.cpp \
  "$here"/../frames.cpp "$here"/../job.cpp "$here"/../media_file.cpp \
  $(pkg-config --cflags --libs libavformat libavcodec libavutil libswscale libswresample) -o "$out"
status=0
ASAN_OPTIONS=detect_leaks=1 "$out" "$@" > "$out.log" 2>&1 || status=$?
grep -v '^\[' "$out.log" || true   # drop FFmpeg's own log lines
exit $status
