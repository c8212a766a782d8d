#!/usr/bin/env bash
# Regenerate requirements.lock: the runtime dependency set of pyproject.toml, fully pinned.
# A clean venv gets `pip install .`; `pip freeze --exclude-editable` minus the project is the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip
"$tmp/venv/bin/pip" install -q .
{
    echo "# Runtime dependencies of segment-server, pinned: \`pip freeze --exclude-editable\` of a clean"
    echo "# Python 3.11 venv after \`pip install .\` (the project itself removed). Regenerate with"
    echo "# scripts/lock-requirements.sh whenever pyproject.toml's dependencies change. Used by the Dockerfile."
    "$tmp/venv/bin/pip" freeze --exclude-editable | grep -vi '^segment-server'
} > requirements.lock
echo "requirements.lock: $(grep -vc '^#' requirements.lock) pins"
