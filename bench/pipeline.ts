/**
 * Sensing-layer benchmark, everything measured side by side in one run:
 *  1. ceiling: a bare C libbpf consumer (bench/ring-consumer.c) vs our
 *     addon -> JS decode pipeline, same BPF producer, same ring size, same
 *     producer process; records/s, CPU per record and their ratio;
 *  2. in-kernel cost per event of every xctl program under a mixed workload
 *     (kernel.bpf_stats_enabled=1);
 *  3. pipeline CPU % and RSS while a paced producer emits 100k events/s.
 * Usage: node dist/bench/pipeline.js [--calls N] [--batch B] [--rounds R]
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { LiveSource } from '../src/sources/live';
import type { RecordBatch } from '../src/events/decoder';
import { BENCH_KIND, BENCH_SEQ_OFF } from './bench-record';

const ROOT = path.resolve(__dirname, '../..');
const PRODUCER = path.join(ROOT, 'build/bench/producer');
const C_CONSUMER = path.join(ROOT, 'build/bench/ring-consumer');
const RING_BYTES = 4 << 20;

interface Run {
  delivered: number;
  drops: number;
  produced: number;
  elapsedNs: number;
  cpuNs: number;
}

const rate = (r: Run) => r.delivered / (r.elapsedNs / 1e9);
const fmtRate = (v: number) => `${(v / 1e6).toFixed(2)} M/s`;

function cConsumer(calls: number, batch: number, mode: 'poll' | 'spin' | 'drain' | 'cycles', ringBytes = RING_BYTES): Run {
  const out = execFileSync(C_CONSUMER, [String(calls), String(batch), String(ringBytes), PRODUCER, mode], { encoding: 'utf8' });
  const j = JSON.parse(out.trim().split('\n').pop()!);
  return { delivered: j.delivered, drops: j.drops, produced: j.produced, elapsedNs: j.elapsed_ns, cpuNs: j.cpu_ns };
}

function startProducer(args: string[]): Promise<{ child: ChildProcess; pid: number }> {
  const child = spawn(PRODUCER, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => {
      const m = /ready (\d+)/.exec(d.toString());
      if (m) resolve({ child, pid: Number(m[1]) });
      else reject(new Error(`producer: ${d}`));
    });
  });
}

/** Our pipeline: addon drain -> JS batch callback -> decode kind, pid, seq of every record. */
async function jsPipeline(calls: number, batch: number): Promise<Run & { seqSum: number }> {
  const source = new LiveSource({ families: ['bench'], ringBytes: RING_BYTES });
  let delivered = 0;
  let seqSum = 0;
  let pidCheck = 0;
  source.start((b) => {
    // locals in the loop, published once per batch: the hot-path pattern
    let n = 0;
    let sum = 0;
    let pids = 0;
    for (let i = 0, c = b.count; i < c; i++) {
      if (b.kind(i) === BENCH_KIND) {
        sum += b.u64Number(i, BENCH_SEQ_OFF);
        pids ^= b.pid(i);
        n++;
      }
    }
    delivered += n;
    seqSum += sum;
    pidCheck ^= pids;
  });
  const { child } = await startProducer([String(calls), String(batch), 'wait']);
  const exited = new Promise((r) => child.on('exit', r));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  child.stdin!.write('go\n');
  await exited;
  source.drain();
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const stats = source.stats()!;
  const produced = calls * batch; // every triggering call asks for `batch` records
  source.stop();
  void pidCheck;
  return { delivered, drops: stats.kernelDrops, produced, elapsedNs, cpuNs: (cpu.user + cpu.system) * 1000, seqSum };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const DRAIN_RING = 256 << 20;

/** The decode work the drain benchmarks time: kind and seq of every record, accumulated in locals. */
function benchDecoder(): { sink: (b: RecordBatch) => void; delivered(): number } {
  let delivered = 0;
  // biome-ignore lint/correctness/noUnusedVariables: written, never read: the decode cannot be optimised away
  let seqSum = 0;
  return {
    sink(b) {
      let n = 0;
      let sum = 0;
      for (let i = 0, c = b.count; i < c; i++) {
        if (b.kind(i) === BENCH_KIND) {
          sum += b.u64Number(i, BENCH_SEQ_OFF);
          n++;
        }
      }
      delivered += n;
      seqSum += sum; // closure state: the decode cannot be optimised away
    },
    delivered: () => delivered,
  };
}

/** Pure drain rate: the producer fills a ring nobody drains, then we time the drain alone. */
async function jsDrainOnly(calls: number, batch: number): Promise<Run> {
  const source = new LiveSource({ families: ['bench'], ringBytes: DRAIN_RING, batchRecords: 1024, paused: true });
  const counted = benchDecoder();
  source.start(counted.sink);
  const { child } = await startProducer([String(calls), String(batch), 'wait']);
  const exited = new Promise((r) => child.on('exit', r));
  child.stdin!.write('go\n');
  await exited;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  source.drain();
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const stats = source.stats()!;
  source.stop();
  return {
    delivered: counted.delivered(),
    drops: stats.kernelDrops,
    produced: calls * batch,
    elapsedNs,
    cpuNs: (cpu.user + cpu.system) * 1000,
  };
}

/** Fill -> drain cycles of a ring that holds one fill: drains of cache-warm data. */
async function jsCycles(cycles: number, batch: number): Promise<Run> {
  const source = new LiveSource({ families: ['bench'], ringBytes: RING_BYTES, paused: true });
  const counted = benchDecoder();
  source.start(counted.sink);
  const child = spawn(PRODUCER, ['0', String(batch), 'cycles'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    waiter?.();
  });
  const nextLine = () =>
    new Promise<string>((resolve) => {
      const take = () => (lines.length ? resolve(lines.shift()!) : (waiter = take));
      take();
    });
  await nextLine(); // ready
  const fillCalls = Math.floor(RING_BYTES / 136 / batch);
  let drainNs = 0;
  let cpuNs = 0;
  for (let r = 0; r < cycles; r++) {
    child.stdin!.write(`${fillCalls}\n`);
    await nextLine();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    source.drain();
    drainNs += Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    cpuNs += (cpu.user + cpu.system) * 1000;
  }
  child.stdin!.end();
  await new Promise((r) => child.on('exit', r));
  const stats = source.stats()!;
  source.stop();
  return { delivered: counted.delivered(), drops: stats.kernelDrops, produced: cycles * fillCalls * batch, elapsedNs: drainNs, cpuNs };
}

async function warmDrain(batch: number, rounds: number) {
  const cycles = 100;
  console.log(
    `\n## 1a. Drain rate, cache-warm: ${cycles} cycles of (fill a ${RING_BYTES >> 20} MiB ring with ~${Math.floor(RING_BYTES / 136 / batch) * batch} records, then drain it), only drains timed; ${rounds} rounds (median)`,
  );
  const c: Run[] = [];
  const js: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    c.push(cConsumer(cycles, batch, 'cycles'));
    js.push(await jsCycles(cycles, batch));
  }
  for (const [name, runs] of [
    ['C libbpf ring_buffer__consume', c],
    ['xctl addon + JS decode', js],
  ] as const) {
    const last = runs[runs.length - 1]!;
    console.log(
      `${name.padEnd(30)} ${fmtRate(median(runs.map(rate))).padStart(10)}  cpu ${median(runs.map((x) => x.cpuNs / x.delivered))
        .toFixed(1)
        .padStart(5)} ns/record  ` +
        `records ${last.delivered}, drops ${last.drops}, delivered+drops==produced: ${last.delivered + last.drops === last.produced}`,
    );
  }
  console.log(`ratio xctl / C (cache-warm drain): ${(median(js.map(rate)) / median(c.map(rate))).toFixed(2)}  (target >= 0.70)`);
}

