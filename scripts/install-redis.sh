#!/usr/bin/env bash
# System package for tests/test_redis_debug.py (and for trying REDIS_URL locally): Debian's
# redis-server. Idempotent: a no-op when redis-server is on PATH; needs root or sudo otherwise.
# It only installs the binary; the tests start their own server on a free loopback port.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
