/**
 * Condition trees -> closures. A compiled condition reads the graph through
 * the EvalContext of one evaluation (the scope), caches the neighbours it
 * resolves, and leaves a trail of leaf results that is the minimal
 * justification of its outcome: all-true keeps every child's, all-false only
 * the failing child's, any-true only the succeeding child's, any-false every
 * child's, not keeps its child's. Text for the trail is only built for matches.
 */
import type { Agg, EntityRef, EntityType, EvalContext } from './context';
import { attributeOf } from '../graph/attributes';
import type { Condition, Leaf, Scalar, Selector } from './spec';
import { formatInUnit } from './units';
import { regexSubject } from './regex';
import { formatNumber } from '../events/units-text';
import { ZERO_WHEN_ABSENT } from './vocabulary';

export type LeafValue = Scalar | undefined;

export interface LeafResult {
  leaf: CompiledLeaf;
  entity: EntityRef | undefined; // undefined: the selected neighbour does not exist
  value: LeafValue;
  ok: boolean;
}

/**
 * The state of one rule evaluation on one entity. Resolved neighbours and named
 * values are kept as [key, value, key, value...] arrays: a rule has one or two
 * of each, and `why` runs hundreds of evaluations per answer. Every array is
 * overwritten up to an end index rather than emptied, so a reused scope (see
 * reset) allocates nothing.
 */
export class EvalScope {
  private readonly resolved: (string | EntityRef | null)[] = [];
  private resolvedEnd = 0;
  private readonly values: (string | LeafValue)[] = [];
  private valuesEnd = 0;
  /** leaf results, flat: [leaf, entity, value, ok] per result in trail[0, trailEnd) (objects only for matches: see results()) */
  private readonly trail: unknown[] = [];
  trailEnd = 0;

  constructor(
    public ctx: EvalContext,
    public self: EntityRef,
  ) {}

  /** Ready for another evaluation (a scope whose rule did not match is reused). */
  reset(ctx: EvalContext, self: EntityRef): void {
    this.ctx = ctx;
    this.self = self;
    this.resolvedEnd = 0;
    this.valuesEnd = 0;
    this.trailEnd = 0;
  }

  /** Appends a leaf result to the trail. */
  note(leaf: CompiledLeaf, entity: EntityRef | undefined, value: LeafValue, ok: boolean): void {
    this.trailEnd = put4(this.trail, this.trailEnd, leaf, entity, value, ok);
  }

  /** Removes the results in trail[start, end) (indices as trailEnd counts them). */
  cut(start: number, end: number): void {
    if (end === start) return;
    this.trail.copyWithin(start, end, this.trailEnd);
    this.trailEnd -= end - start;
  }

  /** The trail as results, in order. */
  results(): LeafResult[] {
    const t = this.trail;
    const out: LeafResult[] = [];
    for (let i = 0; i < this.trailEnd; i += 4)
      out.push({
        leaf: t[i] as CompiledLeaf,
        entity: t[i + 1] as EntityRef | undefined,
        value: t[i + 2] as LeafValue,
        ok: t[i + 3] as boolean,
      });
    return out;
  }

  /** The entity a selector picks: self, or the strongest neighbour (first of ctx.neighbors), cached. */
  resolve(sel: Selector): EntityRef | undefined {
    if (sel.kind === 'self') return this.self;
    const r = this.resolved;
    for (let i = 0; i < this.resolvedEnd; i += 2) if (r[i] === sel.key) return (r[i + 1] as EntityRef | null) ?? undefined;
    const n =
      (this.ctx.strongest ? this.ctx.strongest(this.self, sel.edge, sel.type) : this.ctx.neighbors(this.self, sel.edge, sel.type)[0]) ??
      null;
    this.resolvedEnd = put2(r, this.resolvedEnd, sel.key, n);
    return n ?? undefined;
  }

  /** Neighbours resolved so far, by selector key ("waits_on.peer"). */
  bindings(): Record<string, EntityRef> {
    const out: Record<string, EntityRef> = {};
    const r = this.resolved;
    for (let i = 0; i < this.resolvedEnd; i += 2) if (r[i + 1]) out[r[i] as string] = r[i + 1] as EntityRef;
    return out;
  }

