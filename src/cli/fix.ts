/**
 * `xctl fix <pid> [--apply] [--yes] [--json] [--plan ID]` and
 * `xctl verify <plan_id> [--json] [--wait]`: thin clients of the agent.
 * fix exit codes: 0 planned/applied, 1 nothing to fix, 2 error or refused.
 * verify exit codes: 0 resolved, 1 partial/failed/recurred/pending, 2 error.
 */
import { identityLine } from '../identity/identity';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import { callAgent } from '../ipc/client';
import { resolveSocketPath } from '../ipc/socket-path';
import { AgentUnavailableError } from '../ipc/errors';
import type { FixReply } from '../agent/fix-service';
import type { Plan } from '../fix/plan';
import { UsageError } from './usage';
import { formatNs } from '../events/units-text';

export const FIX_HELP = `usage: xctl fix <pid> [--apply] [--yes] [--json] [--plan PLAN_ID] [--socket PATH]
  without --apply: print the plan (dry run). --apply runs it (root); steps whose policy is "ask" need --yes
  or a "y" at the prompt (a TTY); --plan applies a plan printed earlier`;
export const VERIFY_HELP = `usage: xctl verify <plan_id> [--json] [--wait] [--socket PATH]
  outcome: resolved | partial | failed | recurred (pending without --wait while the window is still open)`;

async function call(socket: string | undefined, method: string, pid: number, args: Record<string, string>, timeoutMs: number) {
  try {
    return await callAgent(resolveSocketPath(socket), { method, pid, args }, { timeoutMs });
  } catch (e) {
    if (e instanceof AgentUnavailableError) throw new UsageError(e.message);
    throw e;
  }
}

function fmtValue(v: number | undefined, unit: string): string {
  if (v === undefined) return 'n/a';
  return unit === 'ns' ? formatNs(v) : String(v);
}

/** The shares a verdict was judged on: of wall time for ns metrics, of seconds with any for counts. */
function rateText(rec: { before_rate?: number; after_rate?: number; threshold_rate?: number }, unit: string): string {
  if (rec.after_rate === undefined) return '';
  const f = (x: number | undefined) => (x === undefined ? 'n/a' : `${((unit === 'ns' ? x / 1e9 : x) * 100).toFixed(1)} %`);
  const what = unit === 'ns' ? 'share of its time' : 'share of seconds with any';
  return `; ${what}: before ${f(rec.before_rate)}, after ${f(rec.after_rate)}, resolved at <= ${f(rec.threshold_rate)}`;
}

export function renderPlan(p: Plan): string {
  const who = identityLine(p);
  const out = [`plan ${p.plan_id}: ${p.scene} for ${p.comm} (${p.pid})`, ...(who ? [`  ${who}`] : []), `  ${p.summary}`];
  const v = p.verification;
  out.push(`  verify: ${v.text}; now ${fmtValue(v.before, v.unit)}, resolved at <= ${fmtValue(v.threshold, v.unit)} over ${v.window_s} s`);
  if (!p.steps.length) out.push('  nothing to do');
  for (const s of p.steps) {
    out.push(
      `  ${s.index + 1}. ${s.action} -> ${s.target.label}${s.target.pid ? ` [pid ${s.target.pid} start ${s.target.start_ns}]` : ''} (policy ${s.policy}${s.executable ? '' : ', manual: not executed'}${s.refused ? `, REFUSED: ${s.refused}` : ''})`,
    );
    out.push(`     ${s.text}`);
    for (const c of s.preconditions) out.push(`     precondition: ${c}`);
    out.push(`     expected: ${s.expected_effect}`);
    for (const e of s.evidence) out.push(`     evidence: ${e}`);
  }
  return out.join('\n');
}

function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) =>
    rl.question(question, (a) => {
      rl.close();
      resolve(/^y(es)?$/i.test(a.trim()));
    }),
  );
}

