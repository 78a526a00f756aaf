#!/usr/bin/env bash
# Installs what the package needs on a fresh Debian/Ubuntu machine that has
# only the Swift toolchain: OpenBLAS (libopenblas-dev). Idempotent.
set -euo pipefail
if ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
    echo "setup: installing libopenblas-dev" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas-dev >/dev/null
fi
