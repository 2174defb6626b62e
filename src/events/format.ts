/**
 * Records -> plain JSON-able events and human text. This is the edge of the
 * system (CLI output, JSON lines, reports): allocation is fine here, never on
 * the batch hot path. 64-bit values that may exceed 2^53 (timestamps, ids,
 * kernel addresses) are decimal strings; durations and sizes are numbers.
 */
import type { BootClock } from './clock';
import { wallIso } from './clock';
import type { RecordBatch } from './decoder';
import { AF_INET, AF_INET6, addrText } from './inet';
import {
  COMM_LEN,
  CUDA_FN_NAMES,
  GPU_UUID_LEN,
  GPU_V_POWER,
  NCCL_EXIT,
  NCCL_FN_NAMES,
  NCCL_INFLIGHT,
  NVML_EV_XID,
  F_KTHREAD,
  F_NO_OWNER,
  FILENAME_LEN,
  IO_F_FLUSH,
  IO_F_SYNC,
  IO_F_WAITER,
  IO_F_WRITE,
  Kind,
  type KindName,
  OFFCPU_BLOCKED,
  OFFCPU_F_AGGREGATE,
  OFFCPU_F_IOWAIT,
  OFFCPU_F_WAKER_IRQ,
  OFFCPU_RUNQ,
  OFFCPU_SLEEP,
  OFFSETS as O,
  OWNER_KERNEL,
  OWNER_USERSPACE,
  kindName,
} from './layout';
import { errnoName, signalName, tcpStateName } from './names';

export interface EventBase {
  ts: string; // ISO-8601 wall clock (UTC)
  ts_ns: string; // CLOCK_BOOTTIME ns
  kind: KindName | 'unknown';
  pid: number;
  tid: number;
  comm: string;
  cgroup_id: string;
  start_ns: string; // attributed process start (boot ns): pid-reuse guard
  cpu: number;
  kthread?: true; // header flag XCTL_F_KTHREAD
  no_owner?: true; // header flag XCTL_F_NO_OWNER
}

export interface TcpRetransmitEvent extends EventBase {
  kind: 'tcp_retransmit';
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  family: 'ipv4' | 'ipv6' | 'unknown';
  state: string;
  count: number;
  segs: number;
  owner: 'kernel' | 'none' | 'userspace';
  sock_ino: number;
  first_ts_ns: string;
  skaddr: string;
}

export interface BlockIoEvent extends EventBase {
  kind: 'block_io';
  dev: string; // "major:minor"
  op: 'read' | 'write' | 'flush';
  bytes: number;
  sector: number;
  latency_ns: number;
  device_ns: number;
  error: number; // negative errno, 0 on success
  errno?: string;
  waiter: boolean;
  sync: boolean;
}

export interface ExecEvent extends EventBase {
  kind: 'exec';
  ppid: number;
  filename: string;
}

export interface ExitEvent extends EventBase {
  kind: 'exit';
  exit_code: number;
  signal: number;
  signal_name?: string; // when signal != 0
  core_dumped: boolean;
  ppid: number;
  runtime_ns: number;
  raw_status: number;
}

export interface SignalEvent extends EventBase {
  kind: 'signal'; // header = sender
  target_pid: number;
  target_tid: number;
  target_comm: string;
  target_start_ns: string;
  sig: number;
  signal_name: string;
  handled: boolean;
  result: number;
  code: number;
}

export interface OomKillEvent extends EventBase {
  kind: 'oom_kill'; // header = victim
  trigger_pid: number;
  trigger_comm: string;
  uid: number;
  total_vm_kb: number;
  anon_rss_kb: number;
  file_rss_kb: number;
  shmem_rss_kb: number;
  oom_score_adj: number;
}

export interface ForkEvent extends EventBase {
  kind: 'fork'; // header = parent
  child_pid: number;
  child_start_ns: string;
}

