/**
 * The agent's remediation service behind the `fix` and `verify` socket methods:
 * plans from the pipeline's findings, applies them for allowed callers, keeps
 * plans + outcomes in the state directory, and re-checks resolved plans.
 */
import * as path from 'node:path';
import type { Logger } from 'pino';
import { IpcError } from '../ipc/errors';
import type { PeerCred } from '../ipc/server';
import type { Pipeline } from '../engine/pipeline';
import type { WhyAnswer } from '../engine/answer';
import { WhyError, answerWhy } from '../why/why';
import { AuditLog } from '../fix/audit';
import { executePlan } from '../fix/execute';
import { buildPlan, type OutcomeRecord, type Plan, type StepResult } from '../fix/plan';
import { Policy, type FixConfig } from '../fix/policy';
import { protectedReason } from '../fix/safety';
import { PlanStore } from '../fix/store';
import { baseline, measure, readyInS, shareOf, verifyPlan } from '../verify/verify';

export const DEFAULT_STATE_DIR = '/var/lib/xctl';
/** plans never applied (dry runs) kept in the state directory; the oldest go first */
export const MAX_DRY_RUN_PLANS = 500;

export interface FixServiceOptions {
  stateDir: string;
  config?: FixConfig;
  pipeline: Pipeline;
  cpuUsage?: (pid: number) => number | undefined;
  cpuTop?: (n: number, cpus: number[] | undefined, excludePids: number[]) => { pid: number; usage: number; lastCpu: number }[];
  logger: Logger;
}

export interface FixReply {
  plan_id: string;
  plan: Plan;
  applied: boolean;
  results: StepResult[];
  /** false for a dry run by a caller who may not apply: the plan is shown, not kept (nor audited) */
  saved: boolean;
}

export class FixService {
  readonly audit: AuditLog;
  readonly store: PlanStore;
  readonly policy: Policy;
  private timer?: NodeJS.Timeout;
  /** plans whose last outcome is resolved: all the periodic re-check reads (not every plan on disk) */
  private readonly resolved = new Set<string>();
  /** ids of kept plans never applied, oldest first (retention: MAX_DRY_RUN_PLANS) */
  private readonly dryRuns: string[] = [];

  constructor(private readonly o: FixServiceOptions) {
    this.store = new PlanStore(o.stateDir);
    this.audit = new AuditLog(path.join(o.stateDir, 'audit.jsonl'));
    this.policy = new Policy(o.config);
    const rec = this.audit.recovery;
    if (rec.truncatedBytes)
      o.logger.warn({ bytes: rec.truncatedBytes }, 'audit log ended in a partial line (a crash mid-write): truncated it');
    for (const s of rec.interrupted) {
      o.logger.warn(s, 'a remediation step was interrupted by an agent stop; marked interrupted in the audit log');
      const plan = this.store.load(s.plan_id);
      if (plan) {
        plan.status = 'interrupted';
        const st = plan.steps[s.step];
        plan.results = plan.results.filter((r) => r.step !== s.step);
        plan.results.push({
          step: s.step,
          action: st?.action ?? '?',
          status: 'interrupted',
          detail: 'the agent stopped while this step ran; its effect is unknown',
        });
        this.store.save(plan);
      }
    }
    const plans = this.store.all();
    for (const plan of plans) this.noteOutcome(plan);
    plans.sort((a, b) => a.created_at.localeCompare(b.created_at));
    for (const plan of plans) if (!plan.applied_at) this.keepDryRun(plan.plan_id);
    const every = o.config?.recheckIntervalS ?? 60;
    if (every > 0) {
      this.timer = setInterval(() => this.recheck(), every * 1000);
      this.timer.unref();
    }
  }

  private now(): number {
    return this.o.pipeline.nowNs();
  }

