#!/usr/bin/env bash
# Print the local secret NAME from .kefu/NAME, generating it (mode 600) on first use.
# Used by scripts/run.sh and the Makefile for the API token and the action server secret when
# the environment does not provide them.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/secret.sh NAME}
mkdir -p .kefu && chmod 700 .kefu
if [ ! -s ".kefu/$name" ]; then
  (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > ".kefu/$name")
fi
cat ".kefu/$name"
