#!/usr/bin/env bash
# One command from a fresh Debian machine with Node 20 to a running voxledger node:
# installs sipp (to place test calls), the npm dependencies, then starts the runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
if ! command -v sipp >/dev/null; then
  $SUDO apt-get update
  $SUDO apt-get install -y sip-tester
fi
npm ci --no-audit --no-fund
exec npm start
