/**
 * Who is using the CPUs right now: periodic deltas of /proc/<pid>/stat
 * utime+stime per process and of /proc/stat for the host. eBPF tells us a
 * victim waited for a CPU; this names the processes that had it.
 *
 * State is one entry per live pid, rebuilt on every sample, so vanished pids
 * are dropped and memory stays bounded by the process count.
 */
import { performance } from 'node:perf_hooks';
import { CLOCK_TICKS_PER_SEC, splitStat } from './process';
import { listPids, readText, SmallFileReader } from './read';
import { parseCpuList, parseStatus } from './parse';

export interface CpuSamplerOptions {
  /** period for start(); default 2000 ms */
  intervalMs?: number;
  /** default "/proc"; tests point it at a fake tree */
  procRoot?: string;
  /** monotonic clock in ms (default performance.now); injectable for deterministic tests */
  now?: () => number;
}

export interface CpuUser {
  pid: number;
  comm: string;
  /** fraction of ONE CPU over the last interval (a 4-thread spinner reads ~4) */
  usage: number;
  /** the CPU its main thread last ran on */
  lastCpu: number;
}

interface PidEntry {
  /** stat starttime text: a different value under the same pid means the pid was reused */
  start: string;
  comm: string;
  ticks: number;
  lastCpu: number;
  usage?: number;
  /** Cpus_allowed_list, read lazily by top() for candidates only (cached until the next sample, as it can change); null = unreadable */
  allowed?: Set<number> | null;
}

interface HostTicks {
  total: number;
  idle: number;
  cpus: number;
}

export class CpuSampler {
  readonly intervalMs: number;
  private readonly procRoot: string;
  private readonly now: () => number;
  private readonly reader = new SmallFileReader();
  private pids = new Map<number, PidEntry>();
  private lastAt: number | undefined;
  private host: HostTicks | undefined;
  private hostBusy: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** how long the last sample() took, in ms */
  lastSampleMs = 0;

  constructor(opts: CpuSamplerOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 2000;
    this.procRoot = opts.procRoot ?? '/proc';
    this.now = opts.now ?? (() => performance.now());
  }

  /** Number of processes currently tracked (bounded by the live process count). */
  get size(): number {
    return this.pids.size;
  }

  /** Read every /proc/<pid>/stat and /proc/stat once; usages become deltas against the previous sample. */
  sample(): void {
    const t0 = performance.now();
    const at = this.now();
    const elapsedSec = this.lastAt === undefined ? 0 : (at - this.lastAt) / 1000;
    const next = new Map<number, PidEntry>();
    for (const pid of listPids(this.procRoot)) {
      const split = splitStat(this.reader.read(`${this.procRoot}/${pid}/stat`) ?? '');
      if (!split) continue; // exited between readdir and read
      const f = split.fields;
      const ticks = Number(f[11] ?? 0) + Number(f[12] ?? 0); // utime + stime
      const entry: PidEntry = { start: f[19] ?? '', comm: split.comm, ticks, lastCpu: Number(f[36] ?? -1) };
      const prev = this.pids.get(pid);
      if (prev && prev.start === entry.start && elapsedSec > 0) {
        entry.usage = Math.max(0, ticks - prev.ticks) / CLOCK_TICKS_PER_SEC / elapsedSec;
      }
      next.set(pid, entry);
    }
    this.pids = next;
    this.sampleHost();
    this.lastAt = at;
    this.lastSampleMs = performance.now() - t0;
  }

  /** /proc/stat "cpu" line: busy = everything but idle+iowait. guest time is already inside user, so it is left out. */
  private sampleHost(): void {
    const text = readText(`${this.procRoot}/stat`);
    if (!text) return;
    const lines = text.split('\n');
    const f = (lines[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    const total = f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const cpus = lines.filter((l) => /^cpu\d/.test(l)).length;
    const prev = this.host;
    if (prev && total > prev.total) this.hostBusy = Math.min(1, Math.max(0, 1 - (idle - prev.idle) / (total - prev.total)));
    this.host = { total, idle, cpus };
  }

  /** Start sampling every intervalMs (first sample now). The timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Fraction of one CPU `pid` used over the last interval; undefined before two samples or for an unknown pid. */
  usage(pid: number): number | undefined {
    return this.pids.get(pid)?.usage;
  }

  /**
   * The `n` biggest CPU users of the last interval (usage > 0). With `cpus`,
   * only processes whose affinity allows at least one of those CPUs: the ones
   * that can compete with a victim pinned there.
   */
  top(n: number, opts: { cpus?: number[]; excludePids?: number[] } = {}): CpuUser[] {
    const exclude = new Set(opts.excludePids ?? []);
    const ranked = [...this.pids.entries()]
      .filter(([pid, e]) => e.usage !== undefined && e.usage > 0 && !exclude.has(pid))
      .sort((a, b) => b[1].usage! - a[1].usage!);
    const out: CpuUser[] = [];
    for (const [pid, e] of ranked) {
      if (out.length >= n) break;
      if (opts.cpus && !this.mayRunOn(pid, e, opts.cpus)) continue;
      out.push({ pid, comm: e.comm, usage: e.usage!, lastCpu: e.lastCpu });
    }
    return out;
  }

  /** Host CPU count and busy fraction (0..1, all CPUs together) over the last interval; undefined before two samples. */
  hostUsage(): { cpus: number; busyFraction: number | undefined } {
    return { cpus: this.host?.cpus ?? 0, busyFraction: this.hostBusy };
  }

  private mayRunOn(pid: number, e: PidEntry, cpus: number[]): boolean {
    if (e.allowed === undefined) {
      const list = parseStatus(readText(`${this.procRoot}/${pid}/status`) ?? '').get('Cpus_allowed_list');
      e.allowed = list === undefined ? null : new Set(parseCpuList(list));
    }
    if (e.allowed === null) return false; // exited: it can no longer compete
    return cpus.some((c) => e.allowed!.has(c));
  }
}
