/**
 * Incremental rule matching. The graph reports what changed (touched: a
 * metric of an entity got a sample; touchedAttr: an entity's attributes or
 * edges changed) and calls flush() now and then; only the (entity, rule)
 * pairs a change can affect are evaluated, plus the currently active matches,
 * because windows slide and an active match can stop matching with no event.
 *
 * A change on a neighbour (the process a waiter waits on gets SIGSTOPped)
 * reaches the rules of the entities that read it through `on:` when the
 * context implements dependents(); without it, those rules see the change
 * the next time their own entity is touched, or on evaluateNow().
 */
import type { EdgeKind, EntityRef, EntityType, EvalContext } from './context';
import { compareMatches, type CompiledRule, type PendingMatch, type RuleMatch } from './compile';
import type { RuleSet } from './ruleset';

export interface ViaRule {
  rule: CompiledRule;
  edge: EdgeKind;
}

/**
 * What a change to a set of an entity type's metrics makes due: the rules reading them on the entity
 * itself, and those reading them through a neighbour. Computed once per set and reused (touchedSet).
 */
export interface ChangeSet {
  readonly self: readonly CompiledRule[];
  readonly via: readonly ViaRule[];
}

/** An entity's due rules. `rules` is a list shared with the matcher's tables until `owned`: copied on the first merge. */
interface Due {
  entity: EntityRef;
  rules: readonly CompiledRule[] | 'all';
  owned: boolean;
}

export interface MatcherStats {
  evaluations: number;
  evaluationsByRule: Map<string, number>;
  matchesByRule: Map<string, number>; // evaluations that matched
}

export interface FlushResult {
  evaluated: number;
  started: RuleMatch[]; // matches that were not active before this flush
  ended: { entity: EntityRef; ruleId: string }[]; // active matches that no longer hold
}