async function drainCeiling(batch: number, rounds: number) {
  // 1.8 M records of 136 ring bytes each fit in the 256 MiB ring: nothing dropped
  const calls = 28000;
  console.log(
    `\n## 1b. Drain rate, cache-cold: ${calls * batch} records pre-filled in a ${DRAIN_RING >> 20} MiB ring, then drained; ${rounds} rounds (median)`,
  );
  const c: Run[] = [];
  const js: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    c.push(cConsumer(calls, batch, 'drain', DRAIN_RING));
    js.push(await jsDrainOnly(calls, batch));
  }
  for (const [name, runs] of [
    ['C libbpf ring_buffer__consume', c],
    ['xctl addon + JS decode', js],
  ] as const) {
    const last = runs[runs.length - 1]!;
    console.log(
      `${name.padEnd(30)} ${fmtRate(median(runs.map(rate))).padStart(10)}  cpu ${median(runs.map((x) => x.cpuNs / x.delivered))
        .toFixed(1)
        .padStart(5)} ns/record  ` + `records ${last.delivered}, drops ${last.drops}`,
    );
  }
  console.log(`ratio xctl / C (cache-cold drain): ${(median(js.map(rate)) / median(c.map(rate))).toFixed(2)}  (target >= 0.70)`);
}

async function ceiling(calls: number, batch: number, rounds: number) {
  console.log(
    `\n## 1c. Live producer -> consumer (producer-bound: shows delivered rate and drops with each consumer's wakeup pattern): 128-byte records, ${batch} per producer syscall, ${calls} syscalls, ring ${RING_BYTES >> 20} MiB, ${rounds} rounds (median)`,
  );
  const c: Run[] = [];
  const spin: Run[] = [];
  const js: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    c.push(cConsumer(calls, batch, 'poll')); // interleaved so drift hits all alike
    spin.push(cConsumer(calls, batch, 'spin'));
    js.push(await jsPipeline(calls, batch));
  }
  for (const [name, runs] of [
    ['C libbpf ring_buffer__poll', c],
    ['C libbpf consume, busy spin', spin],
    ['xctl addon + JS decode', js],
  ] as const) {
    const last = runs[runs.length - 1]!;
    console.log(
      `${name.padEnd(28)} ${fmtRate(median(runs.map(rate))).padStart(10)}  cpu ${median(runs.map((x) => x.cpuNs / x.delivered))
        .toFixed(0)
        .padStart(4)} ns/record  ` +
        `delivered+drops==produced: ${last.delivered + last.drops === last.produced} (drops ${(median(runs.map((x) => x.drops / x.produced)) * 100).toFixed(2)} %)`,
    );
  }
  const ours = median(js.map(rate));
  const ceilingRate = Math.max(median(c.map(rate)), median(spin.map(rate)));
  console.log(
    `ratio xctl / best C consumer: throughput ${(ours / ceilingRate).toFixed(2)} (target >= 0.70); ` +
      `vs C poll ${(ours / median(c.map(rate))).toFixed(2)}, vs C spin ${(ours / median(spin.map(rate))).toFixed(2)}`,
  );
}

