/**
 * The rule engine's view of the graph (context.ts). Live agents add
 * providers for what only the host knows now: the /proc state of a process
 * and CPU usage; replays (xctl analyze) run without them. Attributes are read
 * through the catalogue's getters (attributes.ts).
 */
import { attributeOf, type AttrDef, type AttrSource, type LiveWaitInfo, type TcpSendView } from './attributes';
import type { Agg, EdgeKind, EntityRef, EntityType, EvalContext } from './context';
import type { Graph } from './graph';
import { ProcessNode, type GraphNode, type GpuNode } from './model';
import { EDGE_KINDS, ENTITY_TYPES, M } from './vocabulary';

export interface LiveProviders {
  /** current /proc state of a pid: running|sleeping|blocked|stopped|exited, undefined if unknown */
  processState?(p: ProcessNode): string | undefined;
  /** CPU usage of a pid (fraction of one CPU) */
  cpuUsage?(pid: number): number | undefined;
  /** competitors for the CPU, busiest first, excluding `pid` */
  cpuCompetitors?(pid: number): { pid: number; comm: string; usage: number }[];
  /** what a process is blocked in right now, seen in /proc during a `why` query */
  liveWait?(p: ProcessNode): LiveWaitInfo | undefined;
  /** the TCP send the process is held up in by its peer now (/proc/<pid>/net/tcp) */
  tcpSend?(p: ProcessNode): TcpSendView | undefined;
}

/** A process's own view of a GPU: co_tenant leaves the process itself out. Same id as the GpuNode. */
interface GpuView extends EntityRef {
  type: 'gpu';
  forPid: number;
}

/** Edges ranked by their evidence over this window (strongest first). */
const RANK_WINDOW_S = 300;

/** strongest()'s memo slots: one per edge kind x (any type, then each entity type) */
const EDGE_SLOT: Readonly<Record<EdgeKind, number>> = Object.fromEntries(EDGE_KINDS.map((k, i) => [k, i])) as Record<EdgeKind, number>;
const TYPE_SLOT: Readonly<Record<EntityType, number>> = Object.fromEntries(ENTITY_TYPES.map((t, i) => [t, i + 1])) as Record<
  EntityType,
  number
>;
const TYPE_SLOTS = ENTITY_TYPES.length + 1;

/** A process's own view of "the CPUs": competitors exclude the process itself. */
interface CpuView extends EntityRef {
  type: 'cpu';
  forPid: number;
}

export class GraphContext implements EvalContext, AttrSource {
  /** nowNs in seconds, as the series read it */
  private readonly nowSec: number;
  /** strongest() per node, by edge kind x entity type (null: none) */
  private readonly strongestMemo = new Map<GraphNode, (EntityRef | null)[]>();

  constructor(
    private readonly g: Graph,
    readonly nowNs: bigint,
    private readonly live: LiveProviders = {},
  ) {
    this.nowSec = Number(nowNs) / 1e9;
  }

  private node(e: EntityRef): GraphNode | undefined {
    return e instanceof Object && 'out' in e ? (e as unknown as GraphNode) : this.g.byId(e.id);
  }

  metric(e: EntityRef, name: string, agg: Agg, windowSec: number): number | undefined {
    if (name === M.cpuUsage && e.type === 'process') {
      const p = this.node(e) as ProcessNode | undefined;
      return p ? this.live.cpuUsage?.(p.pid) : undefined;
    }
    const n = this.node(e);
    const s = n?.series(name);
    if (!s) return undefined;
    return s.aggregate(agg, this.nowSec, windowSec);
  }

  attr(e: EntityRef, name: string): string | number | boolean | undefined {
    const def = attributeOf(e.type, name);
    return def && this.attrOf(e, def);
  }

  attrOf(e: EntityRef, def: AttrDef): string | number | boolean | undefined {
    const type = e.type;
    if (type !== 'cpu' && type !== 'gpu') {
      const n = this.node(e);
      return n && def.get(n, this, 0);
    }
    // "the CPUs" as a process sees them is a view, not a node; so is a GPU as a process sees it (co_tenant leaves it out)
    const n = type === 'cpu' ? this.g.cpu : this.node(e);
    return n && def.get(n, this, (e as Partial<GpuView | CpuView>).forPid ?? 0);
  }

  neighbors(e: EntityRef, edge: EdgeKind, type?: EntityType): EntityRef[] {
    const n = this.node(e);
    if (!n) return [];
    const now = this.nowSec;
    // weigh each candidate once (a windowed sum), then sort: not inside the comparator
    const ranked: { w: number; last: number; to: GraphNode }[] = [];
    for (const x of n.out) {
      if (x.kind !== edge || (type && x.to.type !== type)) continue;
      ranked.push({ w: x.weight(now, RANK_WINDOW_S), last: x.lastNs, to: x.to });
    }
    if (ranked.length > 1) ranked.sort((a, b) => b.w - a.w || b.last - a.last);
    return ranked.map((r) => this.viewOf(n, r.to, type));
  }

