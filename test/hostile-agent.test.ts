// Hostile input against a running agent (issue 13): bad rule files dropped into the live directory, a
// client that pipelines thousands of requests and never reads, uids that try
// to take every connection, empty frames as keep-alive, nonsense arguments, and a start that must fail.
// Each asserts: the agent stays up, a good client keeps answering within 1 s, memory stays bounded, and
// the error names the problem and where. Heavy (probes, uids, agents): run under /tmp/xctl-heavy.lock.
import t, { type Test } from 'tap';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { callAgent, type AgentReply } from '../src/ipc/client';
import { startIpcServer } from '../src/ipc/server';
import { createLogger } from '../src/log';
import { PROTOCOL_VERSION, encodeRequestFrame } from '../src/ipc/protocol';
import { defaultRulesDir } from '../src/rules';
import { XCTL, startTestAgent, type TestAgent } from './helpers/agent';
import { EXPIRE_SLICE, MAX_DRY_RUN_PLANS, RECHECK_SLICE } from '../src/agent/fix-service';
import type { FixConfig } from '../src/fix/policy';
import { seedResolvedPlans } from './helpers/plans';

const CLIENT = path.resolve(__dirname, 'helpers/hostile-client.js');
const NINES = '9'.repeat(400);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-hostile-'));
fs.chmodSync(root, 0o755);
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
let dirs = 0;

/** A copy of the shipped rules plus `extra` files. */
function rulesDir(extra: Record<string, string> = {}): string {
  const dir = path.join(root, `rules-${dirs++}`);
  fs.cpSync(defaultRulesDir(), dir, { recursive: true });
  for (const [f, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

async function agentOn(t: Test, dir: string, stateDir?: string, fix?: FixConfig): Promise<TestAgent> {
  const a = await startTestAgent({
    rulesDir: dir,
    families: ['proc'],
    agentOptions: { ...(stateDir ? { stateDir } : {}), ...(fix ? { fix } : {}) },
  });
  const stop = a.stop;
  let stopped: Promise<void> | undefined;
  a.stop = () => (stopped ??= stop()); // a test may stop it early
  t.teardown(() => a.stop());
  // other uids may connect (the tests below act as uid 65534 and others)
  fs.chmodSync(a.dir, 0o755);
  fs.chmodSync(a.socket, 0o666);
  return a;
}

async function call(
  socket: string,
  method: string,
  args: Record<string, string> = {},
  pid = 0,
): Promise<{ ms: number; reply: AgentReply }> {
  const t0 = performance.now();
  const reply = await callAgent(socket, { method, pid, args }, { timeoutMs: 5000 });
  return { ms: performance.now() - t0, reply };
}

/** A good client asking `status` every 100 ms for `ms`: the slowest answer (ms). */
async function goodClient(socket: string, ms: number): Promise<number> {
  let worst = 0;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
    const r = await call(socket, 'status');
    if (!r.reply.ok) throw new Error(`status failed: ${r.reply.error}`);
    worst = Math.max(worst, r.ms);
  }
  return worst;
}

/** A hostile-client.js process (as `uid` when given); `first` resolves with its first report. */
function hostile(t: Test, args: string[], uid?: number): { child: ChildProcess; first: Promise<any> } {
  const child = spawn(process.execPath, [CLIENT, ...args], { stdio: ['ignore', 'pipe', 'inherit'], ...(uid ? { uid, gid: uid } : {}) });
  t.teardown(() => child.kill('SIGKILL'));
  const first = new Promise<any>((resolve) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
    });
  });
  return { child, first };
}

const metricRule = (id: string, window: string) =>
  `rules:\n  - id: ${id}\n    scene: process_blocked\n    when:\n      metric: offcpu.runq\n      agg: sum\n      window: ${window}\n      op: '>'\n      value: 1\n`;
function aliasBomb(): string {
  const lines = ['  a0: &a0 {attr: exe, op: "==", value: x}'];
  for (let i = 1; i <= 9; i++)
    lines.push(
      `  a${i}: &a${i} {all: [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]}`,
    );
  return `x-anchors:\n${lines.join('\n')}\nrules:\n  - id: bomb\n    scene: process_blocked\n    when: *a9\n`;
}

