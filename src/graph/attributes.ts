/**
 * The attributes each entity type offers the rules: name, type, what it is,
 * and the getter that reads it from the graph. GraphContext.attr() dispatches
 * through these tables, the rule loader rejects names not in them, and
 * rules/README.md's attribute table is generated from them.
 */
import { signalName } from '../events/names';
import { formatBytes } from '../events/units-text';
import type { CgroupNode, CpuNode, DeviceNode, GpuNode, GraphNode, PeerNode, ProcessNode, SyscallErrorEntry } from './model';
import type { EntityType } from './vocabulary';
import { xidInfo } from './xid-catalog';

export type AttrValue = string | number | boolean | undefined;

/** What a getter may ask beyond its node: live host state and other entities, for a given asking process. */
export interface AttrSource {
  /** current /proc state of a process, when the agent runs live */
  liveProcessState(p: ProcessNode): string | undefined;
  /** every GPU of the host */
  gpus(): Iterable<GpuNode>;
  /** the other process holding the most memory on `g` in the latest samples */
  coTenant(g: GpuNode, forPid: number): { bytes: number; proc: ProcessNode } | undefined;
  /** who takes the CPUs from `forPid`, busiest first */
  competitors(forPid: number): { pid: number; comm: string; text: string }[];
  /** what a live process is blocked in right now (a `why` query's /proc inspection), when it is */
  liveWait(p: ProcessNode): LiveWaitInfo | undefined;
  /** live: the TCP send the process is held up in by its peer now, if any */
  liveTcpSend?(p: ProcessNode): TcpSendView | undefined;
}

/** A sender held up by its TCP peer, as the rules see it (live /proc only). */
export interface TcpSendView {
  peer: string;
  queued: number;
  zeroWindow: boolean;
  blockedIn?: string;
  peerUnread?: number;
  lost: number;
}

/** A wait in progress, seen in /proc: it has no completed wait record yet. */
export interface LiveWaitInfo {
  /** flock, posix_lock, pipe, fifo, child, io */
  kind: string;
  /** e.g. `flock() on /tmp/x.lock (fd 3), held by flock (4242)` */
  on: string;
  /** how long it has been off the CPU, ns (from /proc/PID/sched), when known */
  ns?: number;
}

export interface AttrDef<N extends GraphNode = GraphNode> {
  name: string;
  type: 'string' | 'number' | 'boolean';
  doc: string;
  /** `forPid`: the process that reads the entity as a neighbour (0 when bound to it directly) */
  get(n: N, src: AttrSource, forPid: number): AttrValue;
}

/** Names of the clock event reason bits (nvmlClocksEventReason*) that slow a GPU down. */
const CLOCK_REASON_NAMES: readonly [number, string][] = [
  [0x40, 'HW thermal slowdown'],
  [0x20, 'SW thermal slowdown'],
  [0x80, 'HW power brake'],
  [0x8, 'HW slowdown'],
  [0x4, 'SW power cap'],
];

/** An attribute of a live process's wait in progress (none for an exited one, nor offline). */
function liveWaitAttr(name: string, type: 'string' | 'number', doc: string, pick: (w: LiveWaitInfo) => AttrValue): AttrDef<ProcessNode> {
  return {
    name,
    type,
    doc: `live: ${doc}`,
    get: (p, src) => {
      const w = p.state === 'exited' ? undefined : src.liveWait(p);
      return w && pick(w);
    },
  };
}

/**
 * Errnos that can explain a failure (a full or read-only filesystem, an IO error,
 * no fds or memory left, a peer that refuses or does not answer), and EAGAIN of
 * clone (no processes left). ENOENT, EAGAIN of IO and the like are the normal
 * business of programs (library and import searches): counted, never a cause.
 */
