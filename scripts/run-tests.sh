#!/usr/bin/env bash
# Runs the linter and formatter check (Biome, biome.jsonc) and every tap test file (compiled to dist/test),
# and ends with the plain "N passed, N failed" line the CI reads, the lint counted as one test.
# tap's exit code stays authoritative; a lint finding fails the run too.
set -uo pipefail
cd "$(dirname "$0")/.."
files=("$@")
lint_pass=0 lint_fail=0 lint_rc=0
if ((${#files[@]} == 0)); then
  # the whole suite: lint and format check first (about a second), zero warnings
  if npx --no-install biome ci --error-on-warnings .; then lint_pass=1; else lint_fail=1 lint_rc=1; fi
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
echo "$((${pass:-0} + lint_pass)) passed, $((${fail:-0} + lint_fail)) failed"
if [[ $rc -eq 0 && -z $summary ]]; then
  echo "tap printed no summary: treating as failure" >&2
  exit 1
fi
((rc != 0)) && exit "$rc"
exit "$lint_rc"
