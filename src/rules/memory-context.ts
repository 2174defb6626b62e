/**
 * An in-memory EvalContext: entities with attributes, timestamped metric
 * samples and neighbour lists. The reference for what the aggregates mean
 * (the graph's own implementation should agree with it), and the context
 * rule tests and `xctl rules` fixtures evaluate against.
 */
import type { Agg, EdgeKind, EntityRef, EntityType, EvalContext } from './context';

type AttrValue = string | number | boolean;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export class MemoryContext implements EvalContext {
  nowNs = 0n;
  private attrs = new Map<string, Map<string, AttrValue>>();
  private samples = new Map<string, { tNs: bigint; value: number }[]>(); // "id\0metric", in time order
  private edges = new Map<string, { from: EntityRef; edge: EdgeKind; to: EntityRef[] }>(); // by "id\0edge"; to: strongest first

  /** Sets attributes of an entity (undefined removes one). */
  set(e: EntityRef, attrs: Record<string, AttrValue | undefined>): this {
    let m = this.attrs.get(e.id);
    if (!m) this.attrs.set(e.id, (m = new Map()));
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined) m.delete(k);
      else m.set(k, v);
    }
    return this;
  }

  /** Records a metric sample at time tNs (default: now). */
  sample(e: EntityRef, metric: string, value: number, tNs: bigint = this.nowNs): this {
    const key = `${e.id}\0${metric}`;
    const list = this.samples.get(key) ?? [];
    list.push({ tNs, value });
    list.sort((a, b) => (a.tNs < b.tNs ? -1 : a.tNs > b.tNs ? 1 : 0));
    this.samples.set(key, list);
    return this;
  }

  /** Makes `to` a neighbour of `from` over `edge`, after the existing ones (weaker evidence). */
  link(from: EntityRef, edge: EdgeKind, to: EntityRef): this {
    const key = `${from.id}\0${edge}`;
    const entry = this.edges.get(key) ?? { from, edge, to: [] };
    entry.to.push(to);
    this.edges.set(key, entry);
    return this;
  }

  unlink(from: EntityRef, edge: EdgeKind): this {
    this.edges.delete(`${from.id}\0${edge}`);
    return this;
  }

  attr(e: EntityRef, name: string): AttrValue | undefined {
    return this.attrs.get(e.id)?.get(name);
  }

  neighbors(e: EntityRef, edge: EdgeKind, type?: EntityType): EntityRef[] {
    return (this.edges.get(`${e.id}\0${edge}`)?.to ?? []).filter((n) => !type || n.type === type);
  }

  dependents(e: EntityRef, edge: EdgeKind, type: EntityType): EntityRef[] {
    const out: EntityRef[] = [];
    for (const entry of this.edges.values()) {
      if (entry.edge === edge && entry.from.type === type && entry.to.some((n) => n.id === e.id)) out.push(entry.from);
    }
    return out;
  }

  metric(e: EntityRef, name: string, agg: Agg, windowSec: number): number | undefined {
    const all = this.samples.get(`${e.id}\0${name}`);
    if (!all?.length) return undefined;
    if (agg === 'last') return all[all.length - 1]!.value;
    const from = this.nowNs - BigInt(Math.round(windowSec * 1e9));
    const values = all.filter((s) => s.tNs > from && s.tNs <= this.nowNs).map((s) => s.value);
    const sum = values.reduce((a, b) => a + b, 0);
    switch (agg) {
      case 'count':
        return values.length;
      case 'sum':
        return sum;
      case 'rate':
        return sum / windowSec;
    }
    if (!values.length) return undefined; // no data in the window
    switch (agg) {
      case 'max':
        return Math.max(...values);
      case 'min':
        return Math.min(...values);
      case 'avg':
        return sum / values.length;
      default: {
        const sorted = [...values].sort((a, b) => a - b);
        return percentile(sorted, Number(agg.slice(1)));
      }
    }
  }
}
