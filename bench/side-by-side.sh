#!/usr/bin/env bash
# Runs this tree's benchmarks and another built tree's (e.g. the previous main) alternately in one run, so
# both see the same host state, and prints their headline figures side by side.
#   bash bench/side-by-side.sh BASE_DIR [ROUNDS]
# BASE_DIR: a checkout of the other version with its build/ and dist/ built (scripts/build.sh there).
# Make one with: git worktree add /tmp/base <rev> && (cd /tmp/base && ln -s "$PWD/node_modules" . && bash scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
base=$(cd "${1:?usage: $0 BASE_DIR [ROUNDS]}" && pwd)
rounds=${2:-3}
here=$PWD

ingest() { (cd "$1" && node dist/bench/graph.js --only ingest-case --procs 2000 --spread skewed) | grep -oE '[0-9.]+ M events/s per CPU-second.*' | head -1; }
why() { (cd "$1" && node dist/bench/graph.js --only why --procs 100000 --edges 1000000) | grep -E '^p50 ' | head -1; }
drain() { (cd "$1" && node dist/bench/pipeline.js --rounds 3) | grep -E '^ratio xctl / C' ; }

for ((r = 1; r <= rounds; r++)); do
  for tree in "$base" "$here"; do
    name=$([[ $tree == "$here" ]] && echo this || echo base)
    echo "round $r $name ingest (2000 procs, skewed): $(ingest "$tree")"
  done
done
for ((r = 1; r <= rounds; r++)); do
  for tree in "$base" "$here"; do
    name=$([[ $tree == "$here" ]] && echo this || echo base)
    echo "round $r $name why (100k procs, 1M edges): $(why "$tree")"
  done
done
if [[ ${XCTL_BENCH_PIPELINE:-1} == 1 ]]; then
  for ((r = 1; r <= rounds; r++)); do
    for tree in "$base" "$here"; do
      name=$([[ $tree == "$here" ]] && echo this || echo base)
      drain "$tree" | sed "s/^/round $r $name /"
    done
  done
fi
