// `xctl why` on failed syscalls, end to end: the agent runs its real probes (the
// syscall family among them), the workload fails real syscalls, and the CLI must
// name the scene, say which calls failed how often on what, and exit 0.
import t from 'tap';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { closedPort, runWorkload, smallTmpfs } from './helpers/syscall-workload';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ta: TestAgent;
t.before(async () => {
  ta = await startTestAgent({ probeConfig: { syscallFlushNs: 200_000_000n } });
});
t.teardown(() => ta.stop());

const re = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

t.test('writes to a full filesystem, then exit 1: storage_full, with the count, the file and the filesystem', async (t) => {
  const fs = await smallTmpfs();
  t.teardown(() => fs.cleanup());
  const w = await runWorkload({ opens: 0, writes: 37, connects: 0, fs, port: 1, code: 1 });
  const o = await w.observed;
  t.equal(await w.exited, 1);
  await sleep(500);
  const { code, answer } = await ta.why(o.pid);
  t.equal(code, 0, 'exit 0: cause found');
  t.equal(answer.scene, 'storage_full');
  t.equal(answer.state, 'exited');
  t.match(
    answer.summary,
    re(`exited with code 1 after 37 write() calls failed with ENOSPC on fd ${o.fd} (${fs.full}/x), tmpfs on ${fs.full}`),
    answer.summary,
  );
  const top = answer.findings[0];
  t.equal(top.rule, 'storage.full_exited');
  t.ok(
    top.evidence.some((e: { leaf: string; value: unknown }) => /syscall\.errno/.test(e.leaf) && e.value === 'ENOSPC'),
    `evidence: ${top.evidence.map((e: { leaf: string }) => e.leaf).join('; ')}`,
  );
  t.match(top.verify, { metric: 'syscall.errors', max: 0 }, `the scene verifies on the failed calls: ${JSON.stringify(top.verify)}`);
  t.ok(
    answer.actions.every((a: { type: string }) => a.type === 'manual'),
    'the plan only suggests: no action that changes anything',
  );
  t.match(answer.actions[0].text, re(`df -h ${fs.full}`), 'it names the mount point to look at');
  t.ok(
    answer.findings.some((f: { scene: string }) => f.scene === 'process_crash'),
    'the exit itself is a lesser finding',
  );
  const fix = await ta.cli(['fix', String(o.pid), '--json']);
  t.equal(fix.code, 0, `fix prints a plan (dry run): ${fix.stderr}`);
  const steps = fix.stdout.trim() ? JSON.parse(fix.stdout).plan.steps : [];
  t.ok(steps.length > 0 && steps.every((s: { executable: boolean }) => !s.executable), `the plan only suggests: ${fix.stdout}`);
});

t.test('still running and failing: storage_full in the present', async (t) => {
  const fs = await smallTmpfs();
  t.teardown(() => fs.cleanup());
  const w = await runWorkload({ opens: 0, writes: 12, connects: 0, fs, port: 1, code: 0, hold: true });
  t.teardown(() => void w.child.kill('SIGKILL'));
  await w.ready;
  w.go();
  const o = await w.observed;
  await sleep(700); // > the 200 ms flush: the counts are out while it lives
  const { code, answer } = await ta.why(o.pid);
  t.equal(code, 0);
  t.equal(answer.scene, 'storage_full');
  t.not(answer.state, 'exited');
  t.equal(answer.findings[0].rule, 'storage.full');
  t.match(answer.summary, re(`12 write() calls failed with ENOSPC on fd ${o.fd} (${fs.full}/x)`), answer.summary);
  t.match(answer.summary, /12 failed call\(s\) in 5 min/);
  w.release();
  await w.exited;
});

t.test('connects refused, then exit 1: process_crash with the peer', async (t) => {
  const fs = await smallTmpfs();
  t.teardown(() => fs.cleanup());
  const port = await closedPort();
  const w = await runWorkload({ opens: 5, writes: 0, connects: 3, fs, port, code: 1 });
  const o = await w.observed;
  t.equal(await w.exited, 1);
  await sleep(500);
  const { code, answer } = await ta.why(o.pid);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_crash');
  t.equal(answer.findings[0].rule, 'process.exit_after_peer_errors');
  t.match(answer.summary, re(`exited with code 1 after 3 connect() calls failed with ECONNREFUSED to 127.0.0.1:${port}`), answer.summary);
  t.match(answer.actions[0].text, re(`127.0.0.1:${port}`));
  t.notMatch(answer.summary, /ENOENT/, 'the missing files (ENOENT) are not the cause');
});

t.test('a healthy process that fails only ENOENT opens: no blame from them', async (t) => {
  const fs = await smallTmpfs();
  t.teardown(() => fs.cleanup());
  const w = await runWorkload({ opens: 100, writes: 0, connects: 0, fs, port: 1, code: 0, hold: true });
  t.teardown(() => void w.child.kill('SIGKILL'));
  await w.ready;
  w.go();
  const o = await w.observed;
  await sleep(700);
  const { code, answer } = await ta.why(o.pid);
  t.equal(code, 1, `exit 1: healthy (${answer?.scene}: ${answer?.summary})`);
  w.release();
  await w.exited;
});
