/**
 * `--scope-cgroup PATH`: whether a process belongs to the agent's scope, i.e.
 * its cgroup path in any hierarchy (a line of /proc/<pid>/cgroup) is PATH or
 * below it. Asked per record on the ingest path, so the answer is cached per
 * process (pid and start time, so a reused pid is asked again): /proc is read
 * once per process, and a known one costs a Map lookup (no allocation). An
 * exec decides again (runtimes move a task into its cgroup before they exec
 * the workload). The cache is keyed by process, not by the record's cgroup
 * id: that id names the v2 cgroup only, and on a hybrid host tasks of one v2
 * cgroup can sit in different v1 cgroups.
 */
import * as fs from 'node:fs';
import { parseCgroups } from './parse';

/** processes decided before the cache starts over (a bound, not a tuning knob) */
const MAX_CACHED = 65536;

export class CgroupScope {
  readonly path: string;
  /** pid -> start time (boot ns) when in scope, -(start time) - 1 when not */
  private readonly byPid = new Map<number, number>();

  constructor(
    path: string,
    private readonly procRoot = '/proc',
  ) {
    this.path = `/${path.trim().replace(/^\/+|\/+$/g, '')}`;
  }

  /** Whether process `pid` (started at `startNs`, 0 unknown) is in scope. */
  admits(pid: number, startNs: number): boolean {
    const known = this.byPid.get(pid);
    if (known !== undefined) {
      const inScope = known >= 0;
      const start = inScope ? known : -known - 1;
      if (start === startNs || startNs === 0) return inScope;
    }
    const v = this.pidInScope(pid);
    if (v === undefined) return false; // gone before we looked
    if (this.byPid.size >= MAX_CACHED) this.byPid.clear();
    this.byPid.set(pid, v ? startNs : -startNs - 1);
    return v;
  }

  /** The process exec'd: decide again at its next record. */
  forget(pid: number): void {
    this.byPid.delete(pid);
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
