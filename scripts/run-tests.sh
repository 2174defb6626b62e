#!/usr/bin/env bash
# Runs every tap test file (compiled to dist/test) and ends with the plain
# "N passed, N failed" line the CI reads. tap's exit code stays authoritative.
set -uo pipefail
cd "$(dirname "$0")/.."
files=("$@")
if ((${#files[@]} == 0)); then
  # from the sources, so a compiled test whose source is gone (tsc never deletes outputs) does not run
  mapfile -t files < <(ls test/*.test.ts | sort | sed -E 's#^test/(.*)\.ts$#dist/test/\1.js#')
fi
log=$(mktemp)
npx --no-install tap --reporter=tap "${files[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# tap's closing summary: "# { total: N, pass: N, fail: N, ... }"
summary=$(grep -E '^# \{ total:' "$log" | tail -1)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
rm -f "$log"
echo "${pass:-0} passed, ${fail:-0} failed"
if [[ $rc -eq 0 && -z $summary ]]; then
  echo "tap printed no summary: treating as failure" >&2
  exit 1
fi
exit "$rc"