  async fix(pid: number, args: Record<string, string>, peer: PeerCred | undefined): Promise<FixReply> {
    const apply = args.apply === '1' || args.apply === 'true';
    const yes = args.yes === '1' || args.yes === 'true';
    const caller = { uid: peer?.uid ?? null, pid: peer?.pid ?? null };
    let plan: Plan;
    if (args.plan_id) {
      const p = this.loadPlan(args.plan_id);
      if (!p) throw new IpcError('NOT_FOUND', `no plan ${args.plan_id} in ${this.store.dir}`);
      plan = p;
    } else {
      if (!pid) throw new IpcError('BAD_REQUEST', 'fix needs a pid or a plan_id');
      const prot = apply ? protectedReason(pid) : undefined;
      if (prot) {
        this.audit.append({
          plan_id: '-',
          step: -1,
          phase: 'refused',
          caller_uid: caller.uid,
          caller_pid: caller.pid,
          action: 'fix',
          target: { type: 'process', pid },
          result: 'refused',
          error: prot,
          code: 'protected',
        });
        throw new IpcError('FORBIDDEN', `refused: ${prot}`);
      }
      let answer: WhyAnswer;
      try {
        answer = answerWhy(this.o.pipeline, pid, 300e9);
      } catch (e) {
        if (e instanceof WhyError) throw new IpcError('NOT_FOUND', e.message);
        throw e;
      }
      const g = this.o.pipeline.graph;
      plan = buildPlan(answer, {
        nowNs: this.now(),
        policy: (a) => this.policy.mode(a),
        measure: (v) => measure(g, v, this.now()),
        baseline: (v) => {
          const b = baseline(g, v, this.now());
          return b && { share: shareOf(v, b), seconds: b.seconds };
        },
        cpuUsage: this.o.cpuUsage,
        cpuTop: this.o.cpuTop,
      });
      // a caller who may not apply gets the plan to read; keeping it (file + fsync'd audit line) would let
      // anyone on the socket fill the state directory
      if (!apply && !this.policy.callerAllowed(peer)) return { plan_id: plan.plan_id, plan, applied: false, results: [], saved: false };
      this.store.save(plan);
      this.keepDryRun(plan.plan_id);
      this.audit.append({
        plan_id: plan.plan_id,
        step: -1,
        phase: 'plan',
        caller_uid: caller.uid,
        caller_pid: caller.pid,
        action: 'plan',
        target: { type: 'process', pid: plan.pid, start_ns: plan.start_ns },
        result: `${plan.steps.length} step(s) for ${plan.scene}`,
        scene: plan.scene,
      });
    }
    if (!apply) return { plan_id: plan.plan_id, plan, applied: false, results: [], saved: true };
    if (!this.policy.callerAllowed(peer)) {
      const who = peer ? `uid ${peer.uid} gid ${peer.gid} (pid ${peer.pid})` : 'an unidentified caller (no SO_PEERCRED)';
      const msg = `refused: ${who} may not apply remediation; allowed uids ${JSON.stringify(this.o.config?.allowedUids ?? [0])}, gids ${JSON.stringify(this.o.config?.allowedGids ?? [])}`;
      this.audit.append({
        plan_id: plan.plan_id,
        step: -1,
        phase: 'refused',
        caller_uid: caller.uid,
        caller_pid: caller.pid,
        action: 'apply',
        target: { type: 'process', pid: plan.pid },
        result: 'refused',
        error: msg,
        code: 'forbidden',
      });
      throw new IpcError('FORBIDDEN', msg);
    }
    const pause = Number(process.env.XCTL_TEST_PAUSE_AFTER_BEFORE_AUDIT_MS ?? 0) || undefined;
    plan.applied_at = new Date().toISOString();
    const dry = this.dryRuns.indexOf(plan.plan_id);
    if (dry >= 0) this.dryRuns.splice(dry, 1);
    plan.applied_by_uid = caller.uid;
    const results = await executePlan(plan, {
      confirmed: yes,
      caller,
      audit: this.audit,
      policy: this.policy,
      actionContext: { config: this.o.config ?? {} },
      persist: (p) => this.store.save(p),
      pauseAfterBeforeMs: pause,
    });
    plan.applied_ns = this.now();
    // the "before" of the verdict is the value right before the steps ran
    this.store.save(plan);
    return { plan_id: plan.plan_id, plan, applied: true, results, saved: true };
  }

  /** A stored plan by id; a malformed id is the caller's error (BAD_REQUEST), not the agent's. */
  private loadPlan(id: string): Plan | undefined {
    try {
      return this.store.load(id);
    } catch (e) {
      if (e instanceof RangeError) throw new IpcError('BAD_REQUEST', e.message);
      throw e;
    }
  }

  /** Notes a kept dry-run plan; past MAX_DRY_RUN_PLANS the oldest one's file is deleted. */
  private keepDryRun(id: string): void {
    this.dryRuns.push(id);
    while (this.dryRuns.length > MAX_DRY_RUN_PLANS) this.store.remove(this.dryRuns.shift()!);
  }

  /** Keeps the re-check set in step with a plan's last outcome. */
  private noteOutcome(plan: Plan): void {
    const last = plan.outcomes[plan.outcomes.length - 1];
    if (last?.outcome === 'resolved') this.resolved.add(plan.plan_id);
    else this.resolved.delete(plan.plan_id);
  }

  async verify(
    args: Record<string, string>,
  ): Promise<{ plan_id: string; outcome: OutcomeRecord['outcome']; record: OutcomeRecord | { ready_in_s: number }; plan: Plan }> {
    const id = args.plan_id;
    if (!id) throw new IpcError('BAD_REQUEST', 'verify needs a plan_id');
    const plan = this.loadPlan(id);
    if (!plan) throw new IpcError('NOT_FOUND', `no plan ${id} in ${this.store.dir}`);
    const wait = args.wait === '1' || args.wait === 'true';
    let ready = readyInS(plan, this.now());
    if (ready > 0 && !wait) return { plan_id: id, outcome: 'pending', record: { ready_in_s: Number(ready.toFixed(1)) }, plan };
    while (ready > 0) {
      await new Promise((r) => setTimeout(r, Math.min(1000, ready * 1000 + 50)));
      ready = readyInS(plan, this.now());
    }
    this.o.pipeline.flush();
    const rec = verifyPlan(this.o.pipeline.graph, plan, this.now(), 'verify');
    this.store.save(plan);
    this.noteOutcome(plan);
    return { plan_id: id, outcome: rec.outcome, record: rec, plan };
  }

  /** Periodic: re-measure plans judged resolved (only those: the set is kept as outcomes change); a bad value again is `recurred`. */
  recheck(): OutcomeRecord[] {
    const out: OutcomeRecord[] = [];
    for (const id of [...this.resolved]) {
      const plan = this.store.load(id);
      const last = plan?.outcomes[plan.outcomes.length - 1];
      if (!plan || last?.outcome !== 'resolved') {
        this.resolved.delete(id);
        continue;
      }
      const rec = verifyPlan(this.o.pipeline.graph, plan, this.now(), 'recheck');
      if (rec.outcome === 'recurred')
        this.o.logger.warn({ plan_id: plan.plan_id, metric: rec.metric, after: rec.after }, 'a resolved problem recurred');
      this.store.save(plan);
      this.noteOutcome(plan);
      out.push(rec);
    }
    return out;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.audit.close();
  }
}
