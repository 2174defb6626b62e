#!/usr/bin/env bash
# What the syscall family costs per syscall, on this kernel:
#  - in the kernel (bpf_stats: ns per run of on_sys_exit, which runs on every syscall exit),
#    on a success-only load (dd with 1-byte blocks: 2 syscalls per block) and on a
#    failure-only load (opens of missing files: every one counted), for the program a
#    current kernel runs (primary) and the one 5.10-5.14 run (__fallback);
#  - end to end (wall time of the same dd with and without the family attached): this
#    also holds the tracepoint's own dispatch (the syscall exit slow path every task
#    takes once a sys_exit tracepoint is attached), which bpf_stats does not see.
# Root; after `bash scripts/build.sh`. usage: bash bench/syscall-cost.sh [BLOCKS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000000}
prev=$(sysctl -n kernel.bpf_stats_enabled)
OUT=$(mktemp -d /tmp/xctl-syscall-cost.XXXXXX)
trap 'sysctl -qw kernel.bpf_stats_enabled=$prev; rm -rf "$OUT"' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
mkdir "$OUT/missing"
cc -O2 -o "$OUT/variant-cost" "$ROOT/scripts/kernel-matrix/variant-cost.c" -lbpf # attach, wait, print bpf_stats
cc -O1 -o "$OUT/syscall-errors" "$ROOT/test/helpers/syscall-errors.c"

ddns() { # wall ns of N 1-byte dd blocks (2N syscalls)
  local t0 t1
  t0=$(date +%s%N)
  dd if=/dev/zero of=/dev/null bs=1 count="$N" 2>/dev/null
  t1=$(date +%s%N)
  echo $((t1 - t0))
}

for mode in primary fallback; do
  echo "== $mode: successes only (dd bs=1 count=$N: $((2 * N)) syscalls, and whatever else runs)"
  "$OUT/variant-cost" "$ROOT/build/bpf/syscall.bpf.o" 4 "$mode" &
  pid=$!
  sleep 0.5
  dd if=/dev/zero of=/dev/null bs=1 count="$N" 2>/dev/null
  wait "$pid"
  echo "== $mode: failures only ($((N / 4)) opens of missing files in one process)"
  "$OUT/variant-cost" "$ROOT/build/bpf/syscall.bpf.o" 4 "$mode" &
  pid=$!
  sleep 0.5
  "$OUT/syscall-errors" $((N / 4)) "$OUT/missing" 0 /dev/null 0 1 0 >/dev/null
  wait "$pid"
done

echo "== end to end: dd bs=1 count=$N, 5 rounds each, without | with the family attached (primary), bpf_stats off"
sysctl -qw kernel.bpf_stats_enabled=0 # its own accounting (two clock reads per run) is not part of the cost
for round in 1 2 3 4 5; do
  off=$(ddns)
  "$OUT/variant-cost" "$ROOT/build/bpf/syscall.bpf.o" 3 primary >/dev/null &
  pid=$!
  sleep 0.5
  on=$(ddns)
  wait "$pid"
  echo "round $round: without $((off / (2 * N))) ns/syscall, with $((on / (2 * N))) ns/syscall, added $(((on - off) / (2 * N))) ns/syscall"
done