function byType<V>(m: Map<EntityType, Map<string, V[]>>, type: EntityType): Map<string, V[]> {
  let inner = m.get(type);
  if (!inner) m.set(type, (inner = new Map()));
  return inner;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

export class RuleMatcher {
  /** Matches that hold now, by entity id, best explanation first; rendered when read (most are re-tested every flush and never read). */
  readonly active = new Map<string, PendingMatch[]>();
  /** evaluations and matches per rule id (kept across rule reloads, like the Prometheus counters they feed) */
  private readonly counts = new Map<string, { evaluations: number; matches: number }>();
  private evaluations = 0;
  /**
   * Rules whose evaluation threw, by id, with the error: each is disabled (tested no more) until the
   * next rule set, so one broken rule never takes the agent down; the agent logs and counts them.
   */
  readonly failedRules = new Map<string, string>();

  private ruleSet!: RuleSet;
  private selfByTypeMetric = new Map<EntityType, Map<string, CompiledRule[]>>(); // process -> io.latency -> rules bound to process reading it on self
  private viaByTypeMetric = new Map<EntityType, Map<string, ViaRule[]>>(); // device -> io.latency -> rules reading it on a device neighbour
  private viaAttrByType = new Map<EntityType, ViaRule[]>(); // "process" -> rules reading attributes of a process neighbour
  private dirty = new Map<string, Due>();
  private dirtyNeighbors = new Map<string, { entity: EntityRef; via: Set<ViaRule> }>();

  constructor(ruleSet: RuleSet) {
    this.setRuleSet(ruleSet);
  }

  /** Cumulative evaluation counts (a snapshot). */
  get stats(): MatcherStats {
    const evaluationsByRule = new Map<string, number>();
    const matchesByRule = new Map<string, number>();
    for (const [id, c] of this.counts) {
      evaluationsByRule.set(id, c.evaluations);
      if (c.matches) matchesByRule.set(id, c.matches);
    }
    return { evaluations: this.evaluations, evaluationsByRule, matchesByRule };
  }

  get rules(): RuleSet {
    return this.ruleSet;
  }

  /** Swaps in a new rule set (hot reload): every entity with active matches is re-evaluated at the next flush. */
  setRuleSet(rs: RuleSet): void {
    this.ruleSet = rs;
    this.failedRules.clear();
    this.selfByTypeMetric.clear();
    this.viaByTypeMetric.clear();
    this.viaAttrByType.clear();
    for (const [metric, rules] of rs.byMetric) {
      for (const rule of rules) if (rule.reads.selfMetrics.includes(metric)) push(byType(this.selfByTypeMetric, rule.bind), metric, rule);
    }
    for (const rule of rs.rules) {
      for (const v of rule.reads.viaNeighbor) {
        for (const m of v.metrics) push(byType(this.viaByTypeMetric, v.type), m, { rule, edge: v.edge });
        if (v.attrs.length) push(this.viaAttrByType, v.type, { rule, edge: v.edge });
      }
    }
    // compiled rules of the old set must not be evaluated again
    for (const d of this.dirty.values()) d.rules = 'all';
    this.dirtyNeighbors.clear();
    for (const matches of this.active.values()) {
      const entity = matches[0]?.entity;
      if (entity) this.dirty.set(entity.id, { entity, rules: 'all', owned: true });
    }
  }

  /** `rules` become due for `entity`; the list is kept as given (not modified) until another merges in. */
  private markRules(entity: EntityRef, rules: readonly CompiledRule[]): void {
    const d = this.dirty.get(entity.id);
    if (!d) {
      this.dirty.set(entity.id, { entity, rules, owned: false });
      return;
    }
    if (d.rules === 'all') return;
    // a small array, not a Set: a few rules per metric
    for (const r of rules) {
      if (d.rules.includes(r)) continue;
      if (!d.owned) {
        d.rules = d.rules.slice();
        d.owned = true;
      }
      (d.rules as CompiledRule[]).push(r);
    }
  }

  private markNeighbor(entity: EntityRef, via: readonly ViaRule[]): void {
    const d = this.dirtyNeighbors.get(entity.id);
    if (!d) this.dirtyNeighbors.set(entity.id, { entity, via: new Set(via) });
    else for (const v of via) d.via.add(v);
  }

  /** A metric of `entity` got a sample: only rules reading that metric (on it or through it) become due. */
  touched(entity: EntityRef, metric: string): void {
    this.touchedSet(entity, this.changeSet(entity.type, [metric]));
  }

  /** What a change to these metrics of an entity of `type` makes due (for touchedSet; valid until the rule set changes). */
  changeSet(type: EntityType, metrics: readonly string[]): ChangeSet {
    const self: CompiledRule[] = [];
    const via: ViaRule[] = [];
    for (const m of metrics) {
      for (const r of this.selfByTypeMetric.get(type)?.get(m) ?? []) if (!self.includes(r)) self.push(r);
      for (const v of this.viaByTypeMetric.get(type)?.get(m) ?? []) if (!via.includes(v)) via.push(v);
    }
    return { self, via };
  }

  /**
   * touched() for several metrics of `entity` at once, with their changeSet() made beforehand: the
   * graph reports each changed node once per flush, and most share a handful of metric sets.
   */
  touchedSet(entity: EntityRef, cs: ChangeSet): void {
    if (cs.self.length) this.markRules(entity, cs.self);
    if (cs.via.length) this.markNeighbor(entity, cs.via);
  }

  /** Attributes or edges of `entity` changed: every rule bound to its type becomes due for it. */
  touchedAttr(entity: EntityRef): void {
    const d = this.dirty.get(entity.id);
    if (d) d.rules = 'all';
    else this.dirty.set(entity.id, { entity, rules: 'all', owned: true });
    const via = this.viaAttrByType.get(entity.type);
    if (via) this.markNeighbor(entity, via);
  }

  /** Drops all state of an entity the graph no longer has. */
  forget(entity: EntityRef): void {
    this.active.delete(entity.id);
    this.dirty.delete(entity.id);
    this.dirtyNeighbors.delete(entity.id);
  }

  matchesFor(entity: EntityRef): RuleMatch[] {
    return this.active.get(entity.id)?.map((m) => m.render()) ?? [];
  }

  /** The best active match of an entity, the only one rendered (`xctl ps` shows one per process). */
  topMatchFor(entity: EntityRef): RuleMatch | undefined {
    return this.active.get(entity.id)?.[0]?.render();
  }

  private counter(rule: CompiledRule): { evaluations: number; matches: number } {
    let c = this.counts.get(rule.id);
    if (!c) this.counts.set(rule.id, (c = { evaluations: 0, matches: 0 }));
    return c;
  }

  /** One rule on one entity, counted; the match left unrendered. */
  private test(ctx: EvalContext, rule: CompiledRule, entity: EntityRef): PendingMatch | null {
    if (this.failedRules.size && this.failedRules.has(rule.id)) return null;
    this.evaluations++;
    const c = this.counter(rule);
    c.evaluations++;
    let m: PendingMatch | null;
    try {
      m = rule.test(ctx, entity);
    } catch (e) {
      this.failedRules.set(rule.id, `${(e as Error)?.message ?? String(e)} (on ${entity.type} ${entity.id})`);
      return null;
    }
    if (m) c.matches++;
    return m;
  }

  /** Evaluates every rule bound to the entity's type now (for `why` on demand); does not change `active`. */
  evaluateNow(ctx: EvalContext, entity: EntityRef): RuleMatch[] {
    return this.testNow(ctx, entity).map((m) => m.render());
  }

  /** evaluateNow() with the matches left unrendered, best first: for callers that rank many and show few. */
  testNow(ctx: EvalContext, entity: EntityRef): PendingMatch[] {
    const out: PendingMatch[] = [];
    for (const rule of this.ruleSet.byBind.get(entity.type) ?? []) {
      const m = this.test(ctx, rule, entity);
      if (m) out.push(m);
    }
    return out.length > 1 ? out.sort(compareMatches) : out;
  }

  /** Evaluates the due pairs and the active matches; updates `active`. */
  flush(ctx: EvalContext): FlushResult {
    // changes on neighbours make the entities that read them due
    if (ctx.dependents) {
      for (const { entity, via } of this.dirtyNeighbors.values()) {
        for (const v of via) for (const dep of ctx.dependents(entity, v.edge, v.rule.bind)) this.markRules(dep, [v.rule]);
      }
    }
    this.dirtyNeighbors.clear();
    // active matches are due again: their windows slide with no event
    for (const matches of this.active.values()) {
      const rules: CompiledRule[] = [];
      for (const m of matches) {
        const rule = this.ruleSet.byId.get(m.ruleId);
        if (rule) rules.push(rule);
      }
      this.markRules(matches[0]!.entity, rules);
    }

    const out: FlushResult = { evaluated: 0, started: [], ended: [] };
    const dirty = this.dirty;
    this.dirty = new Map();
    for (const [id, { entity, rules }] of dirty) {
      const due = rules === 'all' ? (this.ruleSet.byBind.get(entity.type) ?? []) : rules;
      const before = this.active.get(id);
      let next: PendingMatch[] | undefined;
      for (const rule of due) {
        const m = this.test(ctx, rule, entity);
        if (!m) continue;
        (next ??= []).push(m);
        if (!before?.some((b) => b.ruleId === m.ruleId)) out.started.push(m.render());
      }
      out.evaluated += due.length;
      // an active match ends when its rule no longer holds, or is gone from the rule set
      for (const b of before ?? []) if (!next?.some((m) => m.ruleId === b.ruleId)) out.ended.push({ entity: b.entity, ruleId: b.ruleId });
      if (next) this.active.set(id, next.length > 1 ? next.sort(compareMatches) : next);
      else if (before) this.active.delete(id);
    }
    return out;
  }
}
