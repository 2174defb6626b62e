/**
 * The rule engine's view of the graph (rules/context.ts). Live agents add
 * providers for what only the host knows now: the /proc state of a process
 * and CPU usage; replays (xctl analyze) run without them.
 */
import type { Agg, EdgeKind, EntityRef, EntityType, EvalContext } from '../rules/context';
import { signalName } from '../events/names';
import { formatBytes } from '../events/units-text';
import type { Graph } from './graph';
import { ProcessNode, type GraphNode, PeerNode, DeviceNode, GpuNode } from './model';
import { xidInfo } from './xid-catalog';
import { M } from './vocabulary';

export interface LiveProviders {
  /** current /proc state of a pid: running|sleeping|blocked|stopped|exited, undefined if unknown */
  processState?(p: ProcessNode): string | undefined;
  /** CPU usage of a pid (fraction of one CPU) */
  cpuUsage?(pid: number): number | undefined;
  /** competitors for the CPU, busiest first, excluding `pid` */
  cpuCompetitors?(pid: number): { pid: number; comm: string; usage: number }[];
}

/** A process's own view of a GPU: co_tenant leaves the process itself out. Same id as the GpuNode. */
interface GpuView extends EntityRef {
  type: 'gpu';
  forPid: number;
}

/** Names of the clock event reason bits (nvmlClocksEventReason*) that slow a GPU down. */
const CLOCK_REASON_NAMES: readonly [number, string][] = [
  [0x40, 'HW thermal slowdown'],
  [0x20, 'SW thermal slowdown'],
  [0x80, 'HW power brake'],
  [0x8, 'HW slowdown'],
  [0x4, 'SW power cap'],
];

/** Edges ranked by their evidence over this window (strongest first). */
const RANK_WINDOW_S = 300;

/** A process's own view of "the CPUs": competitors exclude the process itself. */
interface CpuView extends EntityRef {
  type: 'cpu';
  forPid: number;
}

export class GraphContext implements EvalContext {
  /** nowNs in seconds, as the series read it */
  private readonly nowSec: number;

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
    if (e.type === 'cpu') return this.cpuAttr(e as CpuView, name);
    const n = this.node(e);
    if (n instanceof ProcessNode) return this.processAttr(n, name);
    if (n instanceof PeerNode) {
      if (name === 'addr') return n.addr;
      if (name === 'port') return n.port;
      if (name === 'endpoint') return n.endpoint;
      return undefined;
    }
    if (n instanceof GpuNode) return this.gpuAttr(n, (e as Partial<GpuView>).forPid ?? 0, name);
    if (n instanceof DeviceNode) {
      if (name === 'dev') return n.dev;
      if (name === 'name') return n.name || undefined;
      if (name === 'last_error') return n.lastError;
      return undefined;
    }
    return undefined;
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

  private processAttr(p: ProcessNode, name: string): string | number | boolean | undefined {
    switch (name) {
      case 'pid':
        return p.pid;
      case 'comm':
        return p.comm || undefined;
      case 'exe':
        return p.exe;
      case 'cgroup':
        return p.cgroupId || undefined;
      case 'state': {
        if (p.state === 'exited') return 'exited';
        const live = this.live.processState?.(p);
        if (live) return live;
        return p.state;
      }
      case 'exit.code':
        return p.exit?.code;
      case 'exit.signal':
        return p.exit ? p.exit.signal : undefined;
      case 'exit.signal_name':
        return p.exit?.signal ? signalName(p.exit.signal) : undefined;
      case 'exit.core_dumped':
        return p.exit?.core;
      case 'io.last_error':
        return p.lastIoError;
      case 'oom_killed':
        return p.oom !== undefined;
      case 'oom.anon_rss_kb':
        return p.oom?.anonRssKb;
      case 'stopped_by.pid':
        return p.stoppedBy?.pid;
      case 'stopped_by.comm':
        return p.stoppedBy?.comm;
      case 'killed_by.pid':
        return p.killedBy?.pid;
      case 'killed_by.comm':
        return p.killedBy?.comm;
      case 'killed_by.signal_name':
        return p.killedBy?.signal ? signalName(p.killedBy.signal) : undefined;
      case 'cuda.last_fn':
        return p.cudaFailure?.fn;
      case 'cuda.last_size':
        return p.cudaFailure?.size;
      case 'cuda.last_error':
        return p.cudaFailure?.result;
      case 'nccl.fn':
        return p.ncclInflight?.fn;
      case 'nccl.inflight_ns':
        return p.ncclInflight?.ns;
    }
    return undefined;
  }

