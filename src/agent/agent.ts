/**
 * The daemon: live probes -> pipeline (graph + rules) -> answers over the Unix
 * socket, metrics over HTTP. Rules hot-reload on change and on SIGHUP (a bad
 * file keeps the old set). Stops cleanly on SIGTERM/SIGINT.
 */
import type { ProcessNode } from '../graph/model';
import { parseSelector, type Selector } from '../identity/selector';
import { answerSelection } from '../why/select';
import { DEFAULT_JOB_VARS, parseJobVars } from '../identity/rank';
import * as fs from 'node:fs';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { LiveSource, describeFailures } from '../sources/live';
import { loadAddon, programsNotRunning, type FamilyStatus, type GpuOptions, type CudaOptions } from '../native/addon';
import { defaultFamilies } from '../native/families';
import { libraryChangeText } from '../sources/gpu-libs';
import { ConfigError } from '../config/config';
import { watchRules, type RuleWatcher } from '../rules';
import type { RuleSet } from '../rules/ruleset';
import { startIpcServer, type IpcServer } from '../ipc/server';
import { IpcError } from '../ipc/errors';
import { PS_LIMIT, WINDOW_SECONDS, boundedNumber, type NumberBounds } from '../ipc/args';
import { CpuSampler } from '../procfs/cpu-sampler';
import { KIND_NAMES } from '../events/layout';
import { Pipeline } from '../engine/pipeline';
import type { WhyAnswer } from '../engine/answer';
import { AgentMetrics, readBpfStatsEnabled } from '../ops/metrics';
import { CpuGovernor } from '../ops/governor';
import { CrashReporter, packageVersion } from '../ops/crash';
import { KubeClient, NodeConditionPublisher } from '../ops/kube';
import { WhyError, answerWhy } from '../why/why';
import { FixService, DEFAULT_STATE_DIR } from './fix-service';
import type { FixConfig } from '../fix/policy';
import type { PeerCred } from '../ipc/server';
import type { ProbeConfig, Family } from '../native/addon';
import type { GraphCaps } from '../graph/graph';
import { CgroupScope } from '../procfs/cgroup-scope';
import { RankTable } from './ranks';

/** A numeric request argument within its bounds, or BAD_REQUEST naming it and the bounds. */
function requestNumber(text: string, name: string, bounds: NumberBounds): number {
  const n = boundedNumber(text, bounds);
  if (typeof n === 'string') throw new IpcError('BAD_REQUEST', `${name} ${n}`);
  return n;
}

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
  /** default: defaultFamilies() (gpu shows as unavailable without NVML) */
  families?: Family[];
  probeConfig?: ProbeConfig;
  /** NVML options for the gpu family (config keys gpu.nvml_library, gpu.interval) */
  gpu?: GpuOptions;
  /** uprobe options for the cuda family (opt-in: families must include 'cuda') */
  cuda?: CudaOptions;
  caps?: Partial<GraphCaps>;
  logger: Logger;
  /** crash reports go here (config state_dir); undefined: none written */
  stateDir?: string;
  /** BPF ring size per family (config limits.ring_bytes) */
  ringBytes?: number;
  /** CPU budget, fraction of one core (config limits.cpu_budget); undefined: no governor */
  cpuBudget?: number;
  governorIntervalMs?: number;
  /** set kernel.bpf_stats_enabled=1 at start (config probes.bpf_stats) */
  bpfStats?: boolean;
  /** publish fatal GPU findings as a node condition (config kubernetes.*) */
  kubernetes?: { nodeConditions: boolean; nodeName: string; client?: KubeClient };
  /** the effective config, for crash reports */
  effectiveConfig?: unknown;
  /** install process-wide crash handlers (the CLI agent; not in-process tests) */
  installCrashHandlers?: boolean;
  /** xctl fix: policy, allowed callers, rate limit (config fix.*); plans + audit live in stateDir (default /var/lib/xctl) */
  fix?: FixConfig;
  /** the node label of the per-rank series (config kubernetes.node_name, --node-name); default the host name */
  nodeName?: string;
  /** track and export only processes in this cgroup subtree, any hierarchy (config scope_cgroup; "/" or unset: all) */
  scopeCgroup?: string;
  /** identity of processes: job id precedence (config identity.job_vars) and where the node's runtime files are (identity.host_root) */
  identity?: { jobVars?: string; hostRoot?: string };
}

