/**
 * GPU benchmarks (BENCHMARKS.md "GPU"):
 *  1. NVML sampling cost per GPU per sample: the addon's gpu family samples
 *     N GPUs at a short interval; cost = time spent in the NVML calls of one
 *     GPU's sample (memory, utilisation, temperature, power, clock reasons,
 *     2x ECC, remapped rows, PCIe replays, running processes), as the sampler
 *     measures it. Needs an NVML: $XCTL_NVML_LIBRARY or the test double.
 *  2. uprobe overhead on cudaMalloc: a tight loop calling it (gpu-app bench)
 *     with and without the cuda family's uprobe+uretprobe attached, and the
 *     in-kernel ns per program run from kernel.bpf_stats_enabled.
 * Usage: node dist/bench/gpu.js [--calls N] [--gpus G] [--seconds S]
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadAddon } from '../src/native/addon';
import { RECORD_SIZE } from '../src/events/layout';
import { fakeGpuApp, fakeNvmlPath } from '../test/helpers/fake-gpu';

const { values } = parseArgs({ options: { calls: { type: 'string' }, gpus: { type: 'string' }, seconds: { type: 'string' } } });
const calls = Number(values.calls ?? 2_000_000);
const gpus = Number(values.gpus ?? 8);
const seconds = Number(values.seconds ?? 3);
const addon = loadAddon();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function nvmlCost(): Promise<void> {
  const lib = process.env.XCTL_NVML_LIBRARY ?? fakeNvmlPath();
  const fake = !process.env.XCTL_NVML_LIBRARY;
  if (fake) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-bench-'));
    const file = path.join(dir, 'state');
    const lines = [`gpus=${gpus}`];
    for (let i = 0; i < gpus; i++)
      lines.push(
        `gpu${i}.mem_used=${(10 + i) * 2 ** 30}`,
        `gpu${i}.util=90`,
        `gpu${i}.procs=${1000 + i}:${2 ** 30},${2000 + i}:${2 ** 31}`,
      );
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    process.env.FAKE_NVML_STATE = file;
  }
  const bufs = [new ArrayBuffer(4096 * RECORD_SIZE), new ArrayBuffer(4096 * RECORD_SIZE)];
  let records = 0;
  const cpu0 = process.cpuUsage();
  const s = addon.open({
    families: ['gpu'],
    gpu: { nvmlLibrary: lib, intervalMs: 100 },
    buffers: bufs,
    onBatch: (_i, n) => void (records += n),
  });
  const st = s.status()[0]!;
  if (!st.loaded) throw new Error(st.error);
  await sleep(seconds * 1000);
  const g = s.stats().gpu!;
  const cpu = process.cpuUsage(cpu0);
  s.stop();
  console.log(
    `NVML sampling (${fake ? 'test double test/gpu/fake-nvml.c, which re-reads its control file on every call' : lib}, driver ${g.driver}):`,
  );
  console.log(
    `  ${g.gpus} GPUs, ${g.samples} GPU samples in ${seconds} s at 100 ms: ${(g.sampleNs / g.samples / 1000).toFixed(1)} us per GPU per sample (10 NVML calls + running processes)`,
  );
  console.log(
    `  records delivered to JS: ${records}; process CPU (sampler + drain + JS) ${((cpu.user + cpu.system) / 1000 / seconds / 10).toFixed(2)} % of a core`,
  );
}

async function uprobeCost(): Promise<void> {
  const { app, cudart } = fakeGpuApp();
  // async, so the addon keeps draining the ring on the loop while the loop runs
  const run1 = () =>
    new Promise<number>((resolve, reject) => {
      const c = execFile(app, ['bench', String(calls)], { env: { ...process.env, FAKE_CUDA_MEM_LIMIT: String(2 ** 62) } }, (err, out) =>
        err ? reject(err) : resolve(Number(/ns_per_call ([\d.]+)/.exec(out)![1])),
      );
      c.stdin!.end('go\n');
    });
  const run = async () => Math.min(await run1(), await run1(), await run1());
  const base = await run();
  const prev = fs.readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  const bufs = [new ArrayBuffer(4096 * RECORD_SIZE), new ArrayBuffer(4096 * RECORD_SIZE)];
  let records = 0;
  const s = addon.open({ families: ['cuda'], buffers: bufs, onBatch: (_i, n) => void (records += n) });
  try {
    const r = s.attachLibrary(cudart);
    if (r.error) throw new Error(r.error);
    const probed = await run();
    await sleep(200);
    s.drain();
    const drops = s.stats().kernelDrops;
    const progs = s.programStats().filter((p) => p.name.startsWith('cuda_malloc_') && p.runCount > 0);
    console.log(`uprobe overhead, cudaMalloc (test double) in a tight loop, ${calls} calls, best of 3:`);
    console.log(
      `  without probes ${base.toFixed(1)} ns/call; with uprobe + uretprobe ${probed.toFixed(1)} ns/call: +${(probed - base).toFixed(0)} ns per call (${(probed / base).toFixed(1)}x)`,
    );
    for (const p of progs) console.log(`  in-kernel ${p.name}: ${(p.runTimeNs / p.runCount).toFixed(0)} ns per run (${p.runCount} runs)`);
    console.log(`  records delivered: ${records} of ${3 * calls} calls (one cuda_alloc per call), ring drops ${drops}`);
  } finally {
    s.stop();
    fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', prev);
  }
}

(async () => {
  await nvmlCost();
  await uprobeCost();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
