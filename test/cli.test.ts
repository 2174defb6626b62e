// The CLI as a user runs it: live events as JSON, record -> replay, the
// not-root error (really run as nobody), and usage errors.
import t from 'tap';
import { asNobody } from './helpers/nobody';
import { spawn, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { helperPath } from './fixtures/cbuild';
import { LiveSource } from '../src/sources/live';
import { RecordWriter, RecordReader } from '../src/record/file';

const XCTL = path.resolve(__dirname, '../../bin/xctl');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-cli-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

function xctl(args: string[], opts: { uidNobody?: boolean } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, argv] = opts.uidNobody ? asNobody([process.execPath, XCTL, ...args]) : [process.execPath, [XCTL, ...args]];
  return new Promise((resolve) => {
    // a plain environment: tap's NODE_OPTIONS hooks would write files as the child's uid
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' };
    execFile(cmd, argv as string[], { timeout: 30_000, env }, (err, stdout, stderr) => {
      const code = err ? (((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

const runExit3 = async (delayMs: number) => {
  const bin = await helperPath('exit-code');
  await new Promise((r) => setTimeout(r, delayMs));
  const c = spawn(bin, ['3']);
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
};

t.test('xctl events --json prints the exit of a real process', async (t) => {
  const [res, pid] = await Promise.all([
    xctl(['events', '--json', '--kind', 'exit', '--duration', '3', '--families', 'proc']),
    runExit3(1200),
  ]);
  t.equal(res.code, 0, res.stderr);
  const lines = res.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const mine = lines.find((e) => e.pid === pid);
  t.ok(mine, `found the exit of ${pid} among ${lines.length} exit events`);
  t.match(mine, { kind: 'exit', comm: 'exit-code', exit_code: 3, signal: 0 });
  t.match(mine.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'wall-clock ISO timestamp');
  t.ok(
    lines.every((e) => e.kind === 'exit'),
    '--kind filters',
  );
  t.match(res.stderr, /probing proc/);
});

t.test('xctl events without --duration runs until Ctrl-C, then prints what it saw and exits 0', async (t) => {
  // stdin is not a terminal and nothing else keeps node's loop busy: the command itself must
  const ev = spawn(process.execPath, [XCTL, 'events', '--json', '--kind', 'exit', '--families', 'proc'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' },
  });
  let stdout = '';
  let stderr = '';
  ev.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    ev.on('exit', (code, signal) => r({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    ev.stderr.on('data', (d) => {
      stderr += d;
      if (/probing proc/.test(stderr)) resolve();
    });
    ev.on('exit', () => reject(new Error(`xctl events exited before probing: ${stderr}`)));
  });
  await new Promise((r) => setTimeout(r, 3000)); // outlives a loop with nothing referenced
  t.equal(ev.exitCode, null, 'still running 3 s after it started probing');
  const pid = await runExit3(0);
  ev.kill('SIGINT'); // stopping drains the rings: the exit just seen is printed
  const { code, signal } = await exited;
  t.same({ code, signal }, { code: 0, signal: null }, stderr);
  t.notMatch(stderr, /FATAL|Aborted/);
  const mine = stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((e) => e.pid === pid);
  t.match(mine, { kind: 'exit', exit_code: 3 }, `the exit of ${pid} was printed`);
});

t.test('xctl record then xctl replay', async (t) => {
  const file = path.join(tmp, 'r.xrec');
  const [rec, pid] = await Promise.all([xctl(['record', '-o', file, '--duration', '3', '--families', 'proc']), runExit3(1200)]);
  t.equal(rec.code, 0, rec.stderr);
  t.match(rec.stderr, /\d+ records, \d+ bytes; kernel drops 0, user drops 0/);
  const rep = await xctl(['replay', file, '--json', '--pid', String(pid)]);
  t.equal(rep.code, 0, rep.stderr);
  const evs = rep.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.match(
    evs.find((e) => e.kind === 'exit'),
    { pid, exit_code: 3 },
    'the exit replays with its code',
  );
  t.ok(
    evs.some((e) => e.kind === 'exec' && e.pid === pid),
    'and its exec',
  );
  // corrupt it: replay must name the byte offset, not crash
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 7));
  const bad = await xctl(['replay', file]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /xctl replay: truncated chunk at byte \d+/);
});

t.test('live batches written to a recording read back byte for byte', async (t) => {
  const file = path.join(tmp, 'exact.xrec');
  const src = new LiveSource({ families: ['proc', 'sched'] });
  const writer = new RecordWriter(file, { bootToWallOffsetNs: src.clock.bootToWallOffsetNs, families: ['proc', 'sched'] });
  const copies: Buffer[] = [];
  src.start((b) => {
    writer.writeBatch(b.buffer, b.byteOffset, b.count);
    copies.push(Buffer.from(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  });
  await runExit3(100);
  await new Promise((r) => setTimeout(r, 300));
  src.stop();
  writer.close();
  const live = Buffer.concat(copies);
  const reader = RecordReader.open(file);
  const back = Buffer.concat([...reader.batches()].map((b) => Buffer.from(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))));
  reader.close();
  t.ok(live.length > 0, `${live.length / 128} records captured`);
  t.ok(live.equals(back), 'identical bytes');
});

t.test('not root: a clear error, exit 2 (run as uid 65534)', async (t) => {
  const res = await xctl(['events', '--duration', '1'], { uidNobody: true });
  t.equal(res.code, 2);
  t.match(res.stderr, /live probing needs root \(or CAP_BPF \+ CAP_PERFMON\).*not root/);
  t.notMatch(res.stderr, /at .*\.js:\d+/, 'no stack trace');
});

t.test('usage errors name the problem', async (t) => {
  const k = await xctl(['events', '--kind', 'bogus']);
  t.equal(k.code, 2);
  t.match(k.stderr, /unknown kind "bogus"/);
  const f = await xctl(['events', '--families', 'gpu9']);
  t.match(f.stderr, /unknown probe family "gpu9"/);
  const u = await xctl(['frobnicate']);
  t.equal(u.code, 2);
  t.match(u.stderr, /unknown command "frobnicate"/);
  const r = await xctl(['record']);
  t.match(r.stderr, /-o FILE is required/);
});
