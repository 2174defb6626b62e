// start/stop cycles leave no fds, mappings or attached programs behind, and
// bad options are rejected with messages that name the problem.
import t from 'tap';
import * as fs from 'node:fs';
import { loadAddon } from '../src/native/addon';

const addon = loadAddon();
const fdCount = () => fs.readdirSync('/proc/self/fd').length;
const bpfMappings = () =>
  fs
    .readFileSync('/proc/self/maps', 'latin1')
    .split('\n')
    .filter((l) => l.includes('bpf')).length;

t.test('five open/stop cycles of every family leak nothing', async (t) => {
  const buffers = [new ArrayBuffer(128 * 64), new ArrayBuffer(128 * 64)];
  // warm-up: libbpf and the kernel cache some things (e.g. BTF) on first use
  addon.open({ families: ['net', 'io', 'proc', 'sched', 'bench'], buffers, onBatch: () => {} }).stop();
  const fds = fdCount();
  const maps = bpfMappings();
  for (let i = 0; i < 5; i++) {
    const s = addon.open({ families: ['net', 'io', 'proc', 'sched', 'bench'], buffers, onBatch: () => {} });
    const attached = s
      .status()
      .flatMap((f) => f.programs)
      .filter((p) => p.attached).length;
    t.ok(attached >= 15, `cycle ${i}: ${attached} programs attached`);
    t.ok(fdCount() > fds, 'while open, the session holds fds');
    s.stop();
    s.stop(); // idempotent
  }
  t.equal(fdCount(), fds, `fd count back to ${fds}`);
  t.equal(bpfMappings(), maps, 'ring mappings unmapped');
});

t.test('bad options are named', async (t) => {
  t.throws(() => addon.open({} as never), /onBatch must be a function/);
  t.throws(() => addon.open({ onBatch: () => {}, buffers: [] } as never), /buffers must be a non-empty array/);
  t.throws(
    () => addon.open({ onBatch: () => {}, buffers: [new ArrayBuffer(8)], families: [] }),
    /buffers\[0\] must be an ArrayBuffer of at least one record/,
  );
  t.throws(
    () => addon.open({ onBatch: () => {}, buffers: [new ArrayBuffer(128)], families: [], ringBytes: 1000 }),
    /ringBytes must be a power of two/,
  );
  const s = addon.open({ onBatch: () => {}, buffers: [new ArrayBuffer(128)], families: ['nope' as never] });
  t.match(s.status(), [{ family: 'nope', loaded: false, error: /unknown probe family 'nope'/ }]);
  s.stop();
});

const runTrue = () =>
  new Promise<void>((resolve) => {
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    spawn('true').on('exit', () => resolve());
  });

t.test('raw addon: a throwing consumer surfaces as uncaughtException, is counted, and delivery goes on', async (t) => {
  const buffers = [new ArrayBuffer(128 * 64), new ArrayBuffer(128 * 64)];
  let calls = 0;
  const caught: Error[] = [];
  const onUncaught = (e: Error) => caught.push(e);
  // tap installs its own handler; ours records the error for the assertion
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  const s = addon.open({
    families: ['proc'],
    buffers,
    onBatch: () => {
      calls++;
      throw new Error('consumer bug');
    },
  });
  try {
    await runTrue();
    await new Promise((r) => setTimeout(r, 400)); // a loop wakeup or the 200 ms timer delivers
    await runTrue();
    await new Promise((r) => setTimeout(r, 400));
  } finally {
    process.removeListener('uncaughtException', onUncaught);
    for (const l of saved) process.on('uncaughtException', l as (e: Error) => void);
  }
  t.ok(
    caught.length >= 2 && caught.every((e) => /consumer bug/.test(e.message)),
    `${caught.length} consumer errors surfaced, one per failed batch`,
  );
  t.ok(calls >= 2, 'and later batches were still delivered');
  t.ok(s.stats().userDrops >= 2, `their records counted as user drops (${s.stats().userDrops})`);
  s.stop();
});

t.test('LiveSource: a throwing sink is contained, counted and reported', async (t) => {
  const { LiveSource } = await import('../src/sources/live');
  const errors: unknown[] = [];
  const src = new LiveSource({ families: ['proc'], onSinkError: (e) => errors.push(e) });
  let calls = 0;
  src.start(() => {
    calls++;
    throw new Error('sink bug');
  });
  await runTrue();
  src.drain();
  await runTrue();
  src.drain();
  t.ok(calls >= 2, `sink called ${calls} times despite throwing`);
  t.equal(errors.length, calls, 'every failure reported');
  t.ok(src.sinkLostRecords >= 2, `${src.sinkLostRecords} records accounted as lost`);
  src.stop();
});
