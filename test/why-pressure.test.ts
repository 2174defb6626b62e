// cpu_throttled and memory_pressure end to end: the agent runs with its real
// probes and cgroup sampler, a real cgroup quota or memory limit holds a real
// process back, and `xctl why` (a subprocess) must name the scene, the cgroup
// and its figures, and exit 0; CPU quota throttling must not be called
// cpu_starvation.
import t, { type Test } from 'tap';
import { mkdirSync, rmdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { helperPath } from './fixtures/cbuild';
import { CGROUP_ROOT, memoryLimit, spawnInCgroup } from './fixtures/cgroup';
import { waitForLine } from '../src/faults/child-output';
import { uniqueName } from '../src/faults/teardown';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ta: TestAgent;
t.before(async () => {
  ta = await startTestAgent();
});
t.teardown(() => ta.stop());

/** A plain cgroup directory under `dir` (v1 controller or the unified mount), removed at the end. */
function makeDir(t: Test, dir: string, knobs: Record<string, string> = {}): string {
  const path = join(dir, uniqueName());
  mkdirSync(path);
  for (const [k, v] of Object.entries(knobs)) writeFileSync(join(path, k), v);
  t.teardown(() => {
    for (let i = 0; i < 40; i++) {
      try {
        for (const pid of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean))
          try {
            writeFileSync(join(dir, 'cgroup.procs'), pid);
          } catch {}
        rmdirSync(path);
        return;
      } catch {
        spawnSync('sleep', ['0.05']);
      }
    }
  });
  return path;
}

t.test('a busy loop in a cgroup with a 20 % CPU quota: cpu_throttled, not cpu_starvation', async (t) => {
  const cpuRoot = join(CGROUP_ROOT, 'cpu');
  const cg = makeDir(t, cpuRoot, { 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '20000' });
  const hog = spawnInCgroup([cg], await helperPath('cpu-hog'), ['30'], { stdio: 'ignore' });
  const t0 = process.hrtime.bigint();
  t.teardown(() => void hog.kill('SIGKILL'));
  await sleep(9000); // several sampler ticks and run-queue windows
  const { code, answer } = await ta.why(hog.pid!);
  const wallNs = Number(process.hrtime.bigint() - t0);
  const stat = readFileSync(join(cg, 'cpu.stat'), 'utf8');
  // the kernel's own figure over the same run: throttled_time (ns) / wall time
  const kernelShare = (100 * Number(/^throttled_time (\d+)$/m.exec(stat)?.[1])) / wallNs;
  t.equal(code, 0, 'exit 0');
  t.equal(answer.scene, 'cpu_throttled', `scene (summary: ${answer.summary})`);
  t.equal(answer.pid, hog.pid);
  const rel = cg.slice(cpuRoot.length);
  t.equal(answer.culprit.type, 'cgroup', 'the culprit is its own cgroup');
  t.equal(answer.culprit.label, `cgroup ${rel}`);
  t.match(answer.summary, new RegExp(`${rel} allows 20\\.0 ms every 100\\.0 ms \\(20 % of one CPU\\)`));
  const share = Number(/throttled (\d+) % of the last 30 s/.exec(answer.summary)?.[1]);
  // the sampler's average over its samples against the kernel's over the whole run (which starts unthrottled)
  t.ok(
    share >= 20 && Math.abs(share - kernelShare) <= 20,
    `throttled share ${share} %, the kernel's ${kernelShare.toFixed(0)} % (${stat.replace(/\n/g, ' ')})`,
  );
  const periods = Number(/in (\d+) % of the periods/.exec(answer.summary)?.[1]);
  t.ok(periods >= 50 && periods <= 100, `throttled in ${periods} % of the periods`);
  t.notOk(
    answer.findings.some((f: { scene: string }) => f.scene === 'cpu_starvation'),
    'cpu_starvation is not among the findings (no bystander blamed)',
  );
  t.equal(answer.chain[answer.chain.length - 1].to.type, 'cgroup', 'the chain ends at the cgroup');
  t.match(answer.chain[answer.chain.length - 1].evidence.text, /held back .* by its cgroup/);
});

t.test('a tight memory cgroup with processes that keep reclaiming: memory_pressure, no OOM', async (t) => {
  const file = `/var/tmp/${uniqueName()}-thrash`;
  spawnSync('dd', ['if=/dev/urandom', `of=${file}`, 'bs=1M', 'count=96', 'status=none']);
  spawnSync('sync', [file]);
  spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']); // not in the page cache: each read is charged to the cgroup
  t.teardown(() => spawnSync('rm', ['-f', file]));
  const mem = await memoryLimit({ bytes: 16 << 20 });
  t.teardown(() => mem.cleanup());
  const paths = [mem.path];
  const unified = join(CGROUP_ROOT, 'unified');
  if (existsSync(join(unified, 'cgroup.procs'))) paths.push(makeDir(t, unified)); // its own PSI files (hybrid layout)
  const helper = await helperPath('waits');
  const thrashers = [0, 1, 2].map(() =>
    spawnInCgroup(paths, helper, ['file-thrash', file, '30'], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  for (const c of thrashers) t.teardown(() => void c.kill('SIGKILL'));
  const m = await waitForLine(thrashers[0]!, /thrasher (\d+)/, 'thrasher');
  await sleep(10000);
  const { code, answer } = await ta.why(Number(m[1]));
  t.equal(code, 0, 'exit 0');
  t.equal(answer.scene, 'memory_pressure', `scene (summary: ${answer.summary})`);
  t.equal(answer.pid, Number(m[1]));
  const rel = mem.path.slice(join(CGROUP_ROOT, 'memory').length);
  t.equal(answer.culprit.type, 'cgroup');
  t.match(answer.summary, new RegExp(`cgroup ${rel} uses [\\d.]+ (KiB|MiB) of its 16\\.0 MiB limit`));
  t.match(answer.summary, /biggest users: waits \(\d+\)/, 'names the top consumers');
  const stall = Number(/stalled on memory (\d+) %/.exec(answer.summary)?.[1]);
  t.ok(stall >= 5 && stall <= 100, `stalled ${stall} %`);
  t.equal(mem.oomKills() ?? 0, 0, 'no OOM kill');
  t.notOk(
    answer.findings.some((f: { scene: string }) => f.scene === 'host_oom'),
    'distinct from host_oom',
  );
});
