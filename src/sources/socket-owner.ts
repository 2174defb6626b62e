/**
 * Userspace fallback for TCP records the kernel could not attribute (the
 * socket predates the agent and has not sent since): find the process holding
 * `socket:[inode]` among /proc/<pid>/fd. Works across network namespaces, since
 * inodes are global. Scans are rate-limited and results cached.
 */
import { readProcIdentity, type ProcIdentity } from '../procfs/process';
import { scanFdLinks } from '../procfs/fd-owners';

const POSITIVE_TTL_MS = 60_000;
const NEGATIVE_TTL_MS = 5_000;
const MIN_SCAN_INTERVAL_MS = 1_000;

interface CacheEntry {
  owner: ProcIdentity | null;
  expires: number;
}

export class SocketOwnerResolver {
  private readonly cache = new Map<string, CacheEntry>();
  private lastScan = 0;
  scans = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Owner of socket inode `ino`, or null if no process holds it (or the scan budget is spent). */
  resolve(ino: bigint): ProcIdentity | null {
    const key = ino.toString();
    const t = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > t) return hit.owner;
    if (t - this.lastScan < MIN_SCAN_INTERVAL_MS) return null;
    this.scan(t);
    const fresh = this.cache.get(key);
    if (fresh && fresh.expires > t) return fresh.owner;
    this.cache.set(key, { owner: null, expires: t + NEGATIVE_TTL_MS });
    return null;
  }

  /** One pass over every process's fds, caching every socket seen. */
  private scan(t: number): void {
    this.lastScan = t;
    this.scans++;
    if (this.cache.size > 100_000) this.cache.clear(); // bound memory on hosts with huge socket counts
    let pid = -1;
    let identity: ProcIdentity | null = null;
    scanFdLinks((p, _fd, link) => {
      if (!link.startsWith('socket:[')) return;
      if (p !== pid) {
        pid = p;
        identity = readProcIdentity(p);
      }
      if (!identity) return false; // exited meanwhile
      this.cache.set(link.slice(8, -1), { owner: identity, expires: t + POSITIVE_TTL_MS });
    });
  }
}
