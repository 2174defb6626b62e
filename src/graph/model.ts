/**
 * Entities and edges of the causal graph. Nodes double as the rule engine's
 * EntityRef ({type, id}), so evaluating a rule allocates no reference objects.
 * Times are boot-clock ns as doubles (exact to the µs for years of uptime).
 */
import type { Identity } from '../identity/identity';
import { HEAD_WIDTH, Series, SeriesStore } from './series';
import { Slab } from './slab';
import { MAX_METRICS, METRIC_NAMES, metricId, type EntityType } from './vocabulary';

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
const INDEX_FANOUT = 16;
const EMPTY: EvidenceSample[] = [];
/** Edge kinds as small codes: they share a number with the edge's head index, a multiple of HEAD_WIDTH. */
const kindCode = (kind: EdgeKindName): number => (kind === 'waits_on' ? WAITS_ON : kind === 'consumes' ? 1 : 2);
const WAITS_ON = 0;
const KIND_MASK = HEAD_WIDTH - 1;

/**
 * A node's block in the store: its times as doubles, then (as 32-bit ints)
 * 1 + the head index of each metric's series, by metric id (0: none yet).
 */
const B_FIRST_NS = 0;
const B_LAST_NS = 1;
const B_START_NS = 2;
const B_SERIES = 8; // int32 index of the series slots within a block (after 4 doubles)
const NODE_BLOCK = new Float64Array(20);
if (MAX_METRICS > NODE_BLOCK.length * 2 - B_SERIES) throw new Error('node blocks have no slot for every metric id');

/** Where a graph keeps its per-event numbers: series heads and node blocks (see slab.ts). */
export class GraphStore {
  readonly series = new SeriesStore();
  readonly nodes = new Slab(NODE_BLOCK, 256);
  constructor() {
    this.nodes.alloc(); // block 0: the empty block a dropped node reads from
  }
}

export class Edge {
  /** the windowed weight (lets "strongest first" mean strongest recently) and the lifetime totals */
  readonly series: Series;
  /** recent observations that carried a detail (which signal, read/write...) */
  samples: EvidenceSample[] = EMPTY;
  /** 'procfs' edges come from live inspection at query time (a `why` overlay, never the graph), not from events */
  source: 'ebpf' | 'procfs' = 'ebpf';
  note?: string;

  constructor(
    readonly kind: EdgeKindName,
    readonly from: GraphNode,
    readonly to: GraphNode,
    readonly unit: EvidenceUnit,
    /** where its series lives: the graph's store, or a query's own (an edge that is not in the graph) */
    store: SeriesStore = from.store.series,
  ) {
    this.series = new Series(false, -1, store);
  }

  get firstNs(): number {
    return this.series.firstNs;
  }
  get lastNs(): number {
    return this.series.lastNs;
  }
  get count(): number {
    return this.series.totalCount;
  }
  get sum(): number {
    return this.series.total;
  }
  get max(): number {
    return this.series.max;
  }

  add(tNs: number, value: number, detail?: string): void {
    this.series.observe(tNs, value);
    if (detail !== undefined) {
      if (this.samples === EMPTY) this.samples = [];
      if (this.samples.length >= MAX_SAMPLES) this.samples.shift();
      this.samples.push({ tNs, value, detail });
    }
  }

  /** Sum of values within the window of `windowSec` ending at `nowSec`: the ranking weight. */
  weight(nowSec: number, windowSec: number): number {
    return this.series.aggregate('sum', nowSec, windowSec) ?? 0;
  }

  /** Frees its series (an end was dropped from the graph); it reads as empty, and records nothing, after. */
  release(): void {
    this.series.detach();
  }
}

export abstract class GraphNode {
  abstract readonly type: EntityType;
  readonly out: Edge[] = [];
  /**
   * `out` as flat [target, head | kind code] pairs, in the same order: an edge is found, and
   * observed, without touching the Edge object (heads are multiples of HEAD_WIDTH: the low bits hold the kind).
   */
  private readonly outKeys: (GraphNode | number)[] = [];
  readonly inn: Edge[] = [];
  /** what changed since the rule matcher last looked: a bit per metric id, plus ATTR_CHANGED */
  changes = 0;
  /** set when the graph drops the node: pending changes for it are void */
  evicted = false;
  /**
   * set once a record of the node's own has described it (a process: its comm and cgroup), so the
   * per-event path checks one field next to the others it reads, not the subclass's strings
   */
  described = false;
  /** waits_on edges by target, once the node has many edges (see edgeTo) */
  private waitIndex: Map<GraphNode, Edge> | undefined = undefined;
  /** this node's block in the store (0, the empty block, once released) */
  protected block: number;

  constructor(
    readonly store: GraphStore,
    public id: string,
  ) {
    this.block = store.nodes.alloc();
  }

