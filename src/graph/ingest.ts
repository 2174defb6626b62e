/**
 * Record batches -> graph updates. One switch per record, reading fields in
 * place from the batch; the only allocations are new nodes/edges/series and
 * strings for names we have not seen before. Every metric or attribute change
 * is noted in the graph's change log (a bit on the node), so the rule matcher
 * re-evaluates just what changed, once per flush rather than once per event.
 */
import type { RecordBatch } from '../events/decoder';
import {
  CLOCK_REASONS_THROTTLE,
  CUDA_FN_NAMES,
  GPU_UUID_LEN,
  GPU_V_MEM,
  GPU_V_POWER,
  GPU_V_TEMP,
  GPU_V_UTIL,
  NCCL_EXIT,
  NCCL_FN_NAMES,
  NCCL_INFLIGHT,
  NVML_EV_DBE,
  NVML_EV_GPU_UNAVAILABLE,
  NVML_EV_SBE,
  NVML_EV_XID,
  F_KTHREAD,
  F_NO_OWNER,
  IO_F_WAITER,
  IO_F_WRITE,
  Kind,
  OFFCPU_BLOCKED,
  OFFCPU_F_WAKER_IRQ,
  OFFCPU_RUNQ,
  OFFCPU_SLEEP,
  OFFSETS as O,
  COMM_LEN,
  FILENAME_LEN,
} from '../events/layout';
import { addrText } from '../events/inet';
import { errnoName, signalName } from '../events/names';
import { fmtKb } from '../events/units-text';
import type { Graph } from './graph';
import type { GraphNode, ProcessNode } from './model';
import { FATAL_BY_DEFAULT, MI, SIGCONT, SIGNAL_STOPS } from './vocabulary';

const TWO32 = 4294967296;
const SI_KERNEL = 0x80;

export interface IngestStats {
  records: number;
  byKind: number[];
  invalid: number;
  unattributed: number;
}

export class GraphIngestor {
  readonly stats: IngestStats = { records: 0, byKind: new Array(16).fill(0), invalid: 0, unattributed: 0 };

  constructor(private readonly g: Graph) {}

  /** One sample of metric `id` on `node`, noted for the rule matcher. */
  private observe(node: GraphNode, id: number, t: number, value: number): void {
    node.observe(id, t, value);
    this.g.noteMetric(node, id);
  }

  ingest(b: RecordBatch): void {
    const n = b.count;
    const byKind = this.stats.byKind;
    let invalid = 0;
    let newest = this.g.nowNs;
    for (let i = 0; i < n; i++) {
      const kind = b.kind(i);
      if (b.version(i) !== 1 || kind === 0 || kind > 15) {
        invalid++;
        continue;
      }
      byKind[kind]!++;
      const t = b.u64Number(i, O['hdr.ts_ns']);
      if (t > newest) newest = t;
      switch (kind) {
        case Kind.TCP_RETRANSMIT:
          this.tcp(b, i, t);
          break;
        case Kind.BLOCK_IO:
          this.io(b, i, t);
          break;
        case Kind.OFFCPU:
          this.offcpu(b, i, t);
          break;
        case Kind.EXEC:
          this.exec(b, i, t);
          break;
        case Kind.FORK:
          this.fork(b, i, t);
          break;
        case Kind.EXIT:
          this.exit(b, i, t);
          break;
        case Kind.SIGNAL:
          this.signal(b, i, t);
          break;
        case Kind.OOM_KILL:
          this.oom(b, i, t);
          break;
        case Kind.GPU_SAMPLE:
          this.gpuSample(b, i, t);
          break;
        case Kind.GPU_PROC_MEM:
          this.gpuProcMem(b, i, t);
          break;
        case Kind.GPU_EVENT:
          this.gpuEvent(b, i, t);
          break;
        case Kind.CUDA_ALLOC:
          this.cudaAlloc(b, i, t);
          break;
        case Kind.NCCL_CALL:
          this.ncclCall(b, i, t);
          break;
        default:
          break; // bench and future kinds carry no graph meaning
      }
    }
    // once per batch: per record, these are loads and stores through `this` that the loop does not need
    this.g.nowNs = newest;
    this.stats.invalid += invalid;
    this.stats.records += n - invalid;
  }