  setNamed(name: string, v: LeafValue): void {
    const vs = this.values;
    for (let i = 0; i < this.valuesEnd; i += 2) {
      if (vs[i] === name) {
        vs[i + 1] = v;
        return;
      }
    }
    this.valuesEnd = put2(vs, this.valuesEnd, name, v);
  }

  hasNamed(name: string): boolean {
    for (let i = 0; i < this.valuesEnd; i += 2) if (this.values[i] === name) return true;
    return false;
  }

  named(name: string): LeafValue {
    const vs = this.values;
    for (let i = 0; i < this.valuesEnd; i += 2) if (vs[i] === name) return vs[i + 1];
    return undefined;
  }

  /** Named values that are numbers, for RuleMatch.values. */
  numbers(): Record<string, number> {
    const out: Record<string, number> = {};
    const vs = this.values;
    for (let i = 0; i < this.valuesEnd; i += 2) if (typeof vs[i + 1] === 'number') out[vs[i] as string] = vs[i + 1] as number;
    return out;
  }
}

/** Writes a pair at `end` of a flat array (appending only past its length); returns the new end. */
function put2(a: unknown[], end: number, k: unknown, v: unknown): number {
  if (end === a.length) a.push(k, v);
  else {
    a[end] = k;
    a[end + 1] = v;
  }
  return end + 2;
}

function put4(a: unknown[], end: number, w: unknown, x: unknown, y: unknown, z: unknown): number {
  if (end === a.length) a.push(w, x, y, z);
  else {
    a[end] = w;
    a[end + 1] = x;
    a[end + 2] = y;
    a[end + 3] = z;
  }
  return end + 4;
}

export interface CompiledLeaf {
  spec: Leaf;
  /** The leaf's value on the entity its selector picks (what `name:` exposes to templates); undefined if there is none. */
  read(s: EvalScope): LeafValue;
  /** Human text of a result, e.g. "sum(tcp.retransmits over 30s) = 42 >= 3". */
  describe(r: LeafResult): string;
}

export type ConditionFn = (s: EvalScope) => boolean;

function looseEquals(a: Scalar, b: Scalar): boolean {
  return a === b || String(a) === String(b);
}

function toNumber(v: LeafValue): number | undefined {
  if (typeof v === 'number') return Number.isNaN(v) ? undefined : v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
};

/** The test a leaf applies to the value it read; undefined (absent / no data) never passes. */
function leafTest(leaf: Leaf): (v: LeafValue) => boolean {
  if (leaf.kind === 'metric') {
    const cmp = COMPARE[leaf.op]!;
    const rhs = leaf.value;
    return (v) => typeof v === 'number' && cmp(v, rhs);
  }
  const rhs = leaf.value;
  switch (leaf.op) {
    case 'exists':
      return (v) => v !== undefined;
    case '==':
      return (v) => v !== undefined && looseEquals(v, rhs as Scalar);
    case '!=':
      return (v) => v !== undefined && !looseEquals(v, rhs as Scalar);
    case 'in':
      return (v) => v !== undefined && (rhs as Scalar[]).some((x) => looseEquals(v, x));
    case 'not_in':
      return (v) => v !== undefined && !(rhs as Scalar[]).some((x) => looseEquals(v, x));
    case 'matches': {
      const re = leaf.regex!;
      return (v) => v !== undefined && re.test(regexSubject(v));
    }
    default: {
      const cmp = COMPARE[leaf.op]!;
      return (v) => {
        const n = toNumber(v);
        return n !== undefined && cmp(n, rhs as number);
      };
    }
  }
}

/** A windowed aggregate as a leaf sees it: NaN is no data, and no data is 0 for count, sum and rate. */
export function readMetric(ctx: EvalContext, entity: EntityRef, metric: string, agg: Agg, windowSec: number): number | undefined {
  const value = ctx.metric(entity, metric, agg, windowSec);
  if (value === undefined || Number.isNaN(value)) return ZERO_WHEN_ABSENT.has(agg) ? 0 : undefined;
  return value;
}

