// GPU scenes end to end through `xctl why`: the agent dlopens the test NVML
// (test/gpu/fake-nvml.c, real symbols and struct layouts) by path, the test
// drives devices, per-process memory, clock events and Xid events through the
// fake's control file, and the CLI (a subprocess) must name the scene.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { FakeNvmlState, fakeNvmlPath, type FakeGpu } from './helpers/fake-gpu';
import { helperPath, runOnCpu } from './fixtures/cbuild';
import { loadAddon } from '../src/native/addon';
import { RECORD_SIZE } from '../src/events/layout';

const GiB = 1024 ** 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-gpu-'));
const lib = fakeNvmlPath();
const children: ChildProcess[] = [];
function idle(): number {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  return c.pid!;
}
t.teardown(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Opens only the gpu family against `library` with the given control file and returns its status. */
function gpuStatus(library: string, stateText: string) {
  const file = path.join(dir, `state-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(file, stateText);
  const prev = process.env.FAKE_NVML_STATE;
  process.env.FAKE_NVML_STATE = file;
  try {
    const s = loadAddon().open({
      families: ['gpu'],
      gpu: { nvmlLibrary: library },
      buffers: [new ArrayBuffer(64 * RECORD_SIZE)],
      onBatch: () => {},
    });
    const st = s.status();
    s.stop();
    return st[0]!;
  } finally {
    process.env.FAKE_NVML_STATE = prev;
  }
}

t.test('NVML failures leave the gpu family unavailable with the exact reason', async (t) => {
  const none = gpuStatus('/nonexistent/libnvidia-ml.so.1', '');
  t.equal(none.loaded, false);
  t.match(none.error, /^NVML unavailable: \/nonexistent\/libnvidia-ml\.so\.1: cannot open shared object file/);
  t.match(gpuStatus(lib, 'init_error=9\n').error, 'NVML unavailable: nvmlInit_v2 failed: Driver Not Loaded (9)');
  t.match(gpuStatus(lib, 'init_error=18\n').error, /NVML\/RM version mismatch.*\(18\)/);
  t.match(gpuStatus(lib, 'init_error=4\n').error, /Insufficient Permissions \(4\)/);
  t.match(gpuStatus(lib, 'gpus=0\n').error, /no GPU/);
  const ok = gpuStatus(lib, 'gpus=2\n');
  t.equal(ok.loaded, true);
  t.same(
    ok.programs.map((p) => [p.name, p.attached]),
    [
      ['nvml_sampler', true],
      ['nvml_events', true],
    ],
  );
});

t.test('with the test NVML', async (t) => {
  const state = new FakeNvmlState(path.join(dir, 'nvml-state'));
  process.env.FAKE_NVML_STATE = state.file;
  t.teardown(() => void delete process.env.FAKE_NVML_STATE);
  const victim = idle(); // 6 GiB on GPU 0, next to a co-tenant with 72 GiB (90 %)
  const hog = idle();
  const onLost = idle(); // on GPU 1, which will report Xid 79
  const onHot = idle(); // on GPU 2, thermally throttled
  const total = 80 * GiB;
  const idleHolder = idle(); // on GPU 4: idle GPU, nothing explains it
  const gpus: FakeGpu[] = [
    {
      mem_total: total,
      mem_used: 78 * GiB,
      util: 95,
      temp: 60,
      power_mw: 400_000,
      procs: [
        [victim, 6 * GiB],
        [hog, 72 * GiB],
      ],
    },
    { mem_total: total, mem_used: 20 * GiB, util: 90, temp: 55, power_mw: 350_000, procs: [[onLost, 20 * GiB]] },
    { mem_total: total, mem_used: 10 * GiB, util: 93, temp: 91, power_mw: 690_000, clock_reasons: 0x40, procs: [[onHot, 10 * GiB]] },
    { mem_total: total, mem_used: 4 * GiB, util: 2, temp: 40, power_mw: 90_000 }, // its process comes later
    { mem_total: total, mem_used: 4 * GiB, util: 1, temp: 40, power_mw: 90_000, procs: [[idleHolder, 4 * GiB]] },
  ];
  state.set(gpus);
  const ta: TestAgent = await startTestAgent({ gpu: { nvmlLibrary: lib, intervalMs: 200 } });
  t.teardown(() => ta.stop());
  const gpu = ta.agent.status.find((f) => f.family === 'gpu');
  t.equal(gpu?.loaded, true, 'gpu family loaded from the test library');
  await sleep(1500);

  t.test('Xid 79 on the GPU a process uses: gpu_xid with the catalog meaning', async (t) => {
    state.event(1, 8, 79);
    await sleep(800);
    const { code, answer } = await ta.why(onLost);
    t.equal(code, 0);
    t.equal(answer.scene, 'gpu_xid', answer.summary);
    t.match(answer.summary, /Xid 79/);
    t.match(answer.summary, /fallen off the bus/);
    t.match(answer.summary, /reboot/);
    t.equal(answer.culprit.id, 'gpu:1');
    t.equal(answer.chain[0].edge, 'consumes');
    t.ok(
      answer.actions.some((a: { type: string }) => a.type === 'gpu_reset'),
      'gpu_reset offered',
    );
  });

  t.test('GPU memory full: gpu_oom naming the co-tenant', async (t) => {
    const { code, answer } = await ta.why(victim);
    t.equal(code, 0);
    t.equal(answer.scene, 'gpu_oom', answer.summary);
    t.match(answer.summary, /98 % full/);
    t.match(answer.summary, new RegExp(`\\(${hog}\\) holds 72\\.0 GiB \\(90 % of the GPU\\)`));
    t.equal(answer.culprit.id, 'gpu:0');
    const term = answer.actions.find((a: { type: string }) => a.type === 'terminate');
    t.equal(term?.params.pid, hog, 'the co-tenant is the one to stop');
    // the co-tenant's own view: the other process is its co-tenant
    const other = await ta.why(hog);
    t.equal(other.answer.scene, 'gpu_oom');
    t.match(other.answer.summary, new RegExp(`\\(${victim}\\) holds 6\\.0 GiB`));
  });

  t.test('thermal clock events on one GPU and not the others: gpu_throttled with the comparison', async (t) => {
    const { code, answer } = await ta.why(onHot);
    t.equal(code, 0);
    t.equal(answer.scene, 'gpu_throttled', answer.summary);
    t.match(answer.summary, /HW thermal slowdown/);
    t.match(answer.summary, /91 C/);
    t.match(answer.summary, /GPU 0 60 C 400 W not throttled, GPU 1 55 C 350 W not throttled/);
    t.equal(answer.culprit.id, 'gpu:2');
    // a process on an unthrottled GPU is not blamed on throttling
    const v = await ta.why(victim);
    t.not(v.answer.scene, 'gpu_throttled');
  });

  t.test('idle GPU: gpu_util_low, with CPU starvation as the reason when the graph has it', async (t) => {
    const plain = await ta.why(idleHolder);
    t.equal(plain.answer.scene, 'gpu_util_low', plain.answer.summary);
    t.equal(plain.answer.findings[0].rule, 'gpu.util_low');
    t.match(plain.answer.summary, /holds GPU 4 but it is idle \(1 % busy/);
    // a process starved of CPU by two hogs on its CPU, holding GPU 3
    const cpuHog = await helperPath('cpu-hog');
    const hogs = await Promise.all([runOnCpu(1, cpuHog, ['8']), runOnCpu(1, cpuHog, ['8'])]);
    t.teardown(() => {
      for (const h of hogs) h.kill('SIGKILL');
    });
    const starved = await runOnCpu(1, cpuHog, ['8']);
    t.teardown(() => void starved.kill('SIGKILL'));
    gpus[3]!.procs = [[starved.pid!, 4 * GiB]];
    state.set(gpus);
    await sleep(4500);
    const { code, answer } = await ta.why(starved.pid!);
    t.equal(code, 0);
    t.equal(answer.scene, 'gpu_util_low', answer.summary);
    t.equal(answer.findings[0].rule, 'gpu.util_low_cpu');
    t.match(answer.summary, /GPU 3 of cpu-hog .* is idle \(2 % busy\) because the process is starved of CPU/);
    t.ok(
      hogs.some((h) => answer.summary.includes(`(${h.pid})`)),
      'a competing hog is named',
    );
    t.ok(
      answer.findings.some((f: { scene: string }) => f.scene === 'cpu_starvation'),
      'the CPU finding is there too, ranked below',
    );
  });

  t.test('a GPU that starts answering GPU_IS_LOST: one gpu_event, and gpu_xid (gpu.lost) for its process', async (t) => {
    gpus[4]!.error = 15;
    state.set(gpus);
    await sleep(800);
    const { code, answer } = await ta.why(idleHolder);
    t.equal(code, 0);
    t.equal(answer.scene, 'gpu_xid', answer.summary);
    t.equal(answer.findings[0].rule, 'gpu.lost');
    t.match(answer.summary, /GPU 4, which no longer answers NVML/);
    t.equal(answer.culprit.id, 'gpu:4');
  });

  t.test('samples and per-process memory are in the event stream', async (t) => {
    const st = ta.agent.source.stats();
    t.ok(st?.gpu && st.gpu.gpus === 5, 'five GPUs');
    t.ok((st?.gpu?.samples ?? 0) >= 9, `${st?.gpu?.samples} samples`);
    t.equal(st?.gpu?.events, 2, 'the Xid event and the lost GPU were counted, the lost GPU once');
    t.equal(st?.gpu?.drops, 0);
  });
});

t.test('no NVML: the agent runs, the gpu family says why, non-GPU scenes still answer', async (t) => {
  const ta = await startTestAgent({ gpu: { nvmlLibrary: path.join(dir, 'no-such', 'libnvidia-ml.so.1') } });
  t.teardown(() => ta.stop());
  const gpu = ta.agent.status.find((f) => f.family === 'gpu');
  t.equal(gpu?.loaded, false);
  t.match(gpu?.error, /^NVML unavailable: .*libnvidia-ml\.so\.1: cannot open shared object file: No such file or directory/);
  t.ok(
    ta.agent.status.filter((f) => f.family !== 'gpu').every((f) => f.loaded),
    'the kernel families are loaded',
  );
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  await sleep(300);
  process.kill(c.pid!, 'SIGSTOP');
  await sleep(500);
  const { code, answer } = await ta.why(c.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'process_blocked', answer.summary);
});