const CAUSE_ERRNOS = new Set([
  'ENOSPC',
  'EDQUOT',
  'EIO',
  'EROFS',
  'EMFILE',
  'ENFILE',
  'ENOMEM',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Whether a failed syscall (errno name, syscall name) can explain a failure (see CAUSE_ERRNOS). */
export function isCauseError(errno: string, syscall: string): boolean {
  return CAUSE_ERRNOS.has(errno) || (errno === 'EAGAIN' && (syscall === 'clone' || syscall === 'clone3'));
}

/** The process's newest failed syscall whose errno can explain a failure. */
export function causeSyscallError(p: ProcessNode): SyscallErrorEntry | undefined {
  let best: SyscallErrorEntry | undefined;
  for (const e of p.syscallErrors ?? []) if (isCauseError(e.errno, e.name) && (!best || e.lastNs >= best.lastNs)) best = e;
  return best;
}

/** `37 write() calls failed with ENOSPC on fd 5 (/ckpt/x), tmpfs on /ckpt` */
export function syscallErrorSummary(e: SyscallErrorEntry): string {
  const calls = e.total === 1 ? `1 ${e.name}() call` : `${e.total} ${e.name}() calls`;
  const where = e.peer ? ` to ${e.peer}` : e.target ? ` on ${e.target}` : '';
  const fs = e.fs && !e.peer ? `, ${e.fs}` : '';
  return `${calls} failed with ${e.errno}${where}${fs}`;
}

const PROCESS: AttrDef<ProcessNode>[] = [
  { name: 'pid', type: 'number', doc: 'process id', get: (p) => p.pid },
  { name: 'comm', type: 'string', doc: 'command name', get: (p) => p.comm || undefined },
  { name: 'exe', type: 'string', doc: 'executable path', get: (p) => p.exe },
  { name: 'cgroup', type: 'string', doc: 'cgroup id', get: (p) => p.cgroupId || undefined },
  {
    name: 'state',
    type: 'string',
    doc: '`running`, `sleeping`, `blocked`, `stopped`, `exited` (live: /proc, replay: the events)',
    get: (p, src) => (p.state === 'exited' ? 'exited' : src.liveProcessState(p) || p.state),
  },
  { name: 'exit.code', type: 'number', doc: 'exit code', get: (p) => p.exit?.code },
  { name: 'exit.signal', type: 'number', doc: 'the signal it died of (0: none)', get: (p) => (p.exit ? p.exit.signal : undefined) },
  { name: 'exit.signal_name', type: 'string', doc: 'e.g. `SIGSEGV`', get: (p) => (p.exit?.signal ? signalName(p.exit.signal) : undefined) },
  { name: 'exit.core_dumped', type: 'boolean', doc: 'whether it dumped core', get: (p) => p.exit?.core },
  { name: 'io.last_error', type: 'string', doc: 'errno name of the newest failed I/O it waited for', get: (p) => p.lastIoError },
  { name: 'oom_killed', type: 'boolean', doc: 'whether the OOM killer killed it', get: (p) => p.oom !== undefined },
  { name: 'oom.anon_rss_kb', type: 'number', doc: 'anonymous RSS when OOM-killed, KiB', get: (p) => p.oom?.anonRssKb },
  { name: 'stopped_by.pid', type: 'number', doc: 'who stopped it (SIGSTOP, SIGTSTP, ...)', get: (p) => p.stoppedBy?.pid },
  { name: 'stopped_by.comm', type: 'string', doc: 'who stopped it', get: (p) => p.stoppedBy?.comm },
  { name: 'killed_by.pid', type: 'number', doc: 'who sent it a fatal signal', get: (p) => p.killedBy?.pid },
  { name: 'killed_by.comm', type: 'string', doc: 'who sent it a fatal signal', get: (p) => p.killedBy?.comm },
  {
    name: 'killed_by.signal_name',
    type: 'string',
    doc: 'the fatal signal sent',
    get: (p) => (p.killedBy?.signal ? signalName(p.killedBy.signal) : undefined),
  },
  liveWaitAttr(
    'wait.kind',
    'string',
    'what it is blocked in right now: `flock`, `posix_lock`, `pipe`, `fifo`, `unix_socket`, `child`, `io`',
    (w) => w.kind,
  ),
  liveWaitAttr(
    'wait.on',
    'string',
    'that wait in words, with who holds the other end, e.g. `flock() on /tmp/x (fd 3), held by flock (4242)`',
    (w) => w.on,
  ),
  liveWaitAttr('wait.ns', 'number', 'how long it has been off the CPU in that wait, ns', (w) => w.ns),
  { name: 'cuda.last_fn', type: 'string', doc: 'function of the newest failed CUDA allocation', get: (p) => p.cudaFailure?.fn },
  { name: 'cuda.last_size', type: 'number', doc: 'bytes of the newest failed CUDA allocation', get: (p) => p.cudaFailure?.size },
  { name: 'cuda.last_error', type: 'number', doc: 'result of the newest failed CUDA allocation', get: (p) => p.cudaFailure?.result },
  {
    name: 'syscall.errno',
    type: 'string',
    doc: 'errno name of its newest failed syscall that can explain a failure (ENOSPC, EDQUOT, EIO, EROFS, EMFILE, ENFILE, ENOMEM, ECONNREFUSED, ETIMEDOUT, ECONNRESET, EHOSTUNREACH, ENETUNREACH; EAGAIN of clone)',
    get: (p) => causeSyscallError(p)?.errno,
  },
  { name: 'syscall.name', type: 'string', doc: 'that syscall, e.g. `write`', get: (p) => causeSyscallError(p)?.name },
  { name: 'syscall.count', type: 'number', doc: 'how many calls failed so with that errno', get: (p) => causeSyscallError(p)?.total },
  {
    name: 'syscall.target',
    type: 'string',
    doc: 'what the first of them named: a path, `fd 5 (/ckpt/x)`, a peer',
    get: (p) => causeSyscallError(p)?.target || undefined,
  },
  {
    name: 'syscall.fs',
    type: 'string',
    doc: 'the filesystem of its path or file, e.g. `tmpfs on /ckpt`',
    get: (p) => causeSyscallError(p)?.fs || undefined,
  },
  {
    name: 'syscall.mount',
    type: 'string',
    doc: 'the mount point of that filesystem, e.g. `/ckpt`',
    get: (p) => causeSyscallError(p)?.mount || undefined,
  },
  {
    name: 'syscall.peer',
    type: 'string',
    doc: 'the peer of a failed connect, e.g. `10.0.0.7:29500`',
    get: (p) => causeSyscallError(p)?.peer || undefined,
  },
  {
    name: 'syscall.summary',
    type: 'string',
    doc: 'e.g. `37 write() calls failed with ENOSPC on fd 5 (/ckpt/x), tmpfs on /ckpt`',
    get: (p) => {
      const e = causeSyscallError(p);
      return e ? syscallErrorSummary(e) : undefined;
    },
  },
  { name: 'nccl.fn', type: 'string', doc: 'the newest NCCL collective reported in flight', get: (p) => p.ncclInflight?.fn },
  { name: 'nccl.inflight_ns', type: 'number', doc: 'how long it has been in flight, ns', get: (p) => p.ncclInflight?.ns },
  // identity (live: resolved off the hot path shortly after the first record; unset until then and in replays)
  {
    name: 'pod.namespace',
    type: 'string',
    doc: "Kubernetes namespace of its pod (the runtime's files)",
    get: (p) => p.identity?.pod?.namespace,
  },
  { name: 'pod.name', type: 'string', doc: "its pod's name (the runtime's files)", get: (p) => p.identity?.pod?.name },
  { name: 'pod.uid', type: 'string', doc: "its pod's uid (the cgroup path)", get: (p) => p.identity?.pod?.uid },
  { name: 'pod.qos', type: 'string', doc: '`guaranteed`, `burstable`, `besteffort` (the cgroup path)', get: (p) => p.identity?.pod?.qos },
  { name: 'container.name', type: 'string', doc: "container name (the runtime's files)", get: (p) => p.identity?.container?.name },
  { name: 'container.id', type: 'string', doc: 'container id (the cgroup path)', get: (p) => p.identity?.container?.id },
  { name: 'slurm.job', type: 'string', doc: 'Slurm job id (cgroup path or SLURM_JOB_ID)', get: (p) => p.identity?.slurm?.job },
  { name: 'job', type: 'string', doc: 'training job id of its rank (see identity.job_vars)', get: (p) => p.identity?.rank?.job },
  {
    name: 'rank',
    type: 'number',
    doc: 'training rank (RANK, OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID)',
    get: (p) => p.identity?.rank?.rank,
  },
  // live only (/proc/<pid>/net/tcp at query time): held up sending by its TCP peer
  {
    name: 'tcp_send.peer',
    type: 'string',
    doc: 'live: the peer (address:port) of a socket it is blocked sending on (full send buffer or zero window, nothing retransmitted)',
    get: (p, src) => src.liveTcpSend?.(p)?.peer,
  },
  {
    name: 'tcp_send.queued',
    type: 'number',
    doc: 'live: bytes queued on that socket and not acknowledged',
    get: (p, src) => src.liveTcpSend?.(p)?.queued,
  },
  {
    name: 'tcp_send.zero_window',
    type: 'boolean',
    doc: 'live: the peer advertises a zero window (the zero-window probe timer runs)',
    get: (p, src) => src.liveTcpSend?.(p)?.zeroWindow,
  },
  {
    name: 'tcp_send.blocked_in',
    type: 'string',
    doc: 'live: the send call a thread sleeps in on it, e.g. `write`',
    get: (p, src) => src.liveTcpSend?.(p)?.blockedIn,
  },
  {
    name: 'tcp_send.peer_unread',
    type: 'number',
    doc: "live: bytes the peer's socket has received and not read (peer on this host only)",
    get: (p, src) => src.liveTcpSend?.(p)?.peerUnread,
  },
  {
    name: 'tcp_send.lost',
    type: 'number',
    doc: 'live: unrecovered retransmits on that socket (0 when nothing is lost)',
    get: (p, src) => src.liveTcpSend?.(p)?.lost,
  },
];

const PEER: AttrDef<PeerNode>[] = [
  { name: 'addr', type: 'string', doc: 'remote address', get: (n) => n.addr },
  { name: 'port', type: 'number', doc: 'remote port', get: (n) => n.port },
  { name: 'endpoint', type: 'string', doc: 'e.g. `10.0.0.2:5001`', get: (n) => n.endpoint },
];

const DEVICE: AttrDef<DeviceNode>[] = [
  { name: 'dev', type: 'string', doc: 'major:minor, e.g. `7:0`', get: (n) => n.dev },
  { name: 'name', type: 'string', doc: 'e.g. `loop0`', get: (n) => n.name || undefined },
  { name: 'last_error', type: 'string', doc: 'errno name of the newest failed I/O', get: (n) => n.lastError },
];

const CPU: AttrDef<CpuNode>[] = [
  {
    name: 'competitors',
    type: 'string',
    doc: 'e.g. `cpu-hog (4242) 98 %, ...` (live: the busiest processes; replay: the other CPU waiters)',
    get: (_n, src, pid) => topText(src.competitors(pid)),
  },
  { name: 'top.pid', type: 'number', doc: 'the top competitor', get: (_n, src, pid) => src.competitors(pid)[0]?.pid },
  { name: 'top.comm', type: 'string', doc: 'the top competitor', get: (_n, src, pid) => src.competitors(pid)[0]?.comm },
];

function topText(rivals: { text: string }[]): string | undefined {
  return rivals.length
    ? rivals
        .slice(0, 3)
        .map((r) => r.text)
        .join(', ')
    : undefined;
}

const quotaShare = (c: CgroupNode) => (c.cpuQuotaNs !== undefined && c.cpuPeriodNs ? c.cpuQuotaNs / c.cpuPeriodNs : undefined);

const CGROUP: AttrDef<CgroupNode>[] = [
  { name: 'path', type: 'string', doc: 'its path in the cpu (else memory) hierarchy, e.g. `/kubepods/pod1/abc`', get: (c) => c.path },
  { name: 'cpu.quota', type: 'number', doc: 'CPU quota per period, ns (absent: no quota)', get: (c) => c.cpuQuotaNs },
  { name: 'cpu.period', type: 'number', doc: 'CPU quota period, ns', get: (c) => c.cpuPeriodNs },
  { name: 'cpu.limit', type: 'number', doc: 'quota / period (0.2 = 20 % of one CPU)', get: quotaShare },
  { name: 'memory.limit', type: 'number', doc: 'memory limit, bytes (absent: none)', get: (c) => c.memLimit },
  { name: 'memory.usage', type: 'number', doc: 'memory charged to it, bytes', get: (c) => c.memUsage },
  { name: 'memory.top', type: 'string', doc: 'its biggest memory users, e.g. `memhog (4242) 60.0 MiB, ...`', get: (c) => c.memTop },
  {
    name: 'pressure.source',
    type: 'string',
    doc: 'whose PSI: `cgroup` (its own) or `host` (/proc/pressure)',
    get: (c) => c.pressureSource,
  },
];

const NOT_IN_CATALOG = 'not in the Xid catalog (rules/xid-catalog.yaml)';

const GPU: AttrDef<GpuNode>[] = [
  { name: 'index', type: 'number', doc: 'NVML index', get: (g) => g.index },
  { name: 'uuid', type: 'string', doc: 'e.g. `GPU-fa4e0001` (first 8 hex digits)', get: (g) => (g.uuid ? `GPU-${g.uuid}` : undefined) },
  { name: 'name', type: 'string', doc: 'product name', get: (g) => g.name || undefined },
  { name: 'mem_used', type: 'number', doc: 'bytes', get: (g) => g.memUsed },
  { name: 'mem_total', type: 'number', doc: 'bytes', get: (g) => g.memTotal || undefined },
  { name: 'temp', type: 'number', doc: 'degrees C', get: (g) => g.tempC },
  { name: 'power_w', type: 'number', doc: 'W', get: (g) => g.powerW },
  { name: 'lost', type: 'boolean', doc: 'NVML says GPU_IS_LOST / reset required', get: (g) => g.lost !== undefined },
  {
    name: 'throttle_reasons',
    type: 'string',
    doc: 'e.g. `HW thermal slowdown, ...`',
    get: (g) => {
      const names = CLOCK_REASON_NAMES.filter(([bit]) => g.clockReasons & bit).map(([, n]) => n);
      return names.length ? names.join(', ') : undefined;
    },
  },
  {
    name: 'others',
    type: 'string',
    doc: 'the other GPUs of the host with temperature, power and throttling, for comparison',
    get: (g, src) => {
      const rest = [...src.gpus()].filter((o) => o !== g);
      if (!rest.length) return undefined;
      return rest
        .map(
          (o) =>
            `GPU ${o.index} ${o.tempC} C ${o.powerW.toFixed(0)} W ${CLOCK_REASON_NAMES.some(([bit]) => o.clockReasons & bit) ? 'also throttled' : 'not throttled'}`,
        )
        .join(', ');
    },
  },
  { name: 'xid', type: 'number', doc: 'the newest Xid', get: (g) => g.lastXid?.xid },
  {
    name: 'xid.meaning',
    type: 'string',
    doc: 'from `xid-catalog.yaml`',
    get: (g) => (g.lastXid ? (xidInfo(g.lastXid.xid)?.meaning ?? NOT_IN_CATALOG) : undefined),
  },
  {
    name: 'xid.action',
    type: 'string',
    doc: 'from `xid-catalog.yaml`',
    get: (g) => (g.lastXid ? (xidInfo(g.lastXid.xid)?.action ?? "look the Xid up in NVIDIA's Xid catalog") : undefined),
  },
  {
    name: 'xid.app_error',
    type: 'boolean',
    doc: 'from `xid-catalog.yaml`',
    get: (g) => (g.lastXid ? (xidInfo(g.lastXid.xid)?.app_error ?? false) : undefined),
  },
  {
    name: 'co_tenant',
    type: 'string',
    doc: 'e.g. `python (4242) holds 72.0 GiB (90 % of the GPU)`: the *other* process with the most memory on it, relative to the process asking',
    get: (g, src, pid) => {
      const top = src.coTenant(g, pid);
      if (!top) return undefined;
      const frac = g.memTotal ? ` (${Math.round((top.bytes / g.memTotal) * 100)} % of the GPU)` : '';
      return `${top.proc.label()} holds ${formatBytes(top.bytes)}${frac}`;
    },
  },
  { name: 'co_tenant.pid', type: 'number', doc: 'see co_tenant', get: (g, src, pid) => src.coTenant(g, pid)?.proc.pid },
  { name: 'co_tenant.comm', type: 'string', doc: 'see co_tenant', get: (g, src, pid) => src.coTenant(g, pid)?.proc.comm || undefined },
  { name: 'co_tenant.bytes', type: 'number', doc: 'see co_tenant', get: (g, src, pid) => src.coTenant(g, pid)?.bytes },
];

/** The attribute tables, by entity type (error entities have none). */
export const ATTRIBUTES: { readonly [T in EntityType]: readonly AttrDef[] } = {
  process: PROCESS as AttrDef[],
  peer: PEER as AttrDef[],
  device: DEVICE as AttrDef[],
  cgroup: CGROUP as AttrDef[],
  cpu: CPU as AttrDef[],
  error: [],
  gpu: GPU as AttrDef[],
};

/**
 * name -> the attributes of that name (most names belong to one entity type):
 * one hash lookup per read, no string built (a rule evaluation reads attributes by name).
 */
const BY_NAME = new Map<string, { type: EntityType; def: AttrDef }[]>();
for (const [type, defs] of Object.entries(ATTRIBUTES) as [EntityType, readonly AttrDef[]][])
  for (const def of defs) {
    const list = BY_NAME.get(def.name);
    if (list) list.push({ type, def });
    else BY_NAME.set(def.name, [{ type, def }]);
  }

/** The attribute `name` of entity type `type`; undefined when the type has no such attribute. */
export function attributeOf(type: EntityType, name: string): AttrDef | undefined {
  const list = BY_NAME.get(name);
  if (list === undefined) return undefined;
  for (let i = 0; i < list.length; i++) if (list[i]!.type === type) return list[i]!.def;
  return undefined;
}

export function attributeNames(type: EntityType): string[] {
  return ATTRIBUTES[type].map((d) => d.name);
}