  private gpuAttr(g: GpuNode, forPid: number, name: string): string | number | boolean | undefined {
    switch (name) {
      case 'index':
        return g.index;
      case 'uuid':
        return g.uuid ? `GPU-${g.uuid}` : undefined;
      case 'name':
        return g.name || undefined;
      case 'mem_used':
        return g.memUsed;
      case 'mem_total':
        return g.memTotal || undefined;
      case 'temp':
        return g.tempC;
      case 'power_w':
        return g.powerW;
      case 'lost':
        return g.lost !== undefined;
      case 'throttle_reasons': {
        const names = CLOCK_REASON_NAMES.filter(([bit]) => g.clockReasons & bit).map(([, n]) => n);
        return names.length ? names.join(', ') : undefined;
      }
      case 'others': {
        // the other GPUs of the host, to compare against (stragglers)
        const rest = [...this.g.gpus.values()].filter((o) => o !== g);
        if (!rest.length) return undefined;
        return rest
          .map((o) => `GPU ${o.index} ${o.tempC} C ${o.powerW.toFixed(0)} W ${CLOCK_REASON_NAMES.some(([bit]) => o.clockReasons & bit) ? 'also throttled' : 'not throttled'}`)
          .join(', ');
      }
      case 'xid':
        return g.lastXid?.xid;
      case 'xid.meaning':
        return g.lastXid ? (xidInfo(g.lastXid.xid)?.meaning ?? 'not in the Xid catalog (rules/xid-catalog.yaml)') : undefined;
      case 'xid.action':
        return g.lastXid ? (xidInfo(g.lastXid.xid)?.action ?? 'look the Xid up in NVIDIA\'s Xid catalog') : undefined;
      case 'xid.app_error':
        return g.lastXid ? (xidInfo(g.lastXid.xid)?.app_error ?? false) : undefined;
      case 'co_tenant':
      case 'co_tenant.pid':
      case 'co_tenant.comm':
      case 'co_tenant.bytes': {
        const top = this.coTenant(g, forPid);
        if (!top) return undefined;
        if (name === 'co_tenant.pid') return top.proc.pid;
        if (name === 'co_tenant.comm') return top.proc.comm || undefined;
        if (name === 'co_tenant.bytes') return top.bytes;
        const frac = g.memTotal ? ` (${Math.round((top.bytes / g.memTotal) * 100)} % of the GPU)` : '';
        return `${top.proc.label()} holds ${formatBytes(top.bytes)}${frac}`;
      }
    }
    return undefined;
  }

  /** The other process holding the most memory on this GPU in the latest samples. */
  private coTenant(g: GpuNode, forPid: number): { bytes: number; proc: ProcessNode } | undefined {
    let newest = 0;
    for (const m of g.procMem.values()) if (m.tNs > newest) newest = m.tNs;
    let best: { bytes: number; proc: ProcessNode } | undefined;
    for (const [pid, m] of g.procMem) {
      if (pid === forPid || newest - m.tNs > 5e9 || m.proc.state === 'exited') continue;
      if (!best || m.bytes > best.bytes) best = m;
    }
    return best;
  }

  private cpuAttr(e: CpuView, name: string): string | number | undefined {
    const rivals = this.competitors(e.forPid ?? 0);
    switch (name) {
      case 'competitors':
        return rivals.length ? rivals.slice(0, 3).map((r) => r.text).join(', ') : undefined;
      case 'top.pid':
        return rivals[0]?.pid;
      case 'top.comm':
        return rivals[0]?.comm;
    }
    return undefined;
  }

  /** Live: the busiest processes now. Replay: the processes that waited for the CPU in the same window. */
  private competitors(pid: number): { pid: number; comm: string; text: string }[] {
    const live = this.live.cpuCompetitors?.(pid);
    if (live?.length) return live.map((c) => ({ pid: c.pid, comm: c.comm, text: `${c.comm} (${c.pid}) ${Math.round(c.usage * 100)} %` }));
    return this.cpuWaiters().filter((w) => w.pid !== pid).slice(0, 3);
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
    return (this.cpuWaitersMemo = top.map((w) => ({ pid: w.pid, comm: w.comm, text: `${w.comm} (${w.pid}) also waited ${(w.ns / 1e9).toFixed(1)} s for a CPU` })));
  }
}
