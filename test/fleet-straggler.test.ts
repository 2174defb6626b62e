// The straggler analysis over a job's rank table (a pure function), the
// --scope-cgroup decision over /proc/<pid>/cgroup texts, and the Prometheus
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
