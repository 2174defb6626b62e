/**
 * Kernel cgroup id -> cgroup path, for a process that exited before its
 * /proc entry was read: every record carries the id of its task's cgroup in
 * the unified (v2) hierarchy (bpf_get_current_cgroup_id), which is the inode
 * number of that cgroup's directory. The hierarchy is walked (at most
 * MAX_DIRS directories, at most once per REBUILD_MS on a miss) and the map
 * kept until the next rebuild. On a v1-only host every task sits in the v2
 * root (id 1, path "/"), which names nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const MAX_DIRS = 50_000;
const REBUILD_MS = 2_000;

/** Mount point of the cgroup2 hierarchy from /proc/self/mountinfo, or undefined. */
export function unifiedMount(mountinfo = '/proc/self/mountinfo'): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(mountinfo, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    if (line.slice(dash + 3).startsWith('cgroup2 ')) return line.split(' ')[4];
  }
  return undefined;
}

export class CgroupIdIndex {
  private byId = new Map<string, string>();
  private builtAt = 0;
  private mount: string | undefined | null = null;
  walks = 0;

  constructor(private readonly mountPoint?: string) {}

  /** The cgroup path (relative to the hierarchy root, "/" for the root) of kernel cgroup id `id`, or undefined. */
  pathOf(id: string, nowMs = Date.now()): string | undefined {
    if (!id || id === '0') return undefined;
    const hit = this.byId.get(id);
    if (hit !== undefined) return hit;
    if (nowMs - this.builtAt < REBUILD_MS) return undefined;
    this.rebuild(nowMs);
    return this.byId.get(id);
  }

  private rebuild(nowMs: number): void {
    this.builtAt = nowMs;
    if (this.mount === null) this.mount = this.mountPoint ?? unifiedMount();
    const root = this.mount;
    const m = new Map<string, string>();
    if (root) {
      this.walks++;
      const stack: string[] = ['/'];
      while (stack.length && m.size < MAX_DIRS) {
        const rel = stack.pop()!;
        const abs = path.join(root, rel);
        try {
          m.set(String(fs.statSync(abs).ino), rel);
          for (const e of fs.readdirSync(abs, { withFileTypes: true })) if (e.isDirectory()) stack.push(path.posix.join(rel, e.name));
        } catch {
          /* removed meanwhile */
        }
      }
    }
    this.byId = m;
  }
}
