#!/bin/sh
# Start a throwaway Redis for tests or a local two-node trial: installs Debian's redis-server
# when missing (apt-get, non-interactive; CI runs as root), then runs it in the foreground on
# 127.0.0.1:PORT (default: a free port) with no persistence, in a temporary directory.
#   scripts/start-redis.sh [PORT]      # prints "redis://127.0.0.1:PORT/0" first
set -eu
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "redis-server is missing: run 'sudo apt-get install -y redis-server' (Debian/Ubuntu)" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }
fi
PORT="${1:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT INT TERM
echo "redis://127.0.0.1:$PORT/0"
redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --save "" --appendonly no \
    --protected-mode yes --daemonize no --loglevel warning