export interface OffcpuEvent extends EventBase {
  kind: 'offcpu';
  state: 'runq' | 'sleep' | 'blocked' | 'unknown';
  duration_ns: number;
  max_ns: number;
  count: number;
  iowait: boolean;
  aggregate: boolean;
  waker_pid: number;
  waker_tid: number;
  waker_comm: string;
  waker_start_ns: string;
  waker_irq: boolean;
}

export interface BenchEvent extends EventBase {
  kind: 'bench';
  seq: number;
  value: number;
}

export interface GpuSampleEvent extends EventBase {
  kind: 'gpu_sample'; // header comm = GPU name (truncated), pid 0
  gpu: number;
  uuid: string; // first 8 hex digits of the UUID
  uuid_hash: number;
  mem_used: number;
  mem_total: number;
  util_gpu: number;
  util_mem: number;
  temp_c: number;
  power_mw: number;
  clock_reasons: number;
  ecc_sbe: number;
  ecc_dbe: number;
  remap_pending: boolean;
  pcie_replays: number;
  valid: number;
}

export interface GpuProcMemEvent extends EventBase {
  kind: 'gpu_proc_mem'; // header = the process
  gpu: number;
  uuid_hash: number;
  used_bytes: number;
  mem_total: number;
}

export interface GpuEventEvent extends EventBase {
  kind: 'gpu_event';
  gpu: number;
  uuid_hash: number;
  event_type: number;
  event_data: number;
  xid?: number; // when event_type has XidCriticalError
  nvml_status: number;
}

export interface CudaAllocEvent extends EventBase {
  kind: 'cuda_alloc';
  fn: string;
  size: number;
  result: number;
  latency_ns: number;
  ptr: string;
}

export interface NcclCallEvent extends EventBase {
  kind: 'nccl_call';
  fn: string;
  phase: 'enter' | 'exit' | 'inflight';
  duration_ns: number;
  nccl_comm: string;
  count: number;
  datatype: number;
  result: number;
}

export interface UnknownEvent extends EventBase {
  kind: 'unknown';
  kind_id: number;
}

export type XEvent =
  | TcpRetransmitEvent
  | BlockIoEvent
  | ExecEvent
  | ExitEvent
  | SignalEvent
  | OomKillEvent
  | ForkEvent
  | OffcpuEvent
  | BenchEvent
  | GpuSampleEvent
  | GpuProcMemEvent
  | GpuEventEvent
  | CudaAllocEvent
  | NcclCallEvent
  | UnknownEvent;

function base(b: RecordBatch, i: number, clock: BootClock): EventBase {
  const ts = b.tsNs(i);
  const flags = b.flags(i);
  const ev: EventBase = {
    ts: wallIso(ts, clock),
    ts_ns: ts.toString(),
    kind: kindName(b.kind(i)) ?? 'unknown',
    pid: b.pid(i),
    tid: b.tid(i),
    comm: b.comm(i),
    cgroup_id: b.cgroupId(i).toString(),
    start_ns: b.startNs(i).toString(),
    cpu: b.cpu(i),
  };
  if (flags & F_KTHREAD) ev.kthread = true;
  if (flags & F_NO_OWNER) ev.no_owner = true;
  return ev;
}

const OFFCPU_STATES: Readonly<Record<number, OffcpuEvent['state']>> = {
  [OFFCPU_RUNQ]: 'runq',
  [OFFCPU_SLEEP]: 'sleep',
  [OFFCPU_BLOCKED]: 'blocked',
};

