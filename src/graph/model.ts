/**
 * Entities and edges of the causal graph. Nodes double as the rule engine's
 * EntityRef ({type, id}), so evaluating a rule allocates no reference objects.
 * Times are boot-clock ns as doubles (exact to the µs for years of uptime).
 */
import type { EntityType } from '../rules/context';
import { Series } from './series';
import { METRIC_NAMES, metricId } from './vocabulary';

export type EdgeKindName = 'consumes' | 'waits_on' | 'blocked_by';
export type EvidenceUnit = 'ns' | 'segments' | 'bytes' | 'events';

/** What a link in a `why` chain cites: a recent observation. */
export interface EvidenceSample {
  tNs: number;
  value: number;
  detail?: string;
}

const MAX_SAMPLES = 3;
/** out-edge count from which waits_on edges are found through a Map rather than a scan */
const INDEX_FANOUT = 8;
const EMPTY: EvidenceSample[] = [];

export class Edge {
  firstNs = 0;
  lastNs = 0;
  count = 0;
  sum = 0;
  max = 0;
  /** windowed weight: lets "strongest first" mean strongest recently */
  readonly series = new Series(false);
  /** recent observations that carried a detail (which signal, read/write...) */
  samples: EvidenceSample[] = EMPTY;
  /** 'procfs' edges come from live inspection at query time, not from events */
  source: 'ebpf' | 'procfs' = 'ebpf';
  note?: string;

  constructor(
    readonly kind: EdgeKindName,
    readonly from: GraphNode,
    readonly to: GraphNode,
    readonly unit: EvidenceUnit,
  ) {}

  add(tNs: number, value: number, detail?: string): void {
    if (this.count === 0) this.firstNs = tNs;
    if (tNs > this.lastNs) this.lastNs = tNs;
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
    this.series.add(tNs / 1e9, value);
    if (detail !== undefined) {
      if (this.samples === EMPTY) this.samples = [];
      if (this.samples.length >= MAX_SAMPLES) this.samples.shift();
      this.samples.push({ tNs, value, detail });
    }
  }

  /** Sum of values within the window ending at nowNs: the ranking weight. */
  weight(nowNs: number, windowNs: number): number {
    return this.series.aggregate('sum', nowNs / 1e9, windowNs / 1e9) ?? 0;
  }
}

export abstract class GraphNode {
  abstract readonly type: EntityType;
  firstNs = 0;
  lastNs = 0;
  readonly out: Edge[] = [];
  readonly inn: Edge[] = [];
  /** what changed since the rule matcher last looked: a bit per metric id, plus ATTR_CHANGED */
  changes = 0;
  /** set when the graph drops the node: pending changes for it are void */
  evicted = false;
  /** waits_on edges by target, once the node has many edges (see edgeTo) */
  private waitIndex: Map<GraphNode, Edge> | undefined = undefined;
  /** series by metric id (a short array: ids are small, a node has a handful) */
  private readonly metrics: (Series | undefined)[] = [];

  constructor(public id: string) {}

  seen(tNs: number): void {
    if (this.firstNs === 0) this.firstNs = tNs;
    if (tNs > this.lastNs) this.lastNs = tNs;
  }

  /** Adds an observation to the metric with id `metric` (vocabulary MI); `sample`: keep it for percentiles. */
  observe(metric: number, tNs: number, value: number, sample = true): void {
    let s = this.metrics[metric];
    if (s === undefined) {
      const ms = this.metrics;
      while (ms.length < metric) ms.push(undefined); // no holes: keeps the array's fast elements
      ms[metric] = s = new Series(sample, metric);
    } else if (s.sampling !== sample) s.sampling = sample;
    s.add(tNs / 1e9, value);
  }

  seriesById(metric: number): Series | undefined {
    return this.metrics[metric];
  }

  series(name: string): Series | undefined {
    const id = metricId(name);
    return id === undefined ? undefined : this.seriesById(id);
  }

  metricNames(): string[] {
    return this.metrics.flatMap((s) => (s ? [METRIC_NAMES[s.metric]!] : []));
  }

  /** The edge of `kind` to `to`, created on first use. */
  edgeTo(kind: EdgeKindName, to: GraphNode, unit: EvidenceUnit): Edge {
    const index = this.waitIndex;
    if (index !== undefined && kind === 'waits_on') {
      const e = index.get(to);
      if (e) return e;
    } else {
      const out = this.out;
      for (let i = 0; i < out.length; i++) {
        const e = out[i]!;
        if (e.to === to && e.kind === kind) return e;
      }
    }
    const e = new Edge(kind, this, to, unit);
    this.out.push(e);
    to.inn.push(e);
    if (kind === 'waits_on') {
      if (index) index.set(to, e);
      else if (this.out.length >= INDEX_FANOUT) this.indexWaits();
    }
    return e;
  }

