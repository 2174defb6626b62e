/**
 * A rule's cheap necessary condition: the thresholds on the bound entity's own
 * metrics at the top of its `all` (or a lone metric leaf), each read with one
 * windowed aggregate and no evaluation scope. If the guard fails the rule
 * cannot match, so the full evaluation is skipped: on a busy host most touched
 * entities are healthy and most rules fail their first threshold.
 *
 * Percentiles and averages lie between the window's min and max, so
 * `p90 >= T` needs `max >= T` and `p99 < T` needs `min < T`; an equality on
 * them gives no guard. Other aggregates are tested exactly, as the leaf does.
 */
import type { Agg, EntityRef, EvalContext } from './context';
import type { Condition, MetricLeaf } from './spec';
import { COMPARE, readMetric } from './conditions';

export type Guard = (ctx: EvalContext, entity: EntityRef) => boolean;

const BOUNDED: ReadonlySet<Agg> = new Set<Agg>(['p50', 'p90', 'p99', 'avg']);

/** One leaf's necessary test, or undefined when the leaf gives none. */
function leafGuard(leaf: MetricLeaf): Guard | undefined {
  const { metric, value: rhs } = leaf;
  const windowSec = Number(leaf.windowNs) / 1e9;
  const cmp = COMPARE[leaf.op];
  if (!cmp) return undefined;
  let agg = leaf.agg;
  if (BOUNDED.has(agg)) {
    if (leaf.op === '>' || leaf.op === '>=') agg = 'max';
    else if (leaf.op === '<' || leaf.op === '<=') agg = 'min';
    else return undefined;
  }
  return (ctx, entity) => {
    const v = readMetric(ctx, entity, metric, agg, windowSec);
    return v !== undefined && cmp(v, rhs); // no data: the leaf fails too
  };
}

/** The guard of a rule's condition; undefined when nothing in it can be checked cheaply. */
export function compileGuard(when: Condition): Guard | undefined {
  const top = when.kind === 'all' ? when.children : [when];
  const guards: Guard[] = [];
  for (const c of top) {
    if (c.kind !== 'metric' || c.on.kind !== 'self') continue;
    const g = leafGuard(c);
    if (g) guards.push(g);
  }
  if (guards.length === 0) return undefined;
  if (guards.length === 1) return guards[0];
  return (ctx, entity) => {
    for (const g of guards) if (!g(ctx, entity)) return false;
    return true;
  };
}
