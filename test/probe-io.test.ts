// io family against real block devices: a loop device throttled by the
// cgroup-v1 blkio controller (slow IO) and a loop device over a full tmpfs
// (IO errors). The throttle delays bios before they become requests and hands
// them to a kworker, so the right pid and the latency the process saw come
// from the waiter record (the completion waking the task in io_schedule()).
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import { capture } from './helpers/live';
import { helperPath } from './fixtures/cbuild';
import { loopDevice } from './fixtures/loopdev';
import { blkioThrottle, spawnInCgroup } from './fixtures/cgroup';
import type { BlockIoEvent } from '../src/kinds/block-io';

const finished = (c: ChildProcess) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) => resolve({ code, out }));
  });

// XCTL_TEST_IO_WITH_SCHED=1: with the sched family on too, whose programs then do the waiter's work (one program per hook)
const families: ('io' | 'sched')[] = process.env.XCTL_TEST_IO_WITH_SCHED === '1' ? ['io', 'sched'] : ['io'];
const cap = capture({ families, config: { ioMinLatencyNs: 50_000_000n } });
t.teardown(() => cap.stop());

t.test('throttled loop device: latency >= what 1 MiB/s implies, attributed to the writer', async (t) => {
  const dev = await loopDevice({ sizeMiB: 32, backing: 'file' });
  t.teardown(() => dev.cleanup());
  const bps = 1 << 20;
  const cg = await blkioThrottle({ major: dev.major, minor: dev.minor, writeBps: bps });
  t.teardown(() => cg.cleanup());
  const chunk = 256 << 10; // 256 KiB at 1 MiB/s: >= 250 ms each
  const writer = spawnInCgroup([cg.path], await helperPath('direct-write'), [dev.device, '4', String(chunk)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = writer.pid!;
  const res = await finished(writer);
  t.equal(res.code, 0, `writes completed: ${res.out.trim().split('\n').pop()}`);
  const evs = await cap.waitFor<BlockIoEvent>((e) => e.kind === 'block_io' && e.pid === pid && e.dev === `${dev.major}:${dev.minor}`, {
    what: `block_io of ${pid}`,
    min: 3,
  });
  const implied = (chunk / bps) * 1e9;
  for (const e of evs) {
    t.equal(e.op, 'write', 'write');
    t.equal(e.error, 0, 'no error');
    t.equal(e.comm, 'direct-write', 'comm of the writer');
  }
  const slow = evs.filter((e) => e.latency_ns >= implied * 0.8);
  t.ok(
    slow.length >= 3,
    `${slow.length} of ${evs.length} writes waited >= 80% of ${implied / 1e6} ms (${evs.map((e) => (e.latency_ns / 1e6).toFixed(0)).join(', ')} ms)`,
  );
  t.ok(
    evs.every((e) => e.waiter),
    'seen from the waiting task (the request itself was issued by a kworker)',
  );
  t.ok(
    evs.every((e) => e.device_ns < implied / 2),
    'and the device part of it was fast: the delay is the cgroup throttle',
  );
});

t.test('loop device over a full tmpfs: write errors with the writer pid', async (t) => {
  const dev = await loopDevice({ sizeMiB: 16, backing: 'full-tmpfs' });
  t.teardown(() => dev.cleanup());
  const writer = spawnInCgroup([], await helperPath('direct-write'), [dev.device, '4', String(64 << 10)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = writer.pid!;
  const res = await finished(writer);
  t.equal(res.code, 1, `the write failed: ${res.out.trim().split('\n').pop()}`);
  const evs = await cap.waitFor<BlockIoEvent>((e) => e.kind === 'block_io' && e.pid === pid && e.error !== 0, {
    what: `io error of ${pid}`,
  });
  const e = evs[0]!;
  t.equal(e.error, -28, 'ENOSPC from the backing tmpfs, as the process saw it');
  t.equal(e.errno, 'ENOSPC');
  t.equal(e.dev, `${dev.major}:${dev.minor}`, 'on the loop device');
  t.equal(e.op, 'write');
  t.ok(e.bytes > 0 && e.bytes <= 64 << 10, `bytes ${e.bytes}`);
});
