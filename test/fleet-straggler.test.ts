// The straggler analysis over a job's rank table (a pure function), the
// per-rank progress counters of the nccl_call ingest, the --scope-cgroup
// decision over /proc/<pid>/cgroup texts and in the pipeline, and the Prometheus
// client's errors (a refused port, a server that is not Prometheus, a query
// Prometheus rejects) against real sockets.
import t from 'tap';
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findStragglers, type RankRow } from '../src/fleet/straggler';
import { CgroupScope, cgroupLinesUnder } from '../src/procfs/cgroup-scope';
import { PrometheusClient, PrometheusQueryError, PrometheusUnreachableError } from '../src/fleet/prometheus';
import { makeRecord, pack } from './helpers/synth';
import { RecordBatch } from '../src/events/decoder';
import { Kind, NCCL_EXIT, NCCL_FN_ALLREDUCE, NCCL_INFLIGHT } from '../src/events/layout';
import { Pipeline } from '../src/engine/pipeline';
import { defaultRulesDir, loadRuleDir } from '../src/rules';

const NOW = 1_800_000_000;
const row = (rank: number, o: Partial<RankRow> = {}): RankRow => ({
  rank,
  node: `node-${rank >> 1}`,
  pid: 1000 + rank,
  world_size: 4,
  in_collective: false,
  completed: 500,
  ...o,
});
const waiting = (rank: number, completed = 500): RankRow =>
  row(rank, { in_collective: true, completed, collective: { fn: 'ncclAllReduce', since_s: NOW - 2.5 } });
const stopped = { scene: 'process_blocked', rule: 'process.stopped', culprit_kind: 'process', culprit: 'kill (77)', confidence: 0.95 };

t.test('a healthy job: no one waits, no one is behind, no finding', async (t) => {
  const v = findStragglers([row(0, { completed: 510 }), row(1, { completed: 530 }), row(2), row(3)], NOW);
  t.equal(v.healthy, true);
  t.same(v.stragglers, []);
  t.equal(v.waiting, undefined);
  t.match(v.summary, /4 ranks, none waiting/);
});

t.test('moving counts scraped at different instants are not compared', async (t) => {
  const v = findStragglers([row(0, { completed: 10 }), row(1, { completed: 900 }), row(2), row(3)], NOW);
  t.equal(v.healthy, true, 'no rank waits: the job moves, a lower count is only an older scrape');
});

t.test('three ranks wait in ncclAllReduce, the fourth is stopped: it is the straggler, with its local cause', async (t) => {
  const v = findStragglers([waiting(0), waiting(1), row(2, { finding: stopped }), waiting(3)], NOW);
  t.equal(v.healthy, false);
  t.same(v.waiting, { fn: 'ncclAllReduce', ranks: [0, 1, 3], since_s: NOW - 2.5 });
  t.equal(v.stragglers.length, 1);
  const s = v.stragglers[0]!;
  t.equal(s.rank, 2);
  t.equal(s.node, 'node-1');
  t.equal(s.pid, 1002);
  t.equal(s.scene, 'process_blocked');
  t.match(
    s.summary,
    /^rank 2 on node-1 \(pid 1002\): not inside ncclAllReduce, which ranks 0, 1, 3 wait in for 2\.5 s; local cause: process_blocked, process\.stopped blames process kill \(77\)/,
  );
  t.equal(s.reasons.length, 2, 'not in the collective, and a local finding');
});

t.test('a rank stopped inside the previous collective: in flight too, but behind', async (t) => {
  const v = findStragglers([waiting(0, 801), waiting(1, 801), waiting(2, 800), waiting(3, 801)], NOW);
  t.same(
    v.stragglers.map((s) => [s.rank, s.scene]),
    [[2, 'behind']],
  );
  t.match(v.stragglers[0]!.summary, /behind: 800 collectives completed, the waiting ranks 801 \(1 behind\); no local finding/);
});

t.test("the victims' nccl_hang findings do not make them stragglers", async (t) => {
  const hang = { scene: 'nccl_hang', rule: 'nccl.hang', culprit_kind: 'process', culprit: 'gpu-app (1)', confidence: 0.85 };
  const v = findStragglers([waiting(0), { ...waiting(1), finding: hang }, row(2), { ...waiting(3), finding: hang }], NOW);
  t.same(
    v.stragglers.map((s) => s.rank),
    [2],
  );
  t.equal(v.stragglers[0]!.scene, 'not_in_collective');
});