function workload(seconds: number): Promise<void> {
  // processes, pipes, sleeps, disk writes with fsync, loopback TCP: every family fires
  const script = `
    end=$(( $(date +%s) + ${seconds} ))
    while [ $(date +%s) -lt $end ]; do
      for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done
      sleep 0.011
      dd if=/dev/zero of=/tmp/xctl-bench-io bs=64k count=16 conv=fsync status=none
      head -c 1000000 /dev/zero | cat > /dev/null
    done
    rm -f /tmp/xctl-bench-io`;
  const c = spawn('sh', ['-c', script], { stdio: 'ignore' });
  const tcp = spawn(
    process.execPath,
    [
      '-e',
      `
    const net=require('net'); const s=net.createServer(c=>c.resume()).listen(0,'127.0.0.1',()=>{
      const c=net.connect(s.address().port,'127.0.0.1'); const buf=Buffer.alloc(65536);
      const end=Date.now()+${seconds * 1000}; (function pump(){ while(Date.now()<end){ if(!c.write(buf)) return c.once('drain',pump);} c.end(); s.close(); })(); });`,
    ],
    { stdio: 'ignore' },
  );
  return Promise.all([new Promise((r) => c.on('exit', r)), new Promise((r) => tcp.on('exit', r))]).then(() => undefined);
}

