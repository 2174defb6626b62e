/**
 * The contract with native/ (the C++ N-API addon), and its loader.
 *
 * The addon loads the BPF objects, attaches what it can, and drains the rings
 * on the libuv loop into ArrayBuffers that JS owns and hands over once at
 * open(). It calls `onBatch(bufferIndex, count)` once per batch: records are
 * XCTL_RECORD_SIZE bytes each, packed from offset 0 of buffers[bufferIndex].
 * The batch is valid during the callback and until the addon wraps around to
 * that buffer again (buffers are used in rotation), so a consumer may keep the
 * previous batch while the next one is delivered, but must copy to keep more.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';

/** A probe family name: one of families() (the addon's table, native/probe_set.cc). */
export type Family = string;

/** One row of the addon's probe family table. */
export interface FamilyInfo {
  name: Family;
  /** where its records come from: BPF programs, NVML in userspace threads, uprobes on CUDA/NCCL libraries */
  source: 'bpf' | 'nvml' | 'uprobe';
  /** the embedded BPF object (bpf/<name>.bpf.c); absent for nvml */
  object?: string;
  /** run when no family list is given (agent, events, record, config) */
  onByDefault: boolean;
  /** for benchmarks and tests: accepted, not advertised */
  internal: boolean;
  description: string;
}

/** NVML sampling (family 'gpu'). */
export interface GpuOptions {
  /** path or soname of libnvidia-ml; default $XCTL_NVML_LIBRARY, else libnvidia-ml.so.1 */
  nvmlLibrary?: string;
  /** sampling interval, default 1000 ms */
  intervalMs?: number;
}

/** Uprobes on CUDA/NCCL libraries (family 'cuda'). */
export interface CudaOptions {
  /** an NCCL collective in flight this long is reported (nccl_call phase inflight), default 10000 ms */
  inflightMs?: number;
}

export interface LibraryAttach {
  path: string;
  functions: string[]; // e.g. "cudaMalloc", "cudaMalloc (return)"
  error?: string; // nothing could be attached
}

export interface GpuStats {
  gpus: number;
  samples: number; // per-GPU samples taken
  sampleNs: number; // total time spent in NVML calls for them
  events: number; // NVML events (Xid, ECC, lost GPU) seen
  drops: number; // records dropped because the queue to JS was full
  library: string;
  driver: string;
}

/** Mirrors struct xctl_cfg (bpf/xctl_record.h). All times in ns. */
export interface ProbeConfig {
  ioMinLatencyNs?: bigint;
  offcpuMinNs?: bigint;
  runqMinNs?: bigint;
  runqWindowNs?: bigint;
  tcpFlushNs?: bigint;
  skipKthreads?: boolean;
  /** wake the consumer once this many bytes are queued (default 256 KiB) */
  wakeupBytes?: number;
  /** syscall family: per-process interval of the error count flush */
  syscallFlushNs?: bigint;
}

export interface ProgramStatus {
  name: string; // BPF program name, e.g. on_retransmit
  section: string; // e.g. tp_btf/tcp_retransmit_skb
  attached: boolean;
  error?: string; // kernel's reason when not attached
  coveredBy?: string; // the X__fallback program attached in its place (older kernels)
}

export interface FamilyStatus {
  family: Family;
  loaded: boolean;
  error?: string; // open/load failure: errno text plus verifier log excerpt
  programs: ProgramStatus[];
}

/** Programs of a family that do not run: not attached, and no fallback runs in their place. */
export function programsNotRunning(f: FamilyStatus): ProgramStatus[] {
  return f.programs.filter((p) => !p.attached && !p.coveredBy);
}

export interface NativeStats {
  records: number; // records delivered to JS
  batches: number; // onBatch calls
  bytes: number; // bytes delivered to JS
  wakeups: number; // uv_poll callbacks
  kernelDrops: number; // sum over families and CPUs of ring reserve failures
  userDrops: number; // records discarded in userspace (bad size, callback threw)
  dropsByFamily: Record<string, number>;
  /** present when the gpu family was requested and NVML loaded */
  gpu?: GpuStats;
}

export interface OpenOptions {
  families: Family[];
  config?: ProbeConfig;
  gpu?: GpuOptions;
  cuda?: CudaOptions;
  buffers: ArrayBuffer[]; // >= 2, each a multiple of the record size
  /** `needsOwner`: how many records carry F_NO_OWNER (userspace owner lookup wanted) */
  onBatch: (bufferIndex: number, count: number, needsOwner: number) => void;
  ringBytes?: number; // per family ring size (power of 2, >= page size)
  paused?: boolean; // start without draining (see pause())
  drainIntervalMs?: number; // periodic drain (default 50): bounds staleness of quiet rings
}

export interface NativeSession {
  status(): FamilyStatus[];
  stats(): NativeStats;
  setConfig(config: ProbeConfig): void;
  /** Drain synchronously now (also used on stop so nothing is lost). */
  drain(): number;
  /** Run-time cost of each attached program from kernel.bpf_stats_enabled. */
  programStats(): { family: string; name: string; runCount: number; runTimeNs: number }[];
  /** Stop draining on the loop (rings fill, then the kernel counts drops); drain() still works. */
  pause(): void;
  resume(): void;
  /** cuda family: attach the uprobes for one mapped copy of libcudart/libcuda/libnccl, by path */
  attachLibrary(path: string): LibraryAttach;
  /** cuda family: detach them (no process maps the path any more); false if it was not attached */
  detachLibrary(path: string): boolean;
  /** cuda family: the library paths with uprobes attached */
  libraries(): string[];
  stop(): void;
}

export interface RecordLayout {
  size: number;
  version: number;
  offsets: Record<string, number>; // "hdr.ts_ns", "tcp.saddr", ...
  kinds: Record<string, number>;
}

export interface NativeAddon {
  recordLayout(): RecordLayout;
  /** The probe family table, in load order. */
  families(): FamilyInfo[];
  open(options: OpenOptions): NativeSession;
  /** Boot-time clock now, ns, as BigInt (the clock records use). */
  bootTimeNs(): bigint;
  /** getsockopt(SO_PEERCRED) of a connected Unix socket fd; throws on error. */
  peerCred(fd: number): { pid: number; uid: number; gid: number };
}

let cached: NativeAddon | undefined;

/** Finds build/Release/xctl.node from the package root (works from src/ and dist/src/). */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const candidates = [
    process.env.XCTL_ADDON,
    path.resolve(__dirname, '../../build/Release/xctl.node'),
    path.resolve(__dirname, '../../../build/Release/xctl.node'),
  ].filter((p): p is string => !!p);
  for (const p of candidates) {
    if (fs.existsSync(p)) {
      cached = require(p) as NativeAddon;
      return cached;
    }
  }
  throw new Error(`xctl native addon not built (looked in ${candidates.join(', ')}); run: bash scripts/build.sh`);
}
