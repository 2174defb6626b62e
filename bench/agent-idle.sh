#!/usr/bin/env bash
# Idle cost of the agent, side by side with another built tree (default /work/main) in one run: both
# agents run at once (default families, own socket and state dir, no metrics listener), and after a
# warm-up each one's CPU (utime + stime from /proc/PID/stat) over the same window and its RSS are
# printed. Run it on a quiet host: the "idle" agent still handles the records of whatever runs.
#   bash bench/agent-idle.sh [BASE_DIR] [SECONDS] [WARMUP_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
base=$(cd "${1:-/work/main}" && pwd)
secs=${2:-60}
warm=${3:-20}
tmp=$(mktemp -d /tmp/xctl-idle.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

start() { # tree name
  mkdir -p "$tmp/$2"
  node "$1/bin/xctl" agent --socket "$tmp/$2/xctl.sock" --state-dir "$tmp/$2" --metrics-addr off --log-level warn \
    >"$tmp/$2/log" 2>&1 &
  pids+=($!)
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

start "$base" base
start "$here" this
for n in base this; do
  for _ in $(seq 300); do [[ -S $tmp/$n/xctl.sock ]] && break; sleep 0.1; done
  [[ -S $tmp/$n/xctl.sock ]] || { echo "agent $n did not start:"; cat "$tmp/$n/log"; exit 1; }
done
sleep "$warm"
hz=$(getconf CLK_TCK)
b0=$(ticks "${pids[0]}"); t0=$(ticks "${pids[1]}")
sleep "$secs"
b1=$(ticks "${pids[0]}"); t1=$(ticks "${pids[1]}")
for i in 0 1; do
  name=$([[ $i == 0 ]] && echo "base ($base)" || echo this)
  d=$([[ $i == 0 ]] && echo $((b1 - b0)) || echo $((t1 - t0)))
  awk -v d="$d" -v hz="$hz" -v s="$secs" -v r="$(rss "${pids[$i]}")" -v n="$name" \
    'BEGIN { printf "%s: %.2f %% of a core over %d s (after %s s warm-up), RSS %.1f MiB\n", n, 100 * d / hz / s, s, "'"$warm"'", r / 1024 }'
done
