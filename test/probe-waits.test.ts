// sched family: every wait summed in the kernel (wait_total records), whatever
// the per-event thresholds. A thread running 2 ms / sleeping 1 ms behind two
// busy loops on one CPU: its run-queue total against the kernel's own
// /proc/PID/schedstat run_delay; a scripted sleeper: its off-CPU total against
// the wall-clock time it spent in nanosleep(). Then the same with the
// thresholds at the governor's highest level: no detail, the same totals.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { capture, sleep } from './helpers/live';
import { helperPath, runOnCpu } from './fixtures/cbuild';
import type { WaitTotalEvent } from '../src/kinds/wait-total';
import type { OffcpuEvent } from '../src/kinds/offcpu';
import { CpuGovernor } from '../src/ops/governor';

const cap = capture({ families: ['sched'] });
t.teardown(() => cap.stop());

const finished = (c: ChildProcess) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) => resolve({ code, out }));
  });

/** The wait_total records of pid, once its exit flush has arrived. */
async function totalsOf(pid: number): Promise<{ runq: number; sleep: number; blocked: number; sleeps: number; records: number }> {
  await cap.waitFor<WaitTotalEvent>((e) => e.kind === 'wait_total' && e.pid === pid && (e as WaitTotalEvent).exit, {
    what: `the exit flush of ${pid}`,
  });
  await sleep(100);
  cap.source.drain();
  const evs = cap.matching<WaitTotalEvent>((e) => e.kind === 'wait_total' && e.pid === pid);
  const sum = (s: string) => evs.filter((e) => e.state === s).reduce((a, e) => a + e.total_ns, 0);
  const sleeps = evs.filter((e) => e.state === 'sleep').reduce((a, e) => a + e.count, 0);
  return { runq: sum('runq'), sleep: sum('sleep'), blocked: sum('blocked'), sleeps, records: evs.length };
}

const ms = (ns: number) => `${(ns / 1e6).toFixed(1)} ms`;

async function runqBehindHogs(t: Test): Promise<void> {
  const cpu = 1;
  const hog = await helperPath('cpu-hog');
  const waiter = await helperPath('waiter');
  const hogs = await Promise.all([runOnCpu(cpu, hog, ['8']), runOnCpu(cpu, hog, ['8'])]);
  t.teardown(() => {
    for (const h of hogs) h.kill('SIGKILL');
  });
  await sleep(100);
  const w = await runOnCpu(cpu, waiter, ['runq', '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { code, out } = await finished(w);
  t.equal(code, 0, 'the waiter ran');
  const kernel = Number(/run_delay (\d+)/.exec(out)?.[1]);
  const ours = await totalsOf(w.pid!);
  t.ok(kernel > 0.3e9, `the kernel counted ${ms(kernel)} of run-queue delay (the hogs held the CPU)`);
  t.ok(
    Math.abs(ours.runq - kernel) <= 0.1 * kernel,
    `run-queue total ${ms(ours.runq)} within 10 % of schedstat run_delay ${ms(kernel)} (${ours.records} records)`,
  );
}

/** Returns the sleeper's pid. */
async function scriptedSleeper(t: Test, n: number, eachMs: number): Promise<number> {
  const w = spawn(await helperPath('waiter'), ['sleep', String(n), String(eachMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { code, out } = await finished(w);
  t.equal(code, 0, 'the sleeper ran');
  const slept = Number(/slept (\d+)/.exec(out)?.[1]);
  const ours = await totalsOf(w.pid!);
  const offcpu = ours.runq + ours.sleep + ours.blocked;
  t.ok(slept >= n * eachMs * 1e6, `it slept ${ms(slept)} by its own clock`);
  t.ok(
    Math.abs(offcpu - slept) <= 0.1 * slept,
    `off-CPU total ${ms(offcpu)} (sleep ${ms(ours.sleep)}, run queue ${ms(ours.runq)}, D ${ms(ours.blocked)}) within 10 % of ${ms(slept)}`,
  );
  t.ok(ours.sleeps >= n && ours.sleeps <= n + 3, `${ours.sleeps} interruptible sleeps counted for its ${n} nanosleep() calls`);
  return w.pid!;
}

t.test('default thresholds', async (t) => {
  await t.test('run-queue waits behind two busy loops match schedstat', (t) => runqBehindHogs(t));
  await t.test('a scripted sleeper: off-CPU total matches its wall-clock sleep', async (t) => {
    const pid = await scriptedSleeper(t, 40, 50);
    const detail = cap.matching<OffcpuEvent>((e) => e.kind === 'offcpu' && e.pid === pid && e.detail === true && e.duration_ns >= 40e6);
    t.equal(detail.length, 40, 'each 50 ms sleep is above the 10 ms threshold: one detail record each');
  });
});

t.test("the governor's highest thresholds: detail gone, totals exact", async (t) => {
  const gov = new CpuGovernor({ budget: 0.05, apply: () => {} });
  const top = gov.thresholds(4);
  t.equal(top.offcpuMinNs, 2_560_000_000n, 'level 4: 10 ms x 4^4');
  cap.source.setConfig({ offcpuMinNs: top.offcpuMinNs, runqMinNs: top.runqMinNs, ioMinLatencyNs: top.ioMinLatencyNs });
  t.teardown(() => cap.source.setConfig({ offcpuMinNs: 10_000_000n, runqMinNs: 10_000_000n, ioMinLatencyNs: 10_000_000n }));
  await t.test('run-queue waits behind two busy loops match schedstat', (t) => runqBehindHogs(t));
  await t.test('a scripted sleeper: off-CPU total matches its wall-clock sleep', async (t) => {
    const pid = await scriptedSleeper(t, 40, 50);
    const detail = cap.matching((e) => e.kind === 'offcpu' && e.pid === pid);
    t.equal(detail.length, 0, 'no detail record under a 2.56 s threshold');
  });
});
