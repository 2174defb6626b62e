// `xctl why job/<ID> --prometheus` end to end, real parts only: three agents
// on this machine, each the agent of one "node" (its own --scope-cgroup
// subtree, node name, socket and metrics port), Debian's Prometheus scraping
// them every second, and a 4-rank job on the stand-in NCCL library whose
// ncclAllReduce really rendezvous across the ranks (a shared futex barrier).
// One rank is stopped by another process (kill -STOP): the others wait inside
// ncclAllReduce, and `xctl why job/<id>` must name that rank, its node and its
// local cause. Released, the job is healthy again (exit 1); Prometheus down,
// the command says so (exit 2). Measured: the time from the fault to a correct
// answer, and the series each rank exports.
import t from 'tap';
import { waitForLine } from '../src/faults/child-output';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestAgent, XCTL, type TestAgent } from './helpers/agent';
import { fakeGpuApp } from './helpers/fake-gpu';
import { freePort, get, run } from './helpers/ops';
import { spawnInCgroup } from './fixtures/cgroup';
import { answerJobWhy, type JobWhyAnswer } from '../src/cli/why-job';

const PROMETHEUS = '/usr/bin/prometheus';
const SCRAPE_S = 1;
const JOB = `e2e-${process.pid}`;
const NODES = ['node-a', 'node-b', 'node-c'];
/** rank -> node index: two ranks on node-a, one each on node-b and node-c */
const RANK_NODE = [0, 0, 1, 2];
const HELD = 2; // the rank held back (on node-b)
const CG = `xctl-jobwhy-${process.pid}`;
const HIERARCHIES = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/pids'].filter((h) => fs.existsSync(path.join(h, 'cgroup.procs')));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-jobwhy-'));
const children: ChildProcess[] = [];
const agents: TestAgent[] = [];
let prom: ChildProcess | undefined;
let promUrl = '';
const ranks: { pid: number; proc: ChildProcess }[] = [];
/** the agents' metrics addresses, by node */
const targets: string[] = [];

function cgPath(h: string, node?: string): string {
  return node ? path.join(h, CG, node) : path.join(h, CG);
}

function removeCgroups(): void {
  for (const h of HIERARCHIES) {
    for (const n of [...NODES, undefined]) {
      const p = cgPath(h, n);
      if (!fs.existsSync(p)) continue;
      for (let i = 0; i < 50; i++) {
        for (const pid of fs.readFileSync(path.join(p, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            fs.writeFileSync(path.join(h, 'cgroup.procs'), pid);
          } catch {
            /* exited */
          }
        }
        try {
          fs.rmdirSync(p);
          break;
        } catch {
          spawnSync('sleep', ['0.05']);
        }
      }
    }
  }
}

t.teardown(async () => {
  for (const r of ranks) {
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const c of children) c.kill('SIGKILL');
  prom?.kill('SIGKILL');
  for (const a of agents) await a.stop();
  removeCgroups();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Polls `f` until it returns a value (not undefined) or the deadline passes. */
async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

const xctl = (args: string[]) => run(process.execPath, [XCTL, ...args], { timeoutMs: 30_000 });
const why = (job = JOB, json = true) => xctl(['why', `job/${job}`, '--prometheus', promUrl, ...(json ? ['--json'] : []), '--window', '30']);

t.before(async () => {
  if (!fs.existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} not installed (scripts/setup.sh)`);
  if (!HIERARCHIES.length) throw new Error('no cgroup hierarchy with cgroup.procs under /sys/fs/cgroup');
  for (const h of HIERARCHIES) for (const n of [undefined, ...NODES]) fs.mkdirSync(cgPath(h, n));
  const { app, nccl } = fakeGpuApp();
  for (const node of NODES) {
    const port = await freePort();
    targets.push(`127.0.0.1:${port}`);
    agents.push(
      await startTestAgent({
        metricsAddr: `127.0.0.1:${port}`,
        agentOptions: {
          families: ['proc', 'cuda'],
          cuda: { inflightMs: 500 },
          nodeName: node,
          scopeCgroup: `/${CG}/${node}`,
        },
      }),
    );
  }
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: ${SCRAPE_S}s\n  scrape_timeout: ${SCRAPE_S}s\n  evaluation_interval: ${SCRAPE_S}s\nscrape_configs:\n  - job_name: xctl\n    honor_labels: true\n    static_configs:\n      - targets: [${targets.map((x) => `'${x}'`).join(', ')}]\n`,
  );
  prom = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'prometheus.log'), 'w')] },
  );
  await until('prometheus is ready', 30_000, async () => ((await get(`${promUrl}/-/ready`)).status === 200 ? true : undefined), 200);
  const barrier = path.join(dir, 'nccl-barrier');
  for (let r = 0; r < 4; r++) {
    const node = NODES[RANK_NODE[r]!]!;
    const proc = spawnInCgroup(
      HIERARCHIES.map((h) => cgPath(h, node)),
      app,
      ['job', '0'],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: {
          ...process.env,
          RANK: String(r),
          LOCAL_RANK: String(r),
          WORLD_SIZE: '4',
          TORCHELASTIC_RUN_ID: JOB,
          FAKE_NCCL_BARRIER: barrier,
        },
      },
    );
    children.push(proc);
    ranks.push({ pid: Number((await waitForLine(proc, /ready (\d+)/, `rank ${r}`))[1]), proc });
  }
  // every agent's uprobes on the NCCL library before the first collective
  for (const a of agents)
    await until(`uprobes attached for all ranks (${a.socket})`, 20_000, async () => {
      const pids = a.agent.source.gpuLibraries?.attached().get(nccl) ?? [];
      return ranks.every((r) => pids.includes(r.pid)) ? true : undefined;
    });
  for (const r of ranks) r.proc.stdin!.write('go\n');
});

