/**
 * The daemon: live probes -> pipeline (graph + rules) -> answers over the Unix
 * socket, metrics over HTTP. Rules hot-reload on change and on SIGHUP (a bad
 * file keeps the old set). Stops cleanly on SIGTERM/SIGINT.
 */
import * as fs from 'node:fs';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { LiveSource, describeFailures } from '../sources/live';
import { loadAddon, type FamilyStatus } from '../native/addon';
import { watchRules, type RuleWatcher } from '../rules';
import type { RuleSet } from '../rules/ruleset';
import { startIpcServer, type IpcServer } from '../ipc/server';
import { IpcError } from '../ipc/errors';
import { CpuSampler } from '../procfs/cpu-sampler';
import { KIND_NAMES } from '../events/layout';
import { Pipeline } from './pipeline';
import { AgentMetrics } from './metrics';
import { WhyError } from '../why/why';
import type { ProbeConfig, Family } from '../native/addon';
import type { GraphCaps } from '../graph/graph';

/** "loop0" for 7:0, from sysfs (DEVNAME in the device's uevent). */
function deviceName(major: number, minor: number): string | undefined {
  try {
    const m = /^DEVNAME=(.*)$/m.exec(fs.readFileSync(`/sys/dev/block/${major}:${minor}/uevent`, 'utf8'));
    return m?.[1];
  } catch {
    return undefined;
  }
}

export interface AgentOptions {
  socketPath: string;
  rulesDir: string;
  metricsAddr?: string; // undefined/'off': no HTTP endpoint
  families?: Family[];
  probeConfig?: ProbeConfig;
  caps?: Partial<GraphCaps>;
  logger: Logger;
}

export class Agent {
  readonly metrics = new AgentMetrics();
  readonly source: LiveSource;
  readonly pipeline: Pipeline;
  private readonly sampler = new CpuSampler({ intervalMs: 2000 });
  private rules!: RuleWatcher;
  private ipc?: IpcServer;
  private http?: Server;
  private timers: NodeJS.Timeout[] = [];
  private lastDrops = 0;
  private publishedByKind: number[] = [];
  private readonly startedAt = Date.now();
  status: FamilyStatus[] = [];
  ruleErrors: string[] = [];

  private constructor(
    private readonly opts: AgentOptions,
    initialRules: RuleSet,
  ) {
    const addon = loadAddon();
    const clock = () => Number(addon.bootTimeNs());
    this.pipeline = new Pipeline(initialRules, {
      caps: opts.caps,
      clock,
      live: {
        inspect: true,
        providers: {
          cpuUsage: (pid) => this.sampler.usage(pid),
          cpuCompetitors: (pid) => this.sampler.top(3, { excludePids: [pid, process.pid] }).filter((c) => c.usage >= 0.2),
        },
      },
    });
    this.pipeline.graph.deviceNamer = deviceName;
    this.source = new LiveSource({
      families: opts.families,
      config: opts.probeConfig,
      onSinkError: (err, n) => opts.logger.error({ err, records: n }, 'ingest failed for a batch; records counted as lost'),
    });
  }

  static async start(opts: AgentOptions): Promise<Agent> {
    const log = opts.logger;
    let first: RuleSet | undefined;
    let firstErrors: string[] = [];
    const watcher = watchRules(
      opts.rulesDir,
      (rs) => {
        if (!first) first = rs;
        else agent?.applyRules(rs);
      },
      (errs) => {
        firstErrors = errs.map((e) => e.toString());
        if (agent) {
          agent.ruleErrors = firstErrors;
          for (const e of firstErrors) log.error({ rules: opts.rulesDir }, `rule file rejected, keeping the previous rules: ${e}`);
        }
      },
    );
    if (!first) {
      watcher.close();
      throw new Error(`no valid rules in ${opts.rulesDir}:\n${firstErrors.join('\n')}`);
    }
    let agent: Agent | undefined = new Agent(opts, first);
    agent.rules = watcher;
    await agent.run();
    return agent;
  }

  private applyRules(rs: RuleSet): void {
    this.pipeline.setRules(rs);
    this.ruleErrors = [];
    this.opts.logger.info({ rules: rs.rules.length }, 'rules reloaded');
  }

  reloadRules(): { ok: boolean; errors: string[]; rules: number } {
    const r = this.rules.reload();
    const errors = r.errors.map((e) => e.toString());
    if (errors.length) for (const e of errors) this.opts.logger.error(`rule reload rejected, keeping the previous rules: ${e}`);
    return { ok: errors.length === 0, errors, rules: this.pipeline.matcher.rules.rules.length };
  }

