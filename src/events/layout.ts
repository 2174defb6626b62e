/**
 * TypeScript mirror of bpf/xctl_record.h (record layout version 1).
 *
 * Every record is RECORD_SIZE bytes, little-endian: a 56-byte common header
 * then a per-kind payload. Offsets here are absolute from the record start.
 * The native addon exports offsetof() of the same fields under the same keys
 * (recordLayout().offsets); layoutHash() over either set must give LAYOUT_HASH.
 * Change the C header => change this file and bump RECORD_VERSION together.
 */
import { createHash } from 'node:crypto';

export const RECORD_SIZE = 128;
export const RECORD_VERSION = 1;
export const HEADER_SIZE = 56; // payload starts here
export const COMM_LEN = 16;
export const FILENAME_LEN = 64;

export enum Kind {
  TCP_RETRANSMIT = 1,
  BLOCK_IO = 2,
  EXEC = 3,
  EXIT = 4,
  SIGNAL = 5,
  OOM_KILL = 6,
  FORK = 7,
  OFFCPU = 8,
  BENCH = 9,
  GPU_SAMPLE = 10,
  GPU_PROC_MEM = 11,
  GPU_EVENT = 12,
  CUDA_ALLOC = 13,
  NCCL_CALL = 14,
}
export const KIND_MAX = 14;

export type KindName =
  | 'tcp_retransmit'
  | 'block_io'
  | 'exec'
  | 'exit'
  | 'signal'
  | 'oom_kill'
  | 'fork'
  | 'offcpu'
  | 'bench'
  | 'gpu_sample'
  | 'gpu_proc_mem'
  | 'gpu_event'
  | 'cuda_alloc'
  | 'nccl_call';

/** Indexed by kind number; index 0 is not a kind. */
export const KIND_NAMES: readonly (KindName | undefined)[] = [
  undefined,
  'tcp_retransmit',
  'block_io',
  'exec',
  'exit',
  'signal',
  'oom_kill',
  'fork',
  'offcpu',
  'bench',
  'gpu_sample',
  'gpu_proc_mem',
  'gpu_event',
  'cuda_alloc',
  'nccl_call',
];

export const KIND_IDS: Readonly<Record<KindName, Kind>> = {
  tcp_retransmit: Kind.TCP_RETRANSMIT,
  block_io: Kind.BLOCK_IO,
  exec: Kind.EXEC,
  exit: Kind.EXIT,
  signal: Kind.SIGNAL,
  oom_kill: Kind.OOM_KILL,
  fork: Kind.FORK,
  offcpu: Kind.OFFCPU,
  bench: Kind.BENCH,
  gpu_sample: Kind.GPU_SAMPLE,
  gpu_proc_mem: Kind.GPU_PROC_MEM,
  gpu_event: Kind.GPU_EVENT,
  cuda_alloc: Kind.CUDA_ALLOC,
  nccl_call: Kind.NCCL_CALL,
};

export function kindName(kind: number): KindName | undefined {
  return KIND_NAMES[kind];
}

export function kindFromName(name: string): Kind | undefined {
  return Object.prototype.hasOwnProperty.call(KIND_IDS, name) ? KIND_IDS[name as KindName] : undefined;
}

/* header.flags */
export const F_KTHREAD = 0x01; // the attributed task is a kernel thread
export const F_NO_OWNER = 0x02; // kernel could not attribute: userspace must resolve

/* block_io.flags */
export const IO_F_WRITE = 0x01;
export const IO_F_WAITER = 0x02; // seen from the waiting task (includes cgroup throttle delay)
export const IO_F_FLUSH = 0x04;
export const IO_F_SYNC = 0x08;

/* offcpu.state */
export const OFFCPU_RUNQ = 0;
export const OFFCPU_SLEEP = 1;
export const OFFCPU_BLOCKED = 2;
/* offcpu.flags */
export const OFFCPU_F_IOWAIT = 0x01;
export const OFFCPU_F_AGGREGATE = 0x02;
export const OFFCPU_F_WAKER_IRQ = 0x04;

/* tcp.owner_src */
export const OWNER_NONE = 0;
export const OWNER_KERNEL = 1;
/** Not produced by the kernel: set by userspace after resolving sock_ino via /proc. */
export const OWNER_USERSPACE = 2;

/* gpu_sample.valid: which fields NVML answered */
export const GPU_V_MEM = 0x001;
export const GPU_V_UTIL = 0x002;
export const GPU_V_TEMP = 0x004;
export const GPU_V_POWER = 0x008;
export const GPU_V_CLOCKS = 0x010;
export const GPU_V_ECC = 0x020;
export const GPU_V_REMAP = 0x040;
export const GPU_V_PCIE = 0x080;
export const GPU_UUID_LEN = 8;

