#!/usr/bin/env bash
# Create .venv with Python 3.10 and install kefu's locked dependencies.
# Idempotent: when requirements.lock and pyproject.toml are unchanged it returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.kefu-installed"

find_python310() {
  local candidate
  # 1. KEFU_PYTHON, if the operator named one.
  # 2. python3.10 on PATH (a pyenv shim that fails unless selected is skipped).
  # 3. pyenv's (or any conventional) install of 3.10.x.
  for candidate in "${KEFU_PYTHON:-}" python3.10 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10.*/bin/python3.10 \
      /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      command -v "$candidate" 2>/dev/null || echo "$candidate"
      return 0
    fi
  done
  return 1
}

want_hash=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_hash" ]; then
  echo "setup: .venv is up to date"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  PY=$(find_python310) || {
    echo "setup: Python 3.10 not found. Rasa 3.6 needs Python 3.10." >&2
    echo "       Install it (e.g. 'pyenv install 3.10.13') or set KEFU_PYTHON=/path/to/python3.10." >&2
    exit 1
  }
  echo "setup: creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi

echo "setup: installing locked dependencies (first run takes a few minutes)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip==24.2"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
"$VENV/bin/python" -m pip check
echo "$want_hash" > "$STAMP"
echo "setup: done"
