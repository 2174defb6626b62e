// Identity end to end, second part (the first is identity-live): bad input
// (malformed config.json, no runtime file, unknown shape, huge environ, a
// process gone before lookup), a process moved to another pod's cgroup,
// selector errors, `ps --by pod`, and identities through record -> analyze.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { helperPath } from './fixtures/cbuild';
import { spawnInCgroup } from './fixtures/cgroup';
import { kubePaths, makeTree, newContainerId, newPodUid, type TreeCgroup } from './fixtures/kube-cgroup';
import { writeContainerd, writeRaw } from './helpers/runtime-files';
import { CONTAINERD_TASKS } from '../src/identity/runtime-files';
import type { IdentityHolder } from '../src/identity/resolver';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (c: ChildProcess) =>
  new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.on('exit', () => r())));
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

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
  t.notOk(holder.identity?.pod, 'nothing claimed without a cgroup id');
  // gone, but its records carried the kernel cgroup id: the pod and container from that cgroup
  const uid = newPodUid();
  const cid = newContainerId();
  const tr = tree(kubePaths('cgroupfs', 'burstable', uid, 'containerd', cid).container);
  writeContainerd(root, cid, { container: 'short', pod: 'short-0', namespace: 'ml', uid });
  const unified = tr.dirs.find((d) => d.includes('/unified/'));
  if (unified) {
    const ino = String(fs.statSync(unified).ino);
    const h2: IdentityHolder = { pid: s.pid!, startNs: 1, evicted: false, state: 'exited', cgroupId: ino };
    const got = res.resolve(h2);
    t.equal(got.identity, 'gone');
    t.same(got.pod, { uid, qos: 'burstable', namespace: 'ml', name: 'short-0' });
    t.same(got.container, { runtime: 'containerd', id: cid, name: 'short' });
    t.match(got.identity_notes?.join('\n'), /cgroup id/);
    // end to end: a crash at once (no time to be read alive) is still answered with its pod
    const c = run(tr.dirs, await helperPath('segv'), []);
    await exited(c);
    await sleep(400);
    const { answer } = await ta.why(c.pid!);
    t.equal(answer.scene, 'process_crash');
    t.equal(answer.pod?.uid, uid, `identity ${answer.identity}`);
  } else t.comment('no unified hierarchy mounted: the cgroup-id fallback is not exercised');
  // moved: a shell with events of its own (forks) is resolved in pod A, then moved to pod B
  const ua = newPodUid();
  const ub = newPodUid();
  const ida = newContainerId();
  const idb = newContainerId();
  const ta1 = tree(kubePaths('systemd', 'burstable', ua, 'containerd', ida).container);
  const tb = tree(kubePaths('systemd', 'burstable', ub, 'containerd', idb).container);
  const sh = run(ta1.dirs, 'sh', ['-c', 'i=0; while [ $i -lt 300 ]; do sleep 0.2; i=$((i+1)); done']);
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

t.test('recordings: xctl record writes FILE.identity.json, xctl analyze answers with it', async (t) => {
  const uid = newPodUid();
  const id = newContainerId();
  const tr = tree(kubePaths('systemd', 'guaranteed', uid, 'containerd', id).container);
  writeContainerd(root, id, { container: 'rec', pod: 'rec-0', namespace: 'ml', uid });
  const sh = run(tr.dirs, 'sh', ['-c', 'i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done'], {
    RANK: '2',
    WORLD_SIZE: '4',
    TORCHELASTIC_RUN_ID: 'rec-job',
  });
  const file = path.join(root, 'rec.xrec');
  const { execFile } = await import('node:child_process');
  const { XCTL } = await import('./helpers/agent');
  const exec = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [XCTL, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 99) : 0, stdout, stderr }),
      ),
    );
  const rec = await exec(['record', '-o', file, '--duration', '2'], { XCTL_HOST_ROOT: root });
  t.equal(rec.code, 0, rec.stderr);
  t.ok(fs.existsSync(`${file}.identity.json`), 'identity file written');
  const a = await exec(['analyze', file, 'why', String(sh.pid), '--json']);
  t.ok(a.code === 0 || a.code === 1, `analyze answered: ${a.stderr}`);
  const ans = JSON.parse(a.stdout);
  t.same(ans.pod, { uid, qos: 'guaranteed', namespace: 'ml', name: 'rec-0' });
  t.same(ans.container, { runtime: 'containerd', id, name: 'rec' });
  t.same(ans.rank, { rank: 2, world_size: 4, job: 'rec-job' });
  // without the file: no identity claimed, the answer otherwise the same
  fs.renameSync(`${file}.identity.json`, `${file}.moved`);
  const b = JSON.parse((await exec(['analyze', file, 'why', String(sh.pid), '--json'])).stdout);
  t.notOk(b.pod || b.container || b.rank, 'no identity without the file');
  t.equal(b.scene, ans.scene);
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
  t.match(byPod.stdout, /^pod ml\/rec-0 \(uid [0-9a-f-]+, guaranteed\): \d+ processes/m);
});