/* NVML event type bits (gpu_event.event_type) */
export const NVML_EV_SBE = 0x1;
export const NVML_EV_DBE = 0x2;
export const NVML_EV_XID = 0x8;
export const NVML_EV_GPU_UNAVAILABLE = 0x4000;
/* NVML clock event reasons that mean throttling: SwPowerCap, HwSlowdown, SwThermal, HwThermal, HwPowerBrake */
export const CLOCK_REASONS_THROTTLE = 0x4 | 0x8 | 0x20 | 0x40 | 0x80;

/* cuda_alloc.fn, nccl_call.fn and nccl_call.phase */
export const CUDA_FN_NAMES: readonly (string | undefined)[] = [undefined, 'cudaMalloc', 'cuMemAlloc_v2', 'cudaMallocManaged', 'cudaMallocAsync'];
export const NCCL_FN_NAMES: readonly (string | undefined)[] = [
  undefined, 'ncclAllReduce', 'ncclBroadcast', 'ncclReduce', 'ncclAllGather', 'ncclReduceScatter', 'ncclSend', 'ncclRecv', 'ncclGroupEnd',
];
export const NCCL_ENTER = 0;
export const NCCL_EXIT = 1;
export const NCCL_INFLIGHT = 2;

/** Field encodings; 'str' is NUL-terminated text, 'bytes' raw (addresses). */
export type FieldType = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 'str' | 'bytes';
export interface FieldSpec {
  readonly off: number;
  readonly type: FieldType;
  readonly len?: number; // for str/bytes
}