t.test('bad rule files in the live directory: the agent stays up with its rules, says where, and restarts past them', async (t) => {
  const dir = rulesDir();
  const a = await agentOn(t, dir);
  const rules = ((await call(a.socket, 'status')).reply.body as { rules: number }).rules;
  t.ok(rules > 0);
  const cases: [string, string, RegExp][] = [
    [
      'huge duration',
      metricRule('huge', `${NINES}s`),
      /zz-bad\.yaml:7:15: bad duration "9{20}…\(401 characters\)" for "window" \(.*at most 30d\)$/,
    ],
    ['huge ms duration', metricRule('huge', `${NINES}ms`), /zz-bad\.yaml:7:15: bad duration .*at most 30d\)$/],
    ['alias bomb', aliasBomb(), /zz-bad\.yaml:3:18: YAML aliases expand this file to more than 100000 nodes/],
  ];
  for (const [what, text, error] of cases) {
    fs.writeFileSync(path.join(dir, 'zz-bad.yaml'), text);
    const logBefore = fs.readFileSync(a.logFile, 'utf8').split('\n').length;
    const r = await call(a.socket, 'reload');
    t.equal(r.reply.ok, true, `${what}: reload answered`);
    const body = r.reply.body as { ok: boolean; errors: string[]; rules: number };
    t.equal(body.ok, false);
    t.match(body.errors, [error], `${what}: the error names file:line:col`);
    t.equal(body.rules, rules, `${what}: the previous rules stay`);
    t.ok(r.ms < 1000, `${what}: reload answered in ${r.ms.toFixed(0)} ms`);
    const logged = fs
      .readFileSync(a.logFile, 'utf8')
      .split('\n')
      .slice(logBefore - 1)
      .filter((l) => l.includes('zz-bad.yaml'));
    t.equal(logged.length, body.errors.length, `${what}: each error logged once`);
    t.ok((await goodClient(a.socket, 300)) < 1000, `${what}: the agent answers`);
  }
  await a.stop();
  // a restart with the alias bomb still there: the other files load, the bad one is reported
  const b = await agentOn(t, dir);
  const status = (await call(b.socket, 'status')).reply.body as { rules: number; rule_errors: string[] };
  t.equal(status.rules, rules, 'restarted with every good rule');
  t.match(status.rule_errors, [/zz-bad\.yaml:3:18: YAML aliases expand/]);
  t.match(fs.readFileSync(b.logFile, 'utf8'), /rule file skipped, the other files are loaded: .*zz-bad\.yaml:3:18/);
});

t.test(
  'a client that pipelines thousands of big requests and never reads cannot stall or bloat the agent',
  { timeout: 60_000 },
  async (t) => {
    const a = await agentOn(t, rulesDir());
    const tooMany = await call(a.socket, 'ps', { limit: '100000' });
    t.same([tooMany.reply.code, tooMany.reply.error], ['BAD_REQUEST', 'limit must be an integer of rows from 1 to 10000, got "100000"']);
    // let RSS settle after the start before taking the baseline
    await goodClient(a.socket, 500);
    const rss0 = process.memoryUsage().rss;
    const flood = hostile(t, ['flood', a.socket, '5000', 'ps', JSON.stringify({ limit: '10000' })], 65534);
    const flood2 = hostile(t, ['flood', a.socket, '5000', 'status', '{}'], 65534);
    await sleep(300);
    const worst = await goodClient(a.socket, 3000);
    t.ok(worst < 1000, `a good client answered within ${worst.toFixed(0)} ms while the floods ran`);
    const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
    t.ok(grown < 150, `RSS grew by ${grown.toFixed(0)} MiB (bound 150 MiB)`);
    flood.child.kill('SIGKILL');
    flood2.child.kill('SIGKILL');
    t.ok((await goodClient(a.socket, 500)) < 1000, 'still answering after the flooders left');
  },
);

t.test('no uid can take every connection: a per-uid share and a reserve for root, counted', { timeout: 60_000 }, async (t) => {
  const a = await agentOn(t, rulesDir());
  const greedy = await hostile(t, ['hold', a.socket, '64'], 65534).first;
  t.equal(greedy.held, 8, 'one uid holds at most 8');
  t.equal(greedy.refused.length, 56);
  t.equal(
    greedy.refused[0],
    'UNAVAILABLE: uid 65534 already holds 8 connections to the agent (the per-user limit); close one and try again',
  );
  for (let uid = 65533; uid > 65527; uid--) t.equal((await hostile(t, ['hold', a.socket, '8'], uid).first).held, 8, `uid ${uid} holds 8`);
  const late = await hostile(t, ['hold', a.socket, '1'], 65527).first;
  t.same(late.refused, ['UNAVAILABLE: the agent is serving 56 connections; the last 8 of 64 are kept for root; try again']);
  const r = await call(a.socket, 'status');
  t.equal(r.reply.ok, true, 'root still gets in');
  t.ok(r.ms < 1000);
  const counts = Object.fromEntries((await a.agent.metrics.ipcRefused.get()).values.map((v) => [v.labels.reason, v.value]));
  t.same(counts, { per_uid: 56, non_root: 1 }, 'refusals counted by reason');
});