const healthyAnswer = (a: JobWhyAnswer) =>
  a.healthy && a.ranks.length === 4 && a.ranks.every((r) => r.completed > 0 && r.node === NODES[RANK_NODE[r.rank]!]) ? a : undefined;

t.test('the running job: four ranks on three nodes, each exported by its own node agent only; healthy', async (t) => {
  const a = await until('the job looks healthy with 4 ranks', 30_000, async () => healthyAnswer(await answerJobWhy(JOB, promUrl, 30)));
  t.same(
    a.ranks.map((r) => [r.rank, r.node, r.pid]),
    ranks.map((r, k) => [k, NODES[RANK_NODE[k]!], r.pid]),
    'rank -> node -> pid, as the scoped agents export them',
  );
  // scope: node-b's agent exports rank 2 only, though its uprobes see every rank
  const body = (await get(`http://${targets[1]}/metrics`)).body;
  const rankLabels = [...body.matchAll(/^xctl_rank_info\{[^}]*rank="(\d+)"/gm)].map((m) => m[1]);
  t.same(rankLabels, ['2'], 'node-b exports only its own rank');
  // bounded labels: job, rank, node and a few more; only xctl_rank_info carries the pid
  const rankLabels2 = new Set([
    'job',
    'rank',
    'node',
    'comm',
    'fn',
    'scene',
    'rule',
    'culprit_kind',
    'culprit',
    'pid',
    'world_size',
    'pod',
    'container',
  ]);
  for (const m of body.matchAll(/^(xctl_rank_\w+)\{([^}]*)\}/gm))
    for (const kv of m[2]!.matchAll(/(\w+)="/g)) {
      t.ok(rankLabels2.has(kv[1]!), `${m[1]}: label ${kv[1]} is bounded`) || t.fail(m[0]);
      if (kv[1] === 'pid') t.equal(m[1], 'xctl_rank_info', 'only the info series carries the pid');
    }
  const perRank = new Map<string, number>();
  for (const m of body.matchAll(/^xctl_rank_\w+\{[^}]*rank="(\d+)"[^}]*\} /gm)) perRank.set(m[1]!, (perRank.get(m[1]!) ?? 0) + 1);
  t.comment(`exported series per rank (healthy, one communicator): ${perRank.get('2')}`);
  t.ok((perRank.get('2') ?? 0) >= 4 && (perRank.get('2') ?? 0) <= 6, 'a handful of series per rank');
  const r = await why(JOB, false);
  t.equal(r.code, 1, `healthy job: exit 1\n${r.stdout}${r.stderr}`);
  t.comment(`$ xctl why job/${JOB} --prometheus ${promUrl}\n${r.stdout}`);
});

