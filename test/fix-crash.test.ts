// Agent killed mid-apply: the agent runs as a subprocess with a test hook that
// makes it sleep after a step's `before` audit record; it is SIGKILLed there
// and restarted. The audit log must be intact (every line JSON, no partial
// line) and the step marked interrupted; a torn trailing line is cut away.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { XCTL } from './helpers/agent';
import { helperPath } from './fixtures/cbuild';
import { killAtEnd } from './helpers/scenarios';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startAgent(dir: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const sock = path.join(dir, 'xctl.sock');
  fs.rmSync(sock, { force: true }); // the SIGKILLed agent's stale socket
  const a = spawn(process.execPath, [XCTL, 'agent', '--socket', sock, '--metrics-addr', 'off', '--state-dir', path.join(dir, 'state')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  for (let i = 0; i < 150; i++) {
    if (fs.existsSync(sock)) return a;
    await sleep(100);
  }
  a.kill('SIGKILL');
  throw new Error('agent did not start');
}

t.test('agent SIGKILLed between before and after: intact log, step interrupted', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-fixcrash-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const auditFile = path.join(dir, 'state', 'audit.jsonl');
  let agent = await startAgent(dir, { XCTL_TEST_PAUSE_AFTER_BEFORE_AUDIT_MS: '20000' });
  t.teardown(() => void agent.kill('SIGKILL'));
  const pair = spawn(await helperPath('pipe-pair'), ['60'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void pair.kill('SIGKILL'));
  const m = await new Promise<RegExpExecArray>((resolve) => {
    let buf = '';
    pair.stdout!.on('data', (d: Buffer) => {
      buf += d;
      const x = /reader (\d+) writer (\d+)/.exec(buf);
      if (x) resolve(x);
    });
  });
  const [reader, writer] = [Number(m[1]), Number(m[2])];
  killAtEnd(t, writer);
  await sleep(1000);
  process.kill(writer, 'SIGSTOP');
  await sleep(1500);
  const fix = spawn(
    process.execPath,
    [XCTL, 'fix', String(reader), '--apply', '--yes', '--json', '--socket', path.join(dir, 'xctl.sock')],
    { stdio: 'ignore' },
  );
  t.teardown(() => void fix.kill('SIGKILL'));
  let before: { plan_id: string; step: number } | undefined;
  for (let i = 0; i < 100 && !before; i++) {
    await sleep(100);
    const lines = fs.existsSync(auditFile) ? fs.readFileSync(auditFile, 'utf8').split('\n').filter(Boolean) : [];
    before = lines.map((l) => JSON.parse(l)).find((r) => r.phase === 'before');
  }
  t.ok(before, 'the step wrote its before record');
  agent.kill('SIGKILL');
  await new Promise((r) => agent.on('exit', r));
  t.equal(fs.readFileSync(`/proc/${writer}/stat`, 'utf8').split(') ')[1]![0], 'T', 'killed before the SIGCONT ran');
  // a crash in the middle of a write: simulate the torn tail a power cut leaves
  fs.appendFileSync(auditFile, '{"ts":"2025-01-01T00:00:00.000Z","plan_id":"torn","st');
  agent = await startAgent(dir);
  await sleep(300);
  const text = fs.readFileSync(auditFile, 'utf8');
  t.ok(text.endsWith('\n'), 'no partial line at the end');
  const recs = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  t.pass(`all ${recs.length} audit lines parse as JSON`);
  t.notOk(
    recs.some((r) => r.plan_id === 'torn'),
    'the torn line was cut away',
  );
  const mine = recs.filter((r) => r.plan_id === before!.plan_id && r.step === before!.step);
  t.same(
    mine.map((r) => r.phase),
    ['before', 'interrupted'],
    'before + interrupted, no after',
  );
  t.equal(mine[1].action, 'sigcont');
  t.equal(mine[1].caller_uid, 0);
  const plan = JSON.parse(fs.readFileSync(path.join(dir, 'state', 'plans', `${before!.plan_id}.json`), 'utf8'));
  t.equal(plan.status, 'interrupted');
  t.equal(plan.results.find((r: { step: number }) => r.step === before!.step).status, 'interrupted');
  agent.kill('SIGTERM');
  await new Promise((r) => agent.on('exit', r));
});
