/**
 * What one `why` query learns from /proc, kept beside the graph for that
 * query only: processes the graph has not met, and the waits seen now (a
 * reader blocked on a pipe whose writer is stopped sends no event, so only
 * /proc says so). The graph stays as the events made it, and a wait that has
 * ended is not followed by a later query: each query looks again.
 */
import type { Graph } from '../graph/graph';
import { Edge, GraphStore, ProcessNode, type GraphNode } from '../graph/model';
import type { Agg, EdgeKind, EntityRef, EntityType, EvalContext } from '../rules/context';

/** /proc start times have tick (10 ms) resolution */
const START_SLACK_NS = 10e6;
const NONE: readonly Edge[] = [];

export class QueryOverlay {
  /** series and nodes of what the query learnt: dropped with it (made on first use) */
  private store: GraphStore | undefined;
  /** live waits by the id of the waiting node */
  private readonly waits = new Map<string, Edge[]>();
  private readonly procs = new Map<number, ProcessNode>();

  constructor(
    private readonly g: Graph,
    private readonly nowNs: number,
  ) {}

  private own(): GraphStore {
    return (this.store ??= new GraphStore());
  }

  /** The process `pid` started at `startNs` (0: unknown): the graph's node when it has it, else the query's own. */
  process(pid: number, startNs: number, comm: string): ProcessNode {
    const known = this.g.findProcess(pid);
    if (known && (known.startNs === 0 || known.startsNear(startNs, START_SLACK_NS))) return known;
    let p = this.procs.get(pid);
    if (!p) {
      p = new ProcessNode(this.own(), pid, startNs);
      p.comm = comm;
      p.seen(this.nowNs);
      this.procs.set(pid, p);
    }
    return p;
  }

  /** `from` waits on `to` now, as /proc shows: one observation at the query's now. */
  linkWait(from: ProcessNode, to: ProcessNode, note: string): Edge {
    let list = this.waits.get(from.id);
    if (!list) this.waits.set(from.id, (list = []));
    let e = list.find((x) => x.to === to);
    if (!e) {
      e = new Edge('waits_on', from, to, 'events', this.own().series);
      e.source = 'procfs';
      e.add(this.nowNs, 1);
      list.push(e);
    }
    e.note = note;
    return e;
  }

  /** The waits of `n` seen live in this query, in the order found. */
  waitsFrom(n: EntityRef): readonly Edge[] {
    return this.waits.get(n.id) ?? NONE;
  }

  /** Whether `from` was seen waiting on `to` in this query. */
  waitTo(from: GraphNode, to: GraphNode): Edge | undefined {
    return this.waitsFrom(from).find((e) => e.to === to);
  }

  /** The rules' view of the graph with this query's live waits added, ranked first (they hold now). */
  context(base: EvalContext): EvalContext {
    return new OverlayContext(base, this);
  }
}

/** A graph context plus the live waits of one query. */
class OverlayContext implements EvalContext {
  readonly nowNs: bigint;

  constructor(
    private readonly base: EvalContext,
    private readonly overlay: QueryOverlay,
  ) {
    this.nowNs = base.nowNs;
  }

  metric(e: EntityRef, name: string, agg: Agg, windowSec: number): number | undefined {
    return this.base.metric(e, name, agg, windowSec);
  }

  attr(e: EntityRef, name: string): string | number | boolean | undefined {
    return this.base.attr(e, name);
  }

  private live(e: EntityRef, edge: EdgeKind, type?: EntityType): GraphNode[] {
    if (edge !== 'waits_on') return [];
    const out: GraphNode[] = [];
    for (const w of this.overlay.waitsFrom(e)) if (!type || w.to.type === type) out.push(w.to);
    return out;
  }

  neighbors(e: EntityRef, edge: EdgeKind, type?: EntityType): EntityRef[] {
    const live = this.live(e, edge, type);
    const rest = this.base.neighbors(e, edge, type);
    return live.length === 0 ? rest : [...live, ...rest.filter((r) => !live.some((n) => n.id === r.id))];
  }

  strongest(e: EntityRef, edge: EdgeKind, type?: EntityType): EntityRef | undefined {
    const live = this.live(e, edge, type);
    if (live.length) return live[0];
    return this.base.strongest ? this.base.strongest(e, edge, type) : this.base.neighbors(e, edge, type)[0];
  }
}