export async function fixCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      apply: { type: 'boolean' },
      yes: { type: 'boolean' },
      json: { type: 'boolean' },
      plan: { type: 'string' },
      socket: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${FIX_HELP}\n`);
    return 0;
  }
  const pid = values.plan ? 0 : Number(positionals[0]);
  if (!values.plan && (!Number.isInteger(pid) || pid <= 0)) throw new UsageError(`fix needs a pid, got "${positionals[0] ?? ''}"`);
  let yes = !!values.yes;
  let planId = values.plan;
  if (values.apply && !yes) {
    // show the plan first, then ask
    const dry = await call(values.socket, 'fix', pid, planId ? { plan_id: planId } : {}, 15_000);
    if (!dry.ok) {
      process.stderr.write(`xctl fix: ${dry.error}\n`);
      return 2;
    }
    const plan = (dry.body as FixReply).plan;
    planId = plan.plan_id;
    const needsYes = plan.steps.some((s) => s.executable && !s.refused && s.policy === 'ask');
    if (needsYes) {
      process.stderr.write(`${renderPlan(plan)}\n`);
      if (!process.stdin.isTTY) {
        process.stderr.write(`xctl fix: refusing to apply plan ${planId} without confirmation: stdin is not a terminal; pass --yes\n`);
        return 2;
      }
      if (!(await confirm(`apply plan ${planId}? [y/N] `))) {
        process.stderr.write('xctl fix: not applied\n');
        return 2;
      }
      yes = true;
    }
  }
  const args: Record<string, string> = {};
  if (planId) args.plan_id = planId;
  if (values.apply) args.apply = '1';
  if (yes) args.yes = '1';
  const reply = await call(values.socket, 'fix', pid, args, 120_000);
  if (!reply.ok) {
    process.stderr.write(`xctl fix: ${reply.code === 'FORBIDDEN' ? 'FORBIDDEN: ' : ''}${reply.error}\n`);
    return 2;
  }
  const r = reply.body as FixReply;
  if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    const lines = [renderPlan(r.plan)];
    if (r.applied) for (const s of r.results) lines.push(`  step ${s.step + 1} ${s.action}: ${s.status}: ${s.detail}`);
    else if (r.saved === false) lines.push('  dry run: nothing executed; not kept (only a caller allowed to apply keeps plans)');
    else lines.push(`  dry run: nothing executed; apply with: xctl fix --plan ${r.plan_id} --apply`);
    if (r.saved !== false) lines.push(`  then: xctl verify ${r.plan_id} --wait`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (r.plan.steps.length === 0) return 1;
  return r.applied && r.results.some((s) => s.status === 'refused' || s.status === 'failed') ? 2 : 0;
}

export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, wait: { type: 'boolean' }, socket: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${VERIFY_HELP}\n`);
    return 0;
  }
  const id = positionals[0];
  if (!id) throw new UsageError('verify needs a plan id (printed by xctl fix)');
  const reply = await call(values.socket, 'verify', 0, { plan_id: id, ...(values.wait ? { wait: '1' } : {}) }, 600_000);
  if (!reply.ok) {
    process.stderr.write(`xctl verify: ${reply.error}\n`);
    return 2;
  }
  const r = reply.body as {
    plan_id: string;
    outcome: string;
    record: {
      before?: number;
      after?: number;
      threshold?: number;
      window_s?: number;
      metric?: string;
      ready_in_s?: number;
      before_rate?: number;
      after_rate?: number;
      threshold_rate?: number;
    };
    plan: Plan;
  };
  if (values.json) process.stdout.write(`${JSON.stringify({ plan_id: r.plan_id, outcome: r.outcome, ...r.record })}\n`);
  else {
    const u = r.plan.verification.unit;
    const rec = r.record;
    process.stdout.write(
      rec.ready_in_s !== undefined
        ? `plan ${r.plan_id}: pending: the ${r.plan.verification.window_s} s window closes in ${rec.ready_in_s} s (use --wait)\n`
        : `plan ${r.plan_id}: ${r.outcome}: ${rec.metric} before ${fmtValue(rec.before, u)}, after ${fmtValue(rec.after, u)} (threshold ${fmtValue(rec.threshold, u)}, ${rec.window_s} s window)${rateText(rec, u)}\n`,
    );
  }
  return r.outcome === 'resolved' ? 0 : 1;
}
