/**
 * What only the host can tell now: /proc state of the processes on a chain,
 * and what a process is blocked in right now. A wait in progress has no
 * completed wait record yet (a reader whose writer is stopped never wakes, so
 * no eBPF event will ever say so); /proc does: the pipe or FIFO and who holds
 * its other end, the flock() or POSIX lock and its holder (/proc/locks), the
 * child it waits for, an uninterruptible IO wait and its device. Found waits
 * go into the query's overlay, never into the graph; the holders are walked
 * on like any other wait (their own live waits included), so a holder that is
 * itself stopped or stuck is followed.
 */
import { childrenOf, inspectProcess, offCpuForNs, type LiveProcessState } from '../procfs/inspect';
import { findFdHolders, pipePeers, unixPeerInode } from '../procfs/fd-owners';
import { fdFile, lockHolders } from '../procfs/locks';
import { readProcIdentity } from '../procfs/process';
import { stateName } from '../procfs/parse';
import type { LiveWaitInfo } from '../graph/attributes';
import type { ProcessNode } from '../graph/model';
import type { QueryOverlay } from './overlay';

const STATE_VOCAB: Record<string, string> = {
  running: 'running',
  sleeping: 'sleeping',
  blocked: 'blocked',
  stopped: 'stopped',
  traced: 'stopped',
  zombie: 'exited',
  idle: 'sleeping',
  exited: 'exited',
};

/** fcntl commands that wait for a lock: F_SETLKW (7) and F_OFD_SETLKW (38) */
const F_SETLKW = 7n;
const F_OFD_SETLKW = 38n;
/** holders named per wait */
const MAX_HOLDERS = 3;

export class LiveInspector {
  private states = new Map<number, string>();
  /** the live wait of each process inspected in this query (null: none) */
  private waits = new Map<ProcessNode, LiveWaitInfo | null>();

  constructor(
    private readonly overlay: QueryOverlay,
    /** the name of a block device by major:minor, when known */
    private readonly deviceName: (major: number, minor: number) => string | undefined = () => undefined,
  ) {}

  /** /proc state in the rules' vocabulary, cached for one `why`. */
  state(p: ProcessNode): string | undefined {
    if (p.state === 'exited') return 'exited';
    const cached = this.states.get(p.pid);
    if (cached !== undefined) return cached;
    const live = inspectProcess(p.pid);
    const s = live && Math.abs(Number(live.startNs) - p.startNs) <= 10e6 ? STATE_VOCAB[live.stateName] : undefined;
    this.states.set(p.pid, s ?? '');
    return s;
  }

  /** What `p` is blocked in now, as found by linkLiveWaits (undefined: not inspected, or not blocked in anything we explain). */
  wait(p: ProcessNode): LiveWaitInfo | undefined {
    return this.waits.get(p) ?? undefined;
  }

  /**
   * If `p` is blocked now on a pipe, FIFO, file lock or child, links it in the
   * overlay to the processes that hold the other end, the lock, or are the
   * child (waits_on, source procfs), and records the wait. Returns the processes linked.
   */
  linkLiveWaits(p: ProcessNode): ProcessNode[] {
    if (p.state === 'exited' || this.waits.has(p)) return [];
    this.waits.set(p, null);
    const live = inspectProcess(p.pid);
    if (!live || live.vanished || (p.startNs !== 0 && Math.abs(Number(live.startNs) - p.startNs) > 10e6)) return [];
    this.states.set(p.pid, STATE_VOCAB[live.stateName] ?? '');
    if (live.stateName !== 'sleeping' && live.stateName !== 'blocked') return [];
    const ns = offCpuForNs(p.pid);
    return this.pipe(p, ns) ?? this.unix(p, live, ns) ?? this.lock(p, live, ns) ?? this.child(p, live, ns) ?? this.io(p, live, ns) ?? [];
  }

  private link(p: ProcessNode, pid: number, comm: string, note: string): ProcessNode {
    const id = readProcIdentity(pid);
    const q = this.overlay.process(pid, id ? Number(id.startNs) : 0, id?.comm ?? comm);
    this.overlay.linkWait(p, q, note);
    if (id) this.states.set(q.pid, STATE_VOCAB[stateName(id.state)] ?? '');
    return q;
  }

  private pipe(p: ProcessNode, ns: number | undefined): ProcessNode[] | undefined {
    const peers = pipePeers(p.pid, { budgetMs: 100 });
    if (!peers || peers.peers.length === 0) return undefined;
    const what = peers.fifo ? `FIFO ${peers.fifo}` : `pipe:[${peers.inode}]`;
    const end = peers.role === 'reader' ? 'write' : 'read';
    const verb = peers.role === 'reader' ? 'reading' : 'writing';
    const out = peers.peers
      .slice(0, MAX_HOLDERS)
      .map((peer) =>
        this.link(
          p,
          peer.pid,
          peer.comm,
          `${p.label()} is blocked ${verb} ${what}; ${peer.comm} (${peer.pid}) holds its ${end} end and is ${peer.stateName}`,
        ),
      );
    const names = out.map((q) => q.label()).join(', ');
    const call = peers.role === 'reader' ? 'read()' : 'write()';
    this.waits.set(p, {
      kind: peers.fifo ? 'fifo' : 'pipe',
      on: `${call} on ${what} (fd ${peers.fd}), whose ${end} end ${names} holds`,
      ns,
    });
    return out;
  }

