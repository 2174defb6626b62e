// sched family: a reader blocked on a pipe whose writer is SIGSTOP'd shows a
// long interruptible sleep woken BY the writer; a thread sharing one CPU with
// hogs shows run-queue delay (wait_total: summed in the kernel).
import t from 'tap';
import { capture, sleep } from './helpers/live';
import { helperPath, runOnCpu } from './fixtures/cbuild';
import type { OffcpuEvent } from '../src/kinds/offcpu';
import type { WaitTotalEvent } from '../src/kinds/wait-total';
import { pipePair } from './helpers/scenarios';

const cap = capture({ families: ['sched'] });
t.teardown(() => cap.stop());

t.test('reader of a SIGSTOPped writer: long interruptible wait, woken by the writer', async (t) => {
  const { reader, writer } = await pipePair(t, 6);
  await sleep(300);
  process.kill(writer, 'SIGSTOP');
  const stoppedAt = Date.now();
  await sleep(1500);
  process.kill(writer, 'SIGCONT');
  const stoppedMs = Date.now() - stoppedAt;
  const evs = await cap.waitFor<OffcpuEvent>((e) => e.kind === 'offcpu' && e.pid === reader && e.duration_ns >= 1e9, {
    what: `long sleep of reader ${reader}`,
  });
  const e = evs[0]!;
  t.equal(e.state, 'sleep', 'interruptible sleep (S)');
  t.ok(
    e.duration_ns >= (stoppedMs - 150) * 1e6,
    `waited ${(e.duration_ns / 1e6).toFixed(0)} ms while the writer was stopped for ${stoppedMs} ms`,
  );
  t.ok(e.duration_ns <= (stoppedMs + 250) * 1e6, 'and not much longer');
  t.equal(e.waker_pid, writer, 'woken by the writer');
  t.equal(e.waker_comm, 'pipe-pair');
  t.equal(e.waker_irq, false);
  t.equal(e.comm, 'pipe-pair');
  // the normal 100 ms ticks are reported too, each woken by the writer
  const ticks = cap.matching<OffcpuEvent>((x) => x.kind === 'offcpu' && x.pid === reader && x.duration_ns < 2e8 && x.duration_ns > 5e7);
  const byWriter = ticks.filter((x) => x.waker_pid === writer);
  // Once, on a host under heavy load, one of them named another waker: say which, and allow one.
  const others = ticks
    .filter((x) => x.waker_pid !== writer)
    .map((x) => `${x.waker_comm}(${x.waker_pid}${x.waker_irq ? ', irq' : ''}) after ${(x.duration_ns / 1e6).toFixed(0)} ms in ${x.state}`);
  t.ok(
    byWriter.length >= 2 && others.length <= 1,
    `${byWriter.length} of ${ticks.length} ~100 ms waits woken by the writer${others.length ? `; others: ${others.join(', ')}` : ''}`,
  );
});

t.test('CPU hogs on one CPU: the victim reports run-queue delay', async (t) => {
  const cpu = 1;
  const hog = await helperPath('cpu-hog');
  const hogs = await Promise.all([runOnCpu(cpu, hog, ['3']), runOnCpu(cpu, hog, ['3'])]);
  t.teardown(() => {
    for (const h of hogs) h.kill('SIGKILL');
  });
  await sleep(100);
  const victim = await runOnCpu(cpu, hog, ['2']);
  const victimPid = victim.pid!;
  await new Promise((r) => victim.on('exit', r));
  // Its totals arrive in 1 s windows and at exit; the exit flush has nothing to send when the last
  // window closed in its final time slice (probe-waits checks the exit flush of a sleeper's total).
  let evs: WaitTotalEvent[] = [];
  let total = 0;
  for (const deadline = Date.now() + 5000; total < 0.8e9 && Date.now() < deadline; await sleep(100)) {
    cap.source.drain();
    evs = cap.matching<WaitTotalEvent>((e) => e.kind === 'wait_total' && e.pid === victimPid && e.state === 'runq');
    total = evs.reduce((s, e) => s + e.total_ns, 0);
  }
  // three runnable threads on one CPU: the victim waits about 2/3 of the time
  t.ok(total >= 0.8e9, `victim waited ${(total / 1e6).toFixed(0)} ms for the CPU over its 2 s life (${evs.length} records)`);
  // on-cpu pins itself to the busy CPU and then execs cpu-hog: a wait before the exec carries its name
  const comms = [...new Set(evs.map((e) => e.comm))].sort();
  t.ok(
    evs.some((e) => e.comm === 'cpu-hog') && comms.every((c) => c === 'cpu-hog' || c === 'on-cpu'),
    `comm of every record: ${comms.join(', ')}`,
  );
  const hogPids = new Set(hogs.map((h) => h.pid));
  const hogDelay = cap.matching<WaitTotalEvent>((e) => e.kind === 'wait_total' && hogPids.has(e.pid) && e.state === 'runq');
  t.ok(hogDelay.length > 0, 'the hogs wait for each other too');
});
