/**
 * The graph's words, declared once: entity types, edge kinds, aggregates and
 * metrics (name, unit, what one sample is, which entity types carry it). The
 * rules validate against them, rules/README.md's tables are generated from
 * them, and a module above the graph (a record kind) adds a metric with one
 * defineMetric() call at load. Attributes are in ./attributes.ts.
 */

export type EntityType = 'process' | 'peer' | 'device' | 'cgroup' | 'cpu' | 'error' | 'gpu';
export type EdgeKind = 'waits_on' | 'consumes' | 'blocked_by';
export type Agg = 'count' | 'sum' | 'rate' | 'max' | 'min' | 'avg' | 'p50' | 'p90' | 'p99' | 'last';

export interface EntityTypeDef {
  name: EntityType;
  doc: string;
  /** a rule may `bind:` to it (one evaluation per entity of the type) */
  bindable: boolean;
}

export const ENTITY_TYPE_DEFS: readonly EntityTypeDef[] = [
  { name: 'process', doc: 'a process (pid and start time)', bindable: true },
  { name: 'peer', doc: 'a remote TCP endpoint', bindable: true },
  { name: 'device', doc: 'a block device', bindable: true },
  { name: 'cgroup', doc: 'a cgroup', bindable: true },
  { name: 'cpu', doc: 'the CPUs of the host (one entity)', bindable: true },
  { name: 'error', doc: 'an error event (failed IO, OOM kill, fatal signal, Xid)', bindable: false },
  { name: 'gpu', doc: 'a GPU, by NVML index', bindable: true },
];
export const ENTITY_TYPES: readonly EntityType[] = ENTITY_TYPE_DEFS.map((d) => d.name);
export const BIND_TYPES: readonly EntityType[] = ENTITY_TYPE_DEFS.filter((d) => d.bindable).map((d) => d.name);

export interface EdgeKindDef {
  name: EdgeKind;
  doc: string;
}
export const EDGE_KIND_DEFS: readonly EdgeKindDef[] = [
  {
    name: 'waits_on',
    doc: 'a process waits on a peer, a device, the CPUs or another process (the waker, the pipe writer, the stopped holder)',
  },
  { name: 'consumes', doc: 'a process holds memory on a GPU (strongest: the most memory)' },
  { name: 'blocked_by', doc: 'an entity is blocked by an error, or a process by the process that signalled it' },
];
export const EDGE_KINDS: readonly EdgeKind[] = EDGE_KIND_DEFS.map((d) => d.name);

export const AGGS: readonly Agg[] = ['count', 'sum', 'rate', 'max', 'min', 'avg', 'p50', 'p90', 'p99', 'last'];

export interface MetricDef {
  name: string;
  /** the entity types that record it */
  entities: readonly EntityType[];
  unit: 'ns' | 'bytes' | 'segments' | 'events' | 'fraction' | 'celsius' | 'watts' | 'number';
  /** what one sample is */
  doc: string;
}

/** Metric declarations by dense id. Grows while modules load: read it, never capture its length at load. */
export const METRIC_DEFS: MetricDef[] = [];
/** Metric names by dense id: nodes find their series and mark changes by id, not by name. */
export const METRIC_NAMES: string[] = [];
const ID_BY_NAME = new Map<string, number>();

/** A node's change bits: one per metric id, and this one for attributes or edges. */
export const ATTR_CHANGED = 1 << 30;
/** Metric ids stay below this: below ATTR_CHANGED, and within a node block's series slots (model.ts). */
export const MAX_METRICS = 32;

/**
 * Declares a metric and returns its dense id, the one `node.observe(id, t, v)`
 * takes. Call it once per metric at module load; a second declaration of a
 * name is an error (one declaration per concept).
 */
export function defineMetric(def: MetricDef): number {
  if (ID_BY_NAME.has(def.name)) throw new Error(`metric "${def.name}" is declared twice`);
  const id = METRIC_DEFS.length;
  if (id >= MAX_METRICS) throw new Error(`metric "${def.name}": no id left (at most ${MAX_METRICS} metrics, see MAX_METRICS)`);
  METRIC_DEFS.push(Object.freeze({ ...def, entities: [...def.entities] }));
  METRIC_NAMES.push(def.name);
  ID_BY_NAME.set(def.name, id);
  return id;
}

/** The id of a metric name; undefined for a name the graph never records. */
export function metricId(name: string): number | undefined {
  return ID_BY_NAME.get(name);
}

export function metricDef(name: string): MetricDef | undefined {
  const id = ID_BY_NAME.get(name);
  return id === undefined ? undefined : METRIC_DEFS[id];
}

const P: readonly EntityType[] = ['process'];
const GPU: readonly EntityType[] = ['gpu'];
const CG: readonly EntityType[] = ['cgroup'];
const PC: readonly EntityType[] = ['process', 'cgroup'];
/** A metric whose samples are the share (0..1) of each sample interval during which `what`. */
const share = <N extends string>(name: N, entities: readonly EntityType[], what: string) => ({
  name,
  entities,
  unit: 'fraction' as const,
  doc: `share of the sample interval ${what}`,
});

