/**
 * A finding -> a remediation plan: ordered steps, each naming its action, its
 * target (pid + start time, cgroup, device, node), the preconditions checked
 * before it runs, the expected effect, and the verification that judges it.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { readProcIdentity } from '../procfs/process';
import type { Finding, FindingAction, IdentityFields, WhyAnswer } from '../engine/answer';
import { identityFields } from '../identity/identity';
import type { PolicyMode } from './policy';
import { protectedReason } from './safety';
import { metricDef } from '../graph/vocabulary';
import { VERIFY_STATES } from '../rules/vocabulary';
import { commandOf } from './actions/command';

export interface StepTarget {
  type: 'process' | 'cgroup' | 'device' | 'node' | 'gpu' | 'host' | 'peer' | 'none';
  id: string;
  label: string;
  pid?: number;
  start_ns?: number;
}

/** What verify measures: one metric of one entity over a window, against a threshold. */
export interface Verification {
  /** a graph metric (summed over the window), a state of VERIFY_STATES, or 'none' (judge by hand) */
  metric: string;
  /** whose metric: a process (pid + start) or a peer id */
  entity: { type: 'process'; pid: number; start_ns: number; label: string } | { type: 'peer'; id: string; label: string };
  agg: 'sum' | 'state';
  window_s: number;
  /** good when value <= threshold */
  threshold: number;
  /** the metric's unit in the catalogue; 'bool' for a state */
  unit: string;
  /** the value when the plan was made */
  before?: number;
  /** the baseline as a share of wall time (ns per s; for counts, the share of seconds with any) over the settled
   * window before the plan, clipped to what was observed */
  before_rate?: number;
  /** the seconds the baseline covers */
  before_s?: number;
  text: string;
}

export interface PlanStep {
  index: number;
  action: string;
  text: string;
  target: StepTarget;
  params: Record<string, string | number | boolean>;
  preconditions: string[];
  expected_effect: string;
  verification: Verification;
  /** allow / ask / deny under the agent's policy; manual steps are never executed */
  policy: PolicyMode;
  executable: boolean;
  /** set when the step can never run (protected target, unresolved target) */
  refused?: string;
  evidence: string[];
}

export interface StepResult {
  step: number;
  action: string;
  status: 'ok' | 'failed' | 'refused' | 'manual' | 'unsupported' | 'interrupted';
  detail: string;
}

export interface OutcomeRecord {
  at: string;
  outcome: 'resolved' | 'partial' | 'failed' | 'recurred' | 'pending';
  before?: number;
  after?: number;
  threshold: number;
  window_s: number;
  metric: string;
  by: 'verify' | 'recheck';
  /** rates per second of wall time, as judged (metrics, not states) */
  before_rate?: number;
  after_rate?: number;
  threshold_rate?: number;
  /** the settled window after apply that was judged: whole boot-time seconds */
  span?: { from_s: number; seconds: number };
}

export interface Plan extends IdentityFields {
  plan_id: string;
  created_at: string;
  /** boot-clock ns when the plan was made; verification windows are measured from it or from applied_ns */
  created_ns: number;
  host: string;
  pid: number;
  start_ns: number;
  comm: string;
  scene: string;
  rule: string;
  summary: string;
  confidence: number;
  steps: PlanStep[];
  verification: Verification;
  status: 'planned' | 'applying' | 'applied' | 'partially_applied' | 'refused' | 'interrupted';
  applied_at?: string;
  applied_ns?: number;
  applied_by_uid?: number | null;
  results: StepResult[];
  outcomes: OutcomeRecord[];
}

export interface PlanContext {
  nowNs: number;
  policy: (action: string) => PolicyMode;
  /** the verification metric's value now over the window (same series the rules read) */
  measure: (v: Verification) => number | undefined;
  /** the metric's baseline as a share of wall time, over the settled seconds before now that the entity was observed */
  baseline?: (v: Verification) => { share: number; seconds: number } | undefined;
  /** the CPU share (fraction of one CPU) of a process, from the agent's sampler */
  cpuUsage?: (pid: number) => number | undefined;
  cpuTop?: (n: number, cpus: number[] | undefined, excludePids: number[]) => { pid: number; usage: number; lastCpu: number }[];
}

/**
 * The process that takes the CPU from the victim: the biggest expected use of
 * the victim's CPUs (usage spread over the CPUs it may run on), so a busy
 * process elsewhere on the host is never reniced for a pinned victim.
 */
