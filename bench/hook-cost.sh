#!/usr/bin/env bash
# In-kernel cost per context switch + wakeup, before and after, in one run: loads the sched and io
# families of another built tree (default /work/main) and of this one in turn (`xctl events`), runs
# the same workload under each (perf bench sched pipe: ping-pong wakeups, plus a 1 ms sleeper), and
# prints bpf_stats (run_time_ns / run_cnt over the workload) for every program on sched_switch and
# sched_waking, and their sum per hook.
#   bash bench/hook-cost.sh [BASE_DIR] [ROUNDS]
# Root; sets kernel.bpf_stats_enabled=1 for the run and restores it.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
base=$(cd "${1:-/work/main}" && pwd)
rounds=${2:-2}
loops=${XCTL_BENCH_LOOPS:-200000}
old=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q kernel.bpf_stats_enabled=1
trap 'sysctl -q kernel.bpf_stats_enabled=$old' EXIT

# "name run_time_ns run_cnt" for the programs process $1 holds (its fds) on sched_switch / sched_waking
snapshot() {
  local ids
  ids=$(cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '/^prog_id:/ {print $2}' | sort -u | tr '\n' ,)
  bpftool -j prog show | node -e '
    const ids = new Set(process.argv[1].split(",").filter(Boolean).map(Number)); let s = "";
    process.stdin.on("data", (d) => (s += d)).on("end", () => {
      for (const p of JSON.parse(s)) {
        if (!ids.has(p.id)) continue;
        if (!/^on_(switch|waking)/.test(p.name ?? "")) continue;
        console.log(p.name, p.run_time_ns ?? 0, p.run_cnt ?? 0);
      }
    });' "$ids"
}

measure() { # tree label
  local tree=$1 label=$2
  node "$tree/bin/xctl" events --families sched,io >/dev/null 2>&1 &
  local agent=$!
  for _ in $(seq 100); do [[ -n $(snapshot $agent) ]] && break; sleep 0.1; done
  sleep 1
  local before after
  before=$(snapshot $agent)
  (for _ in $(seq 3000); do sleep 0.001; done) & local sleeper=$!
  perf bench sched pipe -l "$loops" >/dev/null 2>&1
  wait $sleeper
  after=$(snapshot $agent)
  kill -INT $agent; wait $agent 2>/dev/null || true
  node -e '
    const parse = (t) => new Map(t.trim().split("\n").filter(Boolean).map((l) => { const [n, ns, c] = l.split(" "); return [n, [Number(ns), Number(c)]]; }));
    const [b, a] = [parse(process.argv[1]), parse(process.argv[2])];
    const hook = { switch: 0, waking: 0 }; const parts = [];
    for (const [n, [ns, c]] of a) {
      const [ns0, c0] = b.get(n) ?? [0, 0];
      const per = c > c0 ? (ns - ns0) / (c - c0) : 0;
      hook[/^on_switch/.test(n) ? "switch" : "waking"] += per;
      parts.push(`${n} ${per.toFixed(0)} ns x ${c - c0}`);
    }
    console.log(`${process.argv[3]}: sched_switch ${hook.switch.toFixed(0)} ns + sched_waking ${hook.waking.toFixed(0)} ns = ${(hook.switch + hook.waking).toFixed(0)} ns per switch + wakeup (${parts.join(", ")})`);
  ' "$before" "$after" "$label"
}

for ((r = 1; r <= rounds; r++)); do
  measure "$base" "round $r base ($base)"
  measure "$here" "round $r this"
done
