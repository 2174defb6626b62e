/**
 * Self-protection: a CPU budget for the work the probes cause. Every interval it
 * reads the time spent on records (the agent: decoding, graph ingest and rule
 * evaluation); above the budget (default 5 % of one core) it raises the in-kernel
 * thresholds (off-CPU, run-queue, IO latency) by 4x per level, so the kernel emits
 * fewer records; after `calmIntervals` intervals below half the budget it steps
 * back down one level. Each change is logged and counted.
 *
 * It judges record work, not the whole process: raising thresholds cannot reduce
 * the agent's fixed cost (timers, /proc sampling, start-up), and judging that made
 * an idle agent raise its thresholds until short waits vanished from the evidence.
 * The process's CPU is still exported (xctl_agent_cpu_ratio) for alerting.
 *
 * The thresholds only cut detail: single long waits with their waker, single
 * IOs. Every wait is still summed in the kernel (wait_total records feed the
 * offcpu.* series), so totals stay exact at every level; `detailNote()` is what
 * answers say while detail was reduced.
 */
import type { Logger } from 'pino';
import type { ProbeConfig } from '../native/addon';
import type { AgentMetrics } from './metrics';

export interface Thresholds {
  offcpuMinNs: bigint;
  runqMinNs: bigint;
  ioMinLatencyNs: bigint;
}

export const DEFAULT_THRESHOLDS: Thresholds = { offcpuMinNs: 10_000_000n, runqMinNs: 10_000_000n, ioMinLatencyNs: 10_000_000n };

export interface GovernorOptions {
  /** fraction of one core, e.g. 0.05 */
  budget: number;
  intervalMs?: number;
  /** the configured thresholds (level 0) */
  base?: Partial<Thresholds>;
  apply: (cfg: ProbeConfig) => void;
  logger?: Logger;
  metrics?: AgentMetrics;
  maxLevel?: number;
  factor?: number;
  calmIntervals?: number;
  /** seconds spent so far on the budgeted work (the agent: handling records); default the process's CPU */
  workSeconds?: () => number;
  /** the process's CPU seconds so far (exported, not judged); default process.cpuUsage() */
  cpuSeconds?: () => number;
  now?: () => number;
}

export interface GovernorState {
  level: number;
  budget: number;
  lastRatio: number;
  thresholds: Record<keyof Thresholds, string>;
  adjustments: number;
}

export class CpuGovernor {
  level = 0;
  lastRatio = 0;
  adjustments = 0;
  private readonly base: Thresholds;
  private readonly maxLevel: number;
  private readonly factor: number;
  private readonly calmIntervals: number;
  private calm = 0;
  /** when (now(), s) the level last went back to 0; -Infinity: never raised */
  private reducedUntil = Number.NEGATIVE_INFINITY;
  /** the highest level since the level last left 0, and that of the previous such period */
  private peak = 0;
  private lastPeak = 0;
  private timer?: NodeJS.Timeout;
  private lastWork: number;
  private lastCpu: number;
  private lastT: number;
  private readonly workSeconds: () => number;
  private readonly cpuSeconds: () => number;
  private readonly now: () => number;

  constructor(private readonly opts: GovernorOptions) {
    this.base = { ...DEFAULT_THRESHOLDS, ...stripUndefined(opts.base ?? {}) };
    this.maxLevel = opts.maxLevel ?? 4;
    this.factor = opts.factor ?? 4;
    this.calmIntervals = opts.calmIntervals ?? 3;
    this.cpuSeconds =
      opts.cpuSeconds ??
      (() => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      });
    this.workSeconds = opts.workSeconds ?? this.cpuSeconds;
    this.now = opts.now ?? (() => performance.now() / 1000);
    this.lastWork = this.workSeconds();
    this.lastCpu = this.cpuSeconds();
    this.lastT = this.now();
    opts.metrics?.cpuBudget.set(opts.budget);
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.opts.intervalMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  thresholds(level = this.level): Thresholds {
    const k = BigInt(this.factor) ** BigInt(level);
    return { offcpuMinNs: this.base.offcpuMinNs * k, runqMinNs: this.base.runqMinNs * k, ioMinLatencyNs: this.base.ioMinLatencyNs * k };
  }

