// `xctl why` end to end: the agent runs with its real probes, a real fault is
// injected, and the CLI (a subprocess, over the Unix socket) must name the
// scene, the culprit and exit with the documented code. A healthy process
// must not be blamed.
import { waitForLine } from '../src/faults/child-output';
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { helperPath } from './fixtures/cbuild';
import { loopDevice } from './fixtures/loopdev';
import { blkioThrottle, cpuShares, memoryLimit, spawnInCgroup } from './fixtures/cgroup';
import { lossyLink } from '../src/faults/netns';
import { faultProgram } from '../src/faults/programs';
import { killAtEnd, pipePair } from './helpers/scenarios';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (c: ChildProcess) =>
  new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.on('exit', () => r())));

let ta: TestAgent;
t.before(async () => {
  ta = await startTestAgent({ probeConfig: { tcpFlushNs: 200_000_000n } });
});
t.teardown(() => ta.stop());

t.test('network loss: network_stall, culprit the peer', async (t) => {
  const port = 5011;
  const link = await lossyLink({ lossProbability: 0.2, port });
  t.teardown(() => link.cleanup());
  const sink = link.spawnIn(link.nsB, process.execPath, [faultProgram('tcp-sink.js'), link.addrB, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void sink.kill('SIGKILL'));
  await waitForLine(sink, /listening/, 'sink');
  const sender = link.spawnIn(link.nsA, process.execPath, [faultProgram('tcp-sender.js'), link.addrB, String(port), '5'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void sender.kill('SIGKILL'));
  const m = await waitForLine(sender, /pid (\d+)/, 'sender');
  await sleep(3000);
  const { code, answer } = await ta.why(Number(m[1]));
  t.equal(code, 0, 'exit 0: cause found');
  t.equal(answer.scene, 'network_stall');
  t.equal(answer.pid, Number(m[1]));
  t.equal(answer.culprit.label, `${link.addrB}:${port}`, 'the peer is the culprit');
  t.equal(answer.chain[0].edge, 'waits_on');
  t.match(answer.chain[0].evidence.text, /segments retransmitted/);
  t.ok(answer.chain[0].evidence.in_window.sum >= 3, `${answer.chain[0].evidence.in_window.sum} segments in the window`);
  t.equal(answer.dropped_events, 0, 'no drops in the window');
  t.ok(answer.answered_in_ms < 50, `answered in ${answer.answered_in_ms} ms`);
});

t.test('throttled loop device: storage_slow, culprit the device', async (t) => {
  const dev = await loopDevice({ sizeMiB: 32, backing: 'file' });
  t.teardown(() => dev.cleanup());
  const cg = await blkioThrottle({ major: dev.major, minor: dev.minor, writeBps: 1 << 20 });
  t.teardown(() => cg.cleanup());
  const w = spawnInCgroup([cg.path], await helperPath('direct-write'), [dev.device, '12', String(256 << 10)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void w.kill('SIGKILL'));
  await sleep(1800);
  const { code, answer } = await ta.why(w.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'storage_slow');
  t.equal(answer.culprit.type, 'device');
  t.match(answer.culprit.label, new RegExp(`^${dev.major}:${dev.minor}\\b`), `culprit ${answer.culprit.label}`);
  t.match(answer.summary, new RegExp(`${dev.major}:${dev.minor}`));
});

t.test('memory cgroup OOM kill: host_oom, after the process is gone', async (t) => {
  const cg = await memoryLimit({ bytes: 32 << 20 });
  t.teardown(() => cg.cleanup());
  const hog = spawnInCgroup([cg.path], await helperPath('memhog'), ['256'], { stdio: 'ignore' });
  await exited(hog);
  await sleep(300);
  const { code, answer } = await ta.why(hog.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'host_oom');
  t.equal(answer.state, 'exited');
  t.equal(answer.chain[0].edge, 'blocked_by');
  t.match(answer.chain[0].to.label, /OOM kill/);
});

t.test('SIGSEGV: process_crash with the signal', async (t) => {
  const c = spawn(await helperPath('segv'), [], { stdio: 'ignore' });
  await exited(c);
  await sleep(300);
  const { code, answer } = await ta.why(c.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_crash');
  t.match(answer.summary, /SIGSEGV/);
  t.match(answer.summary, /11/);
});

t.test('A waits on B, B waits on a slow device: storage_slow through two hops', async (t) => {
  const dev = await loopDevice({ sizeMiB: 32, backing: 'file' });
  t.teardown(() => dev.cleanup());
  const cg = await blkioThrottle({ major: dev.major, minor: dev.minor, writeBps: 1 << 20 });
  t.teardown(() => cg.cleanup());
  const chain = spawnInCgroup([cg.path], await helperPath('pipe-chain'), [dev.device, '20', String(256 << 10)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void chain.kill('SIGKILL'));
  const m = await waitForLine(chain, /reader (\d+) writer (\d+)/, 'pipe-chain');
  const [a, b] = [Number(m[1]), Number(m[2])];
  killAtEnd(t, b);
  await sleep(4000);
  const { code, answer } = await ta.why(a);
  t.equal(code, 0);
  t.equal(answer.scene, 'storage_slow', `scene (summary: ${answer.summary})`);
  t.equal(answer.chain[0].from.label, `pipe-chain (${a})`, 'the chain starts at A');
  t.equal(answer.chain[0].to.label, `pipe-chain (${b})`, 'A waits on B');
  t.equal(answer.chain[answer.chain.length - 1].to.type, 'device', 'and ends at the device');
  t.match(answer.culprit.label, new RegExp(`^${dev.major}:${dev.minor}`));
  t.ok(
    answer.findings.some((f: { scene: string }) => f.scene === 'process_blocked'),
    'A being blocked on B is a lesser finding',
  );
});

t.test('CPU hogs: cpu_starvation naming the competitors', async (t) => {
  const hog = await helperPath('cpu-hog');
  // the scenario's own CPU share: other work on this shared host's CPU 1 gets ~1/256 of it against the group
  const own = await cpuShares();
  t.teardown(() => own.cleanup());
  const onCpu = await helperPath('on-cpu');
  const hogs = [spawnInCgroup([own.path], onCpu, ['1', hog, '6']), spawnInCgroup([own.path], onCpu, ['1', hog, '6'])];
  t.teardown(() => {
    for (const h of hogs) h.kill('SIGKILL');
  });
  const victim = spawnInCgroup([own.path], onCpu, ['1', hog, '6']);
  t.teardown(() => void victim.kill('SIGKILL'));
  await sleep(4500); // two CPU samples and several run-queue windows
  const { code, answer } = await ta.why(victim.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'cpu_starvation');
  const named = hogs.filter((h) => answer.summary.includes(`(${h.pid})`));
  t.ok(named.length >= 1, `the summary names a competing hog: ${answer.summary}`);
  t.notMatch(answer.summary, new RegExp(`cpu-hog \\(${victim.pid}\\) \\d+ %`), 'not itself as its own competitor');
});

t.test('reader of a SIGSTOPped writer: process_blocked, culprit the writer', async (t) => {
  const { reader, writer } = await pipePair(t, 30);
  await sleep(300);
  process.kill(writer, 'SIGSTOP');
  await sleep(1500);
  const { code, answer } = await ta.why(reader);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_blocked');
  t.equal(answer.culprit.label, `pipe-pair (${writer})`, 'the stopped writer');
  t.match(answer.summary, /stopped/);
  t.match(answer.chain[0].evidence.text, /pipe:\[\d+\]/, 'evidence: the pipe both hold');
  t.ok(
    answer.actions.some(
      (a: { type: string; target: { label: string } }) => a.type === 'sigcont' && a.target.label === `pipe-pair (${writer})`,
    ),
    'recommends SIGCONT of the writer',
  );
});

t.test('a healthy process is not blamed (exit 1)', async (t) => {
  const s = spawn('sleep', ['20'], { stdio: 'ignore' });
  t.teardown(() => void s.kill('SIGKILL'));
  await sleep(500);
  const { code, answer } = await ta.why(s.pid!);
  t.equal(code, 1, 'exit 1: healthy');
  t.equal(answer.scene, 'healthy');
  t.same(answer.chain, []);
});

t.test('errors: unknown pid, no agent (exit 2)', async (t) => {
  const r = await ta.cli(['why', '999999']);
  t.equal(r.code, 2);
  t.match(r.stderr, /no process 999999: it is not running and was not seen/);
  const none = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [require('./helpers/agent').XCTL, 'why', '1', '--socket', '/tmp/xctl-no-such.sock'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d));
    c.on('exit', (code) => resolve({ code, stderr: err }));
  });
  t.equal(none.code, 2);
  t.match(none.stderr, /no xctl agent is running/);
});

t.test('ps lists tracked processes with their top finding', async (t) => {
  const r = await ta.cli(['ps', '--json']);
  t.equal(r.code, 0);
  const rows = JSON.parse(r.stdout);
  t.ok(
    rows.some((x: { scene: string }) => x.scene === 'process_crash'),
    'the crash from earlier is listed',
  );
  t.ok(rows.every((x: { pid: number; scene: string }) => typeof x.pid === 'number' && typeof x.scene === 'string'));
});

// Last on purpose: loop device numbers are reused, and a device keeps its IO-error
// history for 5 min, which would (rightly) colour later scenarios on the same 7:N.
t.test('loop device over a full tmpfs: storage_io_error', async (t) => {
  const dev = await loopDevice({ sizeMiB: 16, backing: 'full-tmpfs' });
  t.teardown(() => dev.cleanup());
  const w = spawn(await helperPath('direct-write'), [dev.device, '2', String(64 << 10)], { stdio: 'ignore' });
  await exited(w);
  await sleep(300);
  const { code, answer } = await ta.why(w.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'storage_io_error', 'the IO error, not the non-zero exit it caused');
  t.match(answer.summary, new RegExp(`failed I/O\\(s\\) in 5 min on device ${dev.major}:${dev.minor} \\(loop\\d+\\), last error ENOSPC`));
  t.ok(
    answer.findings.some((f: { scene: string }) => f.scene === 'process_crash'),
    'the exit code 1 is listed as a lesser finding',
  );
});
