#!/usr/bin/env bash
# In-kernel cost (bpf_stats, ns per run) of every program next to its older-kernel
# variant, measured on this kernel under the same workload: "primary" is what a
# current kernel runs (the objects as built); "5.10 paths" is what 5.10 runs:
# the same sources built with -DXCTL_OLD_KERNEL_PATHS (bpf_get_current_task() +
# CO-RE reads instead of the _btf helper, hash maps keyed by tid instead of task
# storage), with every X__fallback in place of its X. Root; run after
# `bash scripts/build.sh`. usage: bash scripts/kernel-matrix/variant-cost.sh [SECONDS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-5}
OUT=${TMPDIR:-/tmp}/xctl-variant-cost
mkdir -p "$OUT"
cc -O2 -o "$OUT/variant-cost" "$ROOT/scripts/kernel-matrix/variant-cost.c" -lbpf
ARCH=$(uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
for f in net io proc sched syscall; do
  clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$ARCH -I"$ROOT/build/bpf" -I"$ROOT/bpf" -DXCTL_OLD_KERNEL_PATHS \
    -c "$ROOT/bpf/$f.bpf.c" -o "$OUT/$f.old-paths.bpf.o"
done
prev=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
trap 'sysctl -qw kernel.bpf_stats_enabled=$prev' EXIT

workload() { # TCP ping-pong on loopback, fork+exec+exit, synchronous block writes
  python3 - "$SECS" "$OUT" <<'PY'
import os, socket, subprocess, sys, threading, time
secs, out = float(sys.argv[1]), sys.argv[2]
end = time.time() + secs
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
def echo():
    c, _ = srv.accept()
    while True:
        d = c.recv(64)
        if not d: break
        c.sendall(d)
threading.Thread(target=echo, daemon=True).start()
cli = socket.create_connection(srv.getsockname())
def io():
    fd = os.open(os.path.join(out, 'io.dat'), os.O_WRONLY | os.O_CREAT | os.O_SYNC)
    while time.time() < end: os.pwrite(fd, b'x' * 4096, 0)
    os.close(fd)
def procs():
    while time.time() < end: subprocess.run(['/bin/true'])
for f in (io, procs): threading.Thread(target=f, daemon=True).start()
while time.time() < end:
    cli.sendall(b'ping'); cli.recv(64)
PY
}

run() { # object mode
  "$OUT/variant-cost" "$1" $((SECS + 1)) "$2" >"$OUT/run.txt" &
  local pid=$!
  sleep 0.5
  workload
  wait "$pid"
  cat "$OUT/run.txt"
}
for f in net io proc sched syscall; do
  echo "== $f: primary (as built)"
  run "$ROOT/build/bpf/$f.bpf.o" primary
  echo "== $f: 5.10 paths"
  run "$OUT/$f.old-paths.bpf.o" fallback
done