/** Record i of the batch as a plain object (see the event interfaces above). */
export function toEvent(b: RecordBatch, i: number, clock: BootClock): XEvent {
  const e = base(b, i, clock);
  switch (b.kind(i)) {
    case Kind.TCP_RETRANSMIT: {
      const family = b.u16(i, O['tcp.family']);
      const bytes = b.recordBytes(i);
      const owner = b.u8(i, O['tcp.owner_src']);
      return {
        ...e,
        kind: 'tcp_retransmit',
        saddr: addrText(family, bytes, O['tcp.saddr']),
        daddr: addrText(family, bytes, O['tcp.daddr']),
        sport: b.u16(i, O['tcp.sport']),
        dport: b.u16(i, O['tcp.dport']),
        family: family === AF_INET ? 'ipv4' : family === AF_INET6 ? 'ipv6' : 'unknown',
        state: tcpStateName(b.u8(i, O['tcp.state'])),
        count: b.u32(i, O['tcp.count']),
        segs: b.u32(i, O['tcp.segs']),
        owner: owner === OWNER_KERNEL ? 'kernel' : owner === OWNER_USERSPACE ? 'userspace' : 'none',
        sock_ino: b.u64Number(i, O['tcp.sock_ino']),
        first_ts_ns: b.u64(i, O['tcp.first_ts_ns']).toString(),
        skaddr: b.u64(i, O['tcp.skaddr']).toString(),
      };
    }
    case Kind.BLOCK_IO: {
      const dev = b.u32(i, O['io.dev']);
      const flags = b.u16(i, O['io.flags']);
      const error = b.s32(i, O['io.error']);
      const ev: BlockIoEvent = {
        ...e,
        kind: 'block_io',
        dev: `${dev >>> 20}:${dev & 0xfffff}`, // kernel dev_t, not the userspace encoding
        op: flags & IO_F_FLUSH ? 'flush' : flags & IO_F_WRITE ? 'write' : 'read',
        bytes: b.u32(i, O['io.bytes']),
        sector: b.u64Number(i, O['io.sector']),
        latency_ns: b.u64Number(i, O['io.latency_ns']),
        device_ns: b.u64Number(i, O['io.device_ns']),
        error,
        waiter: (flags & IO_F_WAITER) !== 0,
        sync: (flags & IO_F_SYNC) !== 0,
      };
      if (error !== 0) ev.errno = errnoName(error);
      return ev;
    }
    case Kind.EXEC:
      return {
        ...e,
        kind: 'exec',
        ppid: b.u32(i, O['exec.ppid']),
        filename: b.str(i, O['exec.filename'], FILENAME_LEN),
      };
    case Kind.EXIT: {
      const signal = b.u32(i, O['exit.signal']);
      const ev: ExitEvent = {
        ...e,
        kind: 'exit',
        exit_code: b.s32(i, O['exit.exit_code']),
        signal,
        core_dumped: b.u8(i, O['exit.core_dumped']) !== 0,
        ppid: b.u32(i, O['exit.ppid']),
        runtime_ns: b.u64Number(i, O['exit.runtime_ns']),
        raw_status: b.u32(i, O['exit.raw_status']),
      };
      if (signal !== 0) ev.signal_name = signalName(signal);
      return ev;
    }
    case Kind.SIGNAL: {
      const sig = b.u32(i, O['sig.sig']);
      return {
        ...e,
        kind: 'signal',
        target_pid: b.u32(i, O['sig.target_pid']),
        target_tid: b.u32(i, O['sig.target_tid']),
        target_comm: b.str(i, O['sig.target_comm'], COMM_LEN),
        target_start_ns: b.u64(i, O['sig.target_start_ns']).toString(),
        sig,
        signal_name: signalName(sig),
        handled: b.u8(i, O['sig.handled']) !== 0,
        result: b.s32(i, O['sig.result']),
        code: b.s32(i, O['sig.code']),
      };
    }
    case Kind.OOM_KILL:
      return {
        ...e,
        kind: 'oom_kill',
        trigger_pid: b.u32(i, O['oom.trigger_pid']),
        trigger_comm: b.str(i, O['oom.trigger_comm'], COMM_LEN),
        uid: b.u32(i, O['oom.uid']),
        total_vm_kb: b.u64Number(i, O['oom.total_vm_kb']),
        anon_rss_kb: b.u64Number(i, O['oom.anon_rss_kb']),
        file_rss_kb: b.u64Number(i, O['oom.file_rss_kb']),
        shmem_rss_kb: b.u64Number(i, O['oom.shmem_rss_kb']),
        oom_score_adj: b.s32(i, O['oom.oom_score_adj']),
      };
    case Kind.FORK:
      return {
        ...e,
        kind: 'fork',
        child_pid: b.u32(i, O['fork.child_pid']),
        child_start_ns: b.u64(i, O['fork.child_start_ns']).toString(),
      };
    case Kind.OFFCPU: {
      const flags = b.u8(i, O['off.flags']);
      return {
        ...e,
        kind: 'offcpu',
        state: OFFCPU_STATES[b.u8(i, O['off.state'])] ?? 'unknown',
        duration_ns: b.u64Number(i, O['off.duration_ns']),
        max_ns: b.u64Number(i, O['off.max_ns']),
        count: b.u32(i, O['off.count']),
        iowait: (flags & OFFCPU_F_IOWAIT) !== 0,
        aggregate: (flags & OFFCPU_F_AGGREGATE) !== 0,
        waker_pid: b.u32(i, O['off.waker_pid']),
        waker_tid: b.u32(i, O['off.waker_tid']),
        waker_comm: b.str(i, O['off.waker_comm'], COMM_LEN),
        waker_start_ns: b.u64(i, O['off.waker_start_ns']).toString(),
        waker_irq: (flags & OFFCPU_F_WAKER_IRQ) !== 0,
      };
    }
    case Kind.BENCH:
      return {
        ...e,
        kind: 'bench',
        seq: b.u64Number(i, O['bench.seq']),
        value: b.u64Number(i, O['bench.value']),
      };
    case Kind.GPU_SAMPLE:
      return {
        ...e,
        kind: 'gpu_sample',
        gpu: b.u32(i, O['gpu.gpu']),
        uuid: b.str(i, O['gpu.uuid'], GPU_UUID_LEN),
        uuid_hash: b.u32(i, O['gpu.uuid_hash']),
        mem_used: b.u64Number(i, O['gpu.mem_used']),
        mem_total: b.u64Number(i, O['gpu.mem_total']),
        util_gpu: b.u8(i, O['gpu.util_gpu']),
        util_mem: b.u8(i, O['gpu.util_mem']),
        temp_c: b.u8(i, O['gpu.temp_c']),
        power_mw: b.u32(i, O['gpu.power_mw']),
        clock_reasons: b.u64Number(i, O['gpu.clock_reasons']),
        ecc_sbe: b.u64Number(i, O['gpu.ecc_sbe']),
        ecc_dbe: b.u64Number(i, O['gpu.ecc_dbe']),
        remap_pending: b.u8(i, O['gpu.remap_pending']) !== 0,
        pcie_replays: b.u32(i, O['gpu.pcie_replays']),
        valid: b.u16(i, O['gpu.valid']),
      };
    case Kind.GPU_PROC_MEM:
      return {
        ...e,
        kind: 'gpu_proc_mem',
        gpu: b.u32(i, O['gmem.gpu']),
        uuid_hash: b.u32(i, O['gmem.uuid_hash']),
        used_bytes: b.u64Number(i, O['gmem.used_bytes']),
        mem_total: b.u64Number(i, O['gmem.mem_total']),
      };
    case Kind.GPU_EVENT: {
      const type = b.u64Number(i, O['gev.event_type']);
      const data = b.u64Number(i, O['gev.event_data']);
      const ev: GpuEventEvent = {
        ...e,
        kind: 'gpu_event',
        gpu: b.u32(i, O['gev.gpu']),
        uuid_hash: b.u32(i, O['gev.uuid_hash']),
        event_type: type,
        event_data: data,
        nvml_status: b.s32(i, O['gev.nvml_status']),
      };
      if (type & NVML_EV_XID) ev.xid = data;
      return ev;
    }
    case Kind.CUDA_ALLOC: {
      const fn = b.u32(i, O['cuda.fn']);
      return {
        ...e,
        kind: 'cuda_alloc',
        fn: CUDA_FN_NAMES[fn] ?? `fn ${fn}`,
        size: b.u64Number(i, O['cuda.size']),
        result: b.s32(i, O['cuda.result']),
        latency_ns: b.u64Number(i, O['cuda.latency_ns']),
        ptr: b.u64(i, O['cuda.ptr']).toString(),
      };
    }
    case Kind.NCCL_CALL: {
      const fn = b.u32(i, O['nccl.fn']);
      const phase = b.u8(i, O['nccl.phase']);
      return {
        ...e,
        kind: 'nccl_call',
        fn: NCCL_FN_NAMES[fn] ?? `fn ${fn}`,
        phase: phase === NCCL_EXIT ? 'exit' : phase === NCCL_INFLIGHT ? 'inflight' : 'enter',
        duration_ns: b.u64Number(i, O['nccl.duration_ns']),
        nccl_comm: b.u64(i, O['nccl.comm']).toString(),
        count: b.u64Number(i, O['nccl.count']),
        datatype: b.u32(i, O['nccl.datatype']),
        result: b.s32(i, O['nccl.result']),
      };
    }
    default:
      return { ...e, kind: 'unknown', kind_id: b.kind(i) };
  }
}