  /** The header's process, described by its first record. */
  private owner(b: RecordBatch, i: number, t: number): ProcessNode {
    const p = this.g.process(b.pid(i), startOf(b, i, O['hdr.start_ns']));
    p.seen(t);
    if (!p.described) this.describe(p, b, i);
    if (b.flags(i) & F_KTHREAD) p.kthread = true;
    return p;
  }

  /** Name and cgroup, decoded once per process (exec() refreshes both: a runtime moves a task into its cgroup before exec). */
  private describe(p: ProcessNode, b: RecordBatch, i: number): void {
    if (p.comm === '') p.comm = b.str(i, O['hdr.comm'], COMM_LEN); // a waker may have been named already
    this.setCgroup(p, b, i);
    p.described = true;
  }

  private setCgroup(p: ProcessNode, b: RecordBatch, i: number): void {
    const cg = b.u64Number(i, O['hdr.cgroup_id']);
    if (cg) p.cgroupId = String(cg);
  }

  private tcp(b: RecordBatch, i: number, t: number): void {
    const segs = b.u32(i, O['tcp.segs']) || b.u32(i, O['tcp.count']);
    const port = b.u16(i, O['tcp.dport']);
    const family = b.u16(i, O['tcp.family']);
    let peer;
    if (family === 2) {
      const key = b.u32(i, O['tcp.daddr']) * 65536 + port;
      peer = this.g.findPeer(key) ?? this.g.peer(key, addrText(2, b.recordBytes(i), O['tcp.daddr']), port);
    } else {
      const addr = addrText(family, b.recordBytes(i), O['tcp.daddr']);
      peer = this.g.peer(`${addr}|${port}`, addr, port);
    }
    peer.seen(t);
    this.observe(peer, MI.tcpRetransmits, t, segs);
    if (b.pid(i) === 0 || b.flags(i) & F_NO_OWNER) {
      this.stats.unattributed++;
      return;
    }
    const p = this.owner(b, i, t);
    this.observe(p, MI.tcpRetransmits, t, segs);
    p.observeEdge('waits_on', peer, 'segments', t, segs);
  }

  private io(b: RecordBatch, i: number, t: number): void {
    const dev = this.g.device(b.u32(i, O['io.dev']));
    dev.seen(t);
    const lat = b.u64Number(i, O['io.latency_ns']);
    const err = b.s32(i, O['io.error']);
    const bytes = b.u32(i, O['io.bytes']);
    const flags = b.u16(i, O['io.flags']);
    const waiter = (flags & IO_F_WAITER) !== 0;
    // The device sees every request once: waiter records repeat a request from the
    // waiting process's side, so they count for the process only.
    if (!waiter) {
      this.observe(dev, MI.ioLatency, t, b.u64Number(i, O['io.device_ns']) || lat);
      this.observe(dev, MI.ioBytes, t, bytes);
    }
    let errNode;
    const errName = err !== 0 ? (errnoName(-err) ?? `errno ${-err}`) : undefined;
    if (err !== 0) {
      dev.lastError = errName;
      errNode = this.g.error(`io:${dev.dev}:${err}`, 'io_error', `${errName} on ${dev.label()}`);
      errNode.seen(t);
      errNode.count++;
      if (!waiter) {
        this.observe(dev, MI.ioErrors, t, 1);
        dev.edgeTo('blocked_by', errNode, 'events').add(t, 1, (flags & IO_F_WRITE) !== 0 ? 'write' : 'read');
      }
    }
    const kthreadIssuer = (b.flags(i) & F_KTHREAD) !== 0 && !waiter;
    if (b.pid(i) === 0 || kthreadIssuer) return; // writeback/throttle workers: the waiter record names the process
    const p = this.owner(b, i, t);
    this.observe(p, MI.ioLatency, t, lat);
    p.observeEdge('waits_on', dev, 'ns', t, lat);
    if (errNode) {
      p.lastIoError = errName;
      this.observe(p, MI.ioErrors, t, 1);
      p.observeEdge('blocked_by', errNode, 'events', t, 1);
    }
  }

