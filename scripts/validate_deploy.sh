#!/usr/bin/env bash
# Validate the Kubernetes manifests offline against the Kubernetes API schemas (strict: unknown
# fields are errors), with kubernetes-validate in a tool venv of its own: it needs a newer
# jsonschema than Rasa 3.6 allows in .venv.  The venv is made once per pinned list.
# Usage: scripts/validate_deploy.sh [MANIFEST ...]   (default: deploy/k8s/*.yml)
set -euo pipefail
cd "$(dirname "$0")/.."
pins=deploy/validate-requirements.txt
tool=.kefu/tools/kubernetes-validate-$(sha1sum "$pins" | cut -c1-12)
if [ ! -f "$tool/.complete" ]; then  # a venv cannot be moved: a stamp marks it finished
  echo "validate-deploy: installing kubernetes-validate into $tool"
  rm -rf "$tool"
  python3 -m venv "$tool"
  "$tool/bin/pip" install --quiet --disable-pip-version-check -r "$pins" 2>&1 \
    | grep -v "^WARNING: Location" || true
  "$tool/bin/kubernetes-validate" --version >/dev/null
  touch "$tool/.complete"
fi
if [ $# -eq 0 ]; then set -- deploy/k8s/*.yml; fi
exec "$tool/bin/kubernetes-validate" --strict --quiet "$@"
