#!/usr/bin/env bash
# One command from a fresh Debian machine with Node 20 to a running voxledger node:
# installs sipp (to place test calls) and the embedded speech engines (pocketsphinx, flite, and a
# C compiler for the recognizer helper), the npm dependencies, builds the helper, then starts the runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
if ! command -v sipp >/dev/null || ! command -v flite >/dev/null || ! pkg-config --exists pocketsphinx 2>/dev/null \
  || [ ! -d /usr/share/pocketsphinx/model/en-us ] || ! command -v cc >/dev/null; then
  $SUDO apt-get update
  $SUDO apt-get install -y sip-tester build-essential pkg-config pocketsphinx pocketsphinx-en-us libpocketsphinx-dev flite sox
fi
npm ci --no-audit --no-fund
bash scripts/build-native.sh
exec npm start
