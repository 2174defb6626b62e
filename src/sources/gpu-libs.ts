/**
 * Finds the CUDA and NCCL libraries processes actually map (/proc/<pid>/maps)
 * and keeps the cuda family's uprobes attached to exactly those: attach per
 * library path when a first process maps it, detach when no process does any
 * more. A full scan runs periodically; an exec seen in the record stream
 * schedules a quick look at that process (libraries appear after the dynamic
 * loader, or later with dlopen, so it looks twice).
 *
 * Paths inside another mount namespace (containers) are attached through
 * /proc/<pid>/root, which names the same inode from the host.
 */
import * as fs from 'node:fs';
import type { LibraryAttach } from '../native/addon';

const LIB_RE = /\/lib(cudart|cuda|nccl)\.so[^/\s]*$/;

export interface LibraryTarget {
  attach(path: string): LibraryAttach | undefined;
  detach(path: string): boolean;
}

export interface GpuLibraryEvent {
  path: string;
  attached: boolean;
  functions?: string[];
  error?: string;
}

function rootId(pid: number | 'self'): string | undefined {
  try {
    const st = fs.statSync(`/proc/${pid}/root`);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Library paths a process maps (host-visible form), matching LIB_RE. */
export function mappedGpuLibraries(pid: number, hostRoot = rootId('self')): string[] {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return [];
  }
  const out = new Set<string>();
  let foreign: boolean | undefined;
  for (const line of text.split('\n')) {
    const i = line.indexOf('/');
    if (i < 0) continue;
    const p = line.slice(i).replace(/ \(deleted\)$/, '');
    if (!LIB_RE.test(p)) continue;
    if (foreign === undefined) foreign = rootId(pid) !== hostRoot;
    out.add(foreign ? `/proc/${pid}/root${p}` : p);
  }
  return [...out];
}

/** One line for a user: what happened to the uprobes of one library. */
export function libraryChangeText(e: GpuLibraryEvent): string {
  if (e.attached) return `uprobes attached to ${e.path} (${e.functions?.join(', ') ?? ''})`;
  return e.error ? `uprobes not attached to ${e.path}: ${e.error}` : `uprobes detached from ${e.path} (no process maps it)`;
}

export class GpuLibraryWatcher {
  /** path -> pids that map it */
  private readonly users = new Map<string, Set<number>>();
  private readonly failed = new Set<string>();
  private timer?: NodeJS.Timeout;
  private readonly pending = new Set<NodeJS.Timeout>();
  private readonly hostRoot = rootId('self');
  scans = 0;

  constructor(
    private readonly target: LibraryTarget,
    private readonly opts: { intervalMs?: number; onChange?: (e: GpuLibraryEvent) => void } = {},
  ) {}

  start(): void {
    this.scan();
    this.timer = setInterval(() => this.scan(), this.opts.intervalMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }

  /** A process just exec'd: look at it soon, and once more after its libraries had time to load. */
  notePid(pid: number): void {
    for (const ms of [150, 1500]) {
      const t = setTimeout(() => {
        this.pending.delete(t);
        this.scanPid(pid);
      }, ms);
      t.unref();
      this.pending.add(t);
    }
  }

  /** Paths with attached probes and the pids mapping them. */
  attached(): Map<string, number[]> {
    return new Map([...this.users].map(([p, s]) => [p, [...s]]));
  }

  private scanPid(pid: number): void {
    for (const path of mappedGpuLibraries(pid, this.hostRoot)) this.use(path, pid);
  }

  private use(path: string, pid: number): void {
    let set = this.users.get(path);
    if (!set) {
      if (this.failed.has(path)) return;
      const r = this.target.attach(path);
      if (!r || r.error || r.functions.length === 0) {
        this.failed.add(path); // e.g. a stripped copy without the symbols: do not retry every scan
        this.opts.onChange?.({ path, attached: false, error: r?.error ?? 'not attached' });
        return;
      }
      this.users.set(path, (set = new Set()));
      this.opts.onChange?.({ path, attached: true, functions: r.functions });
    }
    set.add(pid);
  }

  /** Full scan: every process's maps; detach what nobody maps any more. */
  scan(): void {
    this.scans++;
    const seen = new Map<string, Set<number>>();
    let pids: number[];
    try {
      pids = fs
        .readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .map(Number);
    } catch {
      return;
    }
    for (const pid of pids) {
      if (pid === process.pid) continue;
      for (const path of mappedGpuLibraries(pid, this.hostRoot)) {
        let s = seen.get(path);
        if (!s) seen.set(path, (s = new Set()));
        s.add(pid);
      }
    }
    for (const [path, pidsOf] of seen) for (const pid of pidsOf) this.use(path, pid);
    for (const path of [...this.users.keys()]) {
      if (seen.has(path)) {
        this.users.set(path, seen.get(path)!);
        continue;
      }
      this.users.delete(path);
      this.target.detach(path);
      this.opts.onChange?.({ path, attached: false });
    }
    for (const path of [...this.failed]) if (!seen.has(path)) this.failed.delete(path);
  }
}
