/**
 * Runs a plan's steps in order under the policy, the safety checks and the
 * audit log: for every executable step, policy -> identity re-check (pid +
 * start time) -> `before` record -> action -> `after` record.
 */
import { ACTIONS, PROCESS_ACTIONS, type ActionContext, type ActionResult } from './actions';
import type { AuditLog } from './audit';
import type { Plan, StepResult } from './plan';
import type { Policy } from './policy';
import { checkIdentity } from './safety';

export interface Caller {
  uid: number | null;
  pid: number | null;
}

export interface ExecuteOptions {
  confirmed: boolean;
  caller: Caller;
  audit: AuditLog;
  policy: Policy;
  actionContext: ActionContext;
  /** after each audit write that changes the plan's state */
  persist: (p: Plan) => void;
  /** test hook: ms to sleep after a step's `before` record (XCTL_TEST_PAUSE_AFTER_BEFORE_AUDIT_MS) */
  pauseAfterBeforeMs?: number;
}

export async function executePlan(plan: Plan, o: ExecuteOptions): Promise<StepResult[]> {
  const results: StepResult[] = [];
  const base = (i: number) => ({
    plan_id: plan.plan_id,
    step: i,
    caller_uid: o.caller.uid,
    caller_pid: o.caller.pid,
    action: plan.steps[i]!.action,
    target: plan.steps[i]!.target,
  });
  plan.status = 'applying';
  plan.results = [];
  o.persist(plan);
  for (const step of plan.steps) {
    const refuse = (detail: string, code: string) => {
      o.audit.append({ ...base(step.index), phase: 'refused', result: 'refused', error: detail, code });
      results.push({ step: step.index, action: step.action, status: 'refused', detail });
    };
    if (step.refused) {
      refuse(`refused: ${step.refused}`, 'protected');
      continue;
    }
    const denied = o.policy.check(step.action, o.confirmed);
    if (denied) {
      refuse(denied.message, denied.code);
      continue;
    }
    if (PROCESS_ACTIONS.has(step.action)) {
      const id = checkIdentity({ pid: step.target.pid ?? 0, start_ns: step.target.start_ns ?? 0 });
      if (!id.ok) {
        refuse(id.message, id.code);
        continue;
      }
    }
    o.audit.append({ ...base(step.index), phase: 'before', params: step.params });
    if (o.pauseAfterBeforeMs) await new Promise((r) => setTimeout(r, o.pauseAfterBeforeMs));
    let r: ActionResult;
    try {
      // re-check once more right before the syscall: the pause above (or a slow step) is a window for pid reuse
      const id = PROCESS_ACTIONS.has(step.action)
        ? checkIdentity({ pid: step.target.pid ?? 0, start_ns: step.target.start_ns ?? 0 })
        : ({ ok: true } as const);
      r = id.ok
        ? await ACTIONS[step.action as keyof typeof ACTIONS](step, o.actionContext)
        : { status: 'refused' as const, detail: id.message };
    } catch (e) {
      r = { status: 'failed' as const, detail: (e as Error).message };
    }
    if (step.action !== 'manual' && r.status === 'ok') o.policy.record(step.action);
    o.audit.append({
      ...base(step.index),
      phase: 'after',
      result: r.status,
      error: r.status === 'ok' || r.status === 'manual' ? undefined : r.detail,
      detail: r.detail,
    });
    results.push({ step: step.index, action: step.action, status: r.status, detail: r.detail });
  }
  plan.results = results;
  const ran = results.filter((r) => r.status === 'ok' || r.status === 'manual').length;
  plan.status = ran === results.length ? 'applied' : ran === 0 ? 'refused' : 'partially_applied';
  return results;
}
