/**
 * A complete, consistent set of compiled rules with the indexes the matcher
 * needs. Built only from files that all validated: ids are unique across the
 * whole set, so a match's rule id names exactly one rule.
 */
import type { Agg, EntityType } from './context';
import { formatPos, RuleError } from './errors';
import { compileRule, type CompiledRule } from './compile';
import type { RuleSpec } from './spec';
import type { SceneSpec } from './scenes';
import { leavesOf } from './conditions';

const PERCENTILES: ReadonlySet<Agg> = new Set<Agg>(['p50', 'p90', 'p99']);

export interface RuleSource {
  file: string;
  mtimeMs: number;
}

export interface RuleSet {
  rules: CompiledRule[]; // enabled rules, in file order
  byId: Map<string, CompiledRule>;
  byMetric: Map<string, CompiledRule[]>;
  byBind: Map<EntityType, CompiledRule[]>;
  /** metrics some rule reads as a percentile: the graph keeps raw samples of these only */
  percentileMetrics: Set<string>;
  source: RuleSource[];
  disabled: string[]; // ids of rules with enabled: false
  /** the scenes its rules may name (declared in its files, then the shipped ones) */
  scenes: ReadonlyMap<string, SceneSpec>;
}

/** Duplicate ids across all files, reported at the later definition. */
export function duplicateIds(rules: readonly RuleSpec[]): RuleError[] {
  const first = new Map<string, RuleSpec>();
  const errors: RuleError[] = [];
  for (const r of rules) {
    const prev = first.get(r.id);
    if (prev) errors.push(RuleError.at(r.idPos, `duplicate rule id "${r.id}" (first defined at ${formatPos(prev.idPos)})`));
    else first.set(r.id, r);
  }
  return errors;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Compiles validated specs (ids already unique) into a RuleSet. */
export function buildRuleSet(
  specs: readonly RuleSpec[],
  source: RuleSource[] = [],
  scenes: ReadonlyMap<string, SceneSpec> = new Map(),
): RuleSet {
  const rs: RuleSet = {
    rules: [],
    byId: new Map(),
    byMetric: new Map(),
    byBind: new Map(),
    percentileMetrics: new Set(),
    source,
    disabled: [],
    scenes,
  };
  for (const spec of specs) {
    if (!spec.enabled) {
      rs.disabled.push(spec.id);
      continue;
    }
    const rule = compileRule(spec);
    rs.rules.push(rule);
    rs.byId.set(rule.id, rule);
    push(rs.byBind, rule.bind, rule);
    for (const m of rule.metrics) push(rs.byMetric, m, rule);
    for (const leaf of leavesOf(spec.when)) if (leaf.kind === 'metric' && PERCENTILES.has(leaf.agg)) rs.percentileMetrics.add(leaf.metric);
  }
  return rs;
}
