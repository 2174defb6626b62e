#!/usr/bin/env bash
# Builds what is stale: BPF objects + skeletons (make), the addon (node-gyp),
# the TypeScript (tsc). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

make -s -C bpf
addon=build/Release/xctl.node
if [[ ! -f $addon ]] || [[ -n $(find native binding.gyp build/bpf -newer "$addon" -type f -print -quit) ]]; then
  [[ -f build/Makefile ]] || npx --no-install node-gyp configure --silent
  npx --no-install node-gyp build -j "$(nproc)" --silent
fi
npx --no-install tsc -p tsconfig.json
