// `xctl replay`: JSON lines and text from a synthetic recording, filters,
// exit codes and messages for bad files and bad arguments.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { replayCommand, type ReplayIO } from '../src/cli/replay';
import { Kind, RECORD_SIZE } from '../src/events/layout';
import { CHUNK_HEADER_SIZE, RecordReader, RecordWriter } from '../src/record/file';
import { ipv4Bytes, makeRecord, pack } from './helpers/synth';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-replay-test-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

// boot 2000 s == 2024-05-06T07:08:09.000Z
const WALL_MS = Date.UTC(2024, 4, 6, 7, 8, 9, 0);
const OFFSET = BigInt(WALL_MS) * 1_000_000n - 2_000_000_000_000n;
const ts = (ms: number): bigint => 2_000_000_000_000n + BigInt(ms) * 1_000_000n;

const RECORDS = [
  makeRecord(Kind.EXEC, {
    'hdr.ts_ns': ts(0),
    'hdr.pid': 100,
    'hdr.tid': 100,
    'hdr.comm': 'trainer',
    'exec.ppid': 1,
    'exec.filename': '/usr/bin/python3',
  }),
  makeRecord(Kind.TCP_RETRANSMIT, {
    'hdr.ts_ns': ts(5),
    'hdr.pid': 100,
    'hdr.tid': 101,
    'hdr.comm': 'trainer',
    'tcp.saddr': ipv4Bytes('10.0.0.1'),
    'tcp.daddr': ipv4Bytes('10.0.0.2'),
    'tcp.sport': 40000,
    'tcp.dport': 5001,
    'tcp.family': 2,
    'tcp.state': 1,
    'tcp.owner_src': 1,
    'tcp.count': 3,
    'tcp.segs': 3,
  }),
  makeRecord(Kind.SIGNAL, {
    'hdr.ts_ns': ts(10),
    'hdr.pid': 200,
    'hdr.comm': 'watchdog',
    'sig.target_pid': 100,
    'sig.sig': 11,
    'sig.target_comm': 'trainer',
  }),
  makeRecord(Kind.EXIT, {
    'hdr.ts_ns': ts(11),
    'hdr.pid': 100,
    'hdr.comm': 'trainer',
    'exit.signal': 11,
    'exit.core_dumped': 1,
    'exit.ppid': 1,
  }),
  makeRecord(Kind.BLOCK_IO, {
    'hdr.ts_ns': ts(20),
    'hdr.pid': 300,
    'hdr.comm': 'dd',
    'io.dev': 7 << 20,
    'io.bytes': 524288,
    'io.latency_ns': 512_300_000,
    'io.flags': 1,
  }),
];

function writeRecording(name: string, records: Buffer[], chunkRecords = 2): string {
  const p = path.join(dir, name);
  const w = new RecordWriter(p, { bootToWallOffsetNs: OFFSET, families: ['net', 'io', 'proc'], chunkBytes: chunkRecords * RECORD_SIZE });
  const all = pack(records);
  w.writeBatch(all, 0, records.length);
  w.close();
  return p;
}

const FILE = writeRecording('good.xrec', RECORDS);

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: ReplayIO = {
    stdout: { write: (s: string) => void (out += s) },
    stderr: { write: (s: string) => void (err += s) },
  };
  const code = await replayCommand(args, io);
  return { code, out, err };
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

t.test('--json prints one object per line and nothing on stderr', async (t) => {
  const r = await run([FILE, '--json']);
  t.equal(r.code, 0);
  t.equal(r.err, '');
  const evs = lines(r.out).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(
    evs.map((e) => e.kind),
    ['exec', 'tcp_retransmit', 'signal', 'exit', 'block_io'],
  );
  t.match(evs[0], {
    ts: '2024-05-06T07:08:09.000Z',
    ts_ns: '2000000000000',
    pid: 100,
    comm: 'trainer',
    filename: '/usr/bin/python3',
    ppid: 1,
  });
  t.match(evs[1], {
    ts: '2024-05-06T07:08:09.005Z',
    saddr: '10.0.0.1',
    daddr: '10.0.0.2',
    sport: 40000,
    dport: 5001,
    family: 'ipv4',
    state: 'ESTABLISHED',
    count: 3,
    segs: 3,
    owner: 'kernel',
  });
  t.match(evs[2], { pid: 200, target_pid: 100, sig: 11, signal_name: 'SIGSEGV' });
  t.match(evs[3], { signal: 11, signal_name: 'SIGSEGV', core_dumped: true });
  t.match(evs[4], { dev: '7:0', op: 'write', bytes: 524288, latency_ns: 512300000 });
});

t.test('text mode: lines on stdout, summary on stderr', async (t) => {
  const r = await run([FILE, '--utc']);
  t.equal(r.code, 0);
  const out = lines(r.out);
  t.equal(out.length, 5);
  t.match(out[1], /^07:08:09\.005 +100 +trainer +tcp_retransmit +10\.0\.0\.1:40000 -> 10\.0\.0\.2:5001 ESTABLISHED x3 \(3 segs\)$/);
  t.match(out[3], /killed by SIGSEGV \(core\)/);
  t.match(out[4], /dev 7:0 write 524288 B latency 512\.3 ms$/);
  t.match(r.err, `recorded on ${os.hostname()}`);
  t.match(r.err, 'families net,io,proc');
  t.match(r.err, '5 records, 5 shown');
});

