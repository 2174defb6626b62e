#!/usr/bin/env bash
# The same situation must give the same verify outcome: runs the fix + verify scenarios of
# test/fix-scenarios.test.ts (CPU starvation, stopped writer, packet loss) N times in a row (default 10)
# and prints one row per scenario with every run's outcome and the shares it was judged on (of its time
# waiting for a CPU; of seconds with retransmits).
# Real faults and a real agent: run it under the heavy lock,
#   flock /tmp/xctl-heavy.lock bash scripts/verify-repeat.sh 10
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
log=$(mktemp)
fails=0
for i in $(seq 1 "$n"); do
  out=$(XCTL_VERIFY_LOG="$log" npx --no-install tap --reporter=tap dist/test/fix-scenarios.test.js 2>&1)
  rc=$?
  ((rc != 0)) && fails=$((fails + 1)) && grep -E '^\s*not ok' <<<"$out" | head -5 >&2
  echo "run $i/$n: tap exit $rc" >&2
done
node - "$log" "$n" "$fails" <<'JS'
const fs = require('node:fs');
const [log, n, fails] = process.argv.slice(2);
const rows = new Map();
for (const l of fs.readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
  const r = JSON.parse(l);
  if (!rows.has(r.scenario)) rows.set(r.scenario, []);
  rows.get(r.scenario).push(r);
}
const fmt = (x, s) => (x === undefined || x === null ? '-' : `${((s === 'ns' ? x / 1e9 : x) * 100).toFixed(1)} %`);
console.log(`| scenario | runs | outcomes | distinct | before (share) | after (share) |`);
console.log(`|---|---|---|---|---|---|`);
let flaky = 0;
for (const [name, rs] of rows) {
  const outs = rs.map((r) => r.outcome);
  const distinct = new Set(outs).size;
  if (distinct > 1) flaky++;
  const unit = name === 'cpu_starvation' ? 'ns' : '';
  const range = (k) => {
    const v = rs.map((r) => r[k]).filter((x) => typeof x === 'number');
    return v.length ? `${fmt(Math.min(...v), unit)} .. ${fmt(Math.max(...v), unit)}` : '-';
  };
  console.log(`| ${name} | ${rs.length} | ${outs.join(' ')} | ${distinct} | ${range('before_rate')} | ${range('after_rate')} |`);
}
console.log(`\n${flaky} flaky scenario(s) of ${rows.size}; ${fails} of ${n} test runs failed`);
JS
rm -f "$log"
