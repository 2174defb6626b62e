// xctl fix / verify end to end: the agent runs with its real probes, a real
// fault is injected, the CLI (a subprocess over the Unix socket) plans and
// applies the remediation, and verify re-measures the same metric.
import { waitForLine } from '../src/faults/child-output';
import t from 'tap';
import { asNobody } from './helpers/nobody';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { Agent } from '../src/agent/agent';
import { defaultRulesDir } from '../src/rules';
import { XCTL } from './helpers/agent';
import { helperPath } from './fixtures/cbuild';
import { cpuShares, spawnInCgroup } from './fixtures/cgroup';
import { lossyLink } from '../src/faults/netns';
import { faultProgram } from '../src/faults/programs';
import { pipePair } from './helpers/scenarios';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** scripts/verify-repeat.sh collects each scenario's verify outcome from here (one JSON line each). */
const note = (scenario: string, v: Record<string, unknown>) => {
  if (process.env.XCTL_VERIFY_LOG) fs.appendFileSync(process.env.XCTL_VERIFY_LOG, `${JSON.stringify({ scenario, ...v })}\n`);
};

let agent: Agent;
let dir: string;
let socket: string;
let stateDir: string;
const cli = (args: string[], opts: { asNobody?: boolean } = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const [file, argv] = opts.asNobody
      ? asNobody([process.execPath, XCTL, ...args, '--socket', socket])
      : [process.execPath, [XCTL, ...args, '--socket', socket]];
    execFile(file, argv, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 99) : 0;
      resolve({ code, stdout, stderr });
    });
  });
