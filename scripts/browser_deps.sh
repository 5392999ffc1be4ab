#!/usr/bin/env bash
# The browser tests drive Debian's chromium through Playwright (no browser download) and take
# screenshots with a CJK font.  Install both when missing, so that `make test` on a fresh machine
# needs nothing else; without root or apt-get, say what to install.
set -euo pipefail
command -v chromium >/dev/null && dpkg -s fonts-wqy-microhei >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "browser: installing chromium and fonts-wqy-microhei (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
  exit 0
fi
echo "browser: the browser tests need Debian's chromium and fonts-wqy-microhei:" >&2
echo "         sudo apt-get install chromium fonts-wqy-microhei" >&2
exit 1
