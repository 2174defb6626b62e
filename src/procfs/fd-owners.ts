/**
 * Who holds an open file: one pass over /proc/<pid>/fd links. This turns
 * "A is blocked reading pipe 1234" into "A waits on B: B holds the write end
 * of pipe 1234 and is stopped", and finds the owner of a socket inode.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { listPids, readDir, readLink, readText } from './read';
import { readProcIdentity } from './process';
import { fdinfoMode, stateName, type FdMode, type ProcStateName } from './parse';
import { inspectProcess } from './inspect';
import { READS_FROM_FD } from './syscalls';
import { fdFile } from './locks';

export interface FdHolder {
  pid: number;
  comm: string;
  fd: number;
  mode: FdMode;
}

/** The holders found, plus whether the scan stopped early at its time budget (then the list may be incomplete). */
export type FdHolderList = FdHolder[] & { truncated: boolean };

export interface FdScanOptions {
  /** pids not to report (e.g. the blocked process itself) */
  exclude?: number[];
  /** stop scanning after this long and set `truncated` (default 200 ms): a host may have 100k fds */
  budgetMs?: number;
  /** report our own fds too (default false: the agent is not a suspect, and its fd table churns while we scan it) */
  includeSelf?: boolean;
}

const NO_PIDS: ReadonlySet<number> = new Set();

/**
 * Visits every fd link of every process, in pid order: `visit(pid, fd, link)`,
 * which returns false to skip the rest of that process's fds. Stops before the
 * next process once `deadline` (performance.now() ms) has passed and returns
 * true then (the pass is incomplete).
 */
export function scanFdLinks(
  visit: (pid: number, fd: string, link: string) => unknown,
  skip: ReadonlySet<number> = NO_PIDS,
  deadline = Infinity,
): boolean {
  for (const pid of listPids()) {
    if (skip.has(pid)) continue;
    if (performance.now() > deadline) return true;
    const fdDir = `/proc/${pid}/fd`;
    for (const name of readDir(fdDir)) {
      const link = readLink(`${fdDir}/${name}`);
      if (link !== undefined && visit(pid, name, link) === false) break;
    }
  }
  return false;
}

/** Every process holding `target` (a /proc/<pid>/fd link text, e.g. "pipe:[1234]"), with the fd's access mode. */
export function findFdHolders(target: string, opts: FdScanOptions = {}): FdHolderList {
  const budget = opts.budgetMs ?? 200;
  const skip = new Set(opts.exclude ?? []);
  if (!opts.includeSelf) skip.add(process.pid);
  const holders: FdHolder[] = [];
  const truncated = scanFdLinks(
    (pid, name, link) => {
      if (link !== target) return;
      // fdinfo only for matches: flags tell which end of a pipe this is
      const mode = fdinfoMode(readText(`/proc/${pid}/fdinfo/${name}`));
      const comm = readProcIdentity(pid)?.comm;
      if (mode === undefined || comm === undefined) return; // closed or exited meanwhile
      holders.push({ pid, comm, fd: Number(name), mode });
    },
    skip,
    performance.now() + budget,
  );
  return Object.assign(holders, { truncated });
}

export interface PipePeer {
  pid: number;
  comm: string;
  /** /proc stat letter */
  state: string;
  stateName: ProcStateName;
  fd: number;
}

export interface PipePeers {
  /** what the inspected process is: blocked reading the pipe, or blocked writing it */
  role: 'reader' | 'writer';
  /** a named pipe (FIFO): its path */
  fifo?: string;
  inode: number;
  /** the inspected process's fd on the pipe */
  fd: number;
  /** holders of the OTHER end (writers for a reader, readers for a writer), the process itself excluded */
  peers: PipePeer[];
  /**
   * The process itself also holds the other end: a reader that never closed
   * its own write end never sees EOF, a classic self-deadlock.
   */
  selfHoldsOtherEnd: boolean;
  truncated: boolean;
}

/**
 * If `pid`'s main thread is blocked on a pipe, the processes on the other
 * end and their states; null when it is not (or does not exist).
 */
export function pipePeers(pid: number, opts: Omit<FdScanOptions, 'exclude'> = {}): PipePeers | null {
  const blocked = inspectProcess(pid)?.blockedOn;
  // a FIFO is a pipe with a name: its fd links to the path
  const fifo = blocked?.kind === 'file' && blocked.target !== undefined ? fdFile(pid, blocked.fd) : undefined;
  const inode = fifo?.fifo ? fifo.inode : blocked?.kind === 'pipe' ? blocked.inode : undefined;
  if (!blocked || inode === undefined || blocked.target === undefined) return null;
  // A pipe fd is opened O_RDONLY or O_WRONLY, so the fd's own mode says which end it is.
  const ownMode = fdinfoMode(readText(`/proc/${pid}/fdinfo/${blocked.fd}`));
  const role = ownMode === 'r' || (ownMode !== 'w' && READS_FROM_FD.has(blocked.syscall)) ? 'reader' : 'writer';
  const otherEnd = (m: FdMode): boolean => (role === 'reader' ? m !== 'r' : m !== 'w');

  const holders = findFdHolders(blocked.target, { ...opts, includeSelf: opts.includeSelf || pid === process.pid });
  const peers: PipePeer[] = [];
  let selfHoldsOtherEnd = false;
  for (const h of holders) {
    if (!otherEnd(h.mode)) continue;
    if (h.pid === pid) {
      selfHoldsOtherEnd = true;
      continue;
    }
    const id = readProcIdentity(h.pid);
    if (!id) continue; // exited since the scan
    peers.push({ pid: h.pid, comm: id.comm, state: id.state, stateName: stateName(id.state), fd: h.fd });
  }
  return {
    role,
    inode,
    ...(fifo?.fifo && { fifo: blocked.target }),
    fd: blocked.fd,
    peers,
    selfHoldsOtherEnd,
    truncated: holders.truncated,
  };
}

/**
 * The inode of the other end of a connected Unix socket, from `ss -x` (sock_diag:
 * /proc has no peer column); undefined when `ss` is missing, slow, or the socket
 * is not a connected Unix socket. Called at query time only, for a process blocked on one.
 */
export function unixPeerInode(inode: number, timeoutMs = 500): number | undefined {
  let out: string;
  try {
    out = execFileSync('ss', ['-xH'], { timeout: timeoutMs, encoding: 'latin1', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
  // "u_str ESTAB 0 0 <local path or *> <inode> <peer path or *> <peer inode> ..."
  for (const line of out.split('\n')) {
    const m = /^\S+\s+\S+\s+\d+\s+\d+\s+\S+\s+(\d+)\s+\S+\s+(\d+)/.exec(line);
    if (m && Number(m[1]) === inode && Number(m[2]) > 0) return Number(m[2]);
  }
  return undefined;
}
