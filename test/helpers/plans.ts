// Resolved plans written straight into a state directory, as if verified earlier: what the periodic
// re-check reads (hostile-agent's incremental re-check test, bench/fix-flood's re-check figure).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Writes `n` copies of `plan` (any real plan) as seed<i>.json, each judged resolved on offcpu.runq of `pid`. */
export function seedResolvedPlans(plansDir: string, plan: Record<string, unknown>, n: number, pid: number): void {
  const at = new Date().toISOString();
  // a state verification of a running, unstopped process: every re-check judges it resolved again
  const verification = {
    metric: 'process.stopped',
    entity: { type: 'process', pid, start_ns: 0, label: 'seed' },
    agg: 'state',
    window_s: 10,
  };
  const outcome = { at, outcome: 'resolved', after: 0, threshold: 0, window_s: 10, metric: 'process.stopped', by: 'verify' };
  for (let i = 0; i < n; i++)
    fs.writeFileSync(
      path.join(plansDir, `seed${i}.json`),
      JSON.stringify({
        ...plan,
        plan_id: `seed${i}`,
        created_at: at,
        applied_at: at, // applied (dry runs have their own, smaller cap)
        verification: { ...verification, threshold: 0, unit: 'bool', text: 'seed' },
        outcomes: [outcome],
      }),
    );
}
