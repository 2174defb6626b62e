// Flood a deliberately small ring with the bench producer: the kernel drops
// what does not fit, and every record is accounted for — delivered + kernel
// drops == produced — while the event loop stays responsive.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { LiveSource } from '../src/sources/live';
import { BENCH_KIND, BENCH_SEQ_OFF } from '../bench/bench-record';

const PRODUCER = path.resolve(__dirname, '../../build/bench/producer');

t.test('ring overflow: delivered + drops == produced, sequence order kept, loop responsive', async (t) => {
  const source = new LiveSource({ families: ['bench'], ringBytes: 16 << 10, batchRecords: 256 });
  let delivered = 0;
  let lastSeq = -1;
  let outOfOrder = 0;
  source.start((b) => {
    for (let i = 0; i < b.count; i++) {
      if (b.kind(i) !== BENCH_KIND) continue;
      const seq = b.u64Number(i, BENCH_SEQ_OFF);
      if (seq <= lastSeq) outOfOrder++;
      lastSeq = seq;
      delivered++;
    }
  });
  t.teardown(() => source.stop());

  // event-loop responsiveness while flooding: the longest gap between 10 ms ticks
  let maxGap = 0;
  let last = Date.now();
  const tick = setInterval(() => {
    const now = Date.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 10);

  // each call asks for 256 records, into a ring that holds ~120: overflow for sure
  const producer = spawn(PRODUCER, ['20000', '256', 'wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<number>((resolve, reject) => {
    producer.stdout!.once('data', (d: Buffer) => {
      const m = /ready (\d+)/.exec(d.toString());
      return m ? resolve(Number(m[1])) : reject(new Error(`producer said ${d}`));
    });
  });
  const exited = new Promise((r) => producer.on('exit', r));
  producer.stdin!.write('go\n');
  await exited;
  clearInterval(tick);
  source.drain();

  const produced = 20000 * 256; // what the producer's calls asked for
  const stats = source.stats()!;
  t.ok(stats.kernelDrops > 0, `the ring overflowed: ${stats.kernelDrops} kernel drops`);
  t.equal(delivered + stats.kernelDrops, produced, `delivered ${delivered} + drops ${stats.kernelDrops} == produced ${produced}`);
  t.equal(stats.records, delivered, 'addon record counter agrees with what JS saw');
  t.equal(stats.userDrops, 0, 'no user-side drops');
  t.equal(outOfOrder, 0, 'sequence numbers only increase (one producer, in-order ring)');
  t.ok(maxGap < 500, `event loop stayed responsive (longest tick gap ${maxGap} ms)`);
});