/** The graph's own metrics, by key; their ids are MI.<key> and their names M.<key>. */
const CORE = {
  tcpRetransmits: { name: 'tcp.retransmits', entities: ['process', 'peer'], unit: 'segments', doc: 'segments per retransmit record' },
  ioLatency: { name: 'io.latency', entities: ['process', 'device'], unit: 'ns', doc: 'ns waited per I/O' },
  ioErrors: { name: 'io.errors', entities: ['process', 'device'], unit: 'events', doc: '1 per failed I/O' },
  ioBytes: { name: 'io.bytes', entities: ['device'], unit: 'bytes', doc: 'bytes per I/O' },
  offcpuSleep: { name: 'offcpu.sleep', entities: P, unit: 'ns', doc: 'ns of interruptible sleep (all sleeps)' },
  offcpuBlocked: { name: 'offcpu.blocked', entities: P, unit: 'ns', doc: 'ns of uninterruptible (D) sleep (all)' },
  offcpuRunq: { name: 'offcpu.runq', entities: P, unit: 'ns', doc: 'ns of run-queue delay (all waits)' },
  waitsOnProcess: { name: 'offcpu.waits_on_process', entities: P, unit: 'ns', doc: 'ns waited per long sleep another process ended' },
  cpuUsage: {
    name: 'cpu.usage',
    entities: ['process', 'cpu'],
    unit: 'fraction',
    doc: 'fraction of one CPU (sampled live, absent in replays)',
  },
  gpuMemUsedFrac: { name: 'gpu.mem_used_frac', entities: GPU, unit: 'fraction', doc: 'used / total device memory per sample' },
  gpuUtil: { name: 'gpu.util', entities: GPU, unit: 'fraction', doc: 'fraction of time a kernel ran, per sample' },
  gpuTemp: { name: 'gpu.temp', entities: GPU, unit: 'celsius', doc: 'degrees C per sample' },
  gpuPowerW: { name: 'gpu.power_w', entities: GPU, unit: 'watts', doc: 'W per sample' },
  gpuThrottle: {
    name: 'gpu.throttle',
    entities: GPU,
    unit: 'number',
    doc: '1 when a thermal/power clock event reason is set, else 0, per sample',
  },
  gpuXid: { name: 'gpu.xid', entities: GPU, unit: 'number', doc: 'the Xid number, per Xid event' },
  gpuEccErrors: { name: 'gpu.ecc_errors', entities: GPU, unit: 'events', doc: '1 per ECC event (single or double bit)' },
  gpuMemUsed: { name: 'gpu.mem_used', entities: P, unit: 'bytes', doc: 'bytes of GPU memory the process holds on a GPU, per sample' },
  cudaAllocFailures: { name: 'cuda.alloc_failures', entities: P, unit: 'events', doc: '1 per failed CUDA allocation (uprobes)' },
  ncclInflight: {
    name: 'nccl.inflight_ns',
    entities: P,
    unit: 'ns',
    doc: 'ns a collective has been in flight, once a second while it has not returned',
  },
  ncclDuration: { name: 'nccl.duration', entities: P, unit: 'ns', doc: 'ns per completed collective' },
  // sampled off the hot path from the process's own cgroup every few seconds (engine/cgroup-sampler.ts)
  cpuThrottled: share('cpu.throttled', PC, "its cgroup's CPU quota throttled it"),
  cpuThrottledPeriods: share('cpu.throttled_periods', CG, 'throttled / elapsed quota periods'),
  memoryStall: share('memory.stall', PC, 'its cgroup stalled on memory (PSI "some")'),
  memoryMajorFaults: { name: 'memory.major_faults', entities: P, unit: 'events', doc: 'major page faults per sample (/proc/PID/stat)' },
  cpuPressure: share('cpu.pressure', CG, 'a task waited for a CPU (PSI "some")'),
  ioPressure: share('io.pressure', CG, 'a task waited for IO (PSI "some")'),
  syscallErrors: {
    name: 'syscall.errors',
    entities: P,
    unit: 'events',
    doc: 'failed calls per syscall_error record whose errno can explain a failure (see `syscall.errno`)',
  },
} as const satisfies Record<string, MetricDef>;

export type MetricKey = keyof typeof CORE;
type Names = { readonly [K in MetricKey]: (typeof CORE)[K]['name'] };
/** Metric names of the graph's own metrics, e.g. M.ioLatency === 'io.latency'. */
export const M = Object.fromEntries(Object.entries(CORE).map(([k, d]) => [k, d.name])) as Names;
/** Dense id of each of the graph's own metrics, e.g. MI.ioLatency. */
export const MI = Object.fromEntries(Object.entries(CORE).map(([k, d]) => [k, defineMetric(d)])) as { readonly [K in MetricKey]: number };

/** Xids NVIDIA lists as application errors (the device plugin keeps the GPU healthy). */
export const XID_APP_ERRORS = new Set([13, 31, 43, 45, 68]);

export const SIGNAL_STOPS = new Set([19, 20, 21, 22]); // SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU
export const SIGCONT = 18;
/** Default action "terminate" (with or without core): a sender of these may have killed the target. */
export const FATAL_BY_DEFAULT = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15, 24, 25, 31]);
