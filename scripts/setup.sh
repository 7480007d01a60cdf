#!/usr/bin/env bash
# Installs what the service needs on Debian 12 (system packages when run as root or with sudo),
# then the npm dependencies (which build the native addon) and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

# wrk: the HTTP load generator of `npm run bench` (reads); the benchmark is skipped without it.
# redis-server: cluster mode (REDIS_URL); the tests start their own instances.
PKGS=(pkg-config g++ make python3 ffmpeg
      libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
      liblapack3 libopenblas0-pthread wrk redis-server)
[ "${WITH_BROWSER:-0}" = 1 ] && PKGS+=(chromium)

missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Build the addon against the installed Node headers when the distribution ships them.
if [ -f /usr/include/node/node_api.h ] && [ -z "${npm_config_nodedir:-}" ]; then export npm_config_nodedir=/usr; fi
npm ci --no-audit --no-fund
npm run build
