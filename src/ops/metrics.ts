/**
 * Prometheus exposition (prom-client) and health endpoints. Series follow
 * Prometheus naming (xctl_..._total for counters, base units: seconds, bytes)
 * and carry no pid labels: cardinality is bounded by families, programs,
 * kinds, scenes, rules, actions and outcomes. The per-rank series
 * (xctl_rank_*) are bounded by the training ranks on this node: labels job,
 * rank, node (and comm, an ordinal of at most 8 communicators per rank); only
 * xctl_rank_info carries the pid (it changes when the rank restarts). The full list is in README
 * "Operations"; deploy/grafana and deploy/prometheus use only these names.
 *
 * The addon, graph and matcher keep cumulative counts; update() turns them
 * into counter increments (a counter only moves forward, so a reset of the
 * source, e.g. a reopened session, re-bases instead of going negative).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as client from 'prom-client';
import { programsNotRunning, type FamilyStatus, type NativeStats } from '../native/addon';
import { kindFamily } from '../kinds/registry';

/** What the agent hands update() once a second. */
export interface MetricsSnapshot {
  stats?: NativeStats;
  sinkLostRecords?: number;
  /** ingested records by kind name (cumulative) */
  byKind?: Record<string, number>;
  graphSize?: Record<string, number>;
  evicted?: Record<string, number>;
  evaluationsByRule?: Map<string, number>;
  matchesByRule?: Map<string, number>;
  rulesLoaded?: number;
  ruleErrors?: number;
  /** scene of every currently active finding, keyed by entity|rule */
  activeFindings?: Map<string, string>;
  /** processes with a current finding, by pod: "namespace\0pod\0scene" -> count */
  podFindings?: Map<string, number>;
  probeStatus?: FamilyStatus[];
  programStats?: { family: string; name: string; runCount: number; runTimeNs: number }[];
}

/** xctl_pod_findings_active: at most this many (namespace, pod, scene) series; beyond, one per scene as "_other" */
export const MAX_POD_SERIES = 1000;
const OTHER_POD = '_other';

type Labels = Record<string, string>;

/** One training rank on this node, as the agent sees it at scrape time. */
export interface RankSample {
  job: string;
  rank: number;
  worldSize?: number;
  pid: number;
  pod?: string;
  container?: string;
  /** completed collectives per communicator, in order of first use */
  comms: number[];
  /** the collective it waits in now, and since when (Unix seconds) */
  inflight?: { fn: string; sinceS: number };
  /** Unix seconds of the newest completed collective */
  lastCompletionS?: number;
  /** its top active finding */
  finding?: { scene: string; rule: string; culpritKind: string; culprit: string; confidence: number };
}

type RankKey = 'job' | 'rank' | 'node';

export class AgentMetrics {
  readonly registry = new client.Registry();
  readonly events: client.Counter<'family' | 'kind'>;
  readonly drops: client.Counter<'family' | 'side'>;
  readonly records: client.Counter;
  readonly batches: client.Counter;
  readonly bytes: client.Counter;
  readonly wakeups: client.Counter;
  readonly probeAttached: client.Gauge<'family' | 'program'>;
  readonly familyLoaded: client.Gauge<'family'>;
  readonly probesFailed: client.Gauge;
  readonly bpfRunTime: client.Counter<'family' | 'program'>;
  readonly bpfRuns: client.Counter<'family' | 'program'>;
  readonly bpfStatsEnabled: client.Gauge;
  readonly graphNodes: client.Gauge<'kind'>;
  readonly evictions: client.Counter<'kind'>;
  readonly ruleEvaluations: client.Counter<'rule'>;
  readonly ruleMatches: client.Counter<'rule'>;
  readonly rulesLoaded: client.Gauge;
  readonly ruleErrors: client.Gauge;
  readonly findings: client.Gauge<'scene'>;
  readonly findingsTotal: client.Counter<'scene'>;
  readonly podFindings: client.Gauge<'namespace' | 'pod' | 'scene'>;
  readonly whyDuration: client.Histogram;
  readonly fixPlans: client.Counter<'action'>;
  readonly fixSteps: client.Counter<'action' | 'result'>;
  readonly verifyOutcomes: client.Counter<'outcome'>;
  readonly nvmlAvailable: client.Gauge;
  readonly gpuXids: client.Counter<'xid' | 'fatal'>;
  readonly governorLevel: client.Gauge;
  readonly governorAdjustments: client.Counter<'direction'>;
  readonly cpuRatio: client.Gauge;
  readonly recordWorkRatio: client.Gauge;
  readonly cpuBudget: client.Gauge;
  readonly kubeUpdates: client.Counter<'outcome'>;
  readonly crashReports: client.Counter;
  readonly ipcRefused: client.Counter<'reason'>;
  readonly ruleFailures: client.Counter<'rule'>;
  /** the node label of the per-rank series (config kubernetes.node_name, --node-name) */
  nodeName: string;
  /** the ranks on this node, asked once per scrape (the agent sets it) */
  rankSource?: () => RankSample[];
  private rankSnapshot: RankSample[] = [];
  ready = false;