  private async run(): Promise<void> {
    const log = this.opts.logger;
    this.status = this.source.start((batch) => {
      this.pipeline.ingest(batch);
    });
    for (const n of this.source.notes) log.warn(n);
    for (const f of this.status) {
      for (const p of f.programs) this.metrics.probeAttached.set({ family: f.family, program: p.name }, p.attached ? 1 : 0);
      if (f.error || f.programs.some((p) => !p.attached)) log.warn({ family: f.family }, `probe problems:\n${describeFailures([f])}`);
    }
    this.sampler.start();
    this.timers.push(setInterval(() => this.pipeline.flush(), 250));
    this.timers.push(setInterval(() => this.pipeline.sweep(), 5000));
    this.timers.push(setInterval(() => this.tick(), 1000));
    this.ipc = await startIpcServer({
      socketPath: this.opts.socketPath,
      logger: log,
      handler: async (req) => this.handle(req.method, req.pid, req.args),
    });
    if (this.opts.metricsAddr && this.opts.metricsAddr !== 'off') this.http = await this.metrics.serve(this.opts.metricsAddr);
    this.metrics.ready = true;
    log.info({ socket: this.opts.socketPath, metrics: this.opts.metricsAddr ?? 'off', families: this.status.filter((f) => f.loaded).map((f) => f.family) }, 'xctl agent ready');
  }

  /** Once a second: drop accounting and gauges. */
  private tick(): void {
    const st = this.source.stats();
    if (!st) return;
    const total = st.kernelDrops + st.userDrops + this.source.sinkLostRecords;
    this.pipeline.noteDrops(total - this.lastDrops);
    this.lastDrops = total;
    for (const [fam, n] of Object.entries(st.dropsByFamily)) this.metrics.drops.set({ family: fam, side: 'kernel' }, n);
    this.metrics.drops.set({ family: 'all', side: 'user' }, st.userDrops + this.source.sinkLostRecords);
    this.metrics.records.set({ what: 'records' }, st.records);
    this.metrics.records.set({ what: 'batches' }, st.batches);
    this.metrics.records.set({ what: 'bytes' }, st.bytes);
    this.metrics.records.set({ what: 'wakeups' }, st.wakeups);
    const byKind = this.pipeline.ingestor.stats.byKind;
    for (let k = 1; k < byKind.length; k++) {
      const name = KIND_NAMES[k];
      const delta = byKind[k]! - (this.publishedByKind[k] ?? 0);
      if (name && delta > 0) this.metrics.events.inc({ kind: name }, delta);
      this.publishedByKind[k] = byKind[k]!;
    }
    const size = this.pipeline.graph.size;
    for (const [k, v] of Object.entries(size)) this.metrics.graphNodes.set({ kind: k }, v);
    for (const [k, v] of Object.entries(this.pipeline.graph.evicted)) this.metrics.evictions.set({ kind: k }, v);
    const scenes: Record<string, number> = {};
    for (const ms of this.pipeline.matcher.active.values()) if (ms[0]) scenes[ms[0].scene] = (scenes[ms[0].scene] ?? 0) + 1;
    this.metrics.findings.reset();
    for (const [s, n] of Object.entries(scenes)) this.metrics.findings.set({ scene: s }, n);
    this.metrics.ruleEvaluations.set(this.pipeline.matcher.stats.evaluations);
  }

  private async handle(method: string, pid: number, args: Record<string, string>): Promise<unknown> {
    switch (method) {
      case 'why': {
        if (!pid) throw new IpcError('BAD_REQUEST', 'why needs a pid');
        const end = this.metrics.whyDuration.startTimer();
        try {
          const windowS = args.window_s ? Number(args.window_s) : 300;
          return this.pipeline.why(pid, windowS * 1e9);
        } catch (e) {
          if (e instanceof WhyError) throw new IpcError('NOT_FOUND', e.message);
          throw e;
        } finally {
          end();
        }
      }
      case 'ps':
        return this.pipeline.ps(Number(args.limit ?? 50));
      case 'status':
        return {
          pid: process.pid,
          uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
          socket: this.opts.socketPath,
          probes: this.status,
          stats: this.source.stats(),
          graph: this.pipeline.graph.size,
          evicted: this.pipeline.graph.evicted,
          rules: this.pipeline.matcher.rules.rules.length,
          rule_errors: this.ruleErrors,
        };
      case 'reload':
        return this.reloadRules();
      default:
        throw new IpcError('UNKNOWN_METHOD', `unknown method "${method}" (why, ps, status, reload)`);
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.sampler.stop();
    this.rules.close();
    await this.ipc?.close();
    await new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()));
    this.source.stop();
    this.opts.logger.info('xctl agent stopped');
  }
}
