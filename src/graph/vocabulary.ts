/**
 * Metric names the graph records, shared with the rules (rules/README.md
 * lists them for rule authors). Interned constants: series lookup compares
 * by identity.
 */
export const M = {
  tcpRetransmits: 'tcp.retransmits', // segments per retransmit record (process, peer)
  ioLatency: 'io.latency', // ns the process waited per IO (process, device)
  ioErrors: 'io.errors', // 1 per failed IO (process, device)
  ioBytes: 'io.bytes', // bytes per IO (device)
  offcpuSleep: 'offcpu.sleep', // ns per interruptible sleep >= threshold
  offcpuBlocked: 'offcpu.blocked', // ns per uninterruptible (D) sleep >= threshold
  offcpuRunq: 'offcpu.runq', // ns of run-queue delay per record
  waitsOnProcess: 'offcpu.waits_on_process', // ns waited per wakeup by another process
  cpuUsage: 'cpu.usage', // fraction of one CPU (sampled)
  // GPU (NVML sampler, gpu entity)
  gpuMemUsedFrac: 'gpu.mem_used_frac', // used / total device memory per sample
  gpuUtil: 'gpu.util', // fraction of time a kernel ran, per sample
  gpuTemp: 'gpu.temp', // degrees C per sample
  gpuPowerW: 'gpu.power_w', // W per sample
  gpuThrottle: 'gpu.throttle', // 1 when a thermal/power clock event reason is set, else 0, per sample
  gpuXid: 'gpu.xid', // the Xid number, per Xid event
  gpuEccErrors: 'gpu.ecc_errors', // 1 per ECC event (single or double bit)
  // GPU, per process
  gpuMemUsed: 'gpu.mem_used', // bytes of GPU memory the process holds, per sample (process)
  cudaAllocFailures: 'cuda.alloc_failures', // 1 per failed CUDA allocation (process)
  ncclInflight: 'nccl.inflight_ns', // ns a collective has been in flight, per in-flight report (process)
  ncclDuration: 'nccl.duration', // ns per completed collective (process)
} as const;

export type MetricKey = keyof typeof M;
/** Metric names by dense id (M's order): nodes find their series and mark changes by id, not by name. */
export const METRIC_NAMES: readonly string[] = Object.values(M);
/** Dense id of each metric, e.g. MI.ioLatency. */
export const MI = Object.fromEntries(Object.keys(M).map((k, i) => [k, i])) as { readonly [K in MetricKey]: number };
const ID_BY_NAME = new Map(METRIC_NAMES.map((name, id) => [name, id]));
/** The id of a metric name; undefined for a name the graph never records. */
export function metricId(name: string): number | undefined {
  return ID_BY_NAME.get(name);
}
/** A node's change bits: one per metric id, and this one for attributes or edges. */
export const ATTR_CHANGED = 1 << 30;
if (METRIC_NAMES.length >= 30) throw new Error('metric ids must fit below ATTR_CHANGED (bit 30)');

/** Xids NVIDIA lists as application errors (the device plugin keeps the GPU healthy). */
export const XID_APP_ERRORS = new Set([13, 31, 43, 45, 68]);

export const SIGNAL_STOPS = new Set([19, 20, 21, 22]); // SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU
export const SIGCONT = 18;
/** Default action "terminate" (with or without core): a sender of these may have killed the target. */
export const FATAL_BY_DEFAULT = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15, 24, 25, 31]);
