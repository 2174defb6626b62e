// Self-protection: the CPU budget governor (unit, and in a live agent with a
// tiny budget) and crash reports written by a process that really crashes.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CpuGovernor } from '../src/ops/governor';
import { AgentMetrics } from '../src/ops/metrics';
import type { ProbeConfig } from '../src/native/addon';
import { startTestAgent } from './helpers/agent';
import { ROOT, run } from './helpers/ops';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('governor raises thresholds over budget and lowers them when calm', async (t) => {
  let cpu = 0;
  let now = 0;
  const applied: ProbeConfig[] = [];
  const metrics = new AgentMetrics();
  const g = new CpuGovernor({
    budget: 0.05,
    apply: (c) => applied.push(c),
    metrics,
    workSeconds: () => cpu,
    now: () => now,
    calmIntervals: 2,
  });
  const step = (ratio: number) => {
    now += 5;
    cpu += ratio * 5;
    return g.check();
  };
  t.equal(step(0.01), 0, 'under budget: level 0');
  t.equal(applied.length, 0);
  t.equal(step(0.2), 1, '20 % > 5 %: level 1');
  t.same(applied.at(-1), { offcpuMinNs: 40_000_000n, runqMinNs: 40_000_000n, ioMinLatencyNs: 40_000_000n }, 'thresholds x4');
  t.equal(step(0.2), 2);
  t.equal(g.thresholds().offcpuMinNs, 160_000_000n);
  t.equal(step(0.04), 2, 'between budget/2 and budget: hold');
  t.equal(step(0.01), 2, 'one calm interval: hold');
  t.equal(step(0.01), 1, 'two calm intervals: one level down');
  t.same(applied.at(-1), { offcpuMinNs: 40_000_000n, runqMinNs: 40_000_000n, ioMinLatencyNs: 40_000_000n });
  step(0.01);
  t.equal(step(0.01), 0, 'back to the configured thresholds');
  t.same(applied.at(-1), { offcpuMinNs: 10_000_000n, runqMinNs: 10_000_000n, ioMinLatencyNs: 10_000_000n });
  for (let i = 0; i < 10; i++) step(1);
  t.equal(g.level, 4, 'capped at maxLevel');
  const text = await metrics.registry.metrics();
  t.match(text, /^xctl_governor_level 4$/m);
  t.match(text, /^xctl_governor_adjustments_total\{direction="raise"\} 6$/m);
  t.match(text, /^xctl_governor_adjustments_total\{direction="lower"\} 2$/m);
  t.match(text, /^xctl_agent_cpu_budget_ratio 0.05$/m);
});

t.test('a live agent with a tiny CPU budget raises its in-kernel thresholds', async (t) => {
  const ta = await startTestAgent({
    agentOptions: { cpuBudget: 1e-6, governorIntervalMs: 200, probeConfig: { offcpuMinNs: 10_000_000n } },
  });
  t.teardown(() => ta.stop());
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (ta.agent.governor?.level ?? 0) < 2) await sleep(100);
  const st = ta.agent.governor!.state();
  t.ok(st.level >= 2, `level ${st.level}`);
  t.ok(BigInt(st.thresholds.offcpuMinNs) >= 160_000_000n, `off-CPU threshold raised to ${st.thresholds.offcpuMinNs} ns`);
  const text = await ta.agent.metrics.registry.metrics();
  t.match(text, /^xctl_governor_level [2-4]$/m, 'metric moved');
  t.match(text, /^xctl_governor_adjustments_total\{direction="raise"\} [2-4]$/m);
  const log = fs.readFileSync(ta.logFile, 'utf8');
  t.match(log, /above the 0\.0% budget: raising in-kernel thresholds/, 'logged');
  // the status answer carries the governor state
  const status = (
    ta.agent as unknown as { handleMethod(m: string, p: number, a: Record<string, string>): Promise<{ governor: { level: number } }> }
  ).handleMethod('status', 0, {});
  t.ok((await status).governor.level >= 2, 'status reports the governor');
});

t.test("the agent's fixed cost does not move the governor: it budgets record handling only", async (t) => {
  const ta = await startTestAgent({ agentOptions: { cpuBudget: 0.05, governorIntervalMs: 200 } });
  t.teardown(() => ta.stop());
  // CPU the agent's process spends on something else than records (as timers, /proc sampling
  // and start-up do): 15 ms of CPU every 50 ms, several times the budget
  const burn = setInterval(() => {
    const start = process.cpuUsage();
    for (;;) {
      const u = process.cpuUsage(start);
      if (u.user + u.system >= 15_000) break;
    }
  }, 50);
  t.teardown(() => clearInterval(burn));
  const metric = async (name: string) => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await ta.agent.metrics.registry.metrics());
    return Number(m?.[1]);
  };
  let checks = 0;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && checks < 10) {
    await sleep(200);
    if ((await metric('xctl_agent_cpu_ratio')) > 0.1) checks++; // an interval that saw the burn
  }
  t.equal(checks, 10, 'ten governor intervals saw the process above twice the budget');
  t.equal(ta.agent.governor!.level, 0, 'thresholds unchanged');
  t.ok((await metric('xctl_agent_record_work_ratio')) < 0.05, 'record handling under budget');
});

t.test('an uncaught exception writes a crash report into the state dir', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-crash-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = `
    const { CrashReporter } = require(${JSON.stringify(path.join(ROOT, 'dist/src/ops/crash.js'))});
    const r = new CrashReporter(${JSON.stringify(path.join(dir, 'state'))}, () => ({ config: { socket: '/run/xctl/xctl.sock', limits: { cpu_budget: 0.05 } }, probes: [{ family: 'net', loaded: true }], activity: 'ipc why pid 42' }));
    r.noteError('rule file rejected: x.yaml:3:1: bad');
    r.install();
    setTimeout(() => { throw new Error('boom in the agent'); }, 10);
  `;
  const r = await run(process.execPath, ['-e', script]);
  t.equal(r.code, 70, 'exit 70');
  t.match(r.stderr, /crash report written to .*crash-.*\.json/);
  const files = fs.readdirSync(path.join(dir, 'state')).filter((f) => f.startsWith('crash-'));
  t.equal(files.length, 1);
  const rep = JSON.parse(fs.readFileSync(path.join(dir, 'state', files[0]!), 'utf8'));
  t.equal(rep.reason, 'uncaughtException');
  t.equal(rep.error.message, 'boom in the agent');
  t.match(rep.error.stack, /boom in the agent/);
  t.equal(rep.running.activity, 'ipc why pid 42');
  t.equal(rep.versions.node, process.version);
  t.equal(rep.versions.kernel, os.release());
  t.match(rep.versions.xctl, /^\d+\.\d+\.\d+/);
  t.same(rep.config.limits, { cpu_budget: 0.05 });
  t.same(rep.probes, [{ family: 'net', loaded: true }]);
  t.equal(rep.last_errors[0].message, 'rule file rejected: x.yaml:3:1: bad');
});