  private offcpu(b: RecordBatch, i: number, t: number): void {
    const state = b.u8(i, O['off.state']);
    const dur = b.u64Number(i, O['off.duration_ns']);
    const p = this.owner(b, i, t);
    if (state === OFFCPU_RUNQ) {
      this.observe(p, MI.offcpuRunq, t, dur);
      p.observeEdge('waits_on', this.g.cpu, 'ns', t, dur);
      this.g.cpu.seen(t);
      return;
    }
    this.observe(p, state === OFFCPU_BLOCKED ? MI.offcpuBlocked : MI.offcpuSleep, t, dur);
    const wakerPid = b.u32(i, O['off.waker_pid']);
    if (wakerPid === 0 || wakerPid === p.pid || b.u8(i, O['off.flags']) & OFFCPU_F_WAKER_IRQ) return;
    if (state !== OFFCPU_SLEEP && state !== OFFCPU_BLOCKED) return;
    const w = this.g.process(wakerPid, startOf(b, i, O['off.waker_start_ns']));
    w.seen(t);
    if (!w.described && w.comm === '') w.comm = b.str(i, O['off.waker_comm'], COMM_LEN); // until its own records say
    // "A slept until B woke it": A waited on B for that long
    p.observeEdge('waits_on', w, 'ns', t, dur);
    this.observe(p, MI.waitsOnProcess, t, dur);
  }

  private exec(b: RecordBatch, i: number, t: number): void {
    const p = this.owner(b, i, t);
    p.comm = b.str(i, O['hdr.comm'], COMM_LEN); // exec changes the name
    this.setCgroup(p, b, i);
    p.exe = b.str(i, O['exec.filename'], FILENAME_LEN);
    p.ppid = b.u32(i, O['exec.ppid']);
    p.state = 'running';
    this.g.noteAttr(p);
  }

  private fork(b: RecordBatch, i: number, t: number): void {
    const parent = this.owner(b, i, t);
    const child = this.g.process(b.u32(i, O['fork.child_pid']), startOf(b, i, O['fork.child_start_ns']));
    child.seen(t);
    child.ppid = parent.pid;
    if (child.comm === '') child.comm = parent.comm; // until its exec says otherwise
  }

  private exit(b: RecordBatch, i: number, t: number): void {
    const p = this.owner(b, i, t);
    p.state = 'exited';
    p.exit = {
      code: b.s32(i, O['exit.exit_code']),
      signal: b.u32(i, O['exit.signal']),
      core: b.u8(i, O['exit.core_dumped']) !== 0,
      tNs: t,
    };
    if (p.exit.signal !== 0 && p.exit.signal !== 9 && !p.killedBy) {
      // a fault the process raised itself (SIGSEGV, SIGABRT...): an error entity of its own
      const e = this.g.error(`sig:${p.id}`, 'fatal_signal', `${signalName(p.exit.signal) ?? `signal ${p.exit.signal}`}${p.exit.core ? ' (core dumped)' : ''}`);
      e.seen(t);
      e.count++;
      p.edgeTo('blocked_by', e, 'events').add(t, 1);
    }
    this.g.noteAttr(p);
  }