t.test('filters', async (t) => {
  const kinds = async (args: string[]): Promise<string[]> =>
    lines((await run([FILE, '--json', ...args])).out).map((l) => (JSON.parse(l) as { kind: string }).kind);
  t.same(await kinds(['--pid', '100']), ['exec', 'tcp_retransmit', 'signal', 'exit'], 'pid 100 includes the signal sent to it');
  t.same(await kinds(['--pid', '300']), ['block_io']);
  t.same(await kinds(['--kind', 'exit,signal']), ['signal', 'exit']);
  t.same(await kinds(['--kind', 'exec', '--kind', 'block_io']), ['exec', 'block_io']);
  t.same(await kinds(['--pid', '100', '--kind', 'exit']), ['exit']);
  t.same(await kinds(['--pid', '999']), []);
  t.match((await run([FILE, '--pid', '999'])).err, '5 records, 0 shown');
});

t.test('corrupt and unreadable files exit 2 with the reason', async (t) => {
  const bad = path.join(dir, 'corrupt.xrec');
  const bytes = fs.readFileSync(FILE);
  const second = RecordReader.fromBytes(bytes).dataOffset + CHUNK_HEADER_SIZE + 2 * RECORD_SIZE;
  bytes[second + CHUNK_HEADER_SIZE + 50] = (bytes[second + CHUNK_HEADER_SIZE + 50] as number) ^ 0xff;
  fs.writeFileSync(bad, bytes);
  const r = await run([bad, '--json']);
  t.equal(r.code, 2);
  t.equal(lines(r.out).length, 2, 'the chunk before the damage is still printed');
  t.equal(r.err, `xctl replay: corrupt chunk at byte ${second}: crc32 mismatch${r.err.slice(r.err.indexOf(' (stored'))}`);

  const missing = await run([path.join(dir, 'nope.xrec')]);
  t.equal(missing.code, 2);
  t.match(missing.err, /^xctl replay: cannot open .*nope\.xrec: ENOENT/);

  const notRec = path.join(dir, 'text.txt');
  fs.writeFileSync(notRec, 'hello world, not a recording\n');
  const nr = await run([notRec]);
  t.equal(nr.code, 2);
  t.equal(nr.err, 'xctl replay: not an xctl recording (bad magic at byte 0)\n');
});

t.test('invalid records are skipped with a warning', async (t) => {
  const p = writeRecording(
    'invalid.xrec',
    [
      makeRecord(Kind.FORK, { 'hdr.pid': 1, 'fork.child_pid': 2 }),
      makeRecord(42, { 'hdr.pid': 1 }),
      makeRecord(Kind.FORK, { 'hdr.pid': 1, 'hdr.version': 9 }),
    ],
    10,
  );
  const r = await run([p]);
  t.equal(r.code, 0);
  t.equal(lines(r.out).length, 1);
  t.match(r.err, /chunk at byte \d+: record 1: unknown kind 42 \(skipped\)/);
  t.match(r.err, /record 2: unsupported record version 9 \(expected 1\) \(skipped\)/);
  t.match(r.err, '3 records, 1 shown, 2 invalid skipped');
});

t.test('arguments', async (t) => {
  const help = await run(['--help']);
  t.equal(help.code, 0);
  t.match(help.out, /^usage: xctl replay FILE/);
  for (const args of [[], [FILE, FILE], [FILE, '--kind', 'bogus'], [FILE, '--pid', 'abc'], [FILE, '--pid', '-1'], [FILE, '--frobnicate']]) {
    const r = await run(args);
    t.equal(r.code, 2, `exit 2 for ${JSON.stringify(args)}`);
    t.match(r.err, /^xctl replay: /);
    t.equal(r.out, '');
  }
  t.match((await run([FILE, '--kind', 'bogus'])).err, 'unknown kind "bogus"');
});

t.test('standalone entry point writes to real stdout, survives a closed pipe', async (t) => {
  const main = path.join(__dirname, '../src/cli/replay-main.js');
  const r = spawnSync(process.execPath, [main, FILE, '--json'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(
    lines(r.stdout).map((l) => (JSON.parse(l) as { kind: string }).kind),
    ['exec', 'tcp_retransmit', 'signal', 'exit', 'block_io'],
  );

  // enough output to fill the pipe, read by a consumer that quits after one line
  const many: Buffer[] = [];
  for (let i = 0; i < 20000; i++) many.push(makeRecord(Kind.EXIT, { 'hdr.pid': i, 'exit.exit_code': i }));
  const big = writeRecording('big.xrec', many, 8192);
  const sh = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${main}" "${big}" --json | head -n 1`], {
    encoding: 'utf8',
  });
  t.equal(sh.status, 0, `exit 0 under head: ${sh.stderr}`);
  t.equal(lines(sh.stdout).length, 1);
  t.equal(sh.stderr, '');
  const all = spawnSync(process.execPath, [main, big, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  t.equal(all.status, 0);
  t.equal(lines(all.stdout).length, 20000, 'backpressure loses nothing');
});