async function inKernelCost() {
  console.log('\n## 2. In-kernel cost per program (kernel.bpf_stats_enabled=1, mixed workload 5 s)');
  const prev = fs.readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  const source = new LiveSource({ families: ['net', 'io', 'proc', 'sched'] });
  let records = 0;
  source.start((b) => (records += b.count));
  try {
    await workload(5);
    source.drain();
    console.log('program                        runs        ns/run');
    for (const p of source.programStats()) {
      const per = p.runCount ? (p.runTimeNs / p.runCount).toFixed(0) : '-';
      console.log(`${`${p.family}/${p.name}`.padEnd(30)} ${String(p.runCount).padStart(10)} ${per.padStart(10)}`);
    }
    console.log(`records delivered: ${records}, kernel drops: ${source.stats()!.kernelDrops}`);
  } finally {
    source.stop();
    fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', prev);
  }
}

async function pacedLoad() {
  const perCall = 100;
  const intervalUs = 1000; // 1000 calls/s x 100 records = 100k events/s
  const seconds = 5;
  console.log(
    `\n## 3. Pipeline CPU and RSS at 100k events/s (${perCall} records every ${intervalUs} us, ${seconds} s, all families attached)`,
  );
  const source = new LiveSource({ families: ['net', 'io', 'proc', 'sched', 'bench'] });
  let n = 0;
  let sum = 0;
  source.start((b) => {
    let s = 0;
    for (let i = 0, c = b.count; i < c; i++) s += b.pid(i) + b.kind(i);
    n += b.count;
    sum += s;
  });
  const { child } = await startProducer([String(seconds * 1000), String(perCall), 'wait', String(intervalUs)]);
  const exited = new Promise((r) => child.on('exit', r));
  const rss0 = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let rssMax = rss0;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 100);
  child.stdin!.write('go\n');
  await exited;
  source.drain();
  clearInterval(sampler);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const stats = source.stats()!;
  source.stop();
  void sum;
  console.log(
    `events: ${n} in ${wall.toFixed(2)} s = ${(n / wall / 1000).toFixed(1)}k/s; CPU ${(((cpu.user + cpu.system) / 1e6 / wall) * 100).toFixed(1)} % of one core; ` +
      `RSS ${(rss0 / 2 ** 20).toFixed(1)} MiB at start, max ${(rssMax / 2 ** 20).toFixed(1)} MiB; kernel drops ${stats.kernelDrops}; wakeups ${stats.wakeups}, batches ${stats.batches}`,
  );
}

async function main() {
  const { values } = parseArgs({
    options: { calls: { type: 'string' }, batch: { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' } },
  });
  const calls = Number(values.calls ?? 40000);
  const batch = Number(values.batch ?? 64);
  const rounds = Number(values.rounds ?? 3);
  console.log(
    `# xctl sensing-layer benchmark  (node ${process.version}, kernel ${fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, ${require('node:os').cpus().length} CPUs)`,
  );
  const only = values.only?.split(',');
  if (!only || only.includes('warm')) await warmDrain(batch, rounds);
  if (!only || only.includes('drain')) await drainCeiling(batch, rounds);
  if (!only || only.includes('ceiling')) await ceiling(calls, batch, rounds);
  if (!only || only.includes('kernel')) await inKernelCost();
  if (!only || only.includes('paced')) await pacedLoad();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