function cpuCompetitor(victim: number, ctx: PlanContext): number | undefined {
  if (!ctx.cpuTop) return undefined;
  const mine = allowedCpus(victim);
  const cands = ctx.cpuTop(10, mine, [victim, process.pid]);
  let best: { pid: number; score: number } | undefined;
  for (const c of cands) {
    const theirs = allowedCpus(c.pid);
    if (!theirs || !mine) continue;
    const overlap = theirs.filter((x) => mine.includes(x)).length;
    const score = (c.usage / theirs.length) * overlap + (mine.includes(c.lastCpu) ? 0.01 : 0);
    if (!best || score > best.score) best = { pid: c.pid, score };
  }
  return best && best.score >= 0.1 ? best.pid : undefined;
}

function allowedCpus(pid: number): number[] | undefined {
  const { readText } = require('../procfs/read') as typeof import('../procfs/read');
  const { parseStatus, parseCpuList } = require('../procfs/parse') as typeof import('../procfs/parse');
  const list = parseStatus(readText(`/proc/${pid}/status`) ?? '').get('Cpus_allowed_list');
  return list === undefined ? undefined : parseCpuList(list);
}

const WINDOW_S = 10;

export function newPlanId(): string {
  const d = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `p-${d}-${randomBytes(3).toString('hex')}`;
}

function procTarget(pid: number): StepTarget | undefined {
  const id = readProcIdentity(pid);
  if (!id) return undefined;
  return { type: 'process', id: `p:${pid}:${id.startNs}`, label: `${id.comm} (${pid})`, pid, start_ns: Number(id.startNs) };
}

/** The process an action acts on: params.pid (e.g. the top CPU competitor) or its process target. */
function resolveTarget(a: FindingAction, answer: WhyAnswer): StepTarget {
  const pidParam = a.params.pid;
  if (pidParam !== undefined && pidParam !== '' && Number.isInteger(Number(pidParam)) && Number(pidParam) > 0) {
    return (
      procTarget(Number(pidParam)) ?? {
        type: 'process',
        id: `p:${pidParam}:?`,
        label: `pid ${pidParam} (gone)`,
        pid: Number(pidParam),
        start_ns: 0,
      }
    );
  }
  if (a.target.type === 'process') {
    const m = /^p:(\d+):(\d+)$/.exec(a.target.id);
    const pid = m ? Number(m[1]) : answer.pid;
    const t = procTarget(pid);
    // keep the graph's start time when /proc agrees; a different one means the graph's process is gone
    return t ?? { type: 'process', id: a.target.id, label: `${a.target.label} (gone)`, pid, start_ns: m ? Number(m[2]) : 0 };
  }
  if (a.type === 'cordon_node') return { type: 'node', id: os.hostname(), label: `node ${os.hostname()}` };
  if (a.type === 'drop_caches') return { type: 'host', id: os.hostname(), label: `page cache of ${os.hostname()}` };
  return {
    type: (['peer', 'device', 'cgroup', 'gpu'].includes(a.target.type) ? a.target.type : 'none') as StepTarget['type'],
    id: a.target.id,
    label: a.target.label,
  };
}

function victimEntity(answer: WhyAnswer): Verification['entity'] {
  return { type: 'process', pid: answer.pid, start_ns: answer.start_ns, label: `${answer.comm} (${answer.pid})` };
}

/** What a verification says it measures, by metric; other metrics get a plain "<metric> of <who>". */
const VERIFY_TEXT: Record<string, (label: string) => string> = {
  'offcpu.runq': (who) => `run-queue delay of ${who} over ${WINDOW_S} s`,
  'tcp.retransmits': (who) => `TCP segments ${who} retransmitted over ${WINDOW_S} s (0 = fixed)`,
  'offcpu.waits_on_process': (who) => `time ${who} waited on other processes over ${WINDOW_S} s`,
  'process.stopped': (who) => `whether ${who} is stopped (1) or running (0)`,
  'tcp.send_blocked': (who) => `whether ${who} is held up sending by its TCP peer (1) or not (0), from /proc`,
};

/**
 * The metric that judges the finding as a whole (used by manual steps and as the plan's verdict):
 * the `verify:` its rule or scene declares, measured on the victim or on the culprit the finding names.
 */
