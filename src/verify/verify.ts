/**
 * Re-measures a plan's verification metric with the same graph series the
 * rules read and judges it against the victim's own baseline, relative to
 * wall time over settled windows, never a raw sum over windows of different
 * coverage:
 * - a duration metric (ns) as the share of wall time it covers: the share of
 *   its time the victim spent waiting for a CPU;
 * - a count (segments, events) as the share of seconds with at least one: the
 *   share of its time the victim spent retransmitting. A sender's rate swings
 *   with its own throughput (backoff sends less, so it loses less per second);
 *   whether it is still losing in every second does not.
 *
 * - before: the plan's window before it was made, clipped to the seconds the
 *   entity was observed (a process seen for 4 s is judged on those 4 s).
 * - after: whole seconds starting SETTLE_S after apply (waits that began
 *   before the fix end in them), ending LAG_S before now (the kernel sums
 *   waits over 1 s windows: the newest second is still on its way).
 * - resolved: at or under the threshold share; partial: the share at least
 *   halved; failed; recurred (bad again after an earlier check said resolved).
 */
import type { Graph } from '../graph/graph';
import type { GraphNode } from '../graph/model';
import { metricDef } from '../graph/vocabulary';
import { readProcIdentity, sameStart } from '../procfs/process';
import { tcpSendBlock } from '../procfs/tcp';
import type { OutcomeRecord, Plan, Verification } from '../fix/plan';

/** Seconds after apply that are not judged. */
export const SETTLE_S = 2;
/** Seconds before now that are not judged yet (records of the newest second are still on their way). */
export const LAG_S = 1;
/** The shortest span a rate is taken over. */
const MIN_SPAN_S = 2;

/** A metric over whole seconds [from, to) of boot time: its sum, and how many of the seconds have any. */
export interface Span {
  sum: number;
  /** seconds with a non-zero sum */
  active: number;
  from_s: number;
  seconds: number;
}

/** The entity measured (undefined: gone, it records nothing); null when its pid now belongs to another process. */
function seriesOf(g: Graph, v: Verification): GraphNode | undefined | null {
  if (v.entity.type !== 'process') return g.byId(v.entity.id);
  const p = g.findProcess(v.entity.pid);
  return p && !p.startsNear(v.entity.start_ns, 10e6) ? null : p;
}

/**
 * The sum over whole seconds [fromS, toS), second by second: differences of
 * windowed sums of the series, bucket-aligned (a bucket is one second; +0.5
 * keeps float rounding off the edges).
 */
export function spanOf(g: Graph, v: Verification, fromS: number, toS: number, nowNs: number): Span | undefined {
  const node = seriesOf(g, v);
  if (node === null) return undefined;
  if (node) fromS = Math.max(fromS, Math.ceil(node.firstNs / 1e9));
  if (toS - fromS < MIN_SPAN_S) return undefined;
  const nowSec = nowNs / 1e9;
  const s = node?.series(v.metric);
  const upto = (t: number) => s?.aggregate('sum', nowSec, nowSec - (t + 0.5)) ?? 0;
  let active = 0;
  let prev = upto(fromS);
  const first = prev;
  for (let k = fromS + 1; k <= toS; k++) {
    const next = upto(k);
    if (prev - next > 0) active++;
    prev = next;
  }
  return { sum: Math.max(0, first - prev), active, from_s: fromS, seconds: toS - fromS };
}

const isCount = (metric: string): boolean => ['segments', 'events'].includes(metricDef(metric)?.unit ?? '');

/** What a span is judged on: the share of wall time a duration covers (ns per s), or the share of seconds with a count. */
export function shareOf(v: Pick<Verification, 'metric'>, span: Span): number {
  return isCount(v.metric) ? span.active / span.seconds : span.sum / span.seconds;
}

/** The threshold as a share: the declared max per window spread over it (a count: that many seconds with any). */
export function thresholdShare(v: Verification): number {
  return isCount(v.metric) ? Math.min(1, v.threshold / v.window_s) : v.threshold / v.window_s;
}

/** The plan-time baseline: the window before `nowNs`, settled and clipped to what was observed. */
export function baseline(g: Graph, v: Verification, nowNs: number): Span | undefined {
  if (v.agg === 'state' || v.metric === 'none') return undefined;
  const to = Math.floor(nowNs / 1e9) - LAG_S;
  return spanOf(g, v, to - v.window_s, to, nowNs);
}