  /** Removes an outgoing edge (its target is being dropped). */
  unlinkOut(e: Edge): void {
    const i = this.out.indexOf(e);
    if (i >= 0) this.out.splice(i, 1);
    if (e.kind === 'waits_on') this.waitIndex?.delete(e.to);
  }

  /** Drops every edge from the node's own lists (the node is being dropped). */
  clearEdges(): void {
    this.out.length = 0;
    this.inn.length = 0;
    this.waitIndex = undefined;
  }

  /** A process woken by hundreds of others would scan hundreds of edges per event: index them by target. */
  private indexWaits(): void {
    this.waitIndex = new Map();
    for (const e of this.out) if (e.kind === 'waits_on') this.waitIndex.set(e.to, e);
  }

  /** Human label used in chains: "node (4242)", "10.0.0.2:5001", "7:0 (loop0)". */
  abstract label(): string;
}

export type ProcessState = 'running' | 'stopped' | 'exited';

export interface Culprit {
  pid: number;
  comm: string;
  tNs: number;
  signal?: number;
}

export class ProcessNode extends GraphNode {
  readonly type = 'process' as const;
  comm = '';
  exe?: string;
  ppid = 0;
  cgroupId = '';
  state: ProcessState = 'running';
  exit?: { code: number; signal: number; core: boolean; tNs: number };
  oom?: { anonRssKb: number; totalVmKb: number; triggerPid: number; triggerComm: string; tNs: number };
  stoppedBy?: Culprit;
  killedBy?: Culprit;
  /** errno name of the newest failed IO this process waited for */
  lastIoError?: string;
  /** newest failed CUDA allocation (uprobe on cudaMalloc / cuMemAlloc_v2) */
  cudaFailure?: { fn: string; size: number; result: number; tNs: number };
  /** newest NCCL collective seen in flight too long */
  ncclInflight?: { fn: string; ns: number; tNs: number };
  /** true once an exec/fork/event named this process as a real user task */
  kthread = false;

  constructor(
    readonly pid: number,
    public startNs: number,
  ) {
    super(`p:${pid}:${startNs}`);
  }

  /** First learnt the start time (the node was made from a record that lacked it). */
  identify(startNs: number): void {
    this.startNs = startNs;
    this.id = `p:${this.pid}:${startNs}`;
  }

  label(): string {
    return `${this.comm || '?'} (${this.pid})`;
  }
}

export class PeerNode extends GraphNode {
  readonly type = 'peer' as const;
  constructor(
    readonly addr: string,
    readonly port: number,
  ) {
    super(`peer:${addr.includes(':') ? `[${addr}]` : addr}:${port}`);
  }
  get endpoint(): string {
    return this.addr.includes(':') ? `[${this.addr}]:${this.port}` : `${this.addr}:${this.port}`;
  }
  label(): string {
    return this.endpoint;
  }
}

export class DeviceNode extends GraphNode {
  readonly type = 'device' as const;
  readonly major: number;
  readonly minor: number;
  name = '';
  /** errno name of the newest failed IO, e.g. "ENOSPC" */
  lastError?: string;
  constructor(readonly devT: number) {
    super(`dev:${devT >>> 20}:${devT & 0xfffff}`);
    this.major = devT >>> 20;
    this.minor = devT & 0xfffff;
  }
  get dev(): string {
    return `${this.major}:${this.minor}`;
  }
  label(): string {
    return this.name ? `${this.dev} (${this.name})` : this.dev;
  }
}

/** The host's CPUs, as something processes wait for (run-queue delay). */
export class CpuNode extends GraphNode {
  readonly type = 'cpu' as const;
  constructor() {
    super('cpu');
  }
  label(): string {
    return 'the CPUs';
  }
}

/** A GPU as NVML numbers it (index), with what the sampler and the event set last said. */
export class GpuNode extends GraphNode {
  readonly type = 'gpu' as const;
  uuid = '';
  name = '';
  memUsed = 0;
  memTotal = 0;
  util = 0; // fraction
  tempC = 0;
  powerW = 0;
  clockReasons = 0;
  /** newest Xid: number and when */
  lastXid?: { xid: number; tNs: number };
  /** NVML said GPU_IS_LOST / reset required (or a GpuUnavailable event) */
  lost?: { status: number; tNs: number };
  /** latest GPU memory per process on this GPU (from the sampler) */
  readonly procMem = new Map<number, { bytes: number; tNs: number; proc: ProcessNode }>();
  constructor(readonly index: number) {
    super(`gpu:${index}`);
  }
  label(): string {
    return `GPU ${this.index}${this.uuid ? ` (GPU-${this.uuid})` : ''}`;
  }
}

export class ErrorNode extends GraphNode {
  readonly type = 'error' as const;
  count = 0;
  constructor(
    key: string,
    readonly kind: 'io_error' | 'oom_kill' | 'fatal_signal' | 'gpu_xid' | 'gpu_lost',
    readonly detail: string,
  ) {
    super(`err:${key}`);
  }
  label(): string {
    return this.detail;
  }
}