t.test('nonsense arguments are refused naming the flag or the argument and the bound', async (t) => {
  const a = await agentOn(t, rulesDir());
  for (const w of ['-5', '0', 'abc', '1e308', 'Infinity', '']) {
    const r = await a.cli(['why', String(process.pid), `--window=${w}`]);
    t.equal(r.code, 2, `--window=${w}: exit 2`);
    t.equal(r.stderr.trim(), `xctl why: --window must be a number of seconds from 0.1 to 86400, got "${w}"`);
  }
  const ps = await a.cli(['ps', '--limit=0']);
  t.same([ps.code, ps.stderr.trim()], [2, 'xctl ps: --limit must be an integer of rows from 1 to 10000, got "0"']);
  for (const w of ['0', '-5', 'NaN']) {
    const r = await call(a.socket, 'why', { window_s: w }, process.pid);
    t.same(
      [r.reply.code, r.reply.error],
      ['BAD_REQUEST', `window_s must be a number of seconds from 0.1 to 86400, got "${w}"`],
      `API window_s=${w}`,
    );
  }
  t.equal((await a.cli(['why', String(process.pid), '--window=60', '--json'])).stdout.length > 0, true, 'a sane window still works');
});

function runAgentCli(args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [XCTL, 'agent', '--families', 'proc', '--metrics-addr', 'off', ...args],
      { timeout: 30_000 },
      (err, _out, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
        resolve({ code, stderr, ms: Date.now() - t0 });
      },
    );
  });
}

t.test('a start that fails exits 2 promptly with its message and releases its probes', { timeout: 120_000 }, async (t) => {
  const a = await agentOn(t, rulesDir());
  const file = path.join(root, 'plain-file');
  fs.writeFileSync(file, 'x');
  const link = path.join(root, 'a-link');
  fs.symlinkSync(file, link);
  const cases: [string, RegExp][] = [
    [a.socket, /an xctl agent is already listening on .*xctl\.sock/],
    [file, /refusing to replace .*plain-file: it is a regular file, not a socket/],
    [link, /refusing to replace .*a-link: it is a symbolic link/],
  ];
  for (const [socket, message] of cases) {
    const r = await runAgentCli(['--socket', socket, '--state-dir', path.join(root, 'state')]);
    t.equal(r.code, 2, `${path.basename(socket)}: exit 2 (in ${r.ms} ms, not killed by the 30 s timeout)`);
    t.match(r.stderr, message);
  }
  t.equal((await call(a.socket, 'status')).reply.ok, true, 'the live agent was not disturbed');
});