const audit = () =>
  fs
    .readFileSync(path.join(stateDir, 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

t.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-fix-'));
  socket = path.join(dir, 'xctl.sock');
  stateDir = path.join(dir, 'state');
  const logger = pino({ level: 'info' }, pino.destination({ dest: path.join(dir, 'agent.log'), sync: true }));
  agent = await Agent.start({
    socketPath: socket,
    rulesDir: defaultRulesDir(),
    metricsAddr: 'off',
    logger,
    stateDir,
    probeConfig: { tcpFlushNs: 200_000_000n },
    fix: { policy: { cgroup_cpu_limit: 'deny' }, recheckIntervalS: 0 },
  });
});
t.teardown(async () => {
  await agent.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

t.test('CPU hog: renice the competitor, run-queue delay drops -> resolved; the denied cgroup limit is refused', async (t) => {
  const hogBin = await helperPath('cpu-hog');
  // the scenario's own CPU share: other work on this shared host's CPU 1 gets ~1/256 of it against the group
  const own = await cpuShares();
  t.teardown(() => own.cleanup());
  const onCpu1 = await helperPath('on-cpu');
  const hog = spawnInCgroup([own.path], onCpu1, ['1', hogBin, '60']);
  t.teardown(() => void hog.kill('SIGKILL'));
  const victim = spawnInCgroup([own.path], onCpu1, ['1', hogBin, '60']);
  t.teardown(() => void victim.kill('SIGKILL'));
  await sleep(10_500); // a full 10 s window of starvation before the fix
  const r = await cli(['fix', String(victim.pid), '--apply', '--yes', '--json']);
  t.ok(r.stdout.trim(), `fix printed its plan (stderr: ${r.stderr})`);
  const out = JSON.parse(r.stdout);
  t.equal(out.plan.scene, 'cpu_starvation', `scene (${out.plan.summary})`);
  t.match(out.plan_id, /^p-\d{8}-\d{6}-[0-9a-f]{6}$/);
  const renice = out.plan.steps.find((s: { action: string }) => s.action === 'renice');
  t.equal(renice.target.pid, hog.pid, 'renices the hog, not the victim');
  t.match(renice.text, new RegExp(`renice -n 19 -p ${hog.pid}$`), 'the plan says what it applies');
  t.equal(renice.params.nice, 19);
  t.ok(renice.target.start_ns > 0, 'target carries its start time');
  t.equal(renice.verification.metric, 'offcpu.runq');
  t.equal(renice.verification.window_s, 10);
  t.ok(out.plan.verification.before >= 1e9, `victim waited ${out.plan.verification.before / 1e6} ms in 10 s before`);
  const res = (a: string) => out.results.find((x: { action: string }) => x.action === a);
  t.equal(res('renice').status, 'ok', res('renice').detail);
  t.equal(os.getPriority(hog.pid!), 19, 'the hog now runs at nice 19');
  t.equal(res('cgroup_cpu_limit').status, 'refused');
  t.match(res('cgroup_cpu_limit').detail, /denied by the agent's policy/);
  t.equal(r.code, 2, 'exit 2: a step was refused');
  const recs = audit().filter((a) => a.plan_id === out.plan_id);
  t.ok(recs.some((a) => a.phase === 'before' && a.action === 'renice' && a.caller_uid === 0 && a.target.pid === hog.pid));
  t.ok(recs.some((a) => a.phase === 'after' && a.action === 'renice' && a.result === 'ok'));
  t.ok(
    recs.some((a) => a.phase === 'refused' && a.action === 'cgroup_cpu_limit' && a.code === 'denied'),
    'the denied action is audited',
  );
  const v = await cli(['verify', out.plan_id, '--wait', '--json']);
  const vo = JSON.parse(v.stdout);
  note('cpu_starvation', vo);
  // judged on shares of wall time over settled windows: the victim waited ~half its time before, ~1.5 % after
  t.equal(
    vo.outcome,
    'resolved',
    `${vo.outcome}: share waiting for a CPU before ${vo.before_rate / 1e9}, after ${vo.after_rate / 1e9}, resolved at <= ${vo.threshold_rate / 1e9}`,
  );
  t.ok(vo.before_rate >= 0.25e9, `the victim waited ${(vo.before_rate / 1e7).toFixed(1)} % of its time for a CPU before`);
  t.ok(vo.after_rate < vo.before_rate * 0.1, 'the share waiting for a CPU fell by more than 90 %');
  t.ok(vo.span.from_s * 1e9 >= out.plan.applied_ns + 2e9 - 1e9, 'the judged window starts after the fix settled');
  t.equal(vo.span.seconds, 10);
  t.equal(v.code, 0);
  // persisted in the state dir
  const stored = JSON.parse(fs.readFileSync(path.join(stateDir, 'plans', `${out.plan_id}.json`), 'utf8'));
  t.equal(stored.outcomes.at(-1).outcome, vo.outcome);
});

t.test('reader blocked on a SIGSTOPped writer: SIGCONT -> resolved; stopped again -> recurred', async (t) => {
  const { reader, writer } = await pipePair(t, 60);
  await sleep(300);
  process.kill(writer, 'SIGSTOP');
  await sleep(1500);
  const dry = JSON.parse((await cli(['fix', String(reader), '--json'])).stdout);
  t.equal(dry.applied, false, 'dry run');
  t.equal(fs.readFileSync(`/proc/${writer}/stat`, 'utf8').split(') ')[1]![0], 'T', 'dry run changed nothing');
  const r = await cli(['fix', String(reader), '--apply', '--yes', '--json']);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.plan.scene, 'process_blocked');
  const step = out.plan.steps.find((s: { action: string }) => s.action === 'sigcont');
  t.equal(step.target.pid, writer);
  t.equal(out.plan.verification.metric, 'process.stopped');
  t.equal(out.plan.verification.before, 1);
  t.equal(out.results.find((x: { action: string }) => x.action === 'sigcont').status, 'ok');
  t.equal(out.results.find((x: { action: string }) => x.action === 'manual').status, 'manual', 'the manual step is printed, not run');
  t.not(fs.readFileSync(`/proc/${writer}/stat`, 'utf8').split(') ')[1]![0], 'T', 'writer runs again');
  const v = JSON.parse((await cli(['verify', out.plan_id, '--wait', '--json'])).stdout);
  note('stopped_writer', v);
  t.equal(v.outcome, 'resolved');
  t.equal(v.before, 1);
  t.equal(v.after, 0);
  // the reader's waits end: it is woken by the writer again
  const waited =
    agent.pipeline.graph
      .findProcess(reader)
      ?.series('offcpu.waits_on_process')
      ?.aggregate('count', agent.pipeline.nowNs() / 1e9, 5) ?? 0;
  t.ok(waited > 0, `the reader was woken ${waited} times in the last 5 s`);
  // periodic re-check detects recurrence
  process.kill(writer, 'SIGSTOP');
  await sleep(200);
  const rec = agent
    .fixService()
    .recheck()
    .find((o) => o.metric === 'process.stopped');
  t.equal(rec?.outcome, 'recurred');
  const v2 = JSON.parse((await cli(['verify', out.plan_id, '--json'])).stdout);
  t.equal(v2.outcome, 'recurred');
  process.kill(writer, 'SIGCONT');
});

t.test('packet loss: a manual step; verify reports failed while the loss continues', async (t) => {
  const port = 5021;
  const link = await lossyLink({ lossProbability: 0.2, port });
  t.teardown(() => link.cleanup());
  const sink = link.spawnIn(link.nsB, process.execPath, [faultProgram('tcp-sink.js'), link.addrB, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void sink.kill('SIGKILL'));
  await waitForLine(sink, /listening/, 'sink');
  const sender = link.spawnIn(link.nsA, process.execPath, [faultProgram('tcp-sender.js'), link.addrB, String(port), '30'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void sender.kill('SIGKILL'));
  const m = await waitForLine(sender, /pid (\d+)/, 'sender');
  await sleep(5000); // a settled baseline of several seconds
  const r = await cli(['fix', m[1]!, '--apply', '--yes', '--json']);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.plan.scene, 'network_stall', `plan: ${JSON.stringify(out.plan).slice(0, 600)}`);
  t.ok(
    out.plan.steps.every((s: { action: string }) => s.action === 'manual'),
    'only manual steps: nothing can be fixed locally',
  );
  t.ok(out.plan.steps[0].evidence.length > 0, 'printed with its evidence');
  t.equal(out.results[0].status, 'manual');
  t.equal(out.plan.verification.metric, 'tcp.retransmits');
  t.ok(out.plan.verification.before > 0);
  const v = JSON.parse((await cli(['verify', out.plan_id, '--wait', '--json'])).stdout);
  note('packet_loss', v);
  t.equal(v.outcome, 'failed', `share of seconds with retransmits before ${v.before_rate}, after ${v.after_rate}`);
  t.ok(v.after_rate > 0.5, 'it still retransmits in most seconds');
  t.ok(out.plan.verification.before_s >= 3, `a baseline of ${out.plan.verification.before_s} s`);
  t.ok(v.after > 0, `${v.after} segments retransmitted in the window after`);
  const txt = await cli(['verify', out.plan_id]);
  t.match(txt.stdout, /failed: tcp\.retransmits before \d+, after \d+/);
});

t.test('refusals: pid 1, a kernel thread, a reused pid, a wrong uid; each audited', async (t) => {
  const r1 = await cli(['fix', '1', '--apply', '--yes']);
  t.equal(r1.code, 2);
  t.match(r1.stderr, /FORBIDDEN: refused: pid 1 is init/);
  const r2 = await cli(['fix', '2', '--apply', '--yes']);
  t.equal(r2.code, 2);
  t.match(r2.stderr, /pid 2 is a kernel thread/);
  t.ok(
    audit().some((a) => a.phase === 'refused' && a.target.pid === 1 && /init/.test(a.error)),
    'pid 1 refusal audited',
  );
  t.ok(
    audit().some((a) => a.phase === 'refused' && a.target.pid === 2),
    'kthread refusal audited',
  );

  // reused pid: plan for a stopped process, the process dies, a new process gets the same pid
  const s = spawn('sleep', ['60'], { stdio: 'ignore' });
  const pid = s.pid!;
  await sleep(200);
  process.kill(pid, 'SIGSTOP');
  await sleep(1500);
  const plan = JSON.parse((await cli(['fix', String(pid), '--json'])).stdout);
  const step = plan.plan.steps.find((x: { action: string }) => x.action === 'sigcont');
  t.equal(step?.target.pid, pid, 'planned SIGCONT of the stopped sleep');
  s.kill('SIGKILL');
  await new Promise((r) => s.on('exit', r));
  let reused: ChildProcess | undefined;
  for (let i = 0; i < 50 && !reused; i++) {
    fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const c = spawn('sleep', ['30'], { stdio: 'ignore' });
    if (c.pid === pid) reused = c;
    else c.kill('SIGKILL');
  }
  t.ok(reused, `got pid ${pid} again`);
  t.teardown(() => void reused?.kill('SIGKILL'));
  const r3 = await cli(['fix', '--plan', plan.plan_id, '--apply', '--yes', '--json']);
  const o3 = JSON.parse(r3.stdout);
  const res3 = o3.results.find((x: { action: string }) => x.action === 'sigcont');
  t.equal(res3.status, 'refused');
  t.match(res3.detail, new RegExp(`pid ${pid} was reused`));
  t.ok(
    audit().some((a) => a.plan_id === plan.plan_id && a.phase === 'refused' && a.code === 'reused'),
    'reuse refusal audited',
  );

  // wrong uid: nobody can reach the socket but may not apply
  fs.chmodSync(dir, 0o777);
  fs.chmodSync(socket, 0o777);
  const r4 = await cli(['fix', '--plan', plan.plan_id, '--apply', '--yes'], { asNobody: true });
  t.equal(r4.code, 2, r4.stderr);
  t.match(r4.stderr, /FORBIDDEN: refused: uid 65534 gid 65534 \(pid \d+\) may not apply remediation/);
  t.ok(
    audit().some((a) => a.phase === 'refused' && a.code === 'forbidden' && a.caller_uid === 65534),
    'the wrong uid is audited',
  );
  // dry runs are fine for any caller that can reach the socket
  const r5 = await cli(['fix', '--plan', plan.plan_id, '--json'], { asNobody: true });
  t.equal(JSON.parse(r5.stdout).applied, false);

  // non-TTY without --yes on a plan with an "ask" step: refused by the CLI
  const all = audit();
  t.ok(
    all.every((a) => typeof a.ts === 'string' && typeof a.plan_id === 'string'),
    'every audit line parses',
  );
});