/** `bind`: the type `self` is (the catalogue entry of a self attribute depends on it). */
function compileLeaf(leaf: Leaf, bind: EntityType | undefined): CompiledLeaf {
  const on = leaf.on;
  const where = on.kind === 'self' ? '' : ` on ${on.key}`;
  if (leaf.kind === 'metric') {
    const { metric, agg } = leaf;
    const windowSec = Number(leaf.windowNs) / 1e9;
    const lhs = (leaf.windowText ? `${agg}(${metric} over ${leaf.windowText})` : `${agg}(${metric})`) + where;
    return {
      spec: leaf,
      read(s) {
        const entity = s.resolve(on);
        return entity ? readMetric(s.ctx, entity, metric, agg, windowSec) : undefined;
      },
      describe(r) {
        if (!r.entity) return `${lhs}: no ${on.key}`;
        if (typeof r.value !== 'number') return `${lhs}: no data`;
        return `${lhs} = ${formatInUnit(r.value, leaf.unit)}${r.ok ? ' ' : ', not '}${leaf.op} ${leaf.valueText}`;
      },
    };
  }
  const { attr } = leaf;
  // looked up in the catalogue once, here: the graph reads it with no lookup by name
  const type = on.kind === 'self' ? bind : on.type;
  const def = type === undefined ? undefined : attributeOf(type, attr);
  const lhs = on.kind === 'self' ? attr : `${on.key}.${attr}`;
  const show = (v: LeafValue) =>
    v === undefined ? '(absent)' : typeof v === 'string' ? `"${v}"` : typeof v === 'number' ? formatNumber(v) : String(v);
  return {
    spec: leaf,
    read(s) {
      const entity = s.resolve(on);
      if (entity === undefined) return undefined;
      const ctx = s.ctx;
      return def !== undefined && ctx.attrOf !== undefined ? ctx.attrOf(entity, def) : ctx.attr(entity, attr);
    },
    describe(r) {
      if (!r.entity) return `${lhs}: no ${on.key}`;
      if (leaf.op === 'exists') return `${lhs} ${r.ok ? 'exists' : 'is absent'}${r.ok ? ` (${show(r.value)})` : ''}`;
      return `${lhs} = ${show(r.value)}${r.ok ? ' ' : ', not '}${leaf.op} ${leaf.valueText}`;
    },
  };
}

/** Every leaf of a condition, in source order. */
export function leavesOf(c: Condition): Leaf[] {
  switch (c.kind) {
    case 'all':
    case 'any':
      return c.children.flatMap(leavesOf);
    case 'not':
      return leavesOf(c.child);
    default:
      return [c];
  }
}

/** Compiles a condition tree; named leaves are returned so a match can report all their values. */
export function compileCondition(
  c: Condition,
  named: Map<string, CompiledLeaf> = new Map(),
  bind?: EntityType,
): { fn: ConditionFn; named: Map<string, CompiledLeaf> } {
  const build = (c: Condition): ConditionFn => {
    if (c.kind === 'not') {
      const child = build(c.child);
      return (s) => !child(s);
    }
    if (c.kind === 'all') {
      const children = c.children.map(build);
      return (s) => {
        const start = s.trailEnd;
        for (const child of children) {
          const mark = s.trailEnd;
          if (!child(s)) {
            s.cut(start, mark); // only the failing child explains the failure
            return false;
          }
        }
        return true;
      };
    }
    if (c.kind === 'any') {
      const children = c.children.map(build);
      return (s) => {
        const start = s.trailEnd;
        for (const child of children) {
          const mark = s.trailEnd;
          if (child(s)) {
            s.cut(start, mark); // only the succeeding child explains the success
            return true;
          }
        }
        return false;
      };
    }
    const leaf = compileLeaf(c, bind);
    const test = leafTest(c);
    const name = c.name;
    if (name !== undefined) named.set(name, leaf);
    return (s) => {
      const value = leaf.read(s);
      const entity = s.resolve(c.on);
      if (name !== undefined) s.setNamed(name, value);
      const ok = entity !== undefined && test(value);
      s.note(leaf, entity, value, ok);
      return ok;
    };
  };
  return { fn: build(c), named };
}
