/**
 * CPU quota throttling and memory pressure as series, read off the hot path.
 * Processes the graph changes are noted (one Set lookup each); every tick (a
 * few seconds) resolves at most RESOLVE_PER_TICK of them to their cgroups
 * (/proc/PID/cgroup, once per process) and reads at most MAX_CGROUPS cgroups'
 * own files (cpu.stat and quota, memory limit and usage, PSI): bounded work,
 * never a walk of every process. Each cgroup with a CPU quota, a memory limit
 * or PSI of its own becomes a cgroup node with `cpu.throttled`,
 * `cpu.throttled_periods`, `memory.stall`, `cpu.pressure`, `io.pressure`; its
 * recently active processes get `cpu.throttled` and `memory.stall` too, and a
 * waits_on edge to it weighted by the time it held them back.
 */
import { performance } from 'node:perf_hooks';
import { formatBytes } from '../events/units-text';
import type { Graph } from '../graph/graph';
import type { CgroupNode, ProcessNode } from '../graph/model';
import { MI } from '../graph/vocabulary';
import { cgroupDirs, parseCgroupMounts, readCgroup, type CgroupDirs, type CgroupMounts, type CgroupReading } from '../procfs/cgroup-stats';
import { parseCgroups } from '../procfs/parse';
import { splitStat } from '../procfs/process';
import { readText } from '../procfs/read';

/** processes resolved to their cgroups per tick */
const RESOLVE_PER_TICK = 256;
/** processes waiting to be resolved (more are dropped, and noted again at their next change) */
const MAX_QUEUE = 4096;
/** cgroups watched */
const MAX_CGROUPS = 256;
/** processes of one cgroup that get its series per tick (the most recently active) */
const MEMBERS_PER_TICK = 32;
/** after a non-zero sample, zeros are recorded this long too (so averages see the recovery) */
const TRAIL_NS = 60e9;
/** processes inspected for the top memory users of a cgroup under pressure */
const TOP_SCAN = 64;
const PAGE = 4096;

interface Watched {
  dirs: CgroupDirs;
  node: CgroupNode;
  members: Set<ProcessNode>;
  last?: CgroupReading;
  lastNs: number;
  /** newest tick with throttling or memory stall */
  busyNs: number;
}

export class CgroupSampler {
  private readonly queue: ProcessNode[] = [];
  private readonly queued = new Set<ProcessNode>();
  /** resolved processes: their cgroup, or null (in no cgroup worth watching) */
  private readonly known = new WeakMap<ProcessNode, Watched | null>();
  private readonly watched = new Map<string, Watched>();
  private readonly majflt = new WeakMap<ProcessNode, number>();
  private mounts: CgroupMounts | undefined;
  /** how long the last tick took, ms */
  lastTickMs = 0;

  constructor(
    private readonly g: Graph,
    private readonly clock: () => number,
  ) {}

  /** A process changed (ingest): resolve its cgroup at the next tick unless known. One lookup when known. */
  note(p: ProcessNode): void {
    if (this.known.has(p) || this.queued.has(p) || p.kthread || this.queue.length >= MAX_QUEUE) return;
    this.queued.add(p);
    this.queue.push(p);
  }

  get size(): { cgroups: number; queued: number } {
    return { cgroups: this.watched.size, queued: this.queue.length };
  }

  tick(): void {
    const t0 = performance.now();
    const now = this.clock();
    this.mounts ??= parseCgroupMounts(readText('/proc/self/mounts'));
    for (let i = 0; i < RESOLVE_PER_TICK && this.queue.length; i++) {
      const p = this.queue.shift()!;
      this.queued.delete(p);
      if (!p.evicted && p.state !== 'exited') this.resolve(p);
    }
    for (const [key, w] of this.watched) {
      for (const m of w.members) if (m.evicted || m.state === 'exited') w.members.delete(m);
      if (w.members.size === 0) {
        this.watched.delete(key);
        this.g.dropCgroup(w.node);
        continue;
      }
      this.sample(w, now);
    }
    this.lastTickMs = performance.now() - t0;
  }

  private resolve(p: ProcessNode): void {
    const dirs = cgroupDirs(parseCgroups(readText(`/proc/${p.pid}/cgroup`)), this.mounts!);
    if (!dirs) return; // gone
    let w = this.watched.get(dirs.key);
    if (!w) {
      const first = readCgroup(dirs);
      const worth = first.quotaUs !== undefined || first.memLimit !== undefined || first.psi?.source === 'cgroup';
      if (!worth || this.watched.size >= MAX_CGROUPS) {
        this.known.set(p, null);
        return;
      }
      const node = this.g.cgroup(dirs.key, dirs.path);
      w = { dirs, node, members: new Set(), last: first, lastNs: this.clock(), busyNs: 0 };
      this.describe(w, first);
      this.watched.set(dirs.key, w);
    }
    w.members.add(p);
    this.known.set(p, w);
  }

