#!/usr/bin/env bash
# Install Debian's Chromium for the status-page browser test (idempotent; CI runs as root).
# Never downloads a browser of its own (no `playwright install`): the test drives /usr/bin/chromium.
# Exits 0 when Chromium is present afterwards, non-zero otherwise (the test then skips, saying why).
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
else
    SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x "$CHROMIUM" ]
