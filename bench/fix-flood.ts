// Issue 13 #9, measured: a caller who may not apply (uid 65534) sends `fix` requests at a steady pace
// against a live agent (proc family only), while a root client asks `status` every 100 ms; then the
// periodic re-check runs once over seeded resolved plans. Prints one JSON line:
//   node dist/bench/fix-flood.js [--requests 5000] [--seconds 20] [--apply] [--resolved 8704]
// plan files and audit bytes left in the state directory, refusals seen by the flooder, the good
// client's slowest answer, and the re-check's event-loop block (ms, and the plans it read).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Agent } from '../src/agent/agent';
import { callAgent } from '../src/ipc/client';
import { defaultRulesDir } from '../src/rules';
import { seedResolvedPlans } from '../test/helpers/plans';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

if (process.argv[2] === '--child') {
  // the flooder: N requests paced over S seconds on up to 4 connections at a time
  const [, , , socket, nText, sText, apply, pid] = process.argv;
  const n = Number(nText);
  const gapMs = (Number(sText) * 1000) / n;
  const codes: Record<string, number> = {};
  let sent = 0;
  const t0 = Date.now();
  const one = async () => {
    while (sent < n) {
      const i = sent++;
      const due = t0 + i * gapMs;
      if (due > Date.now()) await sleep(due - Date.now());
      const r = await callAgent(
        socket!,
        { method: 'fix', pid: Number(pid), args: apply === '1' ? { apply: '1', yes: '1' } : {} },
        { timeoutMs: 10_000 },
      ).catch((e) => ({ ok: false, code: String(e.code ?? e.message) }));
      const k = r.ok ? 'ok' : String((r as { code?: string }).code);
      codes[k] = (codes[k] ?? 0) + 1;
    }
  };
  Promise.all([one(), one(), one(), one()]).then(() => {
    process.stdout.write(`${JSON.stringify({ codes, ms: Date.now() - t0 })}\n`);
    process.exit(0);
  });
} else {
  main();
}

async function start(state: string): Promise<{ agent: Agent; socket: string; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-fixflood-'));
  fs.chmodSync(dir, 0o755);
  const socket = path.join(dir, 'xctl.sock');
  const agent = await Agent.start({
    socketPath: socket,
    rulesDir: defaultRulesDir(),
    metricsAddr: 'off',
    logger: pino({ level: 'warn' }, pino.destination({ dest: path.join(dir, 'agent.log'), sync: true })),
    families: ['proc'],
    stateDir: state,
  });
  fs.chmodSync(socket, 0o666);
  return { agent, socket, dir };
}

function bytesOf(state: string): { plans: number; auditBytes: number; auditFiles: number; auditLines: number } {
  const plans = fs.readdirSync(path.join(state, 'plans')).filter((f) => f.endsWith('.json')).length;
  const audits = fs.readdirSync(state).filter((f) => f.startsWith('audit.jsonl'));
  let auditBytes = 0;
  let auditLines = 0;
  for (const f of audits) {
    const text = fs.readFileSync(path.join(state, f), 'utf8');
    auditBytes += Buffer.byteLength(text);
    auditLines += text.split('\n').filter(Boolean).length;
  }
  return { plans, auditBytes, auditFiles: audits.length, auditLines };
}

async function main(): Promise<void> {
  const requests = arg('requests', 5000);
  const seconds = arg('seconds', 20);
  const apply = process.argv.includes('--apply');
  const resolved = arg('resolved', 8704);
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-fixflood-state-'));
  let a = await start(state);
  // the target: any process the agent may act on (not itself, which is refused before any plan)
  const target = spawn('sleep', ['600'], { stdio: 'ignore' });
  await sleep(200);
  const flooder = spawn(
    process.execPath,
    [__filename, '--child', a.socket, String(requests), String(seconds), apply ? '1' : '0', String(target.pid)],
    {
      uid: 65534,
      gid: 65534,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  flooder.stdout!.on('data', (d: Buffer) => (out += d));
  const done = new Promise<void>((r) => flooder.on('exit', () => r()));
  let worstGoodMs = 0;
  let finished = false;
  done.then(() => (finished = true));
  while (!finished) {
    const t0 = performance.now();
    const r = await callAgent(a.socket, { method: 'status' }, { timeoutMs: 10_000 });
    if (!r.ok) throw new Error(`status: ${r.error}`);
    worstGoodMs = Math.max(worstGoodMs, performance.now() - t0);
    await sleep(100);
  }
  const flood = JSON.parse(out.trim() || '{}');
  const during = bytesOf(state);
  // a root dry run for a plan to clone
  const r = await callAgent(a.socket, { method: 'fix', pid: process.pid, args: {} }, { timeoutMs: 10_000 });
  const plan = (r.body as { plan: Record<string, unknown> }).plan;
  await a.agent.stop();
  target.kill('SIGKILL');
  const stopped = bytesOf(state); // a minute's suppressed requests are audited when it ends or the agent stops
  // seed `resolved` resolved plans, as if verified earlier
  const plansDir = path.join(state, 'plans');
  for (const f of fs.readdirSync(plansDir)) fs.rmSync(path.join(plansDir, f));
  seedResolvedPlans(plansDir, plan, resolved, process.pid);
  a = await start(state);
  const svc = a.agent.fixService();
  const kept = fs.readdirSync(plansDir).length;
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await sleep(50);
  const t0 = performance.now();
  const rechecked = (await svc.recheckTick()).length;
  const recheckMs = performance.now() - t0;
  await sleep(50);
  h.disable();
  await a.agent.stop();
  fs.rmSync(a.dir, { recursive: true, force: true });
  fs.rmSync(state, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      requests,
      seconds,
      apply,
      flood,
      during,
      afterStop: { auditBytes: stopped.auditBytes, auditLines: stopped.auditLines },
      worstGoodMs: Math.round(worstGoodMs),
      seededResolved: resolved,
      keptAtStart: kept,
      rechecked,
      recheckMs: Number(recheckMs.toFixed(1)),
      loopMaxDelayMs: Number((h.max / 1e6).toFixed(1)),
    }),
  );
}