  private signal(b: RecordBatch, i: number, t: number): void {
    const sig = b.u32(i, O['sig.sig']);
    const sender = this.owner(b, i, t);
    const target = this.g.process(b.u32(i, O['sig.target_pid']), startOf(b, i, O['sig.target_start_ns']));
    target.seen(t);
    if (target.comm === '') target.comm = b.str(i, O['sig.target_comm'], COMM_LEN);
    if (target === sender) return; // faults are signalled by the process itself: the exit says enough
    const culprit = { pid: sender.pid, comm: sender.comm, tNs: t, signal: sig };
    if (SIGNAL_STOPS.has(sig)) {
      target.state = 'stopped';
      target.stoppedBy = culprit;
      target.edgeTo('blocked_by', sender, 'events').add(t, 1, signalName(sig));
    } else if (sig === SIGCONT) {
      if (target.state === 'stopped') target.state = 'running';
      target.stoppedBy = undefined;
    } else if (FATAL_BY_DEFAULT.has(sig) && b.u8(i, O['sig.handled']) === 0 && b.s32(i, O['sig.code']) !== SI_KERNEL) {
      // SI_KERNEL: the kernel itself (e.g. the OOM killer) sent it, not the current task
      target.killedBy = culprit;
      target.edgeTo('blocked_by', sender, 'events').add(t, 1, signalName(sig));
    }
    this.g.noteAttr(target);
  }

  private gpuSample(b: RecordBatch, i: number, t: number): void {
    const g = this.g.gpu(b.u32(i, O['gpu.gpu']));
    g.seen(t);
    if (g.uuid === '') g.uuid = b.str(i, O['gpu.uuid'], GPU_UUID_LEN);
    if (g.name === '') g.name = b.str(i, O['hdr.comm'], COMM_LEN); // the sampler puts the GPU name in comm
    g.lost = undefined; // it answered
    const valid = b.u16(i, O['gpu.valid']);
    if (valid & GPU_V_MEM) {
      g.memUsed = b.u64Number(i, O['gpu.mem_used']);
      g.memTotal = b.u64Number(i, O['gpu.mem_total']);
      if (g.memTotal > 0) {
        this.observe(g, MI.gpuMemUsedFrac, t, g.memUsed / g.memTotal);
      }
    }
    if (valid & GPU_V_UTIL) {
      g.util = b.u8(i, O['gpu.util_gpu']) / 100;
      this.observe(g, MI.gpuUtil, t, g.util);
    }
    if (valid & GPU_V_TEMP) {
      g.tempC = b.u8(i, O['gpu.temp_c']);
      this.observe(g, MI.gpuTemp, t, g.tempC);
    }
    if (valid & GPU_V_POWER) {
      g.powerW = b.u32(i, O['gpu.power_mw']) / 1000;
      this.observe(g, MI.gpuPowerW, t, g.powerW);
    }
    g.clockReasons = b.u64Number(i, O['gpu.clock_reasons']);
    this.observe(g, MI.gpuThrottle, t, g.clockReasons & CLOCK_REASONS_THROTTLE ? 1 : 0);
    for (const [pid, m] of g.procMem) if (t - m.tNs > 10e9) g.procMem.delete(pid); // it let go of the GPU
    this.g.noteAttr(g);
  }

  private gpuProcMem(b: RecordBatch, i: number, t: number): void {
    if (b.pid(i) === 0) return;
    const g = this.g.gpu(b.u32(i, O['gmem.gpu']));
    g.seen(t);
    const bytes = b.u64Number(i, O['gmem.used_bytes']);
    const p = this.owner(b, i, t);
    g.procMem.set(p.pid, { bytes, tNs: t, proc: p });
    // "the process holds this much of the GPU": consumes, with the bytes as evidence
    p.observeEdge('consumes', g, 'bytes', t, bytes);
    this.observe(p, MI.gpuMemUsed, t, bytes);
    this.g.noteAttr(g);
  }