/** The settled window after the plan was applied (or made): the latest window_s whole seconds, starting SETTLE_S after it. */
export function afterSpan(g: Graph, plan: Plan, v: Verification, nowNs: number): Span | undefined {
  const from0 = Math.ceil((plan.applied_ns ?? plan.created_ns) / 1e9) + SETTLE_S;
  const to = Math.floor(nowNs / 1e9) - LAG_S;
  return spanOf(g, v, Math.max(from0, to - v.window_s), to, nowNs);
}

/** The raw sum over the window (the plan's "now" value), or a state (1/0). */
export function measure(g: Graph, v: Verification, nowNs: number): number | undefined {
  if (v.metric === 'none') return undefined;
  if (v.metric === 'process.stopped') {
    if (v.entity.type !== 'process') return undefined;
    const id = readProcIdentity(v.entity.pid);
    if (!id) return 0; // gone: not stopped any more
    return id.state === 'T' || id.state === 't' ? 1 : 0;
  }
  if (v.metric === 'tcp.send_blocked') {
    if (v.entity.type !== 'process') return undefined;
    const id = readProcIdentity(v.entity.pid);
    if (!id || !sameStart(BigInt(v.entity.start_ns), id.startNs)) return 0; // gone: not held up any more
    return tcpSendBlock(v.entity.pid) ? 1 : 0;
  }
  const node = v.entity.type === 'process' ? g.findProcess(v.entity.pid) : g.byId(v.entity.id);
  if (!node) return 0;
  return node.series(v.metric)?.aggregate('sum', nowNs / 1e9, v.window_s) ?? 0;
}

/** The verdict on shares of wall time: the threshold, the baseline and the settled value after. */
export function judgeRate(
  v: Verification,
  after: Span | undefined,
  earlier: OutcomeRecord[],
): { outcome: OutcomeRecord['outcome']; after_rate?: number } {
  if (!after) return { outcome: 'failed' };
  const rate = shareOf(v, after);
  if (rate <= thresholdShare(v)) return { outcome: 'resolved', after_rate: rate };
  if (earlier.some((o) => o.outcome === 'resolved')) return { outcome: 'recurred', after_rate: rate };
  const base = v.before_rate;
  if (base !== undefined && base > 0 && rate <= base * 0.5) return { outcome: 'partial', after_rate: rate };
  return { outcome: 'failed', after_rate: rate };
}

/** A state (process.stopped): resolved at or under the threshold, recurred after a resolved check, else failed. */
export function judge(v: Verification, after: number | undefined, earlier: OutcomeRecord[]): OutcomeRecord['outcome'] {
  if (after === undefined) return 'failed';
  if (after <= v.threshold) return 'resolved';
  if (earlier.some((o) => o.outcome === 'resolved')) return 'recurred';
  return 'failed';
}

/** Seconds until the settled window after apply (or creation) has fully passed; <= 0 when measurable. */
export function readyInS(plan: Plan, nowNs: number): number {
  const v = plan.verification;
  const from = plan.applied_ns ?? plan.created_ns;
  if (v.agg === 'state' || v.metric === 'none') return (from + v.window_s * 1e9 - nowNs) / 1e9;
  // whole seconds: the window starts at the first whole second SETTLE_S after apply and must have closed LAG_S ago
  const to = Math.ceil(from / 1e9) + SETTLE_S + v.window_s + LAG_S;
  return to - nowNs / 1e9;
}

export function verifyPlan(g: Graph, plan: Plan, nowNs: number, by: OutcomeRecord['by']): OutcomeRecord {
  const v = plan.verification;
  const rec: OutcomeRecord = {
    at: new Date().toISOString(),
    outcome: 'failed',
    before: v.before,
    threshold: v.threshold,
    window_s: v.window_s,
    metric: v.metric,
    by,
  };
  if (v.agg === 'state' || v.metric === 'none') {
    rec.after = measure(g, v, nowNs);
    rec.outcome = judge(v, rec.after, plan.outcomes);
  } else {
    const span = afterSpan(g, plan, v, nowNs);
    const j = judgeRate(v, span, plan.outcomes);
    rec.outcome = j.outcome;
    // the raw sum scaled to the plan's window, so before and after read alike
    if (span) rec.after = Math.round((span.sum / span.seconds) * v.window_s);
    rec.after_rate = j.after_rate;
    rec.before_rate = v.before_rate;
    rec.threshold_rate = thresholdShare(v);
    if (span) rec.span = { from_s: span.from_s, seconds: span.seconds };
  }
  plan.outcomes.push(rec);
  if (plan.outcomes.length > 100) plan.outcomes.splice(1, plan.outcomes.length - 100);
  return rec;
}