function findingVerification(f: Finding, answer: WhyAnswer): Verification {
  const who = victimEntity(answer);
  const spec = f.verify;
  if (!spec)
    return {
      metric: 'none',
      entity: who,
      agg: 'sum',
      window_s: WINDOW_S,
      threshold: 0,
      unit: 'bool',
      text: `no automatic measure for ${f.scene}: judge by hand`,
    };
  const m = spec.of === 'culprit' ? /^p:(\d+):(\d+)$/.exec(f.culprit.id) : null;
  const entity = m ? { type: 'process' as const, pid: Number(m[1]), start_ns: Number(m[2]), label: f.culprit.label } : who;
  const state = (VERIFY_STATES as readonly string[]).includes(spec.metric);
  const text = VERIFY_TEXT[spec.metric]?.(entity.label) ?? `${spec.metric} of ${entity.label} over ${WINDOW_S} s`;
  return {
    metric: spec.metric,
    entity,
    agg: state ? 'state' : 'sum',
    window_s: WINDOW_S,
    threshold: spec.max,
    unit: state ? 'bool' : (metricDef(spec.metric)?.unit ?? 'number'),
    text,
  };
}

const EFFECT: Record<string, string> = {
  renice: 'the competitor gets a smaller CPU share (a higher nice value), so the victim waits less in the run queue',
  cgroup_cpu_limit: 'the competitor is capped by a CFS quota, so the victim waits less in the run queue',
  ionice: "the competitor's IO gets the idle class, so the victim's IO is served first",
  cgroup_io_limit: "the competitor's IO to the device is throttled",
  sigcont: 'the stopped process runs again, and whoever waits on it is woken',
  signal: 'the process receives the signal',
  checkpoint: 'the process writes a checkpoint (its SIGUSR1 handler)',
  terminate: 'the process exits (SIGTERM, then SIGKILL after the grace period)',
  drop_caches: 'clean page cache is freed',
  gpu_reset: 'the idle GPU is reset',
  cordon_node: 'no new pods are scheduled on this node',
  manual: 'nothing is executed: an operator acts on the evidence',
};

function preconditions(type: string, t: StepTarget): string[] {
  const p: string[] = [];
  if (t.type === 'process')
    p.push(`pid ${t.pid} still has start time ${t.start_ns} ns (no pid reuse)`, 'not pid 1, a kernel thread, the agent or its parent');
  if (type === 'sigcont') p.push('the process is stopped (state T)');
  if (type === 'checkpoint') p.push('the process has a SIGUSR1 handler installed (SigCgt in /proc/<pid>/status)');
  if (type === 'cgroup_cpu_limit' || type === 'cgroup_io_limit') p.push('a cgroup v1 or v2 controller is mounted');
  if (type === 'ionice') p.push('the ionice program is installed');
  if (type === 'gpu_reset') p.push('nvidia-smi is installed and no process uses the GPU');
  if (type === 'cordon_node') p.push('the Kubernetes API is configured (fix.kubernetes)');
  return p;
}

/**
 * A step's text ending with the command it runs: kept when the text already says it; a command the text
 * gives after its last ": " with the same program (e.g. a rule's `renice -n 10 -p 42` when nice 19 is
 * applied) is replaced; otherwise the command is appended.
 */
export function withCommand(prose: string, cmd: string): string {
  if (prose.includes(cmd)) return prose;
  const at = prose.lastIndexOf(': ');
  const program = cmd.split(' ')[0]!;
  if (at >= 0 && prose.slice(at + 2).split(' ')[0] === program) return `${prose.slice(0, at)}: ${cmd}`;
  return `${prose}: ${cmd}`;
}

