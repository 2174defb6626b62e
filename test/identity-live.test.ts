// Identity end to end: the agent with its real probes; processes started inside
// cgroup trees shaped as the kubelet + containerd / CRI-O / docker / podman and
// slurmstepd make them (v1 controllers, name=systemd and the unified hierarchy),
// with the runtime's files under a temp identity.host_root, ranks in their
// environment, and real faults (CPU starvation, a crash, an OOM kill in the
// pod's memory cgroup). `why` by pid and by every selector, `ps --by`, and the
// bad inputs (malformed config.json, no runtime file, unknown shape, huge
// environ, a process gone before lookup, a process moved to another cgroup).
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { helperPath, runOnCpu } from './fixtures/cbuild';
import { spawnInCgroup } from './fixtures/cgroup';
import { kubePaths, makeTree, newContainerId, newPodUid, type TreeCgroup } from './fixtures/kube-cgroup';
import { writeContainerd, writeCrio, writeDocker, writePodman, writeRaw } from './helpers/runtime-files';
import { CONTAINERD_TASKS } from '../src/identity/runtime-files';
import type { IdentityHolder } from '../src/identity/resolver';

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
/** sh sleeps (so its first records are resolved while it lives), then execs the fault */
const later = (cmd: string, ...args: string[]) => ['-c', `sleep 0.8; exec "$0" "$@"`, cmd, ...args];

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
  // the same process by each selector
  for (const sel of [`pod/${uid}`, 'pod/ml/llama-0', `container/${id.slice(0, 8)}`, 'job/llama-7b']) {
    const r = await ta.cli(['why', sel, '--json']);
    t.equal(r.code, 0, `${sel}: exit 0`);
    const s = JSON.parse(r.stdout);
    t.same(
      s.answers.map((a: { pid: number }) => a.pid),
      [victim.pid],
      `${sel}: the starved process answered`,
    );
    t.equal(s.answers[0].scene, 'cpu_starvation');
  }
  const r3 = await ta.cli(['why', 'job/llama-7b', '--rank', '3', '--json']);
  t.equal(JSON.parse(r3.stdout).answers[0].rank.rank, 3);
  const r5 = await ta.cli(['why', 'job/llama-7b', '--rank', '5']);
  t.equal(r5.code, 2, 'no rank 5: exit 2');
  t.match(r5.stderr, /no process matches job\/llama-7b --rank 5: searched \d+ processes/);
  const sel = await ta.cli(['why', 'pod/ml/llama-0']);
  transcript('xctl why pod/ml/llama-0', sel.stdout);
});

