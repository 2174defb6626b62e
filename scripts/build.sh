#!/usr/bin/env bash
# Builds what is stale: BPF objects + skeletons (make), the addon (node-gyp),
# the TypeScript (tsc). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

make -s -C bpf
# Layout tables, kind registry and the addon's field list, from bpf/xctl_record.h (not in git).
node scripts/gen-layout.js
addon=build/Release/xctl.node
if [[ ! -f $addon ]] || [[ -n $(find native binding.gyp build/bpf -newer "$addon" -type f -print -quit) ]]; then
  [[ -f build/Makefile ]] || npx --no-install node-gyp configure --silent
  npx --no-install node-gyp build -j "$(nproc)" --silent
fi
npx --no-install tsc -p tsconfig.json

# Test doubles with the real GPU library ABIs (test/gpu/): the production code dlopens them by path.
mkdir -p build/test-gpu
if [[ ! -f build/test-gpu/libnvidia-ml.so.1 || test/gpu/fake-nvml.c -nt build/test-gpu/libnvidia-ml.so.1 ]]; then
  cc -O2 -Wall -shared -fPIC -Wl,-soname,libnvidia-ml.so.1 -o build/test-gpu/libnvidia-ml.so.1 test/gpu/fake-nvml.c -lpthread
fi

# Benchmark and flood-test binaries (tiny; rebuilt when their sources change).
mkdir -p build/bench
if [[ ! -x build/bench/producer || bench/producer.c -nt build/bench/producer || bench/bench_record.h -nt build/bench/producer ]]; then
  cc -O2 -Wall -o build/bench/producer bench/producer.c
fi
if [[ ! -x build/bench/ring-consumer || bench/ring-consumer.c -nt build/bench/ring-consumer || build/bpf/bench.skel.h -nt build/bench/ring-consumer || bench/bench_record.h -nt build/bench/ring-consumer ]]; then
  cc -O2 -Wall -Ibpf -Ibuild/bpf -o build/bench/ring-consumer bench/ring-consumer.c -lbpf -lelf -lz
fi
