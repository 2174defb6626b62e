/**
 * Identity resolution off the hot path. Ingest only notes a process (at its
 * first record and at exec: one array store, no I/O); resolvePending() (the
 * agent calls it after a batch that noted some) resolves at most `perTick`
 * noted processes, and tick() (a timer of seconds) also re-checks at most
 * `refreshPerTick` resolved live ones for a cgroup move (a runtime moves a
 * task, or a test does). The identity is kept on the process itself (keyed by
 * pid + start time, so a reused pid gets its own), bounded by the graph's
 * process cap; exited processes keep theirs for the graph's grace period.
 */
import { readText } from '../procfs/read';
import { type Identity, type ResolveOptions, NameCache, resolveProcess, identityFromCgroupText, ENVIRON_GONE } from './identity';
import { parseCgroups } from '../procfs/parse';
import { identityFromCgroups } from './cgroup-shapes';
import { CgroupIdIndex } from './cgroup-ids';

/** What the resolver needs of a process (the graph's ProcessNode has these). */
export interface IdentityHolder {
  readonly pid: number;
  readonly startNs: number;
  identity?: Identity;
  /** the holder was dropped from its graph: skip */
  evicted: boolean;
  state: string;
  /** kernel cgroup id (v2) from its records: the cgroup of a process that exited before it was read */
  cgroupId?: string;
}

export interface ResolverStats {
  noted: number;
  resolved: number;
  gone: number;
  refreshed: number;
  moved: number;
  /** notes dropped because the queue was full (resolved at query time instead) */
  overflow: number;
}

export class IdentityResolver {
  private queue: IdentityHolder[] = [];
  private head = 0;
  private refreshIter: Iterator<IdentityHolder> | undefined;
  /** kernel cgroup id -> path, for processes gone before they were read */
  readonly cgroupIds = new CgroupIdIndex();
  readonly stats: ResolverStats = { noted: 0, resolved: 0, gone: 0, refreshed: 0, moved: 0, overflow: 0 };
  readonly opts: ResolveOptions & { names: NameCache };
  /** told after a holder's identity was set or changed (the pipeline notes an attribute change for the rules) */
  onChange?: (h: IdentityHolder) => void;

  constructor(
    opts: ResolveOptions = {},
    /** the live processes, walked round-robin for cgroup moves */
    private readonly holders: () => Iterable<IdentityHolder> = () => [],
    readonly maxQueue = 65_536,
    readonly perTick = 256,
    readonly refreshPerTick = 64,
  ) {
    this.opts = { ...opts, names: opts.names ?? new NameCache() };
  }

  /** Hot path (first record, exec): remember the process; no I/O. */
  note(h: IdentityHolder): void {
    if (this.queue.length - this.head >= this.maxQueue) {
      this.stats.overflow++;
      return;
    }
    this.queue.push(h);
    this.stats.noted++;
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Resolves up to perTick noted processes, then re-checks up to `refreshBudget` live ones. */
  tick(refreshBudget = this.refreshPerTick): void {
    this.resolvePending();
    this.refresh(refreshBudget);
  }

  /** Resolves up to perTick noted processes; returns how many are still pending. */
  resolvePending(): number {
    let n = 0;
    while (this.head < this.queue.length && n < this.perTick) {
      const h = this.queue[this.head++]!;
      if (h.evicted) continue;
      this.resolve(h);
      n++;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return this.pending;
  }

  /** Resolves one process now (also at query time, for one the timer has not reached yet). */
  resolve(h: IdentityHolder): Identity {
    const id = resolveProcess(h.pid, h.startNs, this.opts);
    // a process that exited keeps what was read while it lived
    const prev = h.identity;
    if (id.identity === 'gone' && prev?.identity === 'resolved') return prev;
    if (id.identity === 'gone' && h.cgroupId) {
      // exited before it was read: what its records' cgroup id says (the cgroup outlives a crashed process)
      const path = this.cgroupIds.pathOf(h.cgroupId);
      if (path !== undefined) {
        const cg = identityFromCgroupText(`0::${path}\n`, this.opts);
        Object.assign(id, cg, {
          identity: 'gone',
          identity_notes: [
            ...(id.identity_notes ?? []),
            `cgroup from the records' cgroup id ${h.cgroupId}; rank unknown`,
            ...(cg.identity_notes ?? []),
          ],
        });
      }
    }
    // exited between its cgroup and its environment: the rank read at an earlier record stands
    if (!id.rank && prev?.rank && id.identity_notes?.some((n) => n.startsWith(ENVIRON_GONE))) id.rank = prev.rank;
    h.identity = id;
    if (id.identity === 'gone') this.stats.gone++;
    else this.stats.resolved++;
    this.onChange?.(h);
    return id;
  }

  /** The identity of h, resolving it now when the timer has not yet. */
  identityOf(h: IdentityHolder): Identity {
    return h.identity ?? this.resolve(h);
  }

  /** Round-robin over live resolved processes: a changed cgroup path is re-resolved (names, pod), the rank kept. */
  private refresh(budget: number): void {
    for (let i = 0; i < budget; i++) {
      this.refreshIter ??= this.holders()[Symbol.iterator]();
      const r = this.refreshIter.next();
      if (r.done) {
        this.refreshIter = undefined;
        return;
      }
      const h = r.value;
      if (h.evicted || h.state === 'exited' || h.identity?.identity !== 'resolved') continue;
      this.stats.refreshed++;
      const text = readText(`${this.opts.procRoot ?? '/proc'}/${h.pid}/cgroup`);
      if (text === undefined) continue; // exited: keeps its identity
      const path = identityFromCgroups(parseCgroups(text)).cgroup;
      if (path === h.identity.cgroup) continue;
      this.stats.moved++;
      const rank = h.identity.rank;
      h.identity = { identity: 'resolved', ...identityFromCgroupText(text, this.opts), ...(rank && { rank }) };
      this.onChange?.(h);
    }
  }
}

/**
 * Identities by pid + start time for a stream of records (`xctl events --json`):
 * each process resolved at its first record and again after its exec, at most
 * `max` kept (oldest dropped first).
 */
export class IdentityCache {
  private readonly m = new Map<string, Identity>();
  readonly opts: ResolveOptions & { names: NameCache };
  constructor(
    opts: ResolveOptions = {},
    readonly max = 4096,
  ) {
    this.opts = { ...opts, names: opts.names ?? new NameCache() };
  }

  get(pid: number, startNs: number, exec = false): Identity {
    const k = `${pid}:${startNs}`;
    let id = exec ? undefined : this.m.get(k);
    if (!id) {
      const prev = this.m.get(k);
      id = resolveProcess(pid, startNs, this.opts);
      if (id.identity === 'gone' && prev?.identity === 'resolved') id = prev;
      this.m.delete(k);
      this.m.set(k, id);
      if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
    }
    return id;
  }
}