  /** A connected Unix socket: the process holding its peer end (the peer inode from `ss -x`, its holder from /proc/PID/fd). */
  private unix(p: ProcessNode, live: LiveProcessState, ns: number | undefined): ProcessNode[] | undefined {
    const b = live.blockedOn;
    if (b?.kind !== 'socket' || b.inode === undefined) return undefined;
    const peer = unixPeerInode(b.inode);
    if (peer === undefined) return undefined;
    const holders = findFdHolders(`socket:[${peer}]`, { budgetMs: 100, exclude: [p.pid] });
    const out = holders
      .slice(0, MAX_HOLDERS)
      .map((h) =>
        this.link(
          p,
          h.pid,
          h.comm,
          `${p.label()} is blocked in ${b.syscall}() on Unix socket:[${b.inode}]; ${h.comm} (${h.pid}) holds its peer socket:[${peer}]`,
        ),
      );
    if (!out.length) return undefined;
    this.waits.set(p, {
      kind: 'unix_socket',
      on: `${b.syscall}() on Unix socket:[${b.inode}] (fd ${b.fd}), whose peer end ${out.map((q) => q.label()).join(', ')} holds`,
      ns,
    });
    return out;
  }

  private lock(p: ProcessNode, live: LiveProcessState, ns: number | undefined): ProcessNode[] | undefined {
    const sc = live.syscall;
    if (sc === undefined || sc === 'running') return undefined;
    const fd = live.blockedOn?.fd;
    let kinds: string[];
    let call: string;
    if (sc.name === 'flock') {
      kinds = ['FLOCK'];
      call = 'flock()';
    } else if (sc.name === 'fcntl' && (sc.args[1] === F_SETLKW || sc.args[1] === F_OFD_SETLKW)) {
      kinds = ['POSIX', 'OFDLCK'];
      call = sc.args[1] === F_SETLKW ? 'fcntl(F_SETLKW)' : 'fcntl(F_OFD_SETLKW)';
    } else return undefined;
    const file = fd === undefined ? undefined : fdFile(p.pid, fd);
    if (!file) return undefined;
    const path = live.blockedOn?.target ?? `inode ${file.inode}`;
    const holders = lockHolders(file, kinds, p.pid).filter((h) => h.pid > 0);
    const seen = new Set<number>();
    const out: ProcessNode[] = [];
    for (const h of holders) {
      if (seen.has(h.pid) || out.length >= MAX_HOLDERS) continue;
      seen.add(h.pid);
      const id = readProcIdentity(h.pid);
      if (!id) continue;
      out.push(
        this.link(
          p,
          h.pid,
          id.comm,
          `${p.label()} is blocked in ${call} on ${path}; ${id.comm} (${h.pid}) holds a ${h.access} ${h.kind} lock on it and is ${stateName(id.state)}`,
        ),
      );
    }
    const kind = sc.name === 'flock' ? 'flock' : 'posix_lock';
    const by = out.length
      ? `, held by ${out.map((q) => q.label()).join(', ')}`
      : ', held by a process /proc/locks does not name (an OFD lock)';
    this.waits.set(p, { kind, on: `${call} on ${path} (fd ${fd})${by}`, ns });
    return out;
  }

  private child(p: ProcessNode, live: LiveProcessState, ns: number | undefined): ProcessNode[] | undefined {
    const sc = live.syscall;
    if (sc === undefined || sc === 'running' || (sc.name !== 'wait4' && sc.name !== 'waitid')) return undefined;
    // wait4(pid, ...): > 0 that child, else any; waitid(P_PID = 1, id, ...): that child, else any
    const signed = (v: bigint | undefined) => (v === undefined ? 0 : Number(BigInt.asIntN(64, v)));
    const want = sc.name === 'wait4' ? signed(sc.args[0]) : signed(sc.args[0]) === 1 ? signed(sc.args[1]) : -1;
    const kids = childrenOf(p.pid).filter((c) => want <= 0 || c === want);
    if (!kids.length) return undefined;
    const out: ProcessNode[] = [];
    for (const c of kids.slice(0, MAX_HOLDERS)) {
      const id = readProcIdentity(c);
      if (!id) continue;
      out.push(
        this.link(
          p,
          c,
          id.comm,
          `${p.label()} is blocked in ${sc.name}() for its child ${id.comm} (${c}), which is ${stateName(id.state)}`,
        ),
      );
    }
    if (!out.length) return undefined;
    this.waits.set(p, { kind: 'child', on: `${sc.name}() for its child ${out.map((q) => q.label()).join(', ')}`, ns });
    return out;
  }

  /** An uninterruptible wait (D state): IO, named by the device of the file it waits on, else by the kernel function. */
  private io(p: ProcessNode, live: LiveProcessState, ns: number | undefined): ProcessNode[] | undefined {
    if (live.stateName !== 'blocked') return undefined;
    const fd = live.blockedOn?.fd;
    const file = fd === undefined ? undefined : fdFile(p.pid, fd);
    // IO on a block device node waits on that device, not on the devtmpfs the node lives in
    const d = file?.blockDevice ?? file;
    const dev = d ? `${d.major}:${d.minor}` : undefined;
    const name = d ? this.deviceName(d.major, d.minor) : undefined;
    const where = [
      live.blockedOn && `${live.blockedOn.syscall}() on ${live.blockedOn.target ?? `fd ${fd}`}`,
      dev && `device ${dev}${name ? ` (${name})` : ''}`,
      live.wchan && `in ${live.wchan}`,
    ]
      .filter(Boolean)
      .join(', ');
    this.waits.set(p, { kind: 'io', on: `uninterruptible IO wait${where ? `: ${where}` : ''}`, ns });
    return [];
  }
}