  private readonly last = new Map<string, number>();
  private readonly prevFindings = new Set<string>();

  constructor(info: { version?: string; nodeName?: string } = {}) {
    this.nodeName = info.nodeName ?? os.hostname();
    const r = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new client.Counter<L>({ name, help, labelNames, registers: r });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new client.Gauge<L>({ name, help, labelNames, registers: r });

    this.events = counter('xctl_events_total', 'Records ingested, by probe family and record kind', ['family', 'kind']);
    this.drops = counter(
      'xctl_ring_drops_total',
      'Records lost: side="kernel" ring reservation failures per family, side="user" records discarded in userspace',
      ['family', 'side'],
    );
    this.records = counter('xctl_ring_records_total', 'Records delivered from the BPF rings to JS');
    this.batches = counter('xctl_ring_batches_total', 'Record batches delivered to JS (one JS call each)');
    this.bytes = counter('xctl_ring_bytes_total', 'Bytes delivered from the BPF rings to JS');
    this.wakeups = counter('xctl_ring_wakeups_total', 'Ring epoll wakeups');
    this.probeAttached = gauge('xctl_probe_attached', '1 if the BPF program is attached, 0 if it failed', ['family', 'program']);
    this.familyLoaded = gauge('xctl_probe_family_loaded', '1 if the probe family object loaded', ['family']);
    this.probesFailed = gauge(
      'xctl_probes_failed',
      'Requested BPF programs that do not run: not attached and no __fallback in their place',
    );
    this.bpfRunTime = counter(
      'xctl_bpf_program_run_time_seconds_total',
      'In-kernel run time of each BPF program (needs kernel.bpf_stats_enabled=1, config probes.bpf_stats)',
      ['family', 'program'],
    );
    this.bpfRuns = counter('xctl_bpf_program_runs_total', 'In-kernel run count of each BPF program (needs kernel.bpf_stats_enabled=1)', [
      'family',
      'program',
    ]);
    this.bpfStatsEnabled = gauge('xctl_bpf_stats_enabled', 'Value of kernel.bpf_stats_enabled (in-kernel cost accounting)');
    this.graphNodes = gauge('xctl_graph_nodes', 'Causal graph size by node kind', ['kind']);
    this.evictions = counter('xctl_graph_evictions_total', 'Graph nodes and edges evicted (caps, grace periods, pid reuse)', ['kind']);
    this.ruleEvaluations = counter('xctl_rule_evaluations_total', 'Rule evaluations, by rule id', ['rule']);
    this.ruleMatches = counter('xctl_rule_matches_total', 'Rule evaluations that matched, by rule id', ['rule']);
    this.rulesLoaded = gauge('xctl_rules_loaded', 'Rules in the current rule set');
    this.ruleErrors = gauge('xctl_rule_errors', 'Errors in the last rejected rule reload (0 when the files on disk are valid)');
    this.findings = gauge('xctl_findings_active', 'Entities with an active finding, by scene', ['scene']);
    this.findingsTotal = counter('xctl_findings_total', 'Findings that became active, by scene', ['scene']);
    this.podFindings = gauge(
      'xctl_pod_findings_active',
      `Processes with a current finding, by pod (namespace, pod name or uid) and scene; only pods with one, at most ${MAX_POD_SERIES} series (the rest as pod="${OTHER_POD}")`,
      ['namespace', 'pod', 'scene'],
    );
    this.whyDuration = new client.Histogram({
      name: 'xctl_why_duration_seconds',
      help: 'Time to answer why',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: r,
    });
    this.fixPlans = counter('xctl_fix_plans_total', 'Fix plans produced, by action', ['action']);
    this.fixSteps = counter('xctl_fix_steps_total', 'Fix steps executed, by action and result', ['action', 'result']);
    this.verifyOutcomes = counter('xctl_verify_outcomes_total', 'Post-fix verification outcomes', ['outcome']);
    this.nvmlAvailable = gauge('xctl_nvml_available', '1 if NVML is loaded and GPUs are visible');
    this.gpuXids = counter('xctl_gpu_xid_total', 'GPU Xid errors seen, by Xid code and whether it is fatal', ['xid', 'fatal']);
    this.governorLevel = gauge(
      'xctl_governor_level',
      'CPU budget governor level: 0 = configured thresholds, N = thresholds raised 4^N times',
    );
    this.governorAdjustments = counter('xctl_governor_adjustments_total', 'Threshold changes by the CPU budget governor', ['direction']);
    this.cpuRatio = gauge('xctl_agent_cpu_ratio', 'Agent CPU use over the last governor interval, as a fraction of one core');
    this.recordWorkRatio = gauge(
      'xctl_agent_record_work_ratio',
      'Time spent handling records (ingest, rule evaluation) over the last governor interval, as a fraction of one core: what the CPU budget judges',
    );
    this.cpuBudget = gauge('xctl_agent_cpu_budget_ratio', 'Configured agent CPU budget, as a fraction of one core');
    this.kubeUpdates = counter('xctl_kube_node_condition_updates_total', 'Kubernetes node condition PATCHes, by outcome', ['outcome']);
    this.crashReports = counter('xctl_crash_reports_total', 'Crash reports written to the state directory');
    this.ruleFailures = counter('xctl_rule_failures_total', 'Rules disabled because their evaluation threw, by rule id', ['rule']);
    this.ipcRefused = counter(
      'xctl_ipc_connections_refused_total',
      'Agent socket connections refused, by reason (total, non_root, per_uid)',
      ['reason'],
    );
    gauge<'version' | 'node'>('xctl_build_info', 'xctl build information', ['version', 'node']).set(
      { version: info.version ?? 'unknown', node: process.version },
      1,
    );
    this.processMetrics(r);
    this.rankMetrics(r);
    this.nvmlAvailable.set(0);
    this.governorLevel.set(0);
    this.probesFailed.set(0);
    this.bpfStatsEnabled.set(readBpfStatsEnabled());
  }

