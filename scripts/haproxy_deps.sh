#!/usr/bin/env bash
# The cluster (make run-cluster, tests/cluster/) puts Debian's HAProxy in front of the Rasa
# instances and the action servers (deploy/haproxy/haproxy.cfg).  Install it when missing, so
# that `make test` on a fresh machine needs nothing else; without root or apt-get, say what to
# install.
set -euo pipefail
command -v haproxy >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "cluster: installing haproxy (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  exit 0
fi
echo "cluster: the cluster needs HAProxy:  sudo apt-get install haproxy" >&2
exit 1
