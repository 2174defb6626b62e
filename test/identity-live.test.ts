// Identity end to end: the agent with its real probes; processes started inside
// cgroup trees shaped as the kubelet + containerd / CRI-O / docker / podman and
// slurmstepd make them (v1 controllers, name=systemd and the unified hierarchy),
// with the runtime's files under a temp identity.host_root, ranks in their
// environment, and real faults (CPU starvation, a crash, an OOM kill in the
// pod's memory cgroup). `why` by pid and by every selector, `ps --by`, and the
// bad inputs (malformed config.json, no runtime file, unknown shape, huge
// environ, a process gone before lookup, a process moved to another cgroup).
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { helperPath, runOnCpu } from './fixtures/cbuild';
import { spawnInCgroup } from './fixtures/cgroup';
import { kubePaths, makeTree, newContainerId, newPodUid, type TreeCgroup } from './fixtures/kube-cgroup';
import { writeContainerd, writeCrio, writeDocker, writePodman } from './helpers/runtime-files';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (c: ChildProcess) =>
  new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.on('exit', () => r())));
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const TRANSCRIPT = process.env.XCTL_IDENTITY_TRANSCRIPT;

let ta: TestAgent;
let root: string;
const trees: TreeCgroup[] = [];
const kids: ChildProcess[] = [];
function tree(rel: string): TreeCgroup {
  const tr = makeTree(rel);
  trees.push(tr);
  return tr;
}
function run(dirs: string[], cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const c = spawnInCgroup(dirs, cmd, args, { env: { ...BASE_ENV, ...env }, stdio: 'ignore' });
  kids.push(c);
  return c;
}
let gates = 0;
/**
 * Starts `sh` in the cgroup tree, waiting at a gate file, and opens the gate
 * (sh execs the fault, same pid) once the agent's graph holds its rank: a
 * fault that dies within milliseconds of its exec leaves no environment to
 * read. The forks of sh's wait loop are its first records.
 */
async function runGated(dirs: string[], cmd: string, args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const gate = path.join(root, `gate-${gates++}`);
  const c = run(dirs, 'sh', ['-c', `while [ ! -e "${gate}" ]; do sleep 0.05; done; exec "$0" "$@"`, cmd, ...args], env);
  const deadline = Date.now() + 15_000;
  while (!ta.agent.pipeline.graph.findProcess(c.pid!)?.identity?.rank) {
    if (Date.now() > deadline) throw new Error(`the agent never read the rank of pid ${c.pid}`);
    await sleep(50);
  }
  fs.writeFileSync(gate, '');
  return c;
}

t.before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-host-'));
  ta = await startTestAgent({ agentOptions: { identity: { hostRoot: root } } });
});
t.teardown(async () => {
  for (const k of kids) k.kill('SIGKILL');
  await sleep(100);
  await ta.stop();
  for (const tr of trees.reverse()) tr.cleanup();
  fs.rmSync(root, { recursive: true, force: true });
});

function transcript(title: string, text: string) {
  t.comment(`${title}\n${text}`);
  if (TRANSCRIPT) fs.appendFileSync(TRANSCRIPT, `$ ${title}\n${text}\n`);
}

