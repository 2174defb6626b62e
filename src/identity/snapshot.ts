/**
 * Identities in recordings. A recording is replayed on another machine or
 * later, where /proc and the runtime's files say nothing about the recorded
 * processes, so identity is not resolved at replay: `xctl record -o FILE`
 * resolves each recorded process (at its first record and after exec, off the
 * write path, on a timer) and writes FILE.identity.json next to the
 * recording; `xctl analyze FILE` loads it when present and attaches each
 * identity to the process of the same pid and start time. The .xrec format
 * itself is unchanged (older builds read the recording as before; a recording
 * without the file answers without identity).
 */
import * as fs from 'node:fs';
import type { Identity } from './identity';
import { IdentityCache } from './resolver';
import type { ResolveOptions } from './identity';

export const SNAPSHOT_VERSION = 1;
export const snapshotPath = (recording: string): string => `${recording}.identity.json`;

export interface IdentitySnapshotFile {
  version: number;
  host: string;
  /** "pid:start_ns" (the records' start_ns) -> identity */
  identities: Record<string, Identity>;
}

/** Collects identities while recording: note() per record is a Map lookup; flush() resolves what was noted. */
export class SnapshotCollector {
  private readonly cache: IdentityCache;
  /** pid -> start time of the incarnation already noted (a number compare per record, no string) */
  private readonly seen = new Map<number, number>();
  private pending: [number, number, boolean][] = [];
  readonly identities = new Map<string, Identity>();

  constructor(
    opts: ResolveOptions = {},
    readonly max = 100_000,
  ) {
    this.cache = new IdentityCache(opts, 4096);
  }

  note(pid: number, startNs: number, exec: boolean): void {
    if (pid <= 0) return;
    if (!exec && this.seen.get(pid) === startNs) return;
    if (this.seen.size >= this.max && !this.seen.has(pid)) return;
    this.seen.set(pid, startNs);
    this.pending.push([pid, startNs, exec]);
  }

  flush(): void {
    const todo = this.pending;
    this.pending = [];
    for (const [pid, startNs, exec] of todo) {
      const id = this.cache.get(pid, startNs, exec);
      const k = `${pid}:${startNs}`;
      if (id.identity === 'gone' && this.identities.get(k)?.identity === 'resolved') continue;
      this.identities.set(k, id);
    }
  }

  write(file: string, host: string): void {
    this.flush();
    const body: IdentitySnapshotFile = { version: SNAPSHOT_VERSION, host, identities: Object.fromEntries(this.identities) };
    fs.writeFileSync(file, JSON.stringify(body));
  }
}

/** The identities of a recording, or undefined (no file; a malformed one is reported through `warn`). */
export function readSnapshot(recording: string, warn: (msg: string) => void): Map<string, Identity> | undefined {
  const file = snapshotPath(recording);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const j = JSON.parse(text) as IdentitySnapshotFile;
    if (j?.version !== SNAPSHOT_VERSION || typeof j.identities !== 'object' || !j.identities)
      throw new Error(`not a version ${SNAPSHOT_VERSION} identity file`);
    return new Map(Object.entries(j.identities));
  } catch (e) {
    warn(`${file}: ${(e as Error).message}; answering without identities`);
    return undefined;
  }
}