// ---- human text ----

/** "512.3 ms"; sub-millisecond values keep µs precision. */
export function fmtMs(ns: number): string {
  const ms = ns / 1e6;
  return `${ms < 1 ? ms.toFixed(3) : ms.toFixed(1)} ms`;
}

/** "12.0 s" for runtimes >= 1 s, else milliseconds. */
function fmtDuration(ns: number): string {
  return ns >= 1e9 ? `${(ns / 1e9).toFixed(1)} s` : fmtMs(ns);
}

function fmtKb(kb: number): string {
  return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)} GiB` : `${(kb / 1024).toFixed(1)} MiB`;
}

function fmtBytes(b: number): string {
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(1)} GiB`;
  if (b >= 1024 ** 2) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${b} B`;
}

function hostPort(family: string, addr: string, port: number): string {
  return family === 'ipv4' ? `${addr}:${port}` : `[${addr}]:${port}`;
}

/** The kind-specific part of a text line. */
export function eventDetails(ev: XEvent): string {
  switch (ev.kind) {
    case 'tcp_retransmit': {
      let s =
        `${hostPort(ev.family, ev.saddr, ev.sport)} -> ${hostPort(ev.family, ev.daddr, ev.dport)} ` +
        `${ev.state} x${ev.count} (${ev.segs} segs)`;
      if (ev.owner === 'none') s += ` owner unresolved (socket inode ${ev.sock_ino})`;
      return s;
    }
    case 'block_io': {
      let s = `dev ${ev.dev} ${ev.op} ${ev.bytes} B latency ${fmtMs(ev.latency_ns)}`;
      if (ev.waiter) s += ` (waiter, device ${fmtMs(ev.device_ns)})`;
      if (ev.error !== 0) s += ` error ${ev.errno ?? ev.error}`;
      return s;
    }
    case 'exec':
      return `${ev.filename} (ppid ${ev.ppid})`;
    case 'exit': {
      const how = ev.signal
        ? `killed by ${ev.signal_name ?? `signal ${ev.signal}`}${ev.core_dumped ? ' (core)' : ''}`
        : `exit code ${ev.exit_code}`;
      return `${how} after ${fmtDuration(ev.runtime_ns)} (ppid ${ev.ppid})`;
    }
    case 'signal': {
      let s = `${ev.signal_name} -> ${ev.target_pid}${ev.target_comm ? ` ${ev.target_comm}` : ''}`;
      if (ev.handled) s += ' (handled)';
      if (ev.result !== 0) s += ` result ${ev.result}`;
      return s;
    }
    case 'oom_kill':
      return (
        `oom-killed anon-rss ${fmtKb(ev.anon_rss_kb)} file-rss ${fmtKb(ev.file_rss_kb)} ` +
        `shmem-rss ${fmtKb(ev.shmem_rss_kb)} total-vm ${fmtKb(ev.total_vm_kb)} ` +
        `oom_score_adj ${ev.oom_score_adj} (trigger ${ev.trigger_pid} ${ev.trigger_comm})`
      );
    case 'fork':
      return `child ${ev.child_pid}`;
    case 'offcpu': {
      let s = `${ev.state}${ev.iowait ? ' iowait' : ''} ${fmtMs(ev.duration_ns)}`;
      if (ev.count > 1) s += ` over ${ev.count} waits (max ${fmtMs(ev.max_ns)})`;
      if (ev.waker_irq) s += ' woken from irq/idle';
      else if (ev.waker_pid) s += ` woken by ${ev.waker_pid} ${ev.waker_comm}`;
      return s;
    }
    case 'bench':
      return `seq ${ev.seq} value ${ev.value}`;
    case 'gpu_sample': {
      let s = `gpu ${ev.gpu} ${ev.uuid ? `GPU-${ev.uuid} ` : ''}mem ${fmtBytes(ev.mem_used)}/${fmtBytes(ev.mem_total)} util ${ev.util_gpu} % mem-util ${ev.util_mem} % ${ev.temp_c} C`;
      if (ev.valid & GPU_V_POWER) s += ` ${(ev.power_mw / 1000).toFixed(1)} W`;
      if (ev.clock_reasons) s += ` clocks 0x${ev.clock_reasons.toString(16)}`;
      if (ev.ecc_sbe || ev.ecc_dbe) s += ` ecc sbe ${ev.ecc_sbe} dbe ${ev.ecc_dbe}`;
      if (ev.remap_pending) s += ' row-remap pending';
      if (ev.pcie_replays) s += ` pcie-replays ${ev.pcie_replays}`;
      return s;
    }
    case 'gpu_proc_mem':
      return `gpu ${ev.gpu} uses ${fmtBytes(ev.used_bytes)} of ${fmtBytes(ev.mem_total)}`;
    case 'gpu_event':
      return ev.xid !== undefined
        ? `gpu ${ev.gpu} Xid ${ev.xid}`
        : `gpu ${ev.gpu} event 0x${ev.event_type.toString(16)} data ${ev.event_data}${ev.nvml_status ? ` nvml status ${ev.nvml_status}` : ''}`;
    case 'cuda_alloc':
      return `${ev.fn}(${fmtBytes(ev.size)}) = ${ev.result}${ev.result === 2 ? ' (out of memory)' : ''} in ${fmtMs(ev.latency_ns)}`;
    case 'nccl_call':
      return `${ev.fn} ${ev.phase}${ev.phase === 'enter' ? '' : ` ${fmtDuration(ev.duration_ns)}`} comm 0x${BigInt(ev.nccl_comm).toString(16)} count ${ev.count}${ev.phase === 'exit' && ev.result ? ` result ${ev.result}` : ''}`;
    case 'unknown':
      return `kind ${ev.kind_id}`;
  }
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** "HH:MM:SS.mmm" of an ISO timestamp, local time unless utc. */
export function clockText(iso: string, utc = false): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '??:??:??.???';
  const [h, m, s, ms] = utc
    ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${pad2(h)}:${pad2(m)}:${pad2(s)}.${String(ms).padStart(3, '0')}`;
}

export interface TextOptions {
  utc?: boolean;
}

/** One line: "HH:MM:SS.mmm  pid  comm  kind  details" (columns padded). */
export function formatText(ev: XEvent, opts: TextOptions = {}): string {
  return (
    `${clockText(ev.ts, opts.utc)}  ${String(ev.pid).padStart(7)}  ${(ev.comm || '-').padEnd(COMM_LEN - 1)}  ` +
    `${ev.kind.padEnd(14)}  ${eventDetails(ev)}`
  );
}
