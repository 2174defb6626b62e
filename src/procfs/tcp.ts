/**
 * /proc/<pid>/net/tcp{,6}: the TCP sockets of the process's network namespace,
 * read off the hot path (at `why` or `verify` time). A sender whose send buffer
 * is full or whose peer advertises a zero window shows it here: bytes queued
 * (tx_queue), the zero-window probe timer (4), and no retransmits. The reversed
 * 4-tuple is the peer's own socket when it is on this host, with the bytes it
 * has not read (rx_queue): in the sender's namespace first, then in the other
 * network namespaces of the host (one table each, within the time budget).
 */
import { findFdHolders } from './fd-owners';
import { inspectThreads } from './inspect';
import { performance } from 'node:perf_hooks';
import { listPids, readDir, readLink, readText } from './read';

export interface TcpSocket {
  local: string;
  remote: string;
  /** st: 1 established, 10 listen, ... */
  state: number;
  /** bytes written but not acknowledged (write_seq - snd_una) */
  txQueue: number;
  /** bytes received but not read */
  rxQueue: number;
  /** 0 none, 1 retransmit / loss probe, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe */
  timer: number;
  /** unrecovered retransmits of the segment at the head (icsk_retransmits) */
  retransmits: number;
  /** zero-window (or keepalive) probes sent without an answer */
  probes: number;
  inode: number;
}

const TCP_ESTABLISHED = 1;
const TIMER_ZERO_WINDOW = 4;

/** "0100007F:1F90" (or the 32-hex-digit v6 form) -> "127.0.0.1:8080" / "[::1]:8080". */
export function parseEndpoint(hex: string): string {
  const [a = '', p = '0'] = hex.split(':');
  const port = Number.parseInt(p, 16);
  if (a.length === 8) {
    const n = Number.parseInt(a, 16);
    return `${n & 255}.${(n >>> 8) & 255}.${(n >>> 16) & 255}.${n >>> 24}:${port}`;
  }
  // v6: four host-order 32-bit words
  const bytes: number[] = [];
  for (let w = 0; w < 32; w += 8) {
    const n = Number.parseInt(a.slice(w, w + 8), 16);
    bytes.push(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24);
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) return `${bytes.slice(12).join('.')}:${port}`; // v4-mapped
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const text = groups
    .join(':')
    .replace(/(^|:)0(:0)+(:|$)/, '::')
    .replace(/:{3,}/, '::');
  return `[${text}]:${port}`;
}

/** The rows of /proc/net/tcp or tcp6. */
export function parseTcpTable(text: string | undefined): TcpSocket[] {
  const out: TcpSocket[] = [];
  if (!text) return out;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [tx = '0', rx = '0'] = f[4]!.split(':');
    const [tr = '0'] = f[5]!.split(':');
    out.push({
      local: parseEndpoint(f[1]!),
      remote: parseEndpoint(f[2]!),
      state: Number.parseInt(f[3]!, 16),
      txQueue: Number.parseInt(tx, 16),
      rxQueue: Number.parseInt(rx, 16),
      timer: Number.parseInt(tr, 16),
      retransmits: Number.parseInt(f[6]!, 16),
      probes: Number(f[8]),
      inode: Number(f[9]),
    });
  }
  return out;
}

/** The TCP sockets of `pid`'s network namespace (v4 and v6). */
export function tcpTableOf(pid: number): TcpSocket[] {
  return [...parseTcpTable(readText(`/proc/${pid}/net/tcp`)), ...parseTcpTable(readText(`/proc/${pid}/net/tcp6`))];
}

/** The socket inodes `pid` holds. */
export function socketInodes(pid: number): Set<number> {
  const out = new Set<number>();
  const dir = `/proc/${pid}/fd`;
  for (const fd of readDir(dir)) {
    const m = /^socket:\[(\d+)\]$/.exec(readLink(`${dir}/${fd}`) ?? '');
    if (m) out.add(Number(m[1]));
  }
  return out;
}

