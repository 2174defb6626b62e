// CUDA/NCCL uprobes end to end: the agent discovers the libraries a process
// maps (/proc/<pid>/maps), attaches its uprobes to them by path, and `xctl why`
// names gpu_oom at a failing cudaMalloc and nccl_hang for a collective that
// entered and did not return, following the rank to its peer when TCP to it is
// being retransmitted. The libraries are the test doubles in test/gpu/ (real
// symbol names and ABI); gpu-app links them like a real application.
import t from 'tap';
import { waitForLine } from '../src/faults/child-output';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { FakeNvmlState, fakeGpuApp, fakeNvmlPath } from './helpers/fake-gpu';
import { defaultFamilies } from '../src/native/families';
import { lossyLink } from '../src/faults/netns';
import { faultProgram } from '../src/faults/programs';

const GiB = 1024 ** 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-cuda-'));
const { app, cudart, nccl } = fakeGpuApp();
const children: ChildProcess[] = [];
t.teardown(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function attachedTo(ta: TestAgent, lib: string, pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (ta.agent.source.gpuLibraries?.attached().get(lib)?.includes(pid)) return;
    await sleep(100);
  }
  throw new Error(`uprobes never attached to ${lib} for pid ${pid}`);
}

const state = new FakeNvmlState(path.join(dir, 'nvml-state'));
process.env.FAKE_NVML_STATE = state.file;
const hangFile = path.join(dir, 'nccl-hang');
let ta: TestAgent;
t.before(async () => {
  state.set([{ mem_total: 80 * GiB, mem_used: 10 * GiB, util: 90 }]);
  ta = await startTestAgent({
    gpu: { nvmlLibrary: fakeNvmlPath(), intervalMs: 200 },
    probeConfig: { tcpFlushNs: 200_000_000n },
    agentOptions: { families: [...defaultFamilies(), 'cuda'], cuda: { inflightMs: 1000 } },
  });
});
t.teardown(() => ta.stop());

t.test('cuda family loaded; its uprobes attach on demand', async (t) => {
  const cuda = ta.agent.status.find((f) => f.family === 'cuda');
  t.equal(cuda?.loaded, true);
  t.ok(
    cuda?.programs.some((p) => p.name === 'cuda_malloc_exit'),
    'programs listed',
  );
});

t.test('cudaMalloc fails past the limit: gpu_oom at the call, with size and co-tenant', async (t) => {
  const c = spawn(app, ['alloc', '4', String(GiB)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, FAKE_CUDA_MEM_LIMIT: String(3 * GiB) },
  });
  children.push(c);
  const pid = Number((await waitForLine(c, /ready (\d+)/, 'app'))[1]);
  const hog = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(hog);
  state.set([
    {
      mem_total: 80 * GiB,
      mem_used: 76 * GiB,
      util: 90,
      procs: [
        [pid, 3 * GiB],
        [hog.pid!, 70 * GiB],
      ],
    },
  ]);
  await attachedTo(ta, cudart, pid);
  t.pass(`uprobes attached to ${cudart} (found in /proc/${pid}/maps)`);
  c.stdin!.write('go\n');
  await waitForLine(c, /done/, 'allocations');
  await sleep(600);
  const { code, answer } = await ta.why(pid);
  t.equal(code, 0);
  t.equal(answer.scene, 'gpu_oom', answer.summary);
  t.equal(answer.findings[0].rule, 'gpu.alloc_failures');
  t.match(answer.summary, /1 CUDA allocation failures in 5 min, the last cudaMalloc of 1\.0 GiB \(error 2\)/);
  t.match(answer.summary, new RegExp(`co-tenant: sleep \\(${hog.pid}\\) holds 70\\.0 GiB`));
});

t.test('a rank stuck in ncclAllReduce while TCP to its peer is lost: nccl_hang, then the peer', async (t) => {
  const port = 5071;
  const link = await lossyLink({ lossProbability: 0.3, port });
  t.teardown(() => link.cleanup());
  const sink = link.spawnIn(link.nsB, process.execPath, [faultProgram('tcp-sink.js'), link.addrB, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(sink);
  await waitForLine(sink, /listening/, 'sink');
  fs.writeFileSync(hangFile, '');
  t.teardown(() => fs.rmSync(hangFile, { force: true }));
  const c = link.spawnIn(link.nsA, app, ['allreduce-net', '3', link.addrB, String(port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, FAKE_NCCL_HANG: hangFile },
  });
  children.push(c);
  const pid = Number((await waitForLine(c, /ready (\d+)/, 'rank'))[1]);
  await attachedTo(ta, nccl, pid);
  c.stdin!.write('go\n');
  await waitForLine(c, /allreduce 0 enter/, 'collective');
  await sleep(11_500);
  const { code, answer } = await ta.why(pid);
  t.equal(code, 0);
  t.equal(answer.scene, 'nccl_hang', answer.summary);
  t.equal(answer.findings[0].rule, 'nccl.hang_network');
  t.match(answer.summary, /stuck in ncclAllReduce for 1\d\.\d s/);
  t.match(answer.summary, new RegExp(`to its peer ${link.addrB.replace(/\./g, '\\.')}:${port} were retransmitted`));
  t.equal(answer.culprit.label, `${link.addrB}:${port}`, 'multi-hop: the rank waits on its peer');
  t.equal(answer.chain[answer.chain.length - 1].edge, 'waits_on');
  // release the collective: it returns and later ones complete
  fs.rmSync(hangFile, { force: true });
  await waitForLine(c, /allreduce 2 done/, 'released');
});

t.test('uprobes are detached when no process maps the library any more', async (t) => {
  for (const c of children) c.kill('SIGKILL');
  await sleep(300);
  ta.agent.source.gpuLibraries!.scan();
  t.notOk(ta.agent.source.gpuLibraries!.attached().has(nccl), 'libnccl detached');
  t.notOk(ta.agent.source.libraries().includes(cudart), 'libcudart detached in the addon');
});

t.test('xctl events --families cuda follows the libraries too: the cudaMalloc of a process it never saw start', async (t) => {
  const xctl = path.resolve(__dirname, '../../bin/xctl');
  const ev = spawn(process.execPath, [xctl, 'events', '--json', '--kind', 'cuda_alloc', '--families', 'cuda'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(ev);
  let stderr = '';
  const stderrMatch = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`xctl events: no ${re} in: ${stderr}`)), 20_000);
      const look = () => {
        if (!re.test(stderr)) return;
        clearTimeout(timer);
        resolve();
      };
      ev.stderr!.on('data', look);
      look();
    });
  ev.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let stdout = '';
  ev.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  await stderrMatch(/probing cuda/);
  const c = spawn(app, ['alloc', '2', String(1 << 20)], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(c);
  const pid = Number((await waitForLine(c, /ready (\d+)/, 'app'))[1]);
  await stderrMatch(new RegExp(`uprobes attached to ${cudart.replace(/[.]/g, '\\.')} \\(.*cudaMalloc`));
  c.stdin!.write('go\n');
  await waitForLine(c, /done/, 'allocations');
  const exited = new Promise((r) => ev.on('exit', r));
  ev.kill('SIGINT'); // stopping drains the rings
  t.equal(await exited, 0, stderr);
  const mine = stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.pid === pid);
  t.equal(mine.length, 2, `two cudaMalloc records of ${pid}`);
  t.match(mine[0], { kind: 'cuda_alloc', fn: 'cudaMalloc', size: 1 << 20, result: 0 });
});