  get firstNs(): number {
    return this.store.nodes.f[this.block + B_FIRST_NS]!;
  }
  set firstNs(tNs: number) {
    this.store.nodes.f[this.block + B_FIRST_NS] = tNs;
  }
  get lastNs(): number {
    return this.store.nodes.f[this.block + B_LAST_NS]!;
  }
  set lastNs(tNs: number) {
    this.store.nodes.f[this.block + B_LAST_NS] = tNs;
  }
  protected get startTime(): number {
    return this.store.nodes.f[this.block + B_START_NS]!;
  }
  protected set startTime(tNs: number) {
    this.store.nodes.f[this.block + B_START_NS] = tNs;
  }

  seen(tNs: number): void {
    const f = this.store.nodes.f;
    const b = this.block;
    if (f[b + B_FIRST_NS] === 0) f[b + B_FIRST_NS] = tNs;
    if (tNs > f[b + B_LAST_NS]!) f[b + B_LAST_NS] = tNs;
  }

  /** Adds an observation to the metric with id `metric` (vocabulary MI). */
  observe(metric: number, tNs: number, value: number): void {
    const st = this.store;
    let at = st.nodes.i32[this.block * 2 + B_SERIES + metric]! - 1;
    if (at < 0) {
      at = this.newSeries(metric);
      if (at < 0) return;
    }
    st.series.add(at, tNs, value);
  }

  private newSeries(metric: number): number {
    if (this.evicted) return -1; // a dropped node records nothing (its block is the shared empty one)
    // raw samples only for the metrics some rule reads as a percentile (see SeriesStore.sampleMetrics)
    const s = new Series(this.store.series.sampled[metric] === 1, metric, this.store.series);
    this.store.nodes.i32[this.block * 2 + B_SERIES + metric] = s.at + 1;
    return s.at;
  }

  seriesById(metric: number): Series | undefined {
    const at = this.store.nodes.i32[this.block * 2 + B_SERIES + metric]! - 1;
    return at < 0 ? undefined : this.store.series.owner(at);
  }

  series(name: string): Series | undefined {
    const id = metricId(name);
    return id === undefined ? undefined : this.seriesById(id);
  }

  metricNames(): string[] {
    return METRIC_NAMES.filter((_, id) => this.seriesById(id) !== undefined);
  }

  /** The edge of `kind` to `to`, created on first use. */
  edgeTo(kind: EdgeKindName, to: GraphNode, unit: EvidenceUnit): Edge {
    const code = kindCode(kind);
    const index = this.waitIndex;
    if (index !== undefined && code === WAITS_ON) return index.get(to) ?? this.newEdge(kind, to, unit);
    const i = this.scanEdges(code, to);
    return i >= 0 ? this.out[i >> 1]! : this.newEdge(kind, to, unit);
  }

  /** edgeTo(...).add(...) for the per-event path: the edge's head is found without its Edge object. */
  observeEdge(kind: EdgeKindName, to: GraphNode, unit: EvidenceUnit, tNs: number, value: number): void {
    const code = kindCode(kind);
    if (this.waitIndex === undefined || code !== WAITS_ON) {
      const i = this.scanEdges(code, to);
      if (i >= 0) {
        this.store.series.add((this.outKeys[i + 1] as number) - code, tNs, value);
        return;
      }
    }
    this.edgeTo(kind, to, unit).add(tNs, value);
  }

  /** Index in outKeys of the edge of kind `code` to `to`; -1 if none. */
  private scanEdges(code: number, to: GraphNode): number {
    const keys = this.outKeys;
    for (let i = 0; i < keys.length; i += 2) if (keys[i] === to && ((keys[i + 1] as number) & KIND_MASK) === code) return i;
    return -1;
  }

  private newEdge(kind: EdgeKindName, to: GraphNode, unit: EvidenceUnit): Edge {
    const e = new Edge(kind, this, to, unit);
    this.out.push(e);
    this.outKeys.push(to, e.series.at + kindCode(kind));
    to.inn.push(e);
    if (kind === 'waits_on') {
      if (this.waitIndex) this.waitIndex.set(to, e);
      else if (this.out.length >= INDEX_FANOUT) this.indexWaits();
    }
    return e;
  }

  /** Removes an outgoing edge (its target is being dropped). */
  unlinkOut(e: Edge): void {
    const i = this.out.indexOf(e);
    if (i >= 0) {
      this.out.splice(i, 1);
      this.outKeys.splice(i * 2, 2);
    }
    if (e.kind === 'waits_on') this.waitIndex?.delete(e.to);
  }

  /** Frees the node's series and block (the graph dropped it); it reads as empty after. */
  release(): void {
    if (this.block === 0) return;
    for (let id = 0; id < METRIC_NAMES.length; id++) this.seriesById(id)?.detach();
    this.store.nodes.release(this.block);
    this.block = 0;
  }