t.test('a rank with a local finding while the job still moves is named', async (t) => {
  const v = findStragglers(
    [row(0), row(1, { finding: { ...stopped, scene: 'cpu_contention', rule: 'cpu.contention', culprit: 'stress (9)' } }), row(2), row(3)],
    NOW,
  );
  t.same(
    v.stragglers.map((s) => [s.rank, s.scene]),
    [[1, 'cpu_contention']],
  );
});

t.test('a rank no agent exports is named as missing', async (t) => {
  const v = findStragglers([waiting(0), waiting(1), waiting(3)], NOW);
  t.same(v.missing, [2]);
  t.same(
    v.stragglers.map((s) => [s.rank, s.node, s.scene]),
    [[2, '?', 'not_exported']],
  );
});

t.test('all ranks wait and none is to blame: a stall, not healthy', async (t) => {
  const v = findStragglers([waiting(0), waiting(1), waiting(2), waiting(3)], NOW);
  t.equal(v.healthy, false);
  t.same(v.stragglers, []);
  t.match(v.summary, /all 4 ranks wait in ncclAllReduce/);
});

t.test('--scope-cgroup: a path at or below PATH in any hierarchy', async (t) => {
  const v2 = '0::/xctl-e2e/node-a/rank0\n';
  t.equal(cgroupLinesUnder(v2, '/xctl-e2e/node-a'), true);
  t.equal(cgroupLinesUnder(v2, '/xctl-e2e/node-a/rank0'), true);
  t.equal(cgroupLinesUnder(v2, '/xctl-e2e/node'), false, 'a name prefix is not a subtree');
  t.equal(cgroupLinesUnder(v2, '/xctl-e2e/node-b'), false);
  t.equal(
    cgroupLinesUnder('12:memory:/slurm/job_7/step_0\n11:cpu,cpuacct:/\n0::/user.slice\n', '/slurm/job_7'),
    true,
    'a v1 hierarchy counts',
  );
  t.equal(cgroupLinesUnder(v2, '/'), true);
  // the cache: decided once per process (pid + start time), again after an exec or for a reused pid
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-scope-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, '10'));
  fs.writeFileSync(path.join(root, '10', 'cgroup'), v2);
  const s = new CgroupScope('xctl-e2e/node-a/', root);
  t.equal(s.path, '/xctl-e2e/node-a');
  t.equal(s.admits(10, 555), true);
  fs.writeFileSync(path.join(root, '10', 'cgroup'), '0::/elsewhere\n');
  t.equal(s.admits(10, 555), true, 'process 10 was decided: /proc is not read again');
  t.equal(s.admits(10, 0), true, 'a record without start time: the known process');
  s.forget(10);
  t.equal(s.admits(10, 555), false, 'after an exec it is read again');
  fs.writeFileSync(path.join(root, '10', 'cgroup'), v2);
  t.equal(s.admits(10, 556), true, 'a reused pid (another start time) is read again');
  t.equal(s.admits(99, 557), false, 'a process that is gone is not in scope');
  fs.mkdirSync(path.join(root, '99'));
  fs.writeFileSync(path.join(root, '99', 'cgroup'), v2);
  t.equal(s.admits(99, 557), true, '...and was not cached as out of scope');
});

t.test('Prometheus client: unreachable, not Prometheus, a rejected query', async (t) => {
  const srv = http.createServer((req, res) => {
    if (req.url?.startsWith('/nope/')) {
      res.writeHead(404);
      res.end('404 page not found');
      return;
    }
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const q = new URLSearchParams(body).get('query');
      res.writeHead(q === 'bad(' ? 400 : 200, { 'content-type': 'application/json' });
      res.end(
        q === 'bad('
          ? JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' })
          : JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { rank: '1' }, value: [NOW, '42'] }] } }),
      );
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const port = (srv.address() as { port: number }).port;
  const ok = await new PrometheusClient(`http://127.0.0.1:${port}/`).query('up');
  t.same(ok, [{ labels: { rank: '1' }, value: 42, t: NOW }]);
  await t.rejects(new PrometheusClient(`http://127.0.0.1:${port}`).query('bad('), PrometheusQueryError);
  await t.rejects(new PrometheusClient(`http://127.0.0.1:${port}/nope`).query('up'), PrometheusUnreachableError);
  // a port nobody listens on: bind one, close it, then ask
  const tmp = http.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  const dead = (tmp.address() as { port: number }).port;
  await new Promise<void>((r) => tmp.close(() => r()));
  const e = await new PrometheusClient(`http://127.0.0.1:${dead}`).query('up').catch((x: Error) => x);
  t.ok(e instanceof PrometheusUnreachableError);
  t.match((e as Error).message, new RegExp(`Prometheus at http://127\\.0\\.0\\.1:${dead} is unreachable: ECONNREFUSED`));
  t.throws(() => new PrometheusClient('not a url'), PrometheusQueryError);
});

