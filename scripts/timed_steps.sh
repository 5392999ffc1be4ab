#!/usr/bin/env bash
# Run make targets one after another, stopping at the first that fails, and print how long each
# took (also when one fails), so that a CI log shows where its minutes go.
# Usage: scripts/timed_steps.sh TARGET [TARGET …]
set -uo pipefail
timings=()
status=0
for target in "$@"; do
  start=$(date +%s)
  make --no-print-directory "$target"
  status=$?
  timings+=("$(printf '%-13s %5d s%s' "$target" $(( $(date +%s) - start )) "$([ $status -ne 0 ] && echo '  FAILED')")")
  [ $status -ne 0 ] && break
done
echo "make test, step by step:"
printf '  %s\n' "${timings[@]}"
exit $status
