// Waits in progress end to end: a process blocked right now (no completed
// wait record yet) is explained from what /proc shows it blocked in, with the
// holder named and followed: flock and POSIX lock holders (/proc/locks), a
// pipe writer that never writes, a Unix socket peer that never sends, a child waited for, a stopped process with
// the sender of its stop signal, and a holder that is itself blocked on a
// stopped process (two hops). `xctl why` runs as a subprocess against the agent.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { helperPath } from './fixtures/cbuild';
import { killAtEnd } from './helpers/scenarios';
import { waitForLine } from '../src/faults/child-output';
import { uniqueName } from '../src/faults/teardown';
import { rmSync } from 'node:fs';
import { loopDevice } from './fixtures/loopdev';
import { blkioThrottle, spawnInCgroup } from './fixtures/cgroup';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ta: TestAgent;
t.before(async () => {
  ta = await startTestAgent();
});
t.teardown(() => ta.stop());

async function start(t: Test, args: string[], line?: RegExp): Promise<{ c: ChildProcess; m?: RegExpMatchArray }> {
  const c = spawn(await helperPath('waits'), args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void c.kill('SIGKILL'));
  const m = line ? await waitForLine(c, line, args[0]!) : undefined;
  return { c, m };
}

function lockFile(t: Test): string {
  const f = `/tmp/${uniqueName()}.lock`;
  t.teardown(() => rmSync(f, { force: true }));
  return f;
}

/** Stops `pid` with a separate `kill` process, whose pid is returned (the sender the answer must name). */
async function stopWithKill(pid: number): Promise<number> {
  const k = spawn('kill', ['-STOP', String(pid)], { stdio: 'ignore' });
  await new Promise((r) => k.on('exit', r));
  return k.pid!;
}

for (const kind of ['flock', 'posix'] as const) {
  t.test(`${kind} lock held by another process: process_blocked, culprit the holder`, async (t) => {
    const f = lockFile(t);
    const { m } = await start(t, [`${kind}-hold`, f], /holder (\d+)/);
    const holder = Number(m![1]);
    const { c: waiter } = await start(t, [`${kind}-wait`, f]);
    await sleep(3000);
    const { code, answer } = await ta.why(waiter.pid!);
    t.equal(code, 0, 'exit 0');
    t.equal(answer.scene, 'process_blocked', `scene (summary: ${answer.summary})`);
    t.equal(answer.culprit.label, `waits (${holder})`, 'the lock holder');
    t.match(answer.summary, kind === 'flock' ? /in flock\(\) on \/tmp\/.*\.lock/ : /in fcntl\(F_SETLKW\) on \/tmp\/.*\.lock/);
    t.match(answer.summary, /has been blocked for \d/);
    t.match(answer.chain[0].evidence.text, new RegExp(`holds a WRITE ${kind === 'flock' ? 'FLOCK' : 'POSIX'} lock`));
    t.equal(answer.chain[0].evidence.source, 'procfs');
  });
}

t.test('pipe writer that never writes: process_blocked, culprit the writer', async (t) => {
  const { m } = await start(t, ['pipe-silent'], /reader (\d+) writer (\d+)/);
  const [reader, writer] = [Number(m![1]), Number(m![2])];
  killAtEnd(t, writer);
  await sleep(3000);
  const { code, answer } = await ta.why(reader);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_blocked', `scene (summary: ${answer.summary})`);
  t.equal(answer.culprit.label, `waits (${writer})`);
  t.match(answer.summary, /read\(\) on pipe:\[\d+\].*whose write end waits \(\d+\) holds.*is sleeping/);
});

t.test('Unix socket whose peer never sends: process_blocked, culprit the peer', async (t) => {
  const { m } = await start(t, ['unix-silent'], /reader (\d+) peer (\d+)/);
  const [reader, peer] = [Number(m![1]), Number(m![2])];
  killAtEnd(t, peer);
  await sleep(3000);
  const { code, answer } = await ta.why(reader);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_blocked', `scene (summary: ${answer.summary})`);
  t.equal(answer.culprit.label, `waits (${peer})`);
  t.match(answer.summary, /in recvfrom\(\) on Unix socket:\[\d+\].*whose peer end waits \(\d+\) holds/);
});

