#!/usr/bin/env bash
# Re-resolve requirements.in in a throw-away venv and write the exact pins to requirements.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet "pip==24.2"
"$tmp/venv/bin/python" -m pip install --quiet -r requirements.in
{
  echo "# Exact pins for every package in .venv (Python 3.10). Regenerate with \`make lock\` after changing requirements.in."
  "$tmp/venv/bin/python" -m pip freeze --all --exclude-editable
} > requirements.lock
echo "lock: wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
