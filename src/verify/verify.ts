/**
 * Re-measures a plan's verification metric with the same graph series the
 * rules read, over the plan's window after it was applied, and judges it:
 * resolved (at or under the threshold), partial (improved >= 50 % but not
 * under), failed, or recurred (bad again after an earlier check said resolved).
 */
import type { Graph } from '../graph/graph';
import { readProcIdentity } from '../procfs/process';
import type { OutcomeRecord, Plan, Verification } from '../fix/plan';

export function measure(g: Graph, v: Verification, nowNs: number): number | undefined {
  if (v.metric === 'none') return undefined;
  if (v.metric === 'process.stopped') {
    if (v.entity.type !== 'process') return undefined;
    const id = readProcIdentity(v.entity.pid);
    if (!id) return 0; // gone: not stopped any more
    return id.state === 'T' || id.state === 't' ? 1 : 0;
  }
  const node = v.entity.type === 'process' ? g.findProcess(v.entity.pid) : g.byId(v.entity.id);
  if (!node) return 0;
  return node.series(v.metric)?.aggregate('sum', nowNs / 1e9, v.window_s) ?? 0;
}

export function judge(v: Verification, after: number | undefined, earlier: OutcomeRecord[]): OutcomeRecord['outcome'] {
  if (after === undefined) return 'failed';
  const everResolved = earlier.some((o) => o.outcome === 'resolved');
  if (after <= v.threshold) return 'resolved';
  if (everResolved) return 'recurred';
  if (v.before !== undefined && v.before > 0 && after <= v.before * 0.5) return 'partial';
  return 'failed';
}

/** Seconds until the plan's window after apply (or creation) has fully passed; <= 0 when measurable. */
export function readyInS(plan: Plan, nowNs: number): number {
  const from = plan.applied_ns ?? plan.created_ns;
  return (from + plan.verification.window_s * 1e9 - nowNs) / 1e9;
}

export function verifyPlan(g: Graph, plan: Plan, nowNs: number, by: OutcomeRecord['by']): OutcomeRecord {
  const v = plan.verification;
  const after = measure(g, v, nowNs);
  const rec: OutcomeRecord = {
    at: new Date().toISOString(),
    outcome: judge(v, after, plan.outcomes),
    before: v.before,
    after,
    threshold: v.threshold,
    window_s: v.window_s,
    metric: v.metric,
    by,
  };
  plan.outcomes.push(rec);
  if (plan.outcomes.length > 100) plan.outcomes.splice(1, plan.outcomes.length - 100);
  return rec;
}