t.test(
  'nccl_call ingest keeps per-rank progress on the process node: completions per communicator, in flight until the next exit',
  async (t) => {
    const p = new Pipeline(loadRuleDir(defaultRulesDir()).ruleSet!);
    const rec = (phase: number, comm: number, ts: number, fn = NCCL_FN_ALLREDUCE, dur = 1e6) =>
      makeRecord(Kind.NCCL_CALL, {
        'hdr.pid': 4242,
        'hdr.tid': 4242,
        'hdr.start_ns': 1000,
        'hdr.ts_ns': ts,
        'hdr.comm': 'gpu-app',
        'nccl.fn': fn,
        'nccl.phase': phase,
        'nccl.comm': comm,
        'nccl.duration_ns': dur,
      });
    const recs: Buffer[] = [];
    for (let i = 0; i < 5; i++) recs.push(rec(NCCL_EXIT, 0x7000, 1e9 + i * 1e6));
    recs.push(rec(NCCL_EXIT, 0x8000, 1.1e9));
    p.ingest(RecordBatch.fromBytes(pack(recs)));
    const proc = p.graph.findProcess(4242)!;
    t.equal(proc.ncclCompleted, 6);
    t.same(proc.ncclComms, [0x7000, 0x8000], 'communicators in order of first completion');
    t.same(proc.ncclCommCompleted, [5, 1]);
    t.equal(proc.ncclLastExitNs, 1.1e9);
    t.equal(proc.ncclInflightOpen, false);
    p.ingest(RecordBatch.fromBytes(pack([rec(NCCL_INFLIGHT, 0x7000, 3e9, NCCL_FN_ALLREDUCE, 1.5e9)])));
    t.equal(proc.ncclInflightOpen, true, 'waiting in a collective');
    t.same(proc.ncclInflight, { fn: 'ncclAllReduce', ns: 1.5e9, tNs: 3e9 });
    p.ingest(RecordBatch.fromBytes(pack([rec(NCCL_EXIT, 0x7000, 3.2e9)])));
    t.equal(proc.ncclInflightOpen, false, 'the exit closes it');
    t.same(proc.ncclCommCompleted, [6, 1]);
    // more communicators than the cap count in the total only
    const many: Buffer[] = [];
    for (let c = 0; c < 12; c++) many.push(rec(NCCL_EXIT, 0x9000 + c, 4e9 + c));
    p.ingest(RecordBatch.fromBytes(pack(many)));
    t.equal(proc.ncclComms!.length, 8);
    t.equal(proc.ncclCompleted, 19);
  },
);

t.test('a pipeline with a cgroup scope drops the records of processes outside it, keeps a signal to one inside', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-scope-p-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const proc = (pid: number, cg: string) => {
    fs.mkdirSync(path.join(root, String(pid)));
    fs.writeFileSync(path.join(root, String(pid), 'cgroup'), `0::${cg}\n`);
  };
  proc(10, '/job/node-a');
  proc(20, '/job/node-b');
  proc(30, '/system.slice/ssh.service');
  const p = new Pipeline(loadRuleDir(defaultRulesDir()).ruleSet!, { scope: new CgroupScope('/job/node-a', root) });
  const exit = (pid: number) =>
    makeRecord(Kind.NCCL_CALL, { 'hdr.pid': pid, 'hdr.start_ns': 1, 'hdr.ts_ns': 1e9, 'nccl.phase': NCCL_EXIT, 'nccl.fn': 1 });
  const sig = (from: number, to: number) =>
    makeRecord(Kind.SIGNAL, {
      'hdr.pid': from,
      'hdr.start_ns': 1,
      'hdr.ts_ns': 1e9,
      'hdr.comm': 'kill',
      'sig.sig': 19,
      'sig.target_pid': to,
    });
  p.ingest(RecordBatch.fromBytes(pack([exit(10), exit(20), sig(30, 10), sig(30, 20)])));
  t.ok(p.graph.findProcess(10), 'in scope: tracked');
  t.notOk(p.graph.findProcess(20), 'another node: not tracked');
  t.equal(p.graph.findProcess(10)!.state, 'stopped', 'stopped by a process outside the scope: the signal counts');
  t.equal(p.graph.findProcess(10)!.stoppedBy?.comm, 'kill');
  t.equal(p.ingestor.stats.outOfScope, 2, "node-b's record and the signal to it");
});
