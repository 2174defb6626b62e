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
import { AuditLog, DEFAULT_AUDIT_RETENTION } from '../fix/audit';
import { executePlan } from '../fix/execute';
import { buildPlan, type OutcomeRecord, type Plan, type StepResult } from '../fix/plan';
import { Policy, type FixConfig } from '../fix/policy';
import { protectedReason } from '../fix/safety';
import { PlanStore } from '../fix/store';
import { baseline, measure, readyInS, shareOf, verifyPlan } from '../verify/verify';

export const DEFAULT_STATE_DIR = '/var/lib/xctl';
/** plans never applied (dry runs) kept in the state directory; the oldest go first */
export const MAX_DRY_RUN_PLANS = 500;
/** resolved plans re-measured per re-check tick (the next tick takes the next ones, round robin) */
export const RECHECK_SLICE = 32;
/** plans past fix.plan_max_age deleted per tick at most (the rest on the next ticks) */
export const EXPIRE_SLICE = 256;
const MINUTE_MS = 60_000;

/** Requests from one uid that may not apply, in the current minute. */
interface CallerWindow {
  uid: number;
  startMs: number;
  n: number;
  suppressed: number;
  timer?: NodeJS.Timeout;
}

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
  private closed = false;
  /** plans whose last outcome is resolved: all the periodic re-check reads (not every plan on disk) */
  private readonly resolved = new Set<string>();
  /** ids of kept plans never applied, oldest first (retention: MAX_DRY_RUN_PLANS) */
  private readonly dryRuns: string[] = [];
  /** every kept plan: id -> creation time (ms), oldest first (retention: fix.plan_max, fix.plan_max_age) */
  private readonly kept = new Map<string, number>();
  /** per uid that may not apply: this minute's requests (fix.refused_per_minute) */
  private readonly callers = new Map<number, CallerWindow>();

  constructor(private readonly o: FixServiceOptions) {
    this.store = new PlanStore(o.stateDir);
    this.audit = new AuditLog(path.join(o.stateDir, 'audit.jsonl'), {
      maxBytes: o.config?.auditMaxBytes ?? DEFAULT_AUDIT_RETENTION.maxBytes,
      keep: o.config?.auditKeep ?? DEFAULT_AUDIT_RETENTION.keep,
    });
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
    for (const plan of plans) {
      this.keep(plan.plan_id, Date.parse(plan.created_at) || Date.now());
      if (!plan.applied_at) this.keepDryRun(plan.plan_id);
    }
    const every = o.config?.recheckIntervalS ?? 60;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.expire();
        void this.recheckTick();
      }, every * 1000);
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
    const allowed = this.policy.callerAllowed(peer);
    // a caller who may not apply costs a plan (and a refusal line) a few times a minute, not at its own pace
    if (!allowed) this.admitRefusable(peer);
    if (apply && !allowed) this.refuseCaller(peer, args.plan_id ?? '-', pid);
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
      if (!allowed) return { plan_id: plan.plan_id, plan, applied: false, results: [], saved: false };
      this.store.save(plan);
      this.keep(plan.plan_id, Date.now());
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
    if (!apply) return { plan_id: plan.plan_id, plan, applied: false, results: [], saved: allowed || !!args.plan_id };
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

  /** `--apply` from a caller who may not apply: refused before any plan is made or kept, one audit line. */
  private refuseCaller(peer: PeerCred | undefined, planId: string, pid: number): never {
    const who = peer ? `uid ${peer.uid} gid ${peer.gid} (pid ${peer.pid})` : 'an unidentified caller (no SO_PEERCRED)';
    const msg = `refused: ${who} may not apply remediation; allowed uids ${JSON.stringify(this.o.config?.allowedUids ?? [0])}, gids ${JSON.stringify(this.o.config?.allowedGids ?? [])}`;
    this.audit.append({
      plan_id: planId,
      step: -1,
      phase: 'refused',
      caller_uid: peer?.uid ?? null,
      caller_pid: peer?.pid ?? null,
      action: 'apply',
      target: { type: 'process', pid },
      result: 'refused',
      error: msg,
      code: 'forbidden',
    });
    throw new IpcError('FORBIDDEN', msg);
  }

  /**
   * Counts a request from a caller who may not apply: past fix.refused_per_minute in this uid's minute it is
   * refused (UNAVAILABLE) before any work, and the minute's refusals are audited as one line when it ends.
   */
  private admitRefusable(peer: PeerCred | undefined): void {
    const uid = peer?.uid ?? -1;
    const now = Date.now();
    let w = this.callers.get(uid);
    if (w && now - w.startMs >= MINUTE_MS) this.flushSuppressed(w);
    w = this.callers.get(uid);
    if (!w) {
      if (this.callers.size >= 4096)
        for (const old of [...this.callers.values()]) if (now - old.startMs >= MINUTE_MS) this.flushSuppressed(old);
      w = { uid, startMs: now, n: 0, suppressed: 0 };
      this.callers.set(uid, w);
    }
    const limit = this.o.config?.refusedPerMinute ?? 10;
    if (++w.n <= limit) return;
    w.suppressed++;
    if (!w.timer) {
      const cw = w;
      w.timer = setTimeout(() => this.flushSuppressed(cw), Math.max(0, w.startMs + MINUTE_MS - now));
      w.timer.unref();
    }
    const again = Math.ceil((w.startMs + MINUTE_MS - now) / 1000);
    throw new IpcError(
      'UNAVAILABLE',
      `too many fix requests from uid ${uid}, which may not apply remediation: at most ${limit} a minute; try again in ${again} s`,
    );
  }

  /** Ends a caller's minute: its refused requests, if any, become one audit line. */
  private flushSuppressed(w: CallerWindow): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = undefined;
    if (this.callers.get(w.uid) === w) this.callers.delete(w.uid);
    if (!w.suppressed) return;
    this.audit.append({
      plan_id: '-',
      step: -1,
      phase: 'refused',
      caller_uid: w.uid < 0 ? null : w.uid,
      action: 'fix',
      target: null,
      result: 'suppressed',
      error: `${w.suppressed} refused requests from uid ${w.uid < 0 ? 'unknown' : w.uid} suppressed in the last minute`,
      code: 'rate_limited',
      suppressed: w.suppressed,
      since: new Date(w.startMs).toISOString(),
    });
    w.suppressed = 0;
  }

  /** Notes a kept plan; past fix.plan_max the oldest one's file is deleted. */
  private keep(id: string, createdMs: number): void {
    this.kept.delete(id);
    this.kept.set(id, createdMs);
    const max = this.o.config?.planMax ?? 2000;
    while (this.kept.size > max) this.forget(this.kept.keys().next().value!);
  }

  /** Deletes a kept plan (file and every index). */
  private forget(id: string): void {
    this.kept.delete(id);
    this.resolved.delete(id);
    const dry = this.dryRuns.indexOf(id);
    if (dry >= 0) this.dryRuns.splice(dry, 1);
    this.store.remove(id);
  }

  /** Periodic: deletes plans past fix.plan_max_age, oldest first, at most EXPIRE_SLICE per call. Returns how many. */
  expire(nowMs = Date.now()): number {
    const maxAgeMs = (this.o.config?.planMaxAgeS ?? 7 * 86_400) * 1000;
    let n = 0;
    for (const [id, created] of this.kept) {
      if (n >= EXPIRE_SLICE || nowMs - created < maxAgeMs) break;
      this.forget(id);
      n++;
    }
    return n;
  }

  /** Plans kept now (tests). */
  keptCount(): number {
    return this.kept.size;
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
    while (this.dryRuns.length > MAX_DRY_RUN_PLANS) this.forget(this.dryRuns[0]!);
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

  /** The next RECHECK_SLICE resolved plans, round robin (each is moved to the back when re-measured). */
  private recheckSlice(): string[] {
    const slice: string[] = [];
    for (const id of this.resolved) {
      if (slice.length >= RECHECK_SLICE) break;
      slice.push(id);
    }
    return slice;
  }

  /** Re-measures one resolved plan; a bad value again is `recurred`. */
  private recheckOne(id: string): OutcomeRecord | undefined {
    this.resolved.delete(id); // noteOutcome adds it back, at the end, while it stays resolved
    const plan = this.store.load(id);
    const last = plan?.outcomes[plan.outcomes.length - 1];
    if (!plan || last?.outcome !== 'resolved') return undefined;
    const rec = verifyPlan(this.o.pipeline.graph, plan, this.now(), 'recheck');
    if (rec.outcome === 'recurred')
      this.o.logger.warn({ plan_id: plan.plan_id, metric: rec.metric, after: rec.after }, 'a resolved problem recurred');
    this.store.save(plan);
    this.noteOutcome(plan);
    return rec;
  }

  /**
   * Re-measures plans judged resolved (only those: the set is kept as outcomes change), at most
   * RECHECK_SLICE per call, round robin.
   */
  recheck(): OutcomeRecord[] {
    const out: OutcomeRecord[] = [];
    for (const id of this.recheckSlice()) {
      const rec = this.recheckOne(id);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** The periodic tick's re-check: the same slice, yielding to the event loop between plans (one plan's read + fsync'd write at a time). */
  async recheckTick(): Promise<OutcomeRecord[]> {
    const out: OutcomeRecord[] = [];
    for (const id of this.recheckSlice()) {
      if (this.closed) break;
      const rec = this.recheckOne(id);
      if (rec) out.push(rec);
      await new Promise<void>((r) => setImmediate(r));
    }
    return out;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const w of [...this.callers.values()]) this.flushSuppressed(w);
    this.audit.close();
  }
}
