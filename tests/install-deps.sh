#!/bin/sh
# What the tests need beyond Rust, installed only when missing (safe to run again):
# headless Chromium for tests/report.rs, a CJK font so the sample's Chinese customer names
# render in its screenshot, and Python packages when tests/requirements.txt lists any.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
fc-list :lang=zh 2>/dev/null | grep -q . || missing="$missing fonts-wqy-microhei"
if [ -n "$missing" ]; then
    $SUDO apt-get update
    # shellcheck disable=SC2086 # one word per package
    $SUDO apt-get install -y $missing
fi

if [ -f tests/requirements.txt ]; then
    python3 -m pip install --quiet -r tests/requirements.txt
fi
