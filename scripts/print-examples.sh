#!/usr/bin/env bash
# Printed by `make run` before the server starts: requests to try from another terminal, verbatim.
# tests/observability/test_print_examples.py runs every printed curl line against a real server.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=${SEGMENT_SERVER_CLI:-.venv/bin/segment-server}
PY=$(dirname "$CLI")/python
# The address `serve` will bind, read the way `serve` reads it (defaults ← SEGMENT_SERVER_CONFIG ← env).
read -r HOST PORT < <("$PY" -c 'from server.config import load_settings
s = load_settings().server
print(s.host, s.port)' 2>/dev/null || echo "${SEGMENT_SERVER_SERVER__HOST:-127.0.0.1} ${SEGMENT_SERVER_SERVER__PORT:-8080}")
case "$HOST" in 0.0.0.0|::|"") HOST=127.0.0.1 ;; *:*) HOST="[$HOST]" ;; esac  # reach a wildcard bind locally
BASE="http://$HOST:$PORT"
# A real 24 h token for the demo identity: the demo runs with auth on, as production does.
ERRORS=$(mktemp); trap 'rm -f "$ERRORS"' EXIT
TOKEN=$("$CLI" demo-token 2>"$ERRORS") || { cat "$ERRORS" >&2; exit 1; }  # its audit lines only on failure
AUTH="-H 'Authorization: Bearer $TOKEN'"
cat <<MSG

Server starting on $BASE — try, from another terminal on this machine:

  # Index's sample web request (seed 004)
  curl -s $AUTH -H 'Content-Type: application/json' -d @tests/data/index_web_request.json $BASE/rtd

  # Index's sample app request (seed 004)
  curl -s $AUTH -H 'Content-Type: application/json' -d @tests/data/index_app_request.json $BASE/rtd

  # Cached API: one key per call
  curl -si $AUTH '$BASE/segments?url=example.com%2Fsports%2Ffootball'

  # Status page, local-only (observability.status_local_only): open $BASE/status in a browser, or
  curl -s $BASE/status.json

  # Prometheus metrics: no token from this machine (observability.metrics_allow / metrics_token)
  curl -s $BASE/metrics | grep '^segserver_requests_total'

  # API description: $BASE/openapi.json

MSG
