#!/usr/bin/env bash
# Printed by `make run` before the server starts: three requests to try from another terminal.
cd "$(dirname "$0")/.."
HOST=${SEGMENT_SERVER_SERVER__HOST:-127.0.0.1}
PORT=${SEGMENT_SERVER_SERVER__PORT:-8080}
# A real 24 h token for the demo identity: the demo runs with auth on, as production does.
TOKEN=$(.venv/bin/segment-server demo-token)
AUTH="-H 'Authorization: Bearer $TOKEN'"
cat <<MSG

Server starting on http://$HOST:$PORT — try, from another terminal:

  # Status page (local only in the demo): http://$HOST:$PORT/status   Metrics: /metrics   API: /openapi.json

  # Index's sample web request (seed 004)
  curl -s $AUTH -H 'Content-Type: application/json' -d @tests/data/index_web_request.json http://$HOST:$PORT/rtd

  # Index's sample app request (seed 004)
  curl -s $AUTH -H 'Content-Type: application/json' -d @tests/data/index_app_request.json http://$HOST:$PORT/rtd

  # Cached API: one key per call
  curl -si $AUTH 'http://$HOST:$PORT/segments?url=example.com%2Fsports%2Ffootball'

MSG