t.test('crash in a cgroupfs-driver guaranteed pod (CRI-O): answered after exit with its identity', async (t) => {
  const uid = newPodUid();
  const id = newContainerId();
  const p = kubePaths('cgroupfs', 'guaranteed', uid, 'cri-o', id);
  const tr = tree(p.container);
  writeCrio(root, id, { container: 'loader', pod: 'data-1', namespace: 'etl', uid });
  const c = run(tr.dirs, 'sh', later(await helperPath('segv')), { RANK: '0', WORLD_SIZE: '2', SLURM_JOB_ID: '991' });
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
  const c = run(tr.dirs, 'sh', later(await helperPath('memhog'), '256'), { OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '4' });
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
  const r1 = run(tr.dirs, 'sh', later(segv), { SLURM_JOB_ID: '4242', SLURM_STEP_ID: '0', SLURM_PROCID: '1', SLURM_NTASKS: '2' });
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

t.test('bad input: malformed config.json, no runtime file, unknown shape, huge environ', async (t) => {
  const uid = newPodUid();
  const bad = newContainerId();
  const gone = newContainerId();
  const pb = kubePaths('systemd', 'burstable', uid, 'containerd', bad);
  const pg = kubePaths('systemd', 'burstable', uid, 'containerd', gone);
  writeRaw(path.join(root, CONTAINERD_TASKS, 'k8s.io', bad, 'config.json'), '{"annotations": {"io.kubernetes.cri.container-name": ');
  const a = run(tree(pb.container).dirs, 'sleep', ['30']);
  const b = run(tree(pg.container).dirs, 'sleep', ['30']);
  const c = run(tree('/xctl-odd.slice/thing').dirs, 'sleep', ['30']);
  const big = 'x'.repeat(100_000);
  const d = run(tree(pg.container).dirs, 'sleep', ['30'], { A: big, B: big, C: big, RANK: '1' });
  await sleep(400);
  const wa = (await ta.why(a.pid!)).answer;
  t.same(wa.container, { runtime: 'containerd', id: bad }, 'malformed: the id, no name');
  t.same(wa.pod, { uid, qos: 'burstable' });
  t.match(wa.identity_notes.join('\n'), /malformed JSON/);
  const wb = (await ta.why(b.pid!)).answer;
  t.same(wb.container, { runtime: 'containerd', id: gone });
  t.match(wb.identity_notes.join('\n'), /no runtime file for/);
  t.match((await ta.cli(['why', String(b.pid)])).stdout, /container name unknown \(containerd /);
  const wc = (await ta.why(c.pid!)).answer;
  t.equal(wc.cgroup, '/xctl-odd.slice/thing', 'unknown shape: the path kept');
  t.notOk(wc.container || wc.pod || wc.slurm, 'and nothing else claimed');
  const wd = (await ta.why(d.pid!)).answer;
  t.notOk(wd.rank, 'huge environ: no rank claimed');
  t.match(wd.identity_notes.join('\n'), /environ too-large: rank unknown/);
  // none of this stalled ingest: the agent still answers and counted no ingest failure
  t.equal(ta.agent.source.sinkLostRecords, 0);
});

t.test('a process gone before lookup is "gone"; a moved process is refreshed', async (t) => {
  const res = ta.agent.pipeline.identities!;
  const s = spawn('sleep', ['0.01'], { stdio: 'ignore' });
  await exited(s);
  const holder: IdentityHolder = { pid: s.pid!, startNs: 1, evicted: false, state: 'exited' };
  t.equal(res.resolve(holder).identity, 'gone');
  // moved: a shell with events of its own (forks) is resolved in pod A, then moved to pod B
  const ua = newPodUid();
  const ub = newPodUid();
  const ida = newContainerId();
  const idb = newContainerId();
  const ta1 = tree(kubePaths('systemd', 'burstable', ua, 'containerd', ida).container);
  const tb = tree(kubePaths('systemd', 'burstable', ub, 'containerd', idb).container);
  const sh = run(ta1.dirs, 'sh', ['-c', 'while :; do sleep 0.2; done']);
  let node = ta.agent.pipeline.graph.findProcess(sh.pid!);
  for (let i = 0; i < 50 && !node?.identity; i++) {
    await sleep(100);
    node = ta.agent.pipeline.graph.findProcess(sh.pid!);
  }
  t.equal(node?.identity?.pod?.uid, ua, 'resolved in pod A');
  for (let i = 0; i < 50 && res.pending > 0; i++) await sleep(100); // every note resolved: what follows is the refresh
  const moved0 = res.stats.moved;
  for (const dir of tb.dirs) fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(sh.pid));
  for (let i = 0; i < 100 && node?.identity?.pod?.uid !== ub; i++) await sleep(100);
  t.equal(node?.identity?.pod?.uid, ub, 'refreshed to pod B after the move');
  t.equal(node?.identity?.container?.id, idb);
  t.ok(res.stats.moved > moved0, `the move was seen by the refresh: ${moved0} -> ${res.stats.moved}`);
});

t.test('selectors: bad forms and no match exit 2 with what was searched', async (t) => {
  const bad = await ta.cli(['why', 'pod/']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /pod\/UID or pod\/NAMESPACE\/NAME/);
  const short = await ta.cli(['why', 'container/ab']);
  t.equal(short.code, 2);
  t.match(short.stderr, /4 to 64 hex digits/);
  const rankless = await ta.cli(['why', '123', '--rank', '1']);
  t.equal(rankless.code, 2);
  const none = await ta.cli(['why', `pod/${newPodUid()}`]);
  t.equal(none.code, 2);
  t.match(none.stderr, /no process matches pod\/[0-9a-f-]+: searched \d+ processes .* by pod uid/);
  const byPod = await ta.cli(['ps', '--by', 'pod']);
  t.equal(byPod.code, 0);
  t.match(byPod.stdout, /^pod ml\/llama-0 \(uid [0-9a-f-]+, burstable\): \d+ processes/m);
});