t.test('the idle clock: empty frames do not keep a connection, a client that never reads is dropped', async (t) => {
  const logger = createLogger({ level: 'silent' });
  const server = await startIpcServer({
    socketPath: path.join(root, 'idle.sock'),
    logger,
    idleTimeoutMs: 300,
    handler: async (req) => ({ pad: 'x'.repeat(Number(req.args.pad ?? 0)) }),
  });
  t.teardown(() => server.close());
  const connect = () =>
    new Promise<net.Socket>((resolve) => {
      const s = net.createConnection(server.address, () => resolve(s));
      s.on('error', () => {});
    });
  const closedWithin = (s: net.Socket, ms: number) =>
    new Promise<boolean>((resolve) => {
      if (s.destroyed) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      s.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  // one empty frame (a zero length prefix) every 50 ms, forever
  const keepalive = await connect();
  const ticker = setInterval(() => keepalive.write(Buffer.from([0])), 50);
  t.teardown(() => clearInterval(ticker));
  t.equal(await closedWithin(keepalive, 3000), true, 'closed despite a steady stream of empty frames');
  // real requests keep a connection
  const busy = await connect();
  const req = (id: number, pad = 0) =>
    encodeRequestFrame({ id, version: PROTOCOL_VERSION, method: 'x', pid: 0, args: { pad: String(pad) } });
  let id = 0;
  const working = setInterval(() => busy.write(req(++id)), 50);
  t.equal(await closedWithin(busy, 1000), false, 'a client making requests is kept');
  clearInterval(working);
  // a client that asks for 64 MiB of replies and reads none: dropped once the socket has not drained for the idle time
  const deaf = await connect();
  deaf.pause();
  deaf.write(Buffer.concat(Array.from({ length: 64 }, (_, i) => req(i + 1, 1 << 20))));
  await sleep(1500); // 5 idle times without reading
  let bytes = 0;
  deaf.on('data', (d: Buffer) => (bytes += d.length));
  deaf.resume(); // a paused socket does not see its close: read what the server had sent before it gave up
  t.equal(await closedWithin(deaf, 3000), true, 'a client that never reads its replies is closed');
  t.ok(bytes < 32 * 2 ** 20, `the server stopped answering it after ${(bytes / 2 ** 20).toFixed(1)} MiB of the 64 MiB asked for`);
  const good = await callAgent(server.address, { method: 'x' }, { timeoutMs: 1000 });
  t.equal(good.ok, true, 'others are served');
});

t.test(
  'plans: a caller who may not apply keeps nothing, dry runs are capped, the re-check reads only resolved plans, a bad id is BAD_REQUEST',
  { timeout: 120_000 },
  async (t) => {
    const state = path.join(root, 'state-fix');
    const a = await agentOn(t, rulesDir(), state);
    const plans = () => fs.readdirSync(path.join(state, 'plans')).filter((f) => f.endsWith('.json')).length;
    const auditLines = () => fs.readFileSync(path.join(state, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).length;
    const audit0 = auditLines();
    for (let i = 0; i < 20; i++) {
      const r = await hostile(t, ['call', a.socket, String(process.pid), 'fix', '{}'], 65534).first;
      if (i === 0) t.match(r, { ok: true, body: { applied: false, saved: false } }, 'uid 65534 gets its dry-run plan');
    }
    t.equal(plans(), 0, 'no plan file from a caller who may not apply');
    t.equal(auditLines(), audit0, 'and no audit line');
    let answered = 0;
    for (let i = 0; i < MAX_DRY_RUN_PLANS + 20; i++) if ((await call(a.socket, 'fix', {}, process.pid)).reply.ok) answered++;
    t.equal(answered, MAX_DRY_RUN_PLANS + 20);
    t.equal(plans(), MAX_DRY_RUN_PLANS, `root's dry runs: the newest ${MAX_DRY_RUN_PLANS} are kept`);
    const store = a.agent.fixService().store;
    const load = store.load.bind(store);
    let loads = 0;
    store.load = (id: string) => {
      loads++;
      return load(id);
    };
    t.same(a.agent.fixService().recheck(), []);
    t.equal(loads, 0, 'the re-check read no plan (none is resolved)');
    const bad = await call(a.socket, 'fix', { plan_id: '../audit' });
    t.same([bad.reply.code, bad.reply.error], ['BAD_REQUEST', 'bad plan id "../audit"']);
    t.notMatch(fs.readFileSync(a.logFile, 'utf8'), /"level":50.*handler for 'fix' failed/, 'not logged as an agent error');
  },
);

t.test(
  'fix floods from callers who may not apply: 10 a minute per uid, the rest refused unplanned and audited as one line',
  { timeout: 120_000 },
  async (t) => {
    const state = path.join(root, 'state-flood');
    const a = await agentOn(t, rulesDir(), state);
    const planFiles = () => fs.readdirSync(path.join(state, 'plans')).filter((f) => f.endsWith('.json')).length;
    const audit = () =>
      fs
        .readFileSync(path.join(state, 'audit.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    const target = JSON.stringify({ pid: process.pid });
    const dry = hostile(t, ['calls', a.socket, '300', 'fix', target], 65534).first;
    const applies = hostile(t, ['calls', a.socket, '300', 'fix', JSON.stringify({ pid: process.pid, apply: '1', yes: '1' })], 65533).first;
    const worst = await Promise.race([goodClient(a.socket, 4000), sleep(60_000)]);
    t.ok(typeof worst === 'number' && worst < 1000, `a good client kept answering (slowest ${worst} ms)`);
    const [d, ap] = await Promise.all([dry, applies]);
    t.same(d.counts, { OK: 10, UNAVAILABLE: 290 }, 'uid 65534: 10 dry runs answered, 290 refused');
    t.same(d.first.OK, { saved: false }, 'the dry runs are shown, not kept');
    t.match(
      d.first.UNAVAILABLE,
      /^too many fix requests from uid 65534, which may not apply remediation: at most 10 a minute; try again in \d+ s$/,
    );
    t.same(ap.counts, { FORBIDDEN: 10, UNAVAILABLE: 290 }, 'uid 65533: 10 --apply refused as forbidden, 290 as too many');
    t.equal(planFiles(), 0, 'no plan file from either');
    const lines = audit();
    t.same(
      lines.map((l) => [l.caller_uid, l.phase, l.code]),
      Array.from({ length: 10 }, () => [65533, 'refused', 'forbidden']),
      'the audit log: one line per forbidden --apply within the limit, no plan line, nothing yet for the rest',
    );
    await a.stop(); // the minute's suppressed requests are audited when it ends (or the agent stops)
    const sup = audit().filter((l) => l.code === 'rate_limited');
    t.same(
      sup.map((l) => [l.caller_uid, l.suppressed, l.error]).sort(),
      [
        [65533, 290, '290 refused requests from uid 65533 suppressed in the last minute'],
        [65534, 290, '290 refused requests from uid 65534 suppressed in the last minute'],
      ],
      'one aggregate line per uid',
    );
    t.ok(
      fs.statSync(path.join(state, 'audit.jsonl')).size < 12 * 1024,
      `audit: ${fs.statSync(path.join(state, 'audit.jsonl')).size} bytes for 600 requests`,
    );
  },
);

t.test(
  'plan retention: at most fix.plan_max plans, the oldest deleted past fix.plan_max_age a slice at a time',
  { timeout: 120_000 },
  async (t) => {
    const state = path.join(root, 'state-retention');
    const a = await agentOn(t, rulesDir(), state, { planMax: 300, planMaxAgeS: 3600 });
    const planFiles = () => fs.readdirSync(path.join(state, 'plans')).filter((f) => f.endsWith('.json'));
    const ids: string[] = [];
    for (let i = 0; i < 320; i++) {
      const r = await call(a.socket, 'fix', {}, process.pid);
      ids.push((r.reply as { body: { plan_id: string } }).body.plan_id);
    }
    t.equal(planFiles().length, 300, 'fix.plan_max 300: 300 files after 320 plans');
    t.same(
      planFiles().sort(),
      ids
        .slice(20)
        .map((id) => `${id}.json`)
        .sort(),
      'the 20 oldest went',
    );
    const svc = a.agent.fixService();
    t.equal(svc.expire(Date.now()), 0, 'none is an hour old');
    t.equal(svc.expire(Date.now() + 3601_000), EXPIRE_SLICE, `an hour later: ${EXPIRE_SLICE} deleted in one tick`);
    t.equal(planFiles().length, 300 - EXPIRE_SLICE);
    t.same(
      planFiles().sort(),
      ids
        .slice(20 + EXPIRE_SLICE)
        .map((id) => `${id}.json`)
        .sort(),
      'the oldest first',
    );
    t.equal(svc.expire(Date.now() + 3601_000), 300 - EXPIRE_SLICE, 'the rest on the next tick');
    t.equal(planFiles().length, 0);
    t.equal(svc.keptCount(), 0);
  },
);

t.test('the re-check is incremental: a slice of the resolved plans per tick, round robin', { timeout: 120_000 }, async (t) => {
  const state = path.join(root, 'state-recheck');
  let a = await agentOn(t, rulesDir(), state);
  const r = await call(a.socket, 'fix', {}, process.pid);
  const plan = (r.reply as { body: { plan: Record<string, unknown> } }).body.plan;
  await a.stop();
  const dir = path.join(state, 'plans');
  for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
  const N = 100;
  seedResolvedPlans(dir, plan, N, process.pid);
  a = await agentOn(t, rulesDir(), state);
  const svc = a.agent.fixService();
  const store = svc.store;
  const load = store.load.bind(store);
  const loaded: string[] = [];
  store.load = (id: string) => {
    loaded.push(id);
    return load(id);
  };
  const sizes: number[] = [];
  for (let i = 0; i < 4; i++) sizes.push(svc.recheck().length);
  t.same(sizes, [RECHECK_SLICE, RECHECK_SLICE, RECHECK_SLICE, RECHECK_SLICE], `${RECHECK_SLICE} plans re-measured per tick`);
  t.equal(new Set(loaded).size, N, `four ticks covered all ${N} resolved plans`);
  t.same(loaded.slice(N), loaded.slice(0, 4 * RECHECK_SLICE - N), 'then it starts over with the first ones');
  // the timer's tick: the same slice, one plan per event-loop turn
  let turns = 0;
  let ticking = true;
  const spin = () => {
    turns++;
    if (ticking) setImmediate(spin);
  };
  setImmediate(spin);
  const tick = await svc.recheckTick();
  ticking = false;
  t.equal(tick.length, RECHECK_SLICE, `the tick re-measured ${RECHECK_SLICE}`);
  t.ok(turns >= RECHECK_SLICE, `and let the event loop turn between plans (${turns} turns)`);
});
