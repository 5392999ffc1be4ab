#!/usr/bin/env bash
# Start kefu: the action server and the Rasa server (REST + socket.io, token-protected HTTP API).
# Usage: scripts/run.sh [server|shell]      Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-server}
RASA_PORT=${KEFU_RASA_PORT:-5005}
ACTIONS_PORT=${KEFU_ACTIONS_PORT:-5055}
STATE_DIR=.kefu
export RASA_TELEMETRY_ENABLED=false
mkdir -p "$STATE_DIR" && chmod 700 "$STATE_DIR"
export KEFU_ACTION_SERVER_URL="http://127.0.0.1:$ACTIONS_PORT/webhook"

# The HTTP API token: from the environment, or generated once and kept (mode 600) in .kefu/.
if [ -z "${KEFU_API_TOKEN:-}" ]; then
  if [ ! -s "$STATE_DIR/api_token" ]; then
    (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > "$STATE_DIR/api_token")
  fi
  KEFU_API_TOKEN=$(cat "$STATE_DIR/api_token")
  TOKEN_SOURCE="$STATE_DIR/api_token"
else
  TOKEN_SOURCE="the KEFU_API_TOKEN environment variable"
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "kefu: stopped"
}
trap cleanup INT TERM EXIT

wait_for() {  # url seconds name pid
  local i
  for ((i = 0; i < $2 * 2; i++)); do
    if curl -fs -o /dev/null "$1"; then return 0; fi
    if ! kill -0 "$4" 2>/dev/null; then echo "kefu: $3 exited during start-up" >&2; return 1; fi
    sleep 0.5
  done
  echo "kefu: $3 did not answer at $1 within $2 s" >&2
  return 1
}

# The shop database: migrate, and load the demo shop on first start (KEFU_DB_URL to use your own).
.venv/bin/kefu db upgrade
.venv/bin/kefu demo load --if-empty

.venv/bin/rasa run actions --actions actions --port "$ACTIONS_PORT" > "$STATE_DIR/actions.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$ACTIONS_PORT/health" 60 "action server" "${pids[0]}"

if [ "$MODE" = shell ]; then
  .venv/bin/rasa shell -m models/kefu.tar.gz --endpoints endpoints.yml
  exit 0
fi

.venv/bin/rasa run -m models/kefu.tar.gz --enable-api --auth-token "$KEFU_API_TOKEN" \
  --credentials credentials.yml --endpoints endpoints.yml \
  --port "$RASA_PORT" --log-file "$STATE_DIR/rasa.log" > "$STATE_DIR/rasa.out" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$RASA_PORT/status?token=$KEFU_API_TOKEN" 180 "Rasa server" "${pids[1]}"

cat <<INFO

kefu is running (Ctrl-C stops it):
  REST channel      POST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook
                    {"sender": "customer-1", "message": "你好"}
  socket.io channel http://127.0.0.1:$RASA_PORT/socket.io   (web chat)
  HTTP API          http://127.0.0.1:$RASA_PORT/  token: in $TOKEN_SOURCE
  action server     http://127.0.0.1:$ACTIONS_PORT/webhook
  logs              $STATE_DIR/rasa.log, $STATE_DIR/actions.log
INFO
wait -n "${pids[@]}"