export interface TcpSendBlock {
  /** the sender's socket */
  socket: TcpSocket;
  /** the peer's address:port as the sender sees it */
  peer: string;
  zeroWindow: boolean;
  /** a thread of the process sleeps in a send on this socket now (full send buffer) */
  inSend?: { tid: number; syscall: string };
  /** the peer's socket when it is on this host (its namespace first, then the host's others) */
  peerSocket?: TcpSocket;
  /** the processes holding the peer's socket */
  peerOwners: { pid: number; comm: string }[];
}

const SENDS = new Set(['write', 'writev', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'sendfile', 'splice', 'pwritev', 'pwritev2']);

/**
 * Whether `pid` is held up sending over TCP by its peer now: one of its
 * established sockets has bytes queued and either a zero-window probe timer or
 * a thread sleeping in a send on it, and nothing is being retransmitted on it.
 * The socket with a zero window first, then the most queued. Undefined when none.
 */
export function tcpSendBlock(pid: number, opts: { budgetMs?: number } = {}): TcpSendBlock | undefined {
  const mine = socketInodes(pid);
  if (mine.size === 0) return undefined;
  const table = tcpTableOf(pid);
  let sending: Map<number, { tid: number; syscall: string }> | undefined;
  const inSend = (inode: number) => {
    if (!sending) {
      sending = new Map();
      for (const t of inspectThreads(pid, 64))
        if (t.blockedOn?.kind === 'socket' && t.blockedOn.inode !== undefined && SENDS.has(t.blockedOn.syscall))
          sending.set(t.blockedOn.inode, { tid: t.tid, syscall: t.blockedOn.syscall });
    }
    return sending.get(inode);
  };
  let best: { s: TcpSocket; zero: boolean; send?: { tid: number; syscall: string } } | undefined;
  for (const s of table) {
    if (s.state !== TCP_ESTABLISHED || s.txQueue === 0 || s.retransmits > 0 || !mine.has(s.inode)) continue;
    const zero = s.timer === TIMER_ZERO_WINDOW;
    const send = inSend(s.inode);
    if (!zero && !send) continue;
    if (!best || (zero && !best.zero) || (zero === best.zero && s.txQueue > best.s.txQueue)) best = { s, zero, send };
  }
  if (!best) return undefined;
  const s = best.s;
  const deadline = performance.now() + (opts.budgetMs ?? 100);
  const peerSocket = table.find((x) => x.local === s.remote && x.remote === s.local && x.inode !== 0) ?? inOtherNamespace(pid, s, deadline);
  const peerOwners = peerSocket
    ? findFdHolders(`socket:[${peerSocket.inode}]`, { budgetMs: Math.max(20, deadline - performance.now()) })
        .filter((h) => h.pid !== pid)
        .map((h) => ({ pid: h.pid, comm: h.comm }))
    : [];
  return { socket: s, peer: s.remote, zeroWindow: best.zero, inSend: best.send, peerSocket, peerOwners };
}

/**
 * The peer socket of `s` in another network namespace of this host (a veth pair, a container): one
 * table per namespace, read from the first process found in it, until `deadline` (performance.now() ms).
 */
function inOtherNamespace(pid: number, s: TcpSocket, deadline: number): TcpSocket | undefined {
  const own = readLink(`/proc/${pid}/ns/net`);
  if (own === undefined) return undefined;
  const seen = new Set([own]);
  for (const other of listPids()) {
    if (performance.now() > deadline) return undefined;
    const ns = readLink(`/proc/${other}/ns/net`);
    if (ns === undefined || seen.has(ns)) continue;
    seen.add(ns);
    const hit = tcpTableOf(other).find((x) => x.local === s.remote && x.remote === s.local && x.state === TCP_ESTABLISHED && x.inode !== 0);
    if (hit) return hit;
  }
  return undefined;
}
