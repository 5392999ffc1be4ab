#!/bin/sh
# Start one Rasa instance in a container: the channels this deployment has (credentials.yml and
# the environment, scripts/credentials.py), the production endpoints (KEFU_PROFILE), secrets
# from the environment only (kefu_rasa.server).
set -eu
cd /app
python -m scripts.credentials credentials.yml /tmp/credentials.yml
# shellcheck disable=SC2086  # the origins are a space-separated list
exec python -m kefu_rasa.server -m models/kefu.tar.gz --enable-api --cors ${KEFU_ALLOWED_ORIGINS} \
  --credentials /tmp/credentials.yml --interface 0.0.0.0 --port 5005