  /** Agent CPU and memory, named like Prometheus client process metrics. */
  private processMetrics(r: client.Registry[]): void {
    let lastCpu = process.cpuUsage();
    new client.Counter({
      name: 'xctl_process_cpu_seconds_total',
      help: 'Agent CPU time (user + system)',
      registers: r,
      collect() {
        const now = process.cpuUsage();
        const d = now.user - lastCpu.user + (now.system - lastCpu.system);
        lastCpu = now;
        if (d > 0) this.inc(d / 1e6);
      },
    });
    new client.Gauge({
      name: 'xctl_process_resident_memory_bytes',
      help: 'Agent resident set size',
      registers: r,
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
    new client.Gauge({
      name: 'xctl_process_heap_used_bytes',
      help: 'V8 heap in use',
      registers: r,
      collect() {
        this.set(process.memoryUsage().heapUsed);
      },
    });
    new client.Gauge({
      name: 'xctl_process_open_fds',
      help: 'Open file descriptors of the agent',
      registers: r,
      collect() {
        try {
          this.set(fs.readdirSync('/proc/self/fd').length);
        } catch {
          /* not Linux */
        }
      },
    });
    new client.Gauge({ name: 'xctl_process_start_time_seconds', help: 'Agent start time, Unix epoch', registers: r }).set(
      Math.round(Date.now() / 1000 - process.uptime()),
    );
  }

  /**
   * Per-rank training progress, filled at scrape time from rankSource (the first of these series
   * takes the snapshot the others read, so one scrape sees one consistent rank table).
   */
  private rankMetrics(r: client.Registry[]): void {
    const m = this;
    const base = (s: RankSample): Record<RankKey, string> => ({ job: s.job, rank: String(s.rank), node: m.nodeName });
    /** a gauge of the rank table: `value` per rank, labels job/rank/node plus `extra`; undefined leaves the rank out */
    const gauge = (name: string, help: string, extra: string[], value: (s: RankSample) => [Labels, number] | undefined, first = false) =>
      new client.Gauge<string>({
        name,
        help,
        labelNames: ['job', 'rank', 'node', ...extra],
        registers: r,
        collect() {
          if (first) m.rankSnapshot = m.rankSource?.() ?? [];
          this.reset();
          for (const s of m.rankSnapshot) {
            const v = value(s);
            if (v) this.set({ ...base(s), ...v[0] }, v[1]);
          }
        },
      });
    const str = (v: string | number | undefined) => (v === undefined ? '' : String(v));
    gauge(
      'xctl_rank_info',
      'A training rank on this node (identity from its environment): its pid, world size, pod and container',
      ['pid', 'world_size', 'pod', 'container'],
      (s) => [{ pid: String(s.pid), world_size: str(s.worldSize), pod: str(s.pod), container: str(s.container) }, 1],
      true,
    );
    new client.Counter<RankKey | 'comm'>({
      name: 'xctl_rank_collectives_completed_total',
      help: 'NCCL collectives the rank completed, per communicator (comm: 0, 1, ... in order of first use)',
      labelNames: ['job', 'rank', 'node', 'comm'],
      registers: r,
      collect() {
        this.reset();
        for (const s of m.rankSnapshot) for (let k = 0; k < s.comms.length; k++) this.inc({ ...base(s), comm: String(k) }, s.comms[k]!);
      },
    });
    gauge(
      'xctl_rank_in_collective',
      '1 while the rank waits inside an NCCL collective (in flight past gpu.nccl_inflight), else 0',
      [],
      (s) => [{}, s.inflight ? 1 : 0],
    );
    gauge(
      'xctl_rank_collective_inflight_since_seconds',
      'Unix time the collective the rank waits in was entered (only while it waits)',
      ['fn'],
      (s) => (s.inflight ? [{ fn: s.inflight.fn }, s.inflight.sinceS] : undefined),
    );
    gauge('xctl_rank_last_collective_timestamp_seconds', 'Unix time of the newest NCCL collective the rank completed', [], (s) =>
      s.lastCompletionS === undefined ? undefined : [{}, s.lastCompletionS],
    );
    gauge(
      'xctl_rank_finding_confidence',
      "The rank's top active finding on this node (scene, rule, culprit), valued by its confidence",
      ['scene', 'rule', 'culprit_kind', 'culprit'],
      (s) => {
        const f = s.finding;
        return f ? [{ scene: f.scene, rule: f.rule, culprit_kind: f.culpritKind, culprit: f.culprit }, f.confidence] : undefined;
      },
    );
  }

  /** Moves a counter to a cumulative value seen at the source. */
  private advance(c: client.Counter<string>, labels: Labels, value: number): void {
    const key = (c as unknown as { name: string }).name + JSON.stringify(labels);
    const prev = this.last.get(key);
    this.last.set(key, value);
    const delta = prev === undefined || value < prev ? value : value - prev;
    if (delta > 0) c.inc(labels, delta);
    else if (prev === undefined) c.inc(labels, 0); // the series exists from the first update
  }

  /** Once a second from the agent: everything derived from cumulative counts and current state. */
  update(s: MetricsSnapshot): void {
    if (s.stats) {
      for (const [fam, n] of Object.entries(s.stats.dropsByFamily)) this.advance(this.drops, { family: fam, side: 'kernel' }, n);
      this.advance(this.drops, { family: 'all', side: 'user' }, s.stats.userDrops + (s.sinkLostRecords ?? 0));
      this.advance(this.records, {}, s.stats.records);
      this.advance(this.batches, {}, s.stats.batches);
      this.advance(this.bytes, {}, s.stats.bytes);
      this.advance(this.wakeups, {}, s.stats.wakeups);
    }
    for (const [kind, n] of Object.entries(s.byKind ?? {})) this.advance(this.events, { family: kindFamily(kind) ?? 'other', kind }, n);
    if (s.graphSize) for (const [k, v] of Object.entries(s.graphSize)) this.graphNodes.set({ kind: k }, v);
    for (const [k, v] of Object.entries(s.evicted ?? {})) this.advance(this.evictions, { kind: k }, v);
    for (const [rule, n] of s.evaluationsByRule ?? []) this.advance(this.ruleEvaluations, { rule }, n);
    for (const [rule, n] of s.matchesByRule ?? []) this.advance(this.ruleMatches, { rule }, n);
    if (s.rulesLoaded !== undefined) this.rulesLoaded.set(s.rulesLoaded);
    if (s.ruleErrors !== undefined) this.ruleErrors.set(s.ruleErrors);
    if (s.activeFindings) {
      const counts: Record<string, number> = {};
      for (const [key, scene] of s.activeFindings) {
        counts[scene] = (counts[scene] ?? 0) + 1;
        if (!this.prevFindings.has(key)) this.findingsTotal.inc({ scene });
      }
      this.prevFindings.clear();
      for (const key of s.activeFindings.keys()) this.prevFindings.add(key);
      this.findings.reset();
      for (const [scene, n] of Object.entries(counts)) this.findings.set({ scene }, n);
    }
    if (s.podFindings) {
      // worst case MAX_POD_SERIES series: a node's pods (kubelet max-pods, 110 by default) x the scenes with a finding
      this.podFindings.reset();
      let n = 0;
      const other = new Map<string, number>();
      for (const [key, count] of s.podFindings) {
        const [namespace = '', pod = '', scene = ''] = key.split('\0');
        if (n++ < MAX_POD_SERIES) this.podFindings.set({ namespace, pod, scene }, count);
        else other.set(scene, (other.get(scene) ?? 0) + count);
      }
      for (const [scene, count] of other) this.podFindings.set({ namespace: OTHER_POD, pod: OTHER_POD, scene }, count);
    }
    if (s.probeStatus) this.setProbeStatus(s.probeStatus);
    for (const p of s.programStats ?? []) {
      this.advance(this.bpfRuns, { family: p.family, program: p.name }, p.runCount);
      this.advance(this.bpfRunTime, { family: p.family, program: p.name }, p.runTimeNs / 1e9);
    }
  }

  setProbeStatus(status: FamilyStatus[]): void {
    let failed = 0;
    for (const f of status) {
      this.familyLoaded.set({ family: f.family }, f.loaded ? 1 : 0);
      for (const p of f.programs) this.probeAttached.set({ family: f.family, program: p.name }, p.attached ? 1 : 0);
      failed += programsNotRunning(f).length; // a primary whose fallback runs is not a failure
      if (!f.loaded && !f.programs.length) failed++;
    }
    this.probesFailed.set(failed);
  }

  /* The API for the fix/verify and GPU code. */
  fixPlan(action: string): void {
    this.fixPlans.inc({ action });
  }
  fixStep(action: string, result: string): void {
    this.fixSteps.inc({ action, result });
  }
  verifyOutcome(outcome: string): void {
    this.verifyOutcomes.inc({ outcome });
  }
  setNvmlAvailable(available: boolean): void {
    this.nvmlAvailable.set(available ? 1 : 0);
  }
  gpuXid(xid: number, fatal: boolean): void {
    this.gpuXids.inc({ xid: String(xid), fatal: String(fatal) });
  }

  /** Serves /metrics, /healthz, /readyz on host:port. */
  serve(addr: string): Promise<http.Server> {
    const { host, port } = parseListenAddr(addr);
    const server = http.createServer((req, res) => {
      const url = (req.url ?? '').split('?')[0];
      if (url === '/metrics') {
        this.registry.metrics().then(
          (body) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(body);
          },
          (e: Error) => {
            res.writeHead(500);
            res.end(e.message);
          },
        );
      } else if (url === '/healthz') {
        res.writeHead(200);
        res.end('ok\n');
      } else if (url === '/readyz') {
        res.writeHead(this.ready ? 200 : 503);
        res.end(this.ready ? 'ready\n' : 'starting\n');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(server));
    });
  }
}

/** "127.0.0.1:9464", "[::1]:9464", ":9464" (all interfaces: an explicit opt-in). */
export function parseListenAddr(addr: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`bad metrics address "${addr}": expected HOST:PORT, e.g. 127.0.0.1:9464, or "off"`);
  return { host: m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

export function readBpfStatsEnabled(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
