/**
 * `--scope-cgroup PATH`: whether a process belongs to the agent's scope, i.e.
 * its cgroup path in any hierarchy (a line of /proc/<pid>/cgroup) is PATH or
 * below it. Asked per record on the ingest path, so the answer is cached by
 * the record's cgroup id (cgroup v2): /proc is read once per new cgroup, and a
 * known one costs a Map lookup (no allocation). A task moved to another cgroup
 * carries a new id and is decided again.
 */
import * as fs from 'node:fs';
import { parseCgroups } from './parse';

/** cgroups decided before the cache starts over (a bound, not a tuning knob) */
const MAX_CACHED = 4096;

export class CgroupScope {
  readonly path: string;
  private readonly byCgroup = new Map<number, boolean>();

  constructor(
    path: string,
    private readonly procRoot = '/proc',
  ) {
    const p = `/${path.trim().replace(/^\/+|\/+$/g, '')}`;
    this.path = p;
  }

  /** Whether process `pid`, whose record names v2 cgroup `cgroupId`, is in scope. */
  admits(pid: number, cgroupId: number): boolean {
    const known = this.byCgroup.get(cgroupId);
    if (known !== undefined) return known;
    const v = this.pidInScope(pid);
    if (v === undefined) return false; // gone before we looked: decided by the next process of that cgroup
    if (this.byCgroup.size >= MAX_CACHED) this.byCgroup.clear();
    if (cgroupId !== 0) this.byCgroup.set(cgroupId, v);
    return v;
  }

  /** From /proc/<pid>/cgroup, uncached; undefined when the process is gone. */
  pidInScope(pid: number): boolean | undefined {
    let text: string;
    try {
      text = fs.readFileSync(`${this.procRoot}/${pid}/cgroup`, 'utf8');
    } catch {
      return undefined;
    }
    return cgroupLinesUnder(text, this.path);
  }
}

/** Whether a /proc/<pid>/cgroup text has a path (in any hierarchy) at or below `path`. */
export function cgroupLinesUnder(text: string, path: string): boolean {
  if (path === '/') return true;
  return parseCgroups(text).some((e) => e.path === path || e.path.startsWith(`${path}/`));
}
