/**
 * The rule engine's view of the graph (rules/context.ts). Live agents add
 * providers for what only the host knows now: the /proc state of a process
 * and CPU usage; replays (xctl analyze) run without them.
 */
import type { Agg, EdgeKind, EntityRef, EntityType, EvalContext } from '../rules/context';
import { signalName } from '../events/names';
import type { Graph } from './graph';
import { ProcessNode, type GraphNode, PeerNode, DeviceNode } from './model';
import { M } from './vocabulary';

export interface LiveProviders {
  /** current /proc state of a pid: running|sleeping|blocked|stopped|exited, undefined if unknown */
  processState?(p: ProcessNode): string | undefined;
  /** CPU usage of a pid (fraction of one CPU) */
  cpuUsage?(pid: number): number | undefined;
  /** competitors for the CPU, busiest first, excluding `pid` */
  cpuCompetitors?(pid: number): { pid: number; comm: string; usage: number }[];
}

/** Edges ranked by their evidence over this window (strongest first). */
const RANK_WINDOW_NS = 300e9;

/** A process's own view of "the CPUs": competitors exclude the process itself. */
interface CpuView extends EntityRef {
  type: 'cpu';
  forPid: number;
}

export class GraphContext implements EvalContext {
  constructor(
    private readonly g: Graph,
    public nowNs: bigint,
    private readonly live: LiveProviders = {},
  ) {}

  private node(e: EntityRef): GraphNode | undefined {
    return e instanceof Object && 'out' in e ? (e as unknown as GraphNode) : this.g.byId(e.id);
  }

  metric(e: EntityRef, name: string, agg: Agg, windowNs: bigint): number | undefined {
    if (name === M.cpuUsage && e.type === 'process') {
      const p = this.node(e) as ProcessNode | undefined;
      return p ? this.live.cpuUsage?.(p.pid) : undefined;
    }
    const n = this.node(e);
    const s = n?.series(name);
    if (!s) return undefined;
    return s.aggregate(agg, Number(this.nowNs) / 1e9, Number(windowNs) / 1e9);
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
    const now = Number(this.nowNs);
    const out = n.out
      .filter((x) => x.kind === edge && (!type || x.to.type === type))
      .sort((a, b) => b.weight(now, RANK_WINDOW_NS) - a.weight(now, RANK_WINDOW_NS) || b.lastNs - a.lastNs)
      .map((x) => x.to as EntityRef);
    if (type === 'cpu' && n instanceof ProcessNode) {
      // per-process view of the CPUs, so "competitors" can leave the process itself out
      return out.length ? [{ type: 'cpu', id: `cpu:for:${n.pid}`, forPid: n.pid } as CpuView] : [];
    }
    return out;
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
    }
    return undefined;
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
    const nowS = Number(this.nowNs) / 1e9;
    const waiting: { pid: number; comm: string; ns: number }[] = [];
    for (const e of this.g.cpu.inn) {
      const p = e.from as ProcessNode;
      if (p.pid === pid) continue;
      const ns = e.series.aggregate('sum', nowS, 30) ?? 0;
      if (ns > 0) waiting.push({ pid: p.pid, comm: p.comm, ns });
    }
    waiting.sort((a, b) => b.ns - a.ns);
    return waiting.map((w) => ({ pid: w.pid, comm: w.comm, text: `${w.comm} (${w.pid}) also waited ${(w.ns / 1e9).toFixed(1)} s for a CPU` }));
  }
}