t.test('a child waited for: process_blocked, culprit the child', async (t) => {
  const { m } = await start(t, ['child-wait'], /parent (\d+) child (\d+)/);
  const [parent, child] = [Number(m![1]), Number(m![2])];
  killAtEnd(t, child);
  await sleep(3000);
  const { code, answer } = await ta.why(parent);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_blocked', `scene (summary: ${answer.summary})`);
  t.equal(answer.culprit.label, `waits (${child})`);
  t.match(answer.summary, /in wait4\(\) for its child waits \(\d+\)/);
});

t.test('a stopped process: process_blocked, naming the sender of the stop signal', async (t) => {
  const s = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => void s.kill('SIGKILL'));
  await sleep(300);
  const sender = await stopWithKill(s.pid!);
  await sleep(1500);
  const { code, answer } = await ta.why(s.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_blocked');
  t.equal(answer.culprit.label, `sleep (${s.pid})`, 'the stopped process itself');
  t.match(answer.summary, new RegExp(`is stopped by kill \\(${sender}\\)`), 'the sender of SIGSTOP');
  t.equal(answer.chain[0].edge, 'blocked_by');
  t.equal(answer.chain[0].to.label, `kill (${sender})`);
});

t.test('two hops: a lock whose holder is blocked on a stopped process', async (t) => {
  const f = lockFile(t);
  const { m } = await start(t, ['flock-hold-read', f], /holder (\d+) writer (\d+)/);
  const [holder, writer] = [Number(m![1]), Number(m![2])];
  killAtEnd(t, writer);
  const sender = await stopWithKill(writer);
  const { c: waiter } = await start(t, ['flock-wait', f]);
  await sleep(3000);
  const { code, answer } = await ta.why(waiter.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_blocked', `scene (summary: ${answer.summary})`);
  t.equal(answer.culprit.label, `waits (${writer})`, 'the stopped process two hops away');
  t.match(
    answer.summary,
    new RegExp(
      `^waits \\(${waiter.pid}\\) waits on waits \\(${holder}\\): waits \\(${holder}\\) is blocked waiting on waits \\(${writer}\\), which is stopped by kill \\(${sender}\\)`,
    ),
  );
  t.same(
    answer.chain.slice(0, 2).map((l: { to: { label: string } }) => l.to.label),
    [`waits (${holder})`, `waits (${writer})`],
    'waiter -> holder -> stopped writer',
  );
  t.ok(
    answer.findings.some(
      (f: { rule: string; culprit: { label: string } }) => f.rule === 'process.waits_now' && f.culprit.label === `waits (${holder})`,
    ),
    'the lock wait itself is a lesser finding naming the holder',
  );
  t.ok(
    answer.actions.some((a: { type: string; target: { label: string } }) => a.type === 'sigcont' && a.target.label === `waits (${writer})`),
    'recommends SIGCONT of the stopped process',
  );
});

t.test('an uninterruptible IO wait in progress: process_blocked, naming the device', async (t) => {
  // one 32 KiB O_DIRECT write throttled to 4 KiB/s: ~8 s in D state, and no completed IO record meanwhile
  const dev = await loopDevice({ sizeMiB: 8, backing: 'file' });
  const cg = await blkioThrottle({ major: dev.major, minor: dev.minor, writeBps: 4096 });
  const w = spawnInCgroup([cg.path], await helperPath('direct-write'), [dev.device, '1', String(32 << 10)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const done = new Promise((r) => w.on('exit', r));
  // a D-state process ends only when its IO does: the cgroup and the device go after it
  t.teardown(async () => {
    await done;
    await cg.cleanup();
    await dev.cleanup();
  });
  await sleep(2500); // the rule wants 2 s in the wait
  const { code, answer } = await ta.why(w.pid!);
  t.equal(code, 0, `cause found (summary: ${answer.summary})`);
  t.equal(answer.scene, 'process_blocked');
  t.equal(answer.findings[0].rule, 'process.io_wait_now');
  t.match(answer.summary, new RegExp(`uninterruptible IO wait: write\\(\\) on .*device ${dev.major}:${dev.minor}\\b`), 'names the device');
  t.equal(w.exitCode, null, 'asked while the write was still in progress');
});

t.test('a healthy sleeper is not blamed (exit 1)', async (t) => {
  const s = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => void s.kill('SIGKILL'));
  await sleep(2500);
  const { code, answer } = await ta.why(s.pid!);
  t.equal(code, 1, `healthy (summary: ${answer.summary})`);
});
