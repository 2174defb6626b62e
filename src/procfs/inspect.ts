/**
 * A process's CURRENT state from /proc: what it is doing right now, not what
 * eBPF saw it do. This is what explains an ongoing wait that never produced
 * an event (a reader blocked on a pipe whose writer is stopped is never woken,
 * so no off-CPU interval ever ends and nothing is reported).
 *
 * Everything is best-effort: the process may exit between two reads, and we
 * return whatever was read before that (with `vanished: true`), never throw.
 */
import { readDir, readLink, readText } from './read';
import { readProcIdentity, splitStat } from './process';
import {
  classifyFdTarget,
  parseCgroups,
  parseCmdline,
  parseSigMask,
  parseStatus,
  parseSyscall,
  parseWchan,
  stateName,
  type CgroupEntry,
  type FdKind,
  type ProcStateName,
  type SyscallState,
} from './parse';
import { FD_FIRST_ARG } from './syscalls';

export { hasHandler, stateName, type CgroupEntry, type FdKind, type ProcStateName, type SyscallState } from './parse';

/** The fd a thread is sleeping on, when its syscall takes the fd as first argument. */
export interface BlockedOn {
  fd: number;
  /** the syscall it waits in (read, recvfrom, epoll_wait, ...) */
  syscall: string;
  /** readlink of /proc/<pid>/fd/<fd>; undefined if the fd was closed meanwhile */
  target?: string;
  kind: FdKind;
  /** for pipe:[N] / socket:[N] */
  inode?: number;
}

export interface LiveProcessState {
  pid: number;
  /** thread-group id; differs from pid only when pid names a non-leader thread */
  tgid?: number;
  ppid: number;
  comm: string;
  exe?: string;
  cmdline: string[];
  startNs: bigint;
  /** the /proc stat letter (R S D T t Z I ...) */
  state: string;
  stateName: ProcStateName;
  /** kernel function the main thread sleeps in, e.g. "pipe_read" */
  wchan?: string;
  syscall?: SyscallState | 'running';
  blockedOn?: BlockedOn;
  /** thread count */
  threads?: number;
  /** SigCgt: bit (sig-1) set when a handler is installed; see hasHandler() */
  sigCaught?: bigint;
  cgroups: CgroupEntry[];
  /** Cpus_allowed_list, e.g. "0-3,8" */
  cpusAllowed?: string;
  voluntaryCtxtSwitches?: number;
  nonvoluntaryCtxtSwitches?: number;
  /** the process exited (or its pid was reused) before inspection finished: later fields may be missing */
  vanished: boolean;
}

export interface ThreadState {
  tid: number;
  comm: string;
  state: string;
  stateName: ProcStateName;
  wchan?: string;
  syscall?: SyscallState | 'running';
  blockedOn?: BlockedOn;
}

/** wchan + syscall + blocked-on fd of one task, from its /proc dir (/proc/<pid> or /proc/<pid>/task/<tid>). */
function readTaskWait(dir: string): Pick<ThreadState, 'wchan' | 'syscall' | 'blockedOn'> {
  const wchan = parseWchan(readText(`${dir}/wchan`));
  const syscall = parseSyscall(readText(`${dir}/syscall`));
  return { wchan, syscall, blockedOn: blockedOnFd(dir, syscall) };
}

function blockedOnFd(dir: string, sc: SyscallState | 'running' | undefined): BlockedOn | undefined {
  if (sc === undefined || sc === 'running' || !FD_FIRST_ARG.has(sc.name)) return undefined;
  const arg0 = sc.args[0];
  // fds are ints: a huge arg0 (AT_FDCWD-like negatives, pointers) is not an fd
  if (arg0 === undefined || arg0 > 0x7fffffffn) return undefined;
  const fd = Number(arg0);
  const target = readLink(`${dir}/fd/${fd}`);
  if (target === undefined) return { fd, syscall: sc.name, kind: 'other' };
  return { fd, syscall: sc.name, target, ...classifyFdTarget(target) };
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** Current state of `pid`, or null if there is no such process. */
export function inspectProcess(pid: number): LiveProcessState | null {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`inspectProcess: bad pid ${pid}`);
  const id = readProcIdentity(pid);
  if (!id) return null;
  const dir = `/proc/${pid}`;
  const status = parseStatus(readText(`${dir}/status`) ?? '');
  const out: LiveProcessState = {
    pid,
    tgid: num(status.get('Tgid')),
    ppid: id.ppid,
    comm: id.comm,
    exe: readLink(`${dir}/exe`),
    cmdline: parseCmdline(readText(`${dir}/cmdline`)),
    startNs: id.startNs,
    state: id.state,
    stateName: stateName(id.state),
    ...readTaskWait(dir),
    threads: num(status.get('Threads')),
    sigCaught: parseSigMask(status.get('SigCgt')),
    cgroups: parseCgroups(readText(`${dir}/cgroup`)),
    cpusAllowed: status.get('Cpus_allowed_list'),
    voluntaryCtxtSwitches: num(status.get('voluntary_ctxt_switches')),
    nonvoluntaryCtxtSwitches: num(status.get('nonvoluntary_ctxt_switches')),
    vanished: false,
  };
  // Same start time at the end => every read above was of this one process.
  const after = readProcIdentity(pid);
  out.vanished = !after || after.startNs !== id.startNs;
  return out;
}

/**
 * Per-thread state for the first `limit` threads (by tid): a multi-threaded
 * process often blocks in a worker thread while main sits in a futex/epoll.
 * [] if the process does not exist.
 */
export function inspectThreads(pid: number, limit = 64): ThreadState[] {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`inspectThreads: bad pid ${pid}`);
  const tids = readDir(`/proc/${pid}/task`)
    .map(Number)
    .filter((t) => Number.isInteger(t) && t > 0)
    .sort((a, b) => a - b)
    .slice(0, Math.max(0, limit));
  const out: ThreadState[] = [];
  for (const tid of tids) {
    const dir = `/proc/${pid}/task/${tid}`;
    const stat = splitStat(readText(`${dir}/stat`) ?? '');
    if (!stat) continue; // thread exited
    const state = stat.fields[0] ?? '?';
    out.push({ tid, comm: stat.comm, state, stateName: stateName(state), ...readTaskWait(dir) });
  }
  return out;
}

/**
 * How long the main thread of `pid` has been off the CPU, ns: the monotonic
 * clock now less `se.exec_start` in /proc/PID/sched (when it last started
 * running; the scheduler's clock, which follows CLOCK_MONOTONIC). Undefined
 * without CONFIG_SCHED_DEBUG, or when it is running.
 */
export function offCpuForNs(pid: number): number | undefined {
  const text = readText(`/proc/${pid}/sched`);
  const m = text ? /^se\.exec_start\s*:\s*([\d.]+)/m.exec(text) : null;
  if (!m) return undefined;
  const startMs = Number(m[1]);
  const nowMs = Number(process.hrtime.bigint()) / 1e6;
  return Number.isFinite(startMs) && nowMs > startMs ? (nowMs - startMs) * 1e6 : undefined;
}

/** The children of `pid` (its main thread's; /proc/PID/task/PID/children), [] when unknown. */
export function childrenOf(pid: number): number[] {
  return (readText(`/proc/${pid}/task/${pid}/children`) ?? '')
    .split(' ')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}