  /** Quota, limit and usage onto the node (an attribute change only when they change). */
  private describe(w: Watched, r: CgroupReading): void {
    const n = w.node;
    const quota = r.quotaUs !== undefined ? r.quotaUs * 1000 : undefined;
    const period = r.periodUs !== undefined ? r.periodUs * 1000 : undefined;
    const changed = n.cpuQuotaNs !== quota || n.cpuPeriodNs !== period || n.memLimit !== r.memLimit || n.pressureSource !== r.psi?.source;
    n.cpuQuotaNs = quota;
    n.cpuPeriodNs = period;
    n.memLimit = r.memLimit;
    n.memUsage = r.memUsage;
    n.pressureSource = r.psi?.source;
    if (changed) this.g.noteAttr(n);
  }

  private sample(w: Watched, now: number): void {
    const r = readCgroup(w.dirs);
    const prev = w.last;
    const dt = now - w.lastNs;
    w.last = r;
    w.lastNs = now;
    this.describe(w, r);
    if (!prev || dt <= 0) return;
    const d = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? Math.max(0, a - b) : undefined);
    const n = w.node;
    const throttled = r.quotaUs !== undefined ? (d(r.throttledNs, prev.throttledNs) ?? 0) / dt : undefined;
    const periods = d(r.nrPeriods, prev.nrPeriods);
    const thrPeriods = d(r.nrThrottled, prev.nrThrottled);
    const hits = d(r.memLimitHits, prev.memLimitHits) ?? 0;
    const psi = r.psi;
    const psiPrev = prev.psi;
    const psiFrac = (k: 'memory' | 'cpu' | 'io') =>
      psi && psiPrev && psi.source === psiPrev.source ? ((d(psi[k], psiPrev[k]) ?? 0) * 1000) / dt : undefined;
    // the host's memory stalls count for a cgroup only while it is at its own limit
    let stall = psiFrac('memory');
    if (psi?.source === 'host') stall = hits > 0 && r.memLimit !== undefined ? stall : 0;
    if (throttled !== undefined) this.observe(n, MI.cpuThrottled, now, throttled);
    if (periods) this.observe(n, MI.cpuThrottledPeriods, now, (thrPeriods ?? 0) / periods);
    if (stall !== undefined) this.observe(n, MI.memoryStall, now, stall);
    if (psi?.source === 'cgroup') {
      const cpu = psiFrac('cpu');
      const io = psiFrac('io');
      if (cpu !== undefined) this.observe(n, MI.cpuPressure, now, cpu);
      if (io !== undefined) this.observe(n, MI.ioPressure, now, io);
    }
    const busy = (throttled ?? 0) > 0.01 || (stall ?? 0) > 0.01;
    if (busy) w.busyNs = now;
    const memBusy = (stall ?? 0) > 0.01 || hits > 0;
    if (memBusy) n.memTop = this.topUsers(w);
    if (now - w.busyNs > TRAIL_NS || w.busyNs === 0) return;
    // the most recently active processes of the cgroup get its series, and an edge weighted by the time it held them
    const members = [...w.members].sort((a, b) => b.lastNs - a.lastNs).slice(0, MEMBERS_PER_TICK);
    const heldNs = ((throttled ?? 0) + (stall ?? 0)) * dt;
    for (const p of members) {
      if (throttled !== undefined) this.observe(p, MI.cpuThrottled, now, throttled);
      if (stall !== undefined) this.observe(p, MI.memoryStall, now, stall);
      if (memBusy) this.majorFaults(p, now);
      if (heldNs > 0) {
        const fresh = !p.out.some((e) => e.to === n);
        p.observeEdge('waits_on', n, 'ns', now, heldNs);
        if (fresh) this.g.noteAttr(p);
      }
    }
  }

  private observe(node: ProcessNode | CgroupNode, metric: number, t: number, v: number): void {
    node.observe(metric, t, v);
    this.g.noteMetric(node, metric);
  }

  private majorFaults(p: ProcessNode, now: number): void {
    const f = splitStat(readText(`/proc/${p.pid}/stat`) ?? '')?.fields;
    const v = f ? Number(f[9]) : NaN; // field 12, majflt
    if (!Number.isFinite(v)) return;
    const prev = this.majflt.get(p);
    this.majflt.set(p, v);
    if (prev !== undefined) this.observe(p, MI.memoryMajorFaults, now, Math.max(0, v - prev));
  }

  /** The biggest resident users among the cgroup's processes (at most TOP_SCAN read). */
  private topUsers(w: Watched): string | undefined {
    const dir = w.dirs.memDir ?? w.dirs.unifiedDir;
    if (!dir) return undefined;
    const pids = (readText(`${dir}/cgroup.procs`) ?? '').split('\n').filter(Boolean).slice(0, TOP_SCAN).map(Number);
    const users: { pid: number; comm: string; rss: number }[] = [];
    for (const pid of pids) {
      const rss = Number((readText(`/proc/${pid}/statm`) ?? '').split(' ')[1]) * PAGE;
      const comm = (readText(`/proc/${pid}/comm`) ?? '').trim();
      if (Number.isFinite(rss) && comm) users.push({ pid, comm, rss });
    }
    users.sort((a, b) => b.rss - a.rss);
    return users.length
      ? users
          .slice(0, 3)
          .map((u) => `${u.comm} (${u.pid}) ${formatBytes(u.rss)}`)
          .join(', ')
      : undefined;
  }
}
