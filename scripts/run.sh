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
# The production profile shares PostgreSQL, Redis and RabbitMQ (kefu/production.py).
ENDPOINTS=endpoints.yml
if [ "${KEFU_PROFILE:-}" = production ]; then ENDPOINTS=endpoints.production.yml; fi

SHOP_PORT=${KEFU_SHOP_PORT:-8000}
# Shop pages allowed to embed the web chat (CORS and socket.io origins): the demo shop by default.
export KEFU_ALLOWED_ORIGINS=${KEFU_ALLOWED_ORIGINS:-"http://127.0.0.1:$SHOP_PORT http://localhost:$SHOP_PORT"}
# Requests larger than this are refused (413) by the Rasa server.
export SANIC_REQUEST_MAX_SIZE=${KEFU_MAX_BODY_BYTES:-1048576}

# Secrets: from the environment, or generated once and kept (mode 600) in .kefu/.  They are
# passed on in the environment, never on a command line (any local user can read those in ps):
# kefu_rasa.server reads KEFU_API_TOKEN and KEFU_JWT_SECRET (optional) itself.
if [ -z "${KEFU_API_TOKEN:-}" ]; then
  KEFU_API_TOKEN=$(scripts/secret.sh api_token)
  TOKEN_SOURCE="$STATE_DIR/api_token"
else
  TOKEN_SOURCE="the KEFU_API_TOKEN environment variable"
fi
export KEFU_API_TOKEN
export KEFU_ACTION_SECRET=${KEFU_ACTION_SECRET:-$(scripts/secret.sh action_secret)}
# signs web chat session secrets (kefu_rasa/channels/webchat.py): sessions survive restarts
export KEFU_WEBCHAT_SECRET=${KEFU_WEBCHAT_SECRET:-$(scripts/secret.sh webchat_secret)}

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
    # the URL goes to curl on stdin: it may hold the API token
    if curl -fs -o /dev/null -K - <<<"url = \"$1\""; then return 0; fi
    if ! kill -0 "$4" 2>/dev/null; then echo "kefu: $3 exited during start-up" >&2; return 1; fi
    sleep 0.5
  done
  echo "kefu: $3 did not answer at $1 within $2 s" >&2
  return 1
}

# The shop database: migrate, and load the demo shop on first start (KEFU_DB_URL to use your own).
.venv/bin/kefu db upgrade
if [ "${KEFU_PROFILE:-}" != production ]; then
  .venv/bin/kefu demo load --if-empty
fi

.venv/bin/python -m actions.server --port "$ACTIONS_PORT" > "$STATE_DIR/actions.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$ACTIONS_PORT/health" 60 "action server" "${pids[0]}"

if [ "$MODE" = shell ]; then
  .venv/bin/rasa shell -m models/kefu.tar.gz --endpoints endpoints.yml
  exit 0
fi

echo "kefu: channels (credentials.yml; set a channel's variables to switch it on):"
.venv/bin/python -m scripts.credentials credentials.yml "$STATE_DIR/credentials.yml"
# `rasa run` with the secrets from the environment and admin-only writes on the HTTP API
# shellcheck disable=SC2086  # the origins are a space-separated list
.venv/bin/python -m kefu_rasa.server -m models/kefu.tar.gz --enable-api --cors $KEFU_ALLOWED_ORIGINS \
  --credentials "$STATE_DIR/credentials.yml" --endpoints "$ENDPOINTS" \
  --interface "${KEFU_HOST:-127.0.0.1}" --port "$RASA_PORT" \
  --log-file "$STATE_DIR/rasa.log" > "$STATE_DIR/rasa.out" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$RASA_PORT/status?token=$KEFU_API_TOKEN" 180 "Rasa server" "${pids[1]}"

# The demo shop page with the web chat embedded (KEFU_DEMO_SHOP=0 when the shop is your own).
# Never in production: its demo login signs customer tokens (it also refuses any database that
# `kefu demo load` did not fill).
if [ "${KEFU_DEMO_SHOP:-1}" != 0 ] && [ "${KEFU_PROFILE:-}" != production ]; then
  .venv/bin/kefu demo serve --host 127.0.0.1 --port "$SHOP_PORT" \
    --bot-url "${KEFU_BOT_URL:-http://127.0.0.1:$RASA_PORT}" > "$STATE_DIR/shop.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$SHOP_PORT/" 60 "demo shop" "${pids[2]}"
fi

# The agents' console for human hand-off, when agents are configured (kefu agent hash-password).
AGENT_PORT=${KEFU_AGENT_PORT:-8100}
if [ -n "${KEFU_AGENTS:-}" ] && [ -n "${KEFU_AGENT_SECRET:-}" ]; then
  KEFU_API_TOKEN="$KEFU_API_TOKEN" .venv/bin/kefu agent serve --host 127.0.0.1 --port "$AGENT_PORT" \
    --rasa-url "http://127.0.0.1:$RASA_PORT" > "$STATE_DIR/agent.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$AGENT_PORT/login" 60 "agent console" "${pids[-1]}"
fi

# Privacy: conversations older than shop.yml's privacy.retention_days and customers whose
# erasure is due are erased now and every 24 hours (kefu privacy daily).
.venv/bin/kefu privacy daily > "$STATE_DIR/privacy.log" 2>&1 &
pids+=($!)

REST_NOTE=""
if [ -n "${KEFU_REST_TOKEN:-}" ]; then REST_NOTE="  (Authorization: Bearer \$KEFU_REST_TOKEN)"; fi
cat <<INFO

kefu is running (Ctrl-C stops it):
  demo shop         http://127.0.0.1:$SHOP_PORT/   (web chat in the corner)
  REST channel      POST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook
                    {"sender": "customer-1", "message": "你好"}$REST_NOTE
  web chat          <script src="http://127.0.0.1:$RASA_PORT/webhooks/webchat/widget.js" defer></script>
  HTTP API          http://127.0.0.1:$RASA_PORT/  token: in $TOKEN_SOURCE
  action server     http://127.0.0.1:$ACTIONS_PORT/webhook
  logs              $STATE_DIR/rasa.log, $STATE_DIR/actions.log, $STATE_DIR/privacy.log
INFO
if [ -n "${KEFU_AGENTS:-}" ] && [ -n "${KEFU_AGENT_SECRET:-}" ]; then
  echo "  agent console     http://127.0.0.1:$AGENT_PORT/   (log: $STATE_DIR/agent.log)"
fi
wait -n "${pids[@]}"