t.test('CPU starvation in a kubelet systemd-driver burstable pod (containerd): pod, container, names and rank', async (t) => {
  const uid = newPodUid();
  const id = newContainerId();
  const p = kubePaths('systemd', 'burstable', uid, 'containerd', id);
  const tr = tree(p.container);
  writeContainerd(root, id, { container: 'trainer', pod: 'llama-0', namespace: 'ml', uid });
  const hog = await helperPath('cpu-hog');
  const hogs = await Promise.all([runOnCpu(1, hog, ['30'], { stdio: 'ignore' }), runOnCpu(1, hog, ['30'], { stdio: 'ignore' })]);
  kids.push(...hogs);
  const env = {
    RANK: '3',
    LOCAL_RANK: '1',
    WORLD_SIZE: '8',
    GROUP_RANK: '1',
    MASTER_ADDR: '10.0.0.1',
    MASTER_PORT: '29500',
    TORCHELASTIC_RUN_ID: 'llama-7b',
  };
  const victim = run(tr.dirs, await helperPath('on-cpu'), ['1', hog, '30'], env);
  await sleep(4500);
  const { code, answer } = await ta.why(victim.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'cpu_starvation');
  t.equal(answer.identity, 'resolved');
  t.equal(answer.cgroup, p.container);
  t.same(answer.pod, { uid, qos: 'burstable', namespace: 'ml', name: 'llama-0' });
  t.same(answer.container, { runtime: 'containerd', id, name: 'trainer' });
  t.same(answer.rank, { rank: 3, local_rank: 1, world_size: 8, group_rank: 1, job: 'llama-7b' });
  const text = await ta.cli(['why', String(victim.pid)]);
  t.match(
    text.stdout.split('\n')[1],
    `pod ml/llama-0 (uid ${uid}, burstable) · container trainer (containerd ${id.slice(0, 12)}) · rank 3/8 (local 1) of job llama-7b`,
  );
  transcript(`xctl why ${victim.pid}`, text.stdout);
  // by selector: the starved process is matched (answered while its starvation lasts; the crash below pins every selector)
  const r = await ta.cli(['why', 'pod/ml/llama-0', '--json']);
  const s = JSON.parse(r.stdout);
  const matched = [...s.answers, ...s.others].map((a: { pid: number }) => a.pid);
  t.ok(matched.includes(victim.pid!), `pod/ml/llama-0 matches the victim: ${r.stdout.slice(0, 300)}`);
  for (const a of s.answers) t.equal(a.scene, 'cpu_starvation');
  const sel = await ta.cli(['why', 'pod/ml/llama-0']);
  transcript('xctl why pod/ml/llama-0', sel.stdout);
});