export function buildPlan(answer: WhyAnswer, ctx: PlanContext): Plan {
  const f = answer.findings[0];
  const base = {
    plan_id: newPlanId(),
    created_at: new Date().toISOString(),
    created_ns: ctx.nowNs,
    host: os.hostname(),
    pid: answer.pid,
    start_ns: answer.start_ns,
    comm: answer.comm,
    // who the process is, as `why` said (container, pod, slurm, rank)
    ...(answer.identity && identityFields(answer as Parameters<typeof identityFields>[0])),
    results: [] as StepResult[],
    outcomes: [] as OutcomeRecord[],
    status: 'planned' as const,
  };
  if (!f) {
    const v: Verification = {
      metric: 'none',
      entity: victimEntity(answer),
      agg: 'sum',
      window_s: WINDOW_S,
      threshold: 0,
      unit: 'bool',
      text: 'nothing to verify',
    };
    return { ...base, scene: 'healthy', rule: '', summary: answer.summary, confidence: answer.confidence, steps: [], verification: v };
  }
  const verdict = findingVerification(f, answer);
  verdict.before = ctx.measure(verdict);
  const settled = verdict.agg === 'sum' && verdict.metric !== 'none' ? ctx.baseline?.(verdict) : undefined;
  if (settled) {
    verdict.before_rate = settled.share;
    verdict.before_s = settled.seconds;
  }
  const rate = verdict.before_rate ?? (verdict.before !== undefined ? verdict.before / verdict.window_s : undefined);
  if (verdict.metric === 'offcpu.runq' && rate !== undefined) {
    // a host that is busy anyway never gets to 0: a quarter of the victim's own share of time spent
    // waiting for a CPU also counts as fixed (the declared max is the floor)
    verdict.threshold = Math.max(verdict.threshold, Math.round(rate * 0.25 * verdict.window_s));
  }
  const evidence = f.evidence
    .map((e) => `${e.leaf} = ${String(e.value)} (${e.entity.label})`)
    .concat(f.chain.map((l) => `${l.from.label} ${l.edge} ${l.to.label}: ${l.evidence.text}`));
  // an action on "the CPUs" acts on the competitor that takes them: found once, from the victim's CPUs
  const onCpus = f.actions.some((a) => a.target_spec === 'waits_on.cpu' && (a.type === 'renice' || a.type === 'cgroup_cpu_limit'));
  const rival = onCpus ? cpuCompetitor(answer.pid, ctx) : undefined;
  const steps: PlanStep[] = f.actions.map((a, i) => {
    const params = { ...a.params };
    const retargeted =
      rival !== undefined && (a.type === 'renice' || a.type === 'cgroup_cpu_limit') && String(params.pid) !== String(rival);
    if (retargeted) params.pid = rival;
    const target = resolveTarget({ ...a, params }, answer);
    if (a.type === 'cgroup_cpu_limit' && target.pid) {
      // a cap the competitor already stays under changes nothing: cap at half of what it uses now
      const usage = ctx.cpuUsage?.(target.pid);
      const cpus = Number(params.cpus ?? 1);
      params.cpus = usage !== undefined ? Number(Math.max(0.05, Math.min(cpus, usage / 2)).toFixed(2)) : cpus;
    }
    // the rule's text names the graph's top competitor; when the victim's CPUs show another one
    // now, the step says whom it really acts on. The command is made from the params applied, so
    // text and action agree whatever the rule's text says.
    const prose = !retargeted
      ? (a.text ?? a.type)
      : a.type === 'renice'
        ? `lower the priority of ${target.label}, the top competitor on the victim's CPUs now`
        : `cap the CPU of ${target.label}, the top competitor on the victim's CPUs now`;
    const cmd = a.type === 'manual' ? undefined : commandOf({ action: a.type, target, params });
    const text = cmd ? withCommand(prose, cmd) : prose;
    const executable = a.type !== 'manual';
    let refused: string | undefined;
    if (executable && target.type === 'process')
      refused = protectedReason(target.pid!) ?? (target.start_ns ? undefined : `process ${target.pid} is gone`);
    const ver =
      a.type === 'sigcont' && target.type === 'process' && verdict.metric !== 'process.stopped'
        ? {
            ...verdict,
            metric: 'process.stopped' as const,
            entity: { type: 'process' as const, pid: target.pid!, start_ns: target.start_ns!, label: target.label },
            agg: 'state' as const,
            threshold: 0,
            unit: 'bool' as const,
            text: `whether ${target.label} is stopped`,
            before: undefined,
          }
        : verdict;
    return {
      index: i,
      action: a.type,
      text,
      target,
      params,
      preconditions: preconditions(a.type, target),
      expected_effect: EFFECT[a.type] ?? a.type,
      verification: ver,
      policy: ctx.policy(a.type),
      executable,
      refused,
      evidence: a.type === 'manual' ? evidence : [],
    };
  });
  if (verdict.metric === 'process.stopped') verdict.before = ctx.measure(verdict);
  for (const s of steps)
    if (s.verification.metric === 'process.stopped' && s.verification.before === undefined)
      s.verification.before = ctx.measure(s.verification);
  return { ...base, scene: f.scene, rule: f.rule, summary: f.summary, confidence: f.confidence, steps, verification: verdict };
}
