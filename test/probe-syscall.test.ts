// syscall family against a scripted workload: failing opens of missing files,
// writes to a full 64 KiB tmpfs, connects refused on a closed local port. The
// workload counts its own failures; the counts summed over our records of each
// (pid, syscall, errno) must equal them exactly, with the first error of each key
// sent at once and the rest flushed on the interval (process alive) and at exit.
import t from 'tap';
import { capture, sleep, type Capture } from './helpers/live';
import { closedPort, runWorkload, smallTmpfs, type Observed } from './helpers/syscall-workload';
import type { SyscallErrorEvent } from '../src/kinds/syscall-error';

function sums(cap: Capture, pid: number): Map<string, { count: number; records: SyscallErrorEvent[] }> {
  const out = new Map<string, { count: number; records: SyscallErrorEvent[] }>();
  for (const e of cap.matching<SyscallErrorEvent>((e) => e.kind === 'syscall_error' && e.pid === pid)) {
    const k = `${e.syscall} ${e.errno}`;
    const s = out.get(k) ?? { count: 0, records: [] };
    s.count += e.count;
    s.records.push(e);
    out.set(k, s);
  }
  return out;
}

function expected(o: Observed): Record<string, number> {
  return { 'openat ENOENT': o.enoent, 'write ENOSPC': o.enospc, 'connect ECONNREFUSED': o.econnrefused };
}

/** Waits until the records of pid sum to the expected counts (flushes are asynchronous), or gives up after 10 s. */
async function settled(cap: Capture, pid: number, want: Record<string, number>) {
  let got = sums(cap, pid);
  for (let i = 0; i < 100; i++) {
    cap.source.drain();
    got = sums(cap, pid);
    if (Object.entries(want).every(([k, n]) => got.get(k)?.count === n)) break;
    await sleep(100);
  }
  return got;
}

t.test('counts equal what the workload observed, alive (interval flush) and after exit', async (t) => {
  const fs = await smallTmpfs();
  t.teardown(() => fs.cleanup());
  const port = await closedPort();
  const cap = capture({ families: ['syscall'], config: { syscallFlushNs: 200_000_000n } });
  t.teardown(() => cap.stop());
  await sleep(300);
  const w = await runWorkload({ opens: 50, writes: 37, connects: 3, fs, port, code: 1, hold: true });
  t.teardown(() => void w.child.kill('SIGKILL'));
  const pid = await w.ready!;
  w.go();
  const o = await w.observed;
  t.equal(o.pid, pid);
  t.same([o.enoent, o.enospc, o.econnrefused, o.other], [50, 37, 3, 0], 'the workload failed as scripted');

  // alive: the interval flush (200 ms) alone must bring the counts out
  const alive = await settled(cap, pid, expected(o));
  for (const [k, n] of Object.entries(expected(o))) {
    t.equal(alive.get(k)?.count, n, `${k}: ${alive.get(k)?.count} in our records while the process lives == ${n} it observed`);
    const recs = alive.get(k)?.records ?? [];
    t.equal(recs[0]?.reason, 'first', `${k}: the first record is the first error, sent at once`);
    t.equal(recs[0]?.count, 1, `${k}: the first record counts 1`);
    t.ok(
      recs.slice(1).every((r) => r.reason === 'interval'),
      `${k}: the rest came with the interval flush (${recs.map((r) => `${r.reason}:${r.count}`).join(', ')})`,
    );
  }
  const write = alive.get('write ENOSPC')!.records[0]!;
  t.equal(write.fd, o.fd, 'write sample: the fd');
  t.equal(write.file, `${fs.full}/x`, 'write sample: the file, at the root of its mount');
  t.equal(write.fs, `tmpfs on ${fs.full}`, 'write sample: the filesystem');
  t.equal(alive.get('openat ENOENT')!.records[0]!.path, `${fs.dir}/missing-0`.slice(0, 35), 'open sample: the first missing path');
  t.equal(alive.get('connect ECONNREFUSED')!.records[0]!.peer, `127.0.0.1:${port}`, 'connect sample: the peer');
  t.same(
    [...alive.keys()].sort(),
    Object.keys(expected(o)).sort(),
    'no other failed syscall of the worker (it makes no other calls that fail)',
  );

  // a second round after the process exits: nothing more, nothing less
  w.release();
  t.equal(await w.exited, 1, 'the workload exits with its code');
  await sleep(300);
  const after = await settled(cap, pid, expected(o));
  for (const [k, n] of Object.entries(expected(o))) t.equal(after.get(k)?.count, n, `${k}: still ${n} after the exit`);
  t.equal(cap.source.stats()?.dropsByFamily?.syscall ?? 0, 0, 'no ring drops');
});

t.test('a process that exits before the interval: its counts go out at exit', async (t) => {
  const fs = await smallTmpfs();
  t.teardown(() => fs.cleanup());
  const port = await closedPort();
  const cap = capture({ families: ['syscall'], config: { syscallFlushNs: 60_000_000_000n } }); // 60 s: only the exit flushes
  t.teardown(() => cap.stop());
  await sleep(300);
  const w = await runWorkload({ opens: 200, writes: 5, connects: 2, fs, port, code: 0 });
  const o = await w.observed;
  t.equal(await w.exited, 0);
  const got = await settled(cap, o.pid, expected(o));
  for (const [k, n] of Object.entries(expected(o))) {
    t.equal(got.get(k)?.count, n, `${k}: ${got.get(k)?.count} == ${n} observed`);
    t.same(
      got.get(k)?.records.map((r) => r.reason),
      n > 1 ? ['first', 'exit'] : ['first'],
      `${k}: one record at the first error, one at exit`,
    );
  }
});