export class Agent {
  readonly metrics = new AgentMetrics({ version: packageVersion() });
  governor?: CpuGovernor;
  readonly crash: CrashReporter;
  private kube?: NodeConditionPublisher;
  /** what the agent is doing now, for crash reports */
  activity = 'starting';
  readonly source: LiveSource;
  readonly pipeline: Pipeline;
  private readonly sampler = new CpuSampler({ intervalMs: 2000 });
  private rules!: RuleWatcher;
  private fixer?: FixService;
  private ipc?: IpcServer;
  private http?: Server;
  private timers: NodeJS.Timeout[] = [];
  private lastDrops = 0;
  private readonly startedAt = Date.now();
  status: FamilyStatus[] = [];
  /** cuda family: keeps uprobes on the CUDA/NCCL libraries that processes map */
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
      scope: opts.scopeCgroup && opts.scopeCgroup.replace(/\/+$/, '') !== '' ? new CgroupScope(opts.scopeCgroup) : undefined,
      live: {
        inspect: true,
        providers: {
          cpuUsage: (pid) => this.sampler.usage(pid),
          cpuCompetitors: (pid) => this.sampler.top(3, { excludePids: [pid, process.pid] }).filter((c) => c.usage >= 0.2),
        },
      },
      cgroups: true,
      identity: {
        hostRoot: opts.identity?.hostRoot ?? '/',
        jobSources: parseJobVars(opts.identity?.jobVars ?? DEFAULT_JOB_VARS),
      },
    });
    this.pipeline.graph.deviceNamer = deviceName;
    if (opts.nodeName) this.metrics.nodeName = opts.nodeName;
    const ranks = new RankTable(this.pipeline);
    this.metrics.rankSource = () => ranks.samples();
    this.source = new LiveSource({
      families: opts.families ?? defaultFamilies(),
      config: opts.probeConfig,
      gpu: opts.gpu,
      cuda: opts.cuda,
      ringBytes: opts.ringBytes,
      onSinkError: (err, n) => {
        this.crash.noteError(`ingest failed for a batch of ${n} records: ${(err as Error)?.stack ?? String(err)}`);
        opts.logger.error({ err, records: n }, 'ingest failed for a batch; records counted as lost');
      },
      onLibraryChange: (e) => opts.logger.info({ library: e.path, functions: e.functions, error: e.error }, libraryChangeText(e)),
    });
    this.crash = new CrashReporter(
      opts.stateDir ?? '/var/lib/xctl',
      () => ({
        config: opts.effectiveConfig ?? null,
        probes: this.status,
        activity: this.activity,
        extra: { governor: this.governor?.state() ?? null, rule_errors: this.ruleErrors, stats: this.source.stats() ?? null },
      }),
      (file) => {
        this.metrics.crashReports.inc();
        opts.logger.fatal({ file }, 'crash report written');
      },
    );
    if (opts.installCrashHandlers && opts.stateDir) this.crash.install();
  }

  static async start(opts: AgentOptions): Promise<Agent> {
    const log = opts.logger;
    let first: RuleSet | undefined;
    let firstErrors: string[] = [];
    let agent: Agent | undefined;
    const watcher = watchRules(
      opts.rulesDir,
      (rs) => {
        if (!first) first = rs;
        else agent?.applyRules(rs);
      },
      (errs) => {
        firstErrors = errs.map((e) => e.toString());
        if (agent) agent.noteRuleErrors(firstErrors, 'rule file rejected, keeping the previous rules');
      },
    );
    if (!first) {
      watcher.close();
      throw new ConfigError(`no valid rules in ${opts.rulesDir}:\n${firstErrors.join('\n')}`);
    }
    agent = new Agent(opts, first);
    agent.rules = watcher;
    // a bad file at start is skipped (the rest loaded): reported, never fatal
    if (firstErrors.length) agent.noteRuleErrors(firstErrors, 'rule file skipped, the other files are loaded');
    try {
      await agent.run();
    } catch (e) {
      // a failed start releases what it took (probes, timers, the rules watcher) so the process can exit
      await agent.stop().catch((err) => log.error({ err }, 'cleanup after a failed start failed'));
      throw e;
    }
    return agent;
  }

  private noteRuleErrors(errors: string[], what: string): void {
    this.ruleErrors = errors;
    for (const e of errors) this.crash.noteError(`${what}: ${e}`);
    for (const e of errors) this.opts.logger.error({ rules: this.opts.rulesDir }, `${what}: ${e}`);
  }

  private applyRules(rs: RuleSet): void {
    this.pipeline.setRules(rs);
    this.ruleErrors = [];
    this.opts.logger.info({ rules: rs.rules.length }, 'rules reloaded');
  }

  reloadRules(): { ok: boolean; errors: string[]; rules: number } {
    const r = this.rules.reload();
    // the watcher's onError has logged each error once already
    const errors = r.errors.map((e) => e.toString());
    return { ok: errors.length === 0, errors, rules: this.pipeline.matcher.rules.rules.length };
  }

  /** Time spent on records (ingest, rule evaluation): what the CPU budget judges. */
  private recordWorkNs = 0;

  private timeRecordWork(work: () => void): void {
    const t0 = process.hrtime.bigint();
    try {
      work();
    } finally {
      this.recordWorkNs += Number(process.hrtime.bigint() - t0);
    }
  }

  private identityTimer?: NodeJS.Timeout;
  /**
   * Resolves the processes ingest noted, off the hot path and without a busy
   * timer: 10 ms after a batch that noted some (so one burst of batches is one
   * resolution), then every 100 ms while more than one call's worth waits.
   */
  private resolveIdentitiesSoon(): void {
    const ids = this.pipeline.identities;
    if (!ids || this.identityTimer || ids.pending === 0) return;
    this.identityTimer = setTimeout(() => {
      this.identityTimer = undefined;
      if (ids.resolvePending() > 0) {
        this.identityTimer = setTimeout(() => {
          this.identityTimer = undefined;
          this.resolveIdentitiesSoon();
        }, 100);
      }
    }, 10);
  }

  private async run(): Promise<void> {
    const log = this.opts.logger;
    this.status = this.source.start((batch) => {
      this.timeRecordWork(() => this.pipeline.ingest(batch));
      this.resolveIdentitiesSoon();
    });
    for (const n of this.source.notes) log.warn(n);
    this.metrics.setProbeStatus(this.status);
    if (this.opts.bpfStats) this.enableBpfStats();
    if (this.opts.cpuBudget !== undefined && this.opts.cpuBudget > 0) {
      const pc = this.opts.probeConfig ?? {};
      this.governor = new CpuGovernor({
        budget: this.opts.cpuBudget,
        intervalMs: this.opts.governorIntervalMs,
        base: { offcpuMinNs: pc.offcpuMinNs, runqMinNs: pc.runqMinNs, ioMinLatencyNs: pc.ioMinLatencyNs },
        apply: (cfg) => this.source.setConfig(cfg),
        workSeconds: () => this.recordWorkNs / 1e9,
        logger: log,
        metrics: this.metrics,
      });
      this.governor.start();
    }
    if (this.opts.kubernetes?.nodeConditions) {
      try {
        const client = this.opts.kubernetes.client ?? KubeClient.inCluster(this.opts.kubernetes.nodeName);
        this.kube = new NodeConditionPublisher(client, log, this.metrics);
      } catch (e) {
        log.error({ err: e }, 'kubernetes node conditions disabled');
        this.crash.noteError(String(e));
      }
    }
    for (const f of this.status) {
      if (f.error || programsNotRunning(f).length) log.warn({ family: f.family }, `probe problems:\n${describeFailures([f])}`);
    }
    this.sampler.start();
    // with a state dir, remediation state is recovered now (interrupted steps marked); without, on first use
    if (this.opts.stateDir) this.fixService();
    this.timers.push(setInterval(() => this.timeRecordWork(() => this.pipeline.flush()), 250));
    // identities: new ones after the batches that noted them (resolveIdentitiesSoon); cgroup moves: 256 live
    // processes re-checked once a second (was 64 every 100 ms)
    this.timers.push(setInterval(() => this.pipeline.identities?.tick(256), 1000));
    this.timers.push(setInterval(() => this.pipeline.sweep(), 5000));
    // CPU throttling and memory pressure of the tracked processes' cgroups (bounded work per tick)
    this.timers.push(setInterval(() => this.pipeline.cgroups?.tick(), 2000));
    this.timers.push(setInterval(() => this.tick(), 1000));
    this.ipc = await startIpcServer({
      socketPath: this.opts.socketPath,
      logger: log,
      handler: async (req, peer) => this.handle(req.method, req.pid, req.args, peer),
      getPeerCred: (fd) => loadAddon().peerCred(fd),
      onRefused: (reason) => this.metrics.ipcRefused.inc({ reason }),
    });
    if (this.opts.metricsAddr && this.opts.metricsAddr !== 'off') this.http = await this.metrics.serve(this.opts.metricsAddr);
    this.metrics.ready = true;
    this.activity = 'idle';
    log.info(
      {
        socket: this.opts.socketPath,
        metrics: this.opts.metricsAddr ?? 'off',
        families: this.status.filter((f) => f.loaded).map((f) => f.family),
      },
      'xctl agent ready',
    );
  }

  /** Rules whose evaluation threw (disabled by the matcher until the next rule set): logged and counted once each. */
  private readonly reportedRuleFailures = new Map<string, string>();
  private reportRuleFailures(): void {
    const failed = this.pipeline.matcher.failedRules;
    for (const [id, error] of failed) {
      if (this.reportedRuleFailures.get(id) === error) continue;
      this.reportedRuleFailures.set(id, error);
      this.metrics.ruleFailures.inc({ rule: id });
      this.crash.noteError(`rule ${id} disabled: its evaluation failed: ${error}`);
      this.opts.logger.error({ rule: id }, `rule ${id} disabled until the rules are reloaded: its evaluation failed: ${error}`);
    }
    if (failed.size === 0) this.reportedRuleFailures.clear();
  }

  private graphSizeAt = Number.NEGATIVE_INFINITY;
  private graphSizeLast?: Record<string, number>;
  /** Graph.size walks every process for its edge count: the gauges take it every 10 s, not every second. */
  private graphSizeEvery10s(): Record<string, number> {
    const now = performance.now();
    if (!this.graphSizeLast || now - this.graphSizeAt >= 10_000) {
      this.graphSizeLast = this.pipeline.graph.size;
      this.graphSizeAt = now;
    }
    return this.graphSizeLast;
  }

  /** Once a second: drop accounting and gauges. */
  private tick(): void {
    this.reportRuleFailures();
    const st = this.source.stats();
    if (!st) return;
    const total = st.kernelDrops + st.userDrops + this.source.sinkLostRecords;
    this.pipeline.noteDrops(total - this.lastDrops);
    this.lastDrops = total;
    const byKind: Record<string, number> = {};
    const counts = this.pipeline.ingestor.stats.byKind;
    for (let k = 1; k < counts.length; k++) {
      const name = KIND_NAMES[k];
      if (name) byKind[name] = counts[k]!;
    }
    const active = new Map<string, string>();
    const podFindings = new Map<string, number>();
    const fatal: { scene: string; cause: string }[] = [];
    const scenes = this.pipeline.matcher.rules.scenes;
    for (const [id, ms] of this.pipeline.matcher.active) {
      const node = this.pipeline.graph.byId(id);
      const pod = node?.type === 'process' ? (node as ProcessNode).identity?.pod : undefined;
      for (const m of ms) {
        if (active.has(`${id}|${m.scene}`)) continue;
        active.set(`${id}|${m.scene}`, m.scene);
        if (pod) {
          const k = `${pod.namespace ?? 'unknown'}\0${pod.name ?? pod.uid}\0${m.scene}`;
          podFindings.set(k, (podFindings.get(k) ?? 0) + 1);
        }
        if (scenes.get(m.scene)?.fatal) fatal.push({ scene: m.scene, cause: m.render().cause });
      }
    }
    const mstats = this.pipeline.matcher.stats;
    this.metrics.update({
      stats: st,
      sinkLostRecords: this.source.sinkLostRecords,
      byKind,
      graphSize: this.graphSizeEvery10s(),
      evicted: { ...this.pipeline.graph.evicted },
      evaluationsByRule: mstats.evaluationsByRule,
      matchesByRule: mstats.matchesByRule,
      rulesLoaded: this.pipeline.matcher.rules.rules.length,
      ruleErrors: this.ruleErrors.length,
      activeFindings: active,
      podFindings,
      programStats: this.source.programStats(),
    });
    if (this.kube) void this.kube.update(fatal);
  }

  /** kernel.bpf_stats_enabled=1 (config probes.bpf_stats): in-kernel run time per program. */
  private enableBpfStats(): void {
    try {
      if (readBpfStatsEnabled() !== 1) fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
      this.metrics.bpfStatsEnabled.set(readBpfStatsEnabled());
      this.opts.logger.info('kernel.bpf_stats_enabled=1: exporting in-kernel cost per BPF program');
    } catch (e) {
      this.opts.logger.warn({ err: e }, 'could not set kernel.bpf_stats_enabled; xctl_bpf_program_* stay 0');
    }
  }

  /** Plans, audit log and verification (src/fix), in stateDir. */
  fixService(): FixService {
    this.fixer ??= new FixService({
      stateDir: this.opts.stateDir ?? DEFAULT_STATE_DIR,
      config: this.opts.fix,
      pipeline: this.pipeline,
      cpuUsage: (pid) => this.sampler.usage(pid),
      cpuTop: (n, cpus, exclude) => this.sampler.top(n, { cpus, excludePids: exclude }),
      logger: this.opts.logger,
    });
    return this.fixer;
  }

  private async handle(method: string, pid: number, args: Record<string, string>, peer?: PeerCred): Promise<unknown> {
    this.activity = `ipc ${method}${pid ? ` pid ${pid}` : ''}`;
    try {
      if (method === 'fix') return await this.fixService().fix(pid, args, peer);
      if (method === 'verify') return await this.fixService().verify(args);
      return await this.handleMethod(method, pid, args);
    } finally {
      this.activity = 'idle';
    }
  }

  /** Says in the answer when the governor cut per-event detail in its window. */
  private noteDetail(a: WhyAnswer, windowS: number): WhyAnswer {
    const note = this.governor?.detailNote(windowS);
    if (note) a.detail_reduced = note;
    return a;
  }

  private async handleMethod(method: string, pid: number, args: Record<string, string>): Promise<unknown> {
    switch (method) {
      case 'why': {
        if (!pid && !args.selector) throw new IpcError('BAD_REQUEST', 'why needs a pid or a selector');
        const end = this.metrics.whyDuration.startTimer();
        try {
          const windowS = args.window_s === undefined ? 300 : requestNumber(args.window_s, 'window_s', WINDOW_SECONDS);
          if (!pid) {
            let sel: Selector;
            try {
              sel = parseSelector(args.selector, args.rank);
            } catch (e) {
              throw new IpcError('BAD_REQUEST', (e as Error).message);
            }
            if (sel.kind === 'pid') return this.noteDetail(answerWhy(this.pipeline, sel.pid, windowS * 1e9), windowS);
            const selection = answerSelection(this.pipeline, sel, windowS * 1e9);
            for (const a of selection.answers) this.noteDetail(a, windowS);
            return selection;
          }
          return this.noteDetail(answerWhy(this.pipeline, pid, windowS * 1e9), windowS);
        } catch (e) {
          if (e instanceof WhyError) throw new IpcError('NOT_FOUND', e.message);
          throw e;
        } finally {
          end();
        }
      }
      case 'ps':
        return this.pipeline.ps(args.limit === undefined ? 50 : requestNumber(args.limit, 'limit', PS_LIMIT), args.all === '1');
      case 'status':
        return {
          pid: process.pid,
          uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
          socket: this.opts.socketPath,
          probes: this.source.status(),
          stats: this.source.stats(),
          gpu_libraries: this.source.gpuLibraries ? Object.fromEntries(this.source.gpuLibraries.attached()) : undefined,
          graph: this.pipeline.graph.size,
          evicted: this.pipeline.graph.evicted,
          rules: this.pipeline.matcher.rules.rules.length,
          rule_errors: this.ruleErrors,
          rules_disabled_by_errors: Object.fromEntries(this.pipeline.matcher.failedRules),
          governor: this.governor?.state() ?? null,
        };
      case 'reload':
        return this.reloadRules();
      default:
        throw new IpcError('UNKNOWN_METHOD', `unknown method "${method}" (why, ps, status, reload, fix, verify)`);
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    if (this.identityTimer) clearTimeout(this.identityTimer);
    this.governor?.stop();
    this.crash.uninstall();
    this.sampler.stop();
    this.fixer?.close();
    this.rules.close();
    await this.ipc?.close();
    await new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()));
    this.source.stop();
    this.opts.logger.info('xctl agent stopped');
  }
}