t.test('a rank stopped by another process: named with its node and local cause, the others wait in ncclAllReduce', async (t) => {
  const held = ranks[HELD]!;
  const t0 = Date.now();
  const k = spawnSync('kill', ['-STOP', String(held.pid)]);
  t.equal(k.status, 0, 'kill -STOP (another process) stopped the rank');
  const named = await until('the straggler is named with its local cause', 20_000, async () => {
    const a = await answerJobWhy(JOB, promUrl, 30);
    const s = a.stragglers;
    return s.length === 1 &&
      s[0]!.rank === HELD &&
      s[0]!.node === 'node-b' &&
      s[0]!.pid === held.pid &&
      s[0]!.scene === 'process_blocked' &&
      s[0]!.finding?.culprit === `kill (${k.pid})`
      ? a
      : undefined;
  });
  const tNamed = (Date.now() - t0) / 1000;
  // the others wait in ncclAllReduce. The stopped rank may have been stopped inside a collective itself
  // (waiting in the barrier, or the last one in when it was stopped): then it is in flight too, and named as
  // behind and by its local finding; else as the one not inside the collective the others wait in.
  const waited = await until('the other ranks are seen waiting in ncclAllReduce', 20_000, async () => {
    const a = await answerJobWhy(JOB, promUrl, 30);
    const w = a.waiting?.ranks ?? [];
    return a.waiting?.fn === 'ncclAllReduce' &&
      [0, 1, 3].every((r) => w.includes(r)) &&
      a.stragglers.map((s) => s.rank).join() === String(HELD)
      ? a
      : undefined;
  });
  const tWaiting = (Date.now() - t0) / 1000;
  const heldIn = waited.ranks[HELD]!.in_collective;
  t.comment(
    `fault -> straggler named with its local cause: ${tNamed.toFixed(2)} s; -> the others seen waiting too: ${tWaiting.toFixed(2)} s (target ${2 * SCRAPE_S + 1} s); the stopped rank ${heldIn ? 'was stopped inside a collective' : 'is outside the collective'}`,
  );
  t.ok(tNamed <= 2 * SCRAPE_S + 1 + 2, `named within the target plus slack for a shared 2-core machine (${tNamed.toFixed(2)} s)`);
  t.match(named.stragglers[0]!.finding, { rule: 'process.stopped', culprit_kind: 'process', culprit: new RegExp(`^kill \\(${k.pid}\\)$`) });
  t.match(
    waited.stragglers[0]!.summary,
    heldIn
      ? /^rank 2 on node-b \(pid \d+\): (behind: \d+ collectives completed, the waiting ranks \d+ \(1 behind\)|local finding process_blocked)/
      : /^rank 2 on node-b \(pid \d+\): not inside ncclAllReduce, which ranks 0, 1, 3 wait in for [\d.]+ s/,
  );
  // the real command, as a user runs it
  const text = await why(JOB, false);
  t.equal(text.code, 0, text.stderr);
  t.comment(`$ xctl why job/${JOB} --prometheus ${promUrl}\n${text.stdout}`);
  t.match(text.stdout, new RegExp(`straggler rank 2 on node-b \\(pid ${held.pid}\\)`));
  t.match(text.stdout, new RegExp(`local cause: process_blocked, process\\.stopped blames process kill \\(${k.pid}\\)`));
  const j = await why();
  t.equal(j.code, 0);
  const a = JSON.parse(j.stdout);
  t.equal(a.job, JOB);
  t.same(
    a.ranks.map((r: any) => [r.rank, r.node, r.pid, r.in_collective, typeof r.completed]),
    ranks.map((r, k) => [k, NODES[RANK_NODE[k]!], r.pid, k !== HELD || heldIn, 'number']),
  );
  t.same(
    a.stragglers.map((s: any) => [s.rank, s.node, s.pid, s.scene]),
    [[HELD, 'node-b', held.pid, 'process_blocked']],
  );
  t.type(a.stragglers[0].summary, 'string');
});

t.test('released: the job is healthy again (exit 1)', async (t) => {
  process.kill(ranks[HELD]!.pid, 'SIGCONT');
  await until('healthy again', 30_000, async () => healthyAnswer(await answerJobWhy(JOB, promUrl, 30)));
  const r = await why();
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.equal(JSON.parse(r.stdout).stragglers.length, 0);
});

t.test('a job Prometheus does not know, then Prometheus down: exit 2 saying which', async (t) => {
  const u = await why('no-such-job');
  t.equal(u.code, 2);
  t.match(
    u.stderr,
    /job "no-such-job" is unknown to Prometheus at http:\/\/127\.0\.0\.1:\d+: no xctl_rank_info series name it \(jobs it knows: .*e2e-/,
  );
  prom!.kill('SIGTERM');
  await new Promise((r) => prom!.once('exit', r));
  const d = await why();
  t.equal(d.code, 2);
  t.match(d.stderr, new RegExp(`Prometheus at ${promUrl.replace(/\./g, '\\.')} is unreachable: ECONNREFUSED`));
  t.equal(d.stdout, '');
});