  /** Drops every edge from the node's own lists (the node is being dropped). */
  clearEdges(): void {
    this.out.length = 0;
    this.outKeys.length = 0;
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

/** communicators counted apart per process; later ones count in the total only */
export const NCCL_MAX_COMMS = 8;

/** One (syscall, errno) of a process: its running total and the sample of its first error. */
export interface SyscallErrorEntry {
  /** XCTL_SC_* and errno: the key */
  sc: number;
  err: number;
  /** e.g. `write`, `ENOSPC` */
  name: string;
  errno: string;
  total: number;
  firstNs: number;
  lastNs: number;
  /** what the call named: `/ckpt/x`, `fd 5 (/ckpt/x)`, `127.0.0.1:29500`, or '' */
  target: string;
  /** the filesystem of the path or file, e.g. `tmpfs on /ckpt`, or '' */
  fs: string;
  /** its mount point, e.g. `/ckpt`, or '' */
  mount: string;
  /** the peer of a connect, e.g. `10.0.0.7:29500`, or '' */
  peer: string;
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
  /** failed syscalls by (syscall, errno), in order of first error (syscall family) */
  syscallErrors?: SyscallErrorEntry[];
  /** newest NCCL collective seen in flight too long */
  ncclInflight?: { fn: string; ns: number; tNs: number };
  /** the newest in-flight report has had no completion after it: the process waits in that collective now */
  ncclInflightOpen = false;
  /** NCCL collectives completed (returned), all communicators */
  ncclCompleted = 0;
  /** boot-clock time of the newest completion, ns (0: none) */
  ncclLastExitNs = 0;
  /** per communicator (ncclComm_t), in order of first completion, at most NCCL_MAX_COMMS: completions (made at the first) */
  ncclComms?: number[];
  ncclCommCompleted?: number[];
  /** true once an exec/fork/event named this process as a real user task */
  kthread = false;
  /** container, pod, slurm job, rank: set off the hot path by the identity resolver (live only) */
  identity?: Identity;

  constructor(
    store: GraphStore,
    readonly pid: number,
    startNs: number,
  ) {
    super(store, `p:${pid}:${startNs}`);
    this.startTime = startNs;
  }

  /**
   * Whether a record's start time names this incarnation: unknown (0) matches any, else within
   * `slackNs` (procfs has tick resolution). Read in place: a getter's double would be boxed.
   */
  startsNear(startNs: number, slackNs: number): boolean {
    return startNs === 0 || Math.abs(this.store.nodes.f[this.block + B_START_NS]! - startNs) <= slackNs;
  }

  /** boot-clock start time, ns (0: unknown), which tells incarnations of a pid apart */
  get startNs(): number {
    return this.startTime;
  }

  /** First learnt the start time (the node was made from a record that lacked it). */
  identify(startNs: number): void {
    this.startTime = startNs;
    this.id = `p:${this.pid}:${startNs}`;
  }

  label(): string {
    return `${this.comm || '?'} (${this.pid})`;
  }
}

export class PeerNode extends GraphNode {
  readonly type = 'peer' as const;
  constructor(
    store: GraphStore,
    readonly addr: string,
    readonly port: number,
  ) {
    super(store, `peer:${addr.includes(':') ? `[${addr}]` : addr}:${port}`);
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
  constructor(
    store: GraphStore,
    readonly devT: number,
  ) {
    super(store, `dev:${devT >>> 20}:${devT & 0xfffff}`);
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
  constructor(store: GraphStore) {
    super(store, 'cpu');
  }
  label(): string {
    return 'the CPUs';
  }
}

/**
 * A cgroup a tracked process lives in, as its CPU quota and memory limit see it
 * (the cpu and memory controllers' paths, and the unified one for PSI), with
 * what the cgroup sampler read last. Made and dropped by the sampler only.
 */
export class CgroupNode extends GraphNode {
  readonly type = 'cgroup' as const;
  /** CPU quota and period per period, ns (quota undefined: no quota) */
  cpuQuotaNs?: number;
  cpuPeriodNs?: number;
  /** memory limit (undefined: none) and usage, bytes */
  memLimit?: number;
  memUsage?: number;
  /** the biggest memory users among its processes, e.g. "memhog (4242) 60.0 MiB, ..." */
  memTop?: string;
  /** where its pressure figures come from: "cgroup" (its own PSI files) or "host" (/proc/pressure) */
  pressureSource?: string;
  constructor(
    store: GraphStore,
    /** the path shown: the cpu (or memory) controller's path, e.g. /kubepods/pod1/abc */
    readonly path: string,
    key: string,
  ) {
    super(store, `cg:${key}`);
  }
  label(): string {
    return `cgroup ${this.path}`;
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
  constructor(
    store: GraphStore,
    readonly index: number,
  ) {
    super(store, `gpu:${index}`);
  }
  label(): string {
    return `GPU ${this.index}${this.uuid ? ` (GPU-${this.uuid})` : ''}`;
  }
}

export class ErrorNode extends GraphNode {
  readonly type = 'error' as const;
  count = 0;
  constructor(
    store: GraphStore,
    key: string,
    readonly kind: 'io_error' | 'oom_kill' | 'fatal_signal' | 'gpu_xid' | 'gpu_lost',
    readonly detail: string,
  ) {
    super(store, `err:${key}`);
  }
  label(): string {
    return this.detail;
  }
}