t.test('crash in a cgroupfs-driver guaranteed pod (CRI-O): answered after exit with its identity', async (t) => {
  const uid = newPodUid();
  const id = newContainerId();
  const p = kubePaths('cgroupfs', 'guaranteed', uid, 'cri-o', id);
  const tr = tree(p.container);
  writeCrio(root, id, { container: 'loader', pod: 'data-1', namespace: 'etl', uid });
  const c = await runGated(tr.dirs, await helperPath('segv'), [], { RANK: '0', WORLD_SIZE: '2', SLURM_JOB_ID: '991' });
  await exited(c);
  await sleep(300);
  const { code, answer } = await ta.why(c.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_crash');
  t.equal(answer.state, 'exited');
  t.same(answer.pod, { uid, qos: 'guaranteed', namespace: 'etl', name: 'data-1' });
  t.same(answer.container, { runtime: 'cri-o', id, name: 'loader' });
  t.same(answer.rank, { rank: 0, world_size: 2, job: '991' });
  transcript(`xctl why ${c.pid} (crashed)`, (await ta.cli(['why', String(c.pid)])).stdout);
  // the same process by each selector: answered in full
  for (const sel of [`pod/${uid}`, 'pod/etl/data-1', `container/${id.slice(0, 8)}`, 'job/991']) {
    const r = await ta.cli(['why', sel, '--json']);
    t.equal(r.code, 0, `${sel}: exit 0`);
    const s = JSON.parse(r.stdout);
    t.equal(s.answers[0]?.pid, c.pid, `${sel}: the crashed process answered first`);
    t.equal(s.answers[0]?.scene, 'process_crash');
    t.equal(s.answers[0]?.pod?.name, 'data-1');
  }
  const r0 = await ta.cli(['why', 'job/991', '--rank', '0', '--json']);
  t.equal(JSON.parse(r0.stdout).answers[0]?.rank.rank, 0);
  const r5 = await ta.cli(['why', 'job/991', '--rank', '5']);
  t.equal(r5.code, 2, 'no rank 5: exit 2');
  t.match(r5.stderr, /no process matches job\/991 --rank 5: searched \d+ processes/);
});

t.test('OOM kill in the pod memory cgroup, systemd driver besteffort (cri-dockerd)', async (t) => {
  const uid = newPodUid();
  const id = newContainerId();
  const p = kubePaths('systemd', 'besteffort', uid, 'docker', id);
  const tr = tree(p.container);
  const pod = tr.memoryDir(p.pod);
  fs.writeFileSync(path.join(pod, 'memory.limit_in_bytes'), String(32 << 20));
  if (fs.existsSync(path.join(pod, 'memory.memsw.limit_in_bytes')))
    fs.writeFileSync(path.join(pod, 'memory.memsw.limit_in_bytes'), String(32 << 20));
  writeDocker(root, id, `k8s_hog_cache-0_web_${uid}_0`, { container: 'hog', pod: 'cache-0', namespace: 'web', uid });
  const c = await runGated(tr.dirs, await helperPath('memhog'), ['256'], { OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '4' });
  await exited(c);
  t.equal(c.signalCode, 'SIGKILL', 'memhog (sh exec-ed it, same pid) was OOM-killed');
  await sleep(300);
  const { code, answer } = await ta.why(c.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'host_oom');
  t.same(answer.pod, { uid, qos: 'besteffort', namespace: 'web', name: 'cache-0' });
  t.same(answer.container, { runtime: 'docker', id, name: 'hog' });
  t.same(answer.rank, { rank: 1, world_size: 4, job: 'unknown' });
});

t.test('slurm job_N/step_M: job selector with and without --rank, the rest listed', async (t) => {
  const tr = tree('/slurm/uid_0/job_4242/step_0');
  const segv = await helperPath('segv');
  const r0 = run(tr.dirs, 'sleep', ['30'], { SLURM_JOB_ID: '4242', SLURM_STEP_ID: '0', SLURM_PROCID: '0', SLURM_NTASKS: '2' });
  const r1 = await runGated(tr.dirs, segv, [], { SLURM_JOB_ID: '4242', SLURM_STEP_ID: '0', SLURM_PROCID: '1', SLURM_NTASKS: '2' });
  await exited(r1);
  await sleep(300);
  const all = await ta.cli(['why', 'job/4242', '--json']);
  t.equal(all.code, 0);
  const s = JSON.parse(all.stdout);
  // the crash first; a child of rank 1 (sh's `sleep`, same environment) may carry a weaker finding of its own
  t.same(
    [s.answers[0].pid, s.answers[0].scene, s.answers[0].slurm, s.answers[0].rank.rank],
    [r1.pid, 'process_crash', { job: '4242', step: '0' }, 1],
  );
  t.ok(
    s.answers.every((a: { rank: { rank: number } }) => a.rank.rank === 1),
    'only rank 1 has findings',
  );
  t.ok(
    s.others.some((o: { pid: number; rank: { rank: number } }) => o.pid === r0.pid && o.rank.rank === 0),
    'the healthy rank listed',
  );
  const one = await ta.cli(['why', 'job/4242', '--rank', '0', '--json']);
  t.equal(one.code, 1, 'rank 0 is healthy: exit 1');
  t.same(
    JSON.parse(one.stdout).others.map((o: { pid: number }) => o.pid),
    [r0.pid],
  );
  transcript('xctl why job/4242', (await ta.cli(['why', 'job/4242'])).stdout);
  const byJob = await ta.cli(['ps', '--by', 'job', '--json']);
  const g = JSON.parse(byJob.stdout).find((x: { key: string }) => x.key === '4242');
  t.ok(
    g && g.processes >= 2 && g.with_findings >= 1,
    `ps --by job groups the job: ${JSON.stringify(g && { p: g.processes, f: g.with_findings })}`,
  );
});

t.test('podman outside Kubernetes: container named from containers/storage', async (t) => {
  const id = newContainerId();
  const tr = tree(`/machine.slice/libpod-${id}.scope`);
  writePodman(root, id, 'web');
  const c = run(tr.dirs, 'sleep', ['30']);
  await sleep(300);
  const r = await ta.cli(['why', `container/${id.slice(0, 12)}`, '--json']);
  t.equal(r.code, 1, 'healthy');
  const s = JSON.parse(r.stdout);
  t.same(
    s.others.map((o: { pid: number; container: unknown }) => [o.pid, o.container]),
    [[c.pid, { runtime: 'podman', id, name: 'web' }]],
  );
});