/** Every named (non-padding) field of struct xctl_record. */
export const FIELDS = {
  'hdr.ts_ns': { off: 0, type: 'u64' },
  'hdr.start_ns': { off: 8, type: 'u64' },
  'hdr.cgroup_id': { off: 16, type: 'u64' },
  'hdr.pid': { off: 24, type: 'u32' },
  'hdr.tid': { off: 28, type: 'u32' },
  'hdr.kind': { off: 32, type: 'u16' },
  'hdr.version': { off: 34, type: 'u8' },
  'hdr.flags': { off: 35, type: 'u8' },
  'hdr.cpu': { off: 36, type: 'u32' },
  'hdr.comm': { off: 40, type: 'str', len: COMM_LEN },

  'tcp.saddr': { off: 56, type: 'bytes', len: 16 },
  'tcp.daddr': { off: 72, type: 'bytes', len: 16 },
  'tcp.sport': { off: 88, type: 'u16' },
  'tcp.dport': { off: 90, type: 'u16' },
  'tcp.family': { off: 92, type: 'u16' },
  'tcp.state': { off: 94, type: 'u8' },
  'tcp.owner_src': { off: 95, type: 'u8' },
  'tcp.count': { off: 96, type: 'u32' },
  'tcp.segs': { off: 100, type: 'u32' },
  'tcp.sock_ino': { off: 104, type: 'u64' },
  'tcp.first_ts_ns': { off: 112, type: 'u64' },
  'tcp.skaddr': { off: 120, type: 'u64' },

  'io.dev': { off: 56, type: 'u32' },
  'io.bytes': { off: 60, type: 'u32' },
  'io.sector': { off: 64, type: 'u64' },
  'io.latency_ns': { off: 72, type: 'u64' },
  'io.error': { off: 80, type: 's32' },
  'io.flags': { off: 84, type: 'u16' },
  'io.device_ns': { off: 88, type: 'u64' },

  'exec.ppid': { off: 56, type: 'u32' },
  'exec.filename': { off: 64, type: 'str', len: FILENAME_LEN },

  'exit.exit_code': { off: 56, type: 's32' },
  'exit.signal': { off: 60, type: 'u32' },
  'exit.ppid': { off: 64, type: 'u32' },
  'exit.core_dumped': { off: 68, type: 'u8' },
  'exit.runtime_ns': { off: 72, type: 'u64' },
  'exit.raw_status': { off: 80, type: 'u32' },

  'sig.target_pid': { off: 56, type: 'u32' },
  'sig.target_tid': { off: 60, type: 'u32' },
  'sig.sig': { off: 64, type: 'u32' },
  'sig.result': { off: 68, type: 's32' },
  'sig.code': { off: 72, type: 's32' },
  'sig.handled': { off: 76, type: 'u8' },
  'sig.target_comm': { off: 80, type: 'str', len: COMM_LEN },
  'sig.target_start_ns': { off: 96, type: 'u64' },

  'oom.trigger_pid': { off: 56, type: 'u32' },
  'oom.uid': { off: 60, type: 'u32' },
  'oom.total_vm_kb': { off: 64, type: 'u64' },
  'oom.anon_rss_kb': { off: 72, type: 'u64' },
  'oom.file_rss_kb': { off: 80, type: 'u64' },
  'oom.shmem_rss_kb': { off: 88, type: 'u64' },
  'oom.oom_score_adj': { off: 96, type: 's32' },
  'oom.trigger_comm': { off: 104, type: 'str', len: COMM_LEN },

  'fork.child_pid': { off: 56, type: 'u32' },
  'fork.child_start_ns': { off: 64, type: 'u64' },

  'off.duration_ns': { off: 56, type: 'u64' },
  'off.max_ns': { off: 64, type: 'u64' },
  'off.count': { off: 72, type: 'u32' },
  'off.state': { off: 76, type: 'u8' },
  'off.flags': { off: 77, type: 'u8' },
  'off.waker_pid': { off: 80, type: 'u32' },
  'off.waker_tid': { off: 84, type: 'u32' },
  'off.waker_comm': { off: 88, type: 'str', len: COMM_LEN },
  'off.waker_start_ns': { off: 104, type: 'u64' },

  'bench.seq': { off: 56, type: 'u64' },
  'bench.value': { off: 64, type: 'u64' },

  'gpu.gpu': { off: 56, type: 'u32' },
  'gpu.power_mw': { off: 60, type: 'u32' },
  'gpu.mem_used': { off: 64, type: 'u64' },
  'gpu.mem_total': { off: 72, type: 'u64' },
  'gpu.clock_reasons': { off: 80, type: 'u64' },
  'gpu.ecc_sbe': { off: 88, type: 'u64' },
  'gpu.ecc_dbe': { off: 96, type: 'u64' },
  'gpu.pcie_replays': { off: 104, type: 'u32' },
  'gpu.util_gpu': { off: 108, type: 'u8' },
  'gpu.util_mem': { off: 109, type: 'u8' },
  'gpu.temp_c': { off: 110, type: 'u8' },
  'gpu.remap_pending': { off: 111, type: 'u8' },
  'gpu.valid': { off: 112, type: 'u16' },
  'gpu.uuid_hash': { off: 116, type: 'u32' },
  'gpu.uuid': { off: 120, type: 'str', len: GPU_UUID_LEN },

  'gmem.gpu': { off: 56, type: 'u32' },
  'gmem.uuid_hash': { off: 60, type: 'u32' },
  'gmem.used_bytes': { off: 64, type: 'u64' },
  'gmem.mem_total': { off: 72, type: 'u64' },

  'gev.gpu': { off: 56, type: 'u32' },
  'gev.uuid_hash': { off: 60, type: 'u32' },
  'gev.event_type': { off: 64, type: 'u64' },
  'gev.event_data': { off: 72, type: 'u64' },
  'gev.gpu_instance': { off: 80, type: 'u32' },
  'gev.compute_instance': { off: 84, type: 'u32' },
  'gev.nvml_status': { off: 88, type: 's32' },

  'cuda.fn': { off: 56, type: 'u32' },
  'cuda.result': { off: 60, type: 's32' },
  'cuda.size': { off: 64, type: 'u64' },
  'cuda.latency_ns': { off: 72, type: 'u64' },
  'cuda.ptr': { off: 80, type: 'u64' },

  'nccl.fn': { off: 56, type: 'u32' },
  'nccl.phase': { off: 60, type: 'u8' },
  'nccl.duration_ns': { off: 64, type: 'u64' },
  'nccl.comm': { off: 72, type: 'u64' },
  'nccl.count': { off: 80, type: 'u64' },
  'nccl.datatype': { off: 88, type: 'u32' },
  'nccl.result': { off: 92, type: 's32' },
} as const satisfies Record<string, FieldSpec>;

export type FieldName = keyof typeof FIELDS;

/** Absolute byte offset of each field, keyed like the addon's recordLayout().offsets. */
export const OFFSETS: { readonly [K in FieldName]: (typeof FIELDS)[K]['off'] } = Object.freeze(
  Object.fromEntries(Object.entries(FIELDS).map(([k, f]) => [k, f.off])),
) as { readonly [K in FieldName]: (typeof FIELDS)[K]['off'] };

/**
 * Stable fingerprint of a layout: sha256 over size, version and the offsets
 * sorted by key, first 16 hex chars. Exported so a test can hash the native
 * addon's offsets the same way and recordings can refuse foreign layouts.
 */
export function layoutHash(size: number, version: number, offsets: Readonly<Record<string, number>>): string {
  const lines = [`size ${size}`, `version ${version}`];
  for (const key of Object.keys(offsets).sort()) lines.push(`${key} ${offsets[key]}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

export const LAYOUT_HASH: string = layoutHash(RECORD_SIZE, RECORD_VERSION, OFFSETS);
