#!/usr/bin/env bash
# Builds voxledger's native helpers (today: native/ps-stream, the embedded speech recognizer on
# Debian's libpocketsphinx). Needs build-essential and libpocketsphinx-dev. Idempotent: rebuilds
# only when the source is newer than the binary. Usage: bash scripts/build-native.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p native/build
src=native/ps-stream.c
out=native/build/ps-stream
if [ "${1:-}" != "--force" ] && [ -x "$out" ] && [ "$out" -nt "$src" ]; then exit 0; fi
if ! pkg-config --exists pocketsphinx; then
  echo "build-native: libpocketsphinx-dev is not installed (apt-get install build-essential libpocketsphinx-dev pocketsphinx-en-us)" >&2
  exit 1
fi
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -o "$out.tmp" "$src" $(pkg-config --cflags --libs pocketsphinx) -lm
mv "$out.tmp" "$out"
echo "build-native: built $out"