  strongest(e: EntityRef, edge: EdgeKind, type?: EntityType): EntityRef | undefined {
    const n = this.node(e);
    if (!n) return undefined;
    // a context serves one query or flush over an unchanging graph, and its rules ask the
    // same neighbour of the same node again and again (2.6 times per query in the why bench)
    const slot = EDGE_SLOT[edge] * TYPE_SLOTS + (type ? TYPE_SLOT[type] : 0);
    let memo = this.strongestMemo.get(n);
    if (memo === undefined) this.strongestMemo.set(n, (memo = []));
    const hit = memo[slot];
    if (hit !== undefined) return hit ?? undefined;
    const found = this.rankStrongest(n, edge, type);
    memo[slot] = found ?? null;
    return found;
  }

  private rankStrongest(n: GraphNode, edge: EdgeKind, type?: EntityType): EntityRef | undefined {
    const now = this.nowSec;
    // the same order as neighbors(): heaviest recent weight, then the most recent
    let best: GraphNode | undefined;
    let bestW = 0;
    let bestLast = 0;
    for (const x of n.out) {
      if (x.kind !== edge || (type && x.to.type !== type)) continue;
      const w = x.weight(now, RANK_WINDOW_S);
      if (!best || w > bestW || (w === bestW && x.lastNs > bestLast)) {
        best = x.to;
        bestW = w;
        bestLast = x.lastNs;
      }
    }
    return best && this.viewOf(n, best, type);
  }

  /**
   * A neighbour as `n` sees it. For a process, a GPU and "the CPUs" are views of
   * its own: co_tenant and competitors leave the process itself out.
   */
  private viewOf(n: GraphNode, to: GraphNode, type?: EntityType): EntityRef {
    if (n instanceof ProcessNode) {
      if (type === 'gpu') return { type: 'gpu', id: to.id, forPid: n.pid } as GpuView;
      if (type === 'cpu') return { type: 'cpu', id: `cpu:for:${n.pid}`, forPid: n.pid } as CpuView;
    }
    return to;
  }

  dependents(e: EntityRef, edge: EdgeKind, type: EntityType): EntityRef[] {
    const n = this.node(e);
    if (!n) return [];
    return n.inn.filter((x) => x.kind === edge && x.from.type === type).map((x) => x.from as EntityRef);
  }

  liveProcessState(p: ProcessNode): string | undefined {
    return this.live.processState?.(p);
  }

  liveWait(p: ProcessNode): LiveWaitInfo | undefined {
    return this.live.liveWait?.(p);
  }

  liveTcpSend(p: ProcessNode): TcpSendView | undefined {
    return this.live.tcpSend?.(p);
  }

  gpus(): Iterable<GpuNode> {
    return this.g.gpus.values();
  }

  /** The other process holding the most memory on this GPU in the latest samples. */
  coTenant(g: GpuNode, forPid: number): { bytes: number; proc: ProcessNode } | undefined {
    let newest = 0;
    for (const m of g.procMem.values()) if (m.tNs > newest) newest = m.tNs;
    let best: { bytes: number; proc: ProcessNode } | undefined;
    for (const [pid, m] of g.procMem) {
      if (pid === forPid || newest - m.tNs > 5e9 || m.proc.state === 'exited') continue;
      if (!best || m.bytes > best.bytes) best = m;
    }
    return best;
  }

  /** Live: the busiest processes now. Replay: the processes that waited for the CPU in the same window. */
  competitors(pid: number): { pid: number; comm: string; text: string }[] {
    const live = this.live.cpuCompetitors?.(pid);
    if (live?.length) return live.map((c) => ({ pid: c.pid, comm: c.comm, text: `${c.comm} (${c.pid}) ${Math.round(c.usage * 100)} %` }));
    return this.cpuWaiters()
      .filter((w) => w.pid !== pid)
      .slice(0, 3);
  }

  /** Every CPU waiter ranked once per context (a flush or a `why`): one pass, not one per evaluation. */
  private cpuWaitersMemo?: { pid: number; comm: string; text: string }[];
  private cpuWaiters(): { pid: number; comm: string; text: string }[] {
    if (this.cpuWaitersMemo) return this.cpuWaitersMemo;
    const nowS = this.nowSec;
    const top: { pid: number; comm: string; ns: number }[] = [];
    for (const e of this.g.cpu.inn) {
      if (nowS - e.lastNs / 1e9 > 30) continue;
      const ns = e.series.aggregate('sum', nowS, 30) ?? 0;
      if (ns <= 0) continue;
      const p = e.from as ProcessNode;
      // keep the 4 biggest (one may be the asking process itself)
      if (top.length < 4 || ns > top[top.length - 1]!.ns) {
        top.push({ pid: p.pid, comm: p.comm, ns });
        top.sort((a, b) => b.ns - a.ns);
        if (top.length > 4) top.pop();
      }
    }
    return (this.cpuWaitersMemo = top.map((w) => ({
      pid: w.pid,
      comm: w.comm,
      text: `${w.comm} (${w.pid}) also waited ${(w.ns / 1e9).toFixed(1)} s for a CPU`,
    })));
  }
}