  private gpuEvent(b: RecordBatch, i: number, t: number): void {
    const idx = b.u32(i, O['gev.gpu']);
    if (idx === 0xffffffff) return;
    const g = this.g.gpu(idx);
    g.seen(t);
    if (g.name === '') g.name = b.str(i, O['hdr.comm'], COMM_LEN);
    const type = b.u64Number(i, O['gev.event_type']);
    const data = b.u64Number(i, O['gev.event_data']);
    if (type & NVML_EV_XID) {
      g.lastXid = { xid: data, tNs: t };
      const e = this.g.error(`xid:${idx}:${data}`, 'gpu_xid', `Xid ${data} on GPU ${idx}`);
      e.seen(t);
      e.count++;
      g.edgeTo('blocked_by', e, 'events').add(t, 1, `Xid ${data}`);
      this.observe(g, MI.gpuXid, t, data);
    }
    if (type & (NVML_EV_SBE | NVML_EV_DBE)) {
      this.observe(g, MI.gpuEccErrors, t, 1);
    }
    if (type & NVML_EV_GPU_UNAVAILABLE) {
      const status = b.s32(i, O['gev.nvml_status']);
      g.lost = { status, tNs: t };
      const e = this.g.error(`gpulost:${idx}`, 'gpu_lost', `GPU ${idx} unavailable${status ? ` (NVML status ${status})` : ''}`);
      e.seen(t);
      e.count++;
      g.edgeTo('blocked_by', e, 'events').add(t, 1);
    }
    this.g.noteAttr(g);
  }

  private cudaAlloc(b: RecordBatch, i: number, t: number): void {
    const result = b.s32(i, O['cuda.result']);
    if (result === 0) return;
    const p = this.owner(b, i, t);
    const fn = b.u32(i, O['cuda.fn']);
    p.cudaFailure = { fn: CUDA_FN_NAMES[fn] ?? `fn ${fn}`, size: b.u64Number(i, O['cuda.size']), result, tNs: t };
    this.observe(p, MI.cudaAllocFailures, t, 1);
    this.g.noteAttr(p);
  }

  private ncclCall(b: RecordBatch, i: number, t: number): void {
    const phase = b.u8(i, O['nccl.phase']);
    if (phase !== NCCL_EXIT && phase !== NCCL_INFLIGHT) return;
    const p = this.owner(b, i, t);
    const ns = b.u64Number(i, O['nccl.duration_ns']);
    const fn = b.u32(i, O['nccl.fn']);
    if (phase === NCCL_INFLIGHT) {
      p.ncclInflight = { fn: NCCL_FN_NAMES[fn] ?? `fn ${fn}`, ns, tNs: t };
      this.observe(p, MI.ncclInflight, t, ns);
      this.g.noteAttr(p);
    } else {
      this.observe(p, MI.ncclDuration, t, ns);
    }
  }

  private oom(b: RecordBatch, i: number, t: number): void {
    const victim = this.owner(b, i, t);
    victim.oom = {
      anonRssKb: b.u64Number(i, O['oom.anon_rss_kb']),
      totalVmKb: b.u64Number(i, O['oom.total_vm_kb']),
      triggerPid: b.u32(i, O['oom.trigger_pid']),
      triggerComm: b.str(i, O['oom.trigger_comm'], COMM_LEN),
      tNs: t,
    };
    const scope = victim.cgroupId ? `cgroup ${victim.cgroupId}` : 'host';
    const e = this.g.error(`oom:${victim.id}`, 'oom_kill', `OOM kill (${scope}), rss ${fmtKb(victim.oom.anonRssKb)}`);
    e.seen(t);
    e.count++;
    victim.edgeTo('blocked_by', e, 'events').add(t, victim.oom.anonRssKb * 1024);
    this.g.noteAttr(victim);
  }
}

/** A u64 start time as a double (exact below 2^53 ns ≈ 104 days of uptime, ns-rounded beyond). */
function startOf(b: RecordBatch, i: number, off: number): number {
  return b.u32(i, off) + b.u32(i, off + 4) * TWO32;
}