  state(): GovernorState {
    const t = this.thresholds();
    return {
      level: this.level,
      budget: this.opts.budget,
      lastRatio: Number(this.lastRatio.toFixed(4)),
      thresholds: { offcpuMinNs: String(t.offcpuMinNs), runqMinNs: String(t.runqMinNs), ioMinLatencyNs: String(t.ioMinLatencyNs) },
      adjustments: this.adjustments,
    };
  }

  /**
   * Why answers over the last `windowS` seconds: a sentence when the per-event
   * thresholds were raised at some time in it, else undefined.
   */
  detailNote(windowS: number): string | undefined {
    if (this.level === 0 && this.now() - this.reducedUntil > windowS) return undefined;
    const th = this.thresholds(this.level > 0 ? this.peak : this.lastPeak);
    const ms = (ns: bigint) => `${Number(ns) / 1e6} ms`;
    const when = this.level > 0 ? `now at level ${this.level}` : `at level ${this.lastPeak} earlier in this window`;
    return (
      `detail reduced (CPU governor ${when}): single sleeps under ${ms(th.offcpuMinNs)} carry no waker and IOs under ` +
      `${ms(th.ioMinLatencyNs)} are not reported one by one; off-CPU and run-queue totals are exact`
    );
  }

  /** One measurement; returns the level after it. */
  check(): number {
    const work = this.workSeconds();
    const cpu = this.cpuSeconds();
    const t = this.now();
    const dt = t - this.lastT;
    if (dt <= 0) return this.level;
    const ratio = (work - this.lastWork) / dt;
    this.opts.metrics?.cpuRatio.set((cpu - this.lastCpu) / dt);
    this.opts.metrics?.recordWorkRatio.set(ratio);
    this.lastWork = work;
    this.lastCpu = cpu;
    this.lastT = t;
    this.lastRatio = ratio;
    if (ratio > this.opts.budget) {
      this.calm = 0;
      if (this.level < this.maxLevel) this.setLevel(this.level + 1, ratio);
    } else if (ratio < this.opts.budget / 2) {
      if (this.level > 0 && ++this.calm >= this.calmIntervals) {
        this.calm = 0;
        this.setLevel(this.level - 1, ratio);
      }
    } else {
      this.calm = 0;
    }
    return this.level;
  }

  private setLevel(level: number, ratio: number): void {
    const up = level > this.level;
    const th = this.thresholds(level);
    try {
      this.opts.apply({ ...th });
    } catch (e) {
      this.opts.logger?.error({ err: e }, 'cpu governor: could not change the in-kernel thresholds');
      return;
    }
    if (level === 0) {
      this.reducedUntil = this.now();
      this.lastPeak = this.peak;
      this.peak = 0;
    }
    this.peak = Math.max(this.peak, level);
    this.level = level;
    this.adjustments++;
    this.opts.metrics?.governorLevel.set(level);
    this.opts.metrics?.governorAdjustments.inc({ direction: up ? 'raise' : 'lower' });
    const msg = up
      ? `record handling at ${(ratio * 100).toFixed(1)}% of a core is above the ${(this.opts.budget * 100).toFixed(1)}% budget: raising in-kernel thresholds`
      : `record handling at ${(ratio * 100).toFixed(1)}% is back under budget: lowering in-kernel thresholds`;
    (up ? this.opts.logger?.warn : this.opts.logger?.info)?.call(
      this.opts.logger,
      { level, offcpu_min_ns: String(th.offcpuMinNs), runq_min_ns: String(th.runqMinNs), io_min_latency_ns: String(th.ioMinLatencyNs) },
      msg,
    );
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
