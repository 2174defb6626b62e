// The syscall_error kind on synthetic records: its event fields and text, its
// graph ingest (a running total per syscall and errno, the samples of the first
// error) and the scenes the shipped rules draw from it, as a replay would.
import t from 'tap';
import { makeRecord, pack, ipv4Bytes } from './helpers/synth';
import { RecordBatch } from '../src/events/decoder';
import {
  Kind,
  SCR_FIRST,
  SCR_INTERVAL,
  SCR_EXIT,
  SCS_ADDR,
  SCS_FILE,
  SCS_F_AT_ROOT,
  SCS_PATH,
  SC_CONNECT,
  SC_OPENAT,
  SC_WRITE,
} from '../src/events/layout';
import { Pipeline } from '../src/engine/pipeline';
import { answerWhy } from '../src/why/why';
import { loadRuleDir, defaultRulesDir } from '../src/rules';
import { toEvent, eventDetails } from '../src/kinds/format';
import { parseMountinfo } from '../src/procfs/mounts';

const S = 1e9;
const rules = () => {
  const r = loadRuleDir(defaultRulesDir());
  if (!r.ruleSet) throw new Error(r.errors.join('\n'));
  return r.ruleSet;
};
const clock = { bootToWallOffsetNs: 0n };
const hdr = (pid: number, ts: number, comm = 'train') => ({
  'hdr.pid': pid,
  'hdr.tid': pid,
  'hdr.start_ns': 5 * S,
  'hdr.ts_ns': ts,
  'hdr.comm': comm,
});
const ENOENT = 2;
const ENOSPC = 28;
const ECONNREFUSED = 111;

/** A FILE sample on a device no mount of this host has (major 4095): the filesystem comes from the magic. */
function fileSample(name: string): number[] {
  const b = Buffer.alloc(36);
  b.writeUInt32LE(4095 * 1048576 + 7, 0);
  b.writeUInt32LE(0x01021994, 4); // TMPFS_MAGIC
  b.write(name, 8);
  return [...b];
}
function addrSample(addr: string, port: number): number[] {
  const b = Buffer.alloc(36);
  b.writeUInt16LE(2, 0);
  b.writeUInt16LE(port, 2);
  Buffer.from(ipv4Bytes(addr)).copy(b, 4);
  return [...b];
}
const sce = (pid: number, ts: number, f: Record<string, unknown>) =>
  makeRecord(Kind.SYSCALL_ERROR, { ...hdr(pid, ts), 'sce.fd': -1, 'sce.first_ts_ns': ts, 'sce.last_ts_ns': ts, ...(f as object) });

const writes = (pid: number) => [
  sce(pid, 10 * S, {
    'sce.sc': SC_WRITE,
    'sce.err': ENOSPC,
    'sce.count': 1,
    'sce.total': 1,
    'sce.fd': 5,
    'sce.reason': SCR_FIRST,
    'sce.sample_kind': SCS_FILE,
    'sce.sample_flags': SCS_F_AT_ROOT,
    'sce.sample': fileSample('step-100.pt'),
  }),
  sce(pid, 11 * S, {
    'sce.sc': SC_WRITE,
    'sce.err': ENOSPC,
    'sce.count': 36,
    'sce.total': 37,
    'sce.fd': 5,
    'sce.first_ts_ns': 10 * S,
    'sce.reason': SCR_INTERVAL,
    'sce.sample_kind': SCS_FILE,
    'sce.sample_flags': SCS_F_AT_ROOT,
    'sce.sample': fileSample('step-100.pt'),
  }),
  // a newer ENOENT: programs' normal business, never the cause
  sce(pid, 12 * S, {
    'sce.sc': SC_OPENAT,
    'sce.err': ENOENT,
    'sce.count': 3,
    'sce.total': 3,
    'sce.reason': SCR_EXIT,
    'sce.sample_kind': SCS_PATH,
    'sce.sample': [...Buffer.from('/etc/nope\0')],
  }),
];
const exit = (pid: number, ts: number, code: number) => makeRecord(Kind.EXIT, { ...hdr(pid, ts), 'exit.exit_code': code });

t.test('event fields and text', async (t) => {
  const b = RecordBatch.fromBytes(pack(writes(100)));
  const ev = toEvent(b, 1, clock);
  t.match(ev, { kind: 'syscall_error', syscall: 'write', errno: 'ENOSPC', count: 36, total: 37, fd: 5, reason: 'interval' });
  t.equal(eventDetails(ev), 'write() ENOSPC x36 fd 5 (step-100.pt) [tmpfs 4095:7] (interval, 37 so far)');
  t.equal(eventDetails(toEvent(b, 2, clock)), 'openat() ENOENT x3 "/etc/nope" (exit, 3 so far)', 'no filesystem for ENOENT');
  const c = RecordBatch.fromBytes(
    pack([
      sce(1, S, {
        'sce.sc': SC_CONNECT,
        'sce.err': ECONNREFUSED,
        'sce.count': 1,
        'sce.total': 1,
        'sce.fd': 3,
        'sce.reason': SCR_FIRST,
        'sce.sample_kind': SCS_ADDR,
        'sce.sample': addrSample('10.0.0.7', 29500),
      }),
    ]),
  );
  t.equal(eventDetails(toEvent(c, 0, clock)), 'connect() ECONNREFUSED x1 to 10.0.0.7:29500 (first, 1 so far)');
});

t.test('ingest: totals per key; exited after ENOSPC is storage_full; a newer ENOENT is not the cause', async (t) => {
  const p = new Pipeline(rules());
  p.ingest(RecordBatch.fromBytes(pack([...writes(100), exit(100, 13 * S, 1)])));
  const proc = p.graph.findProcess(100)!;
  t.same(
    proc.syscallErrors?.map((e) => [e.name, e.errno, e.total, e.target]),
    [
      ['write', 'ENOSPC', 37, 'fd 5 (step-100.pt)'],
      ['openat', 'ENOENT', 3, '/etc/nope'],
    ],
  );
  const a = answerWhy(p, 100);
  t.equal(a.scene, 'storage_full');
  t.equal(a.findings[0]?.rule, 'storage.full_exited');
  t.match(a.findings[0]?.verify, { metric: 'syscall.errors', max: 0 }, 'verified on the failed calls');
  t.ok(
    a.findings[0]?.evidence.some((e) => /syscall\.errno/.test(e.leaf) && e.value === 'ENOSPC'),
    `evidence: ${JSON.stringify(a.findings[0]?.evidence)}`,
  );
  t.equal(
    a.summary,
    'train (100) exited with code 1 after 37 write() calls failed with ENOSPC on fd 5 (step-100.pt), tmpfs 4095:7: the filesystem was full or over quota',
  );
  t.ok(
    a.actions.every((x) => x.type === 'manual'),
    'only suggestions',
  );
});

t.test('ENOENT alone, then exit 1: the plain exit code, not the missing files', async (t) => {
  const p = new Pipeline(rules());
  p.ingest(RecordBatch.fromBytes(pack([writes(200)[2]!, exit(200, 13 * S, 1)])));
  const a = answerWhy(p, 200);
  t.equal(a.scene, 'process_crash');
  t.equal(a.findings[0]?.rule, 'process.exit_nonzero');
});

t.test('connects refused then exit 1: process_crash names the peer', async (t) => {
  const p = new Pipeline(rules());
  const conn = sce(300, 10 * S, {
    'sce.sc': SC_CONNECT,
    'sce.err': ECONNREFUSED,
    'sce.count': 3,
    'sce.total': 3,
    'sce.fd': 3,
    'sce.reason': SCR_FIRST,
    'sce.sample_kind': SCS_ADDR,
    'sce.sample': addrSample('10.0.0.7', 29500),
  });
  p.ingest(RecordBatch.fromBytes(pack([conn, exit(300, 11 * S, 1)])));
  const a = answerWhy(p, 300);
  t.equal(a.scene, 'process_crash');
  t.equal(a.findings[0]?.rule, 'process.exit_after_peer_errors');
  t.equal(a.summary, 'train (300) exited with code 1 after 3 connect() calls failed with ECONNREFUSED to 10.0.0.7:29500');
});

t.test('mountinfo: device numbers as the kernel packs them, octal escapes', async (t) => {
  const m = parseMountinfo(
    '36 25 0:45 / /mnt/my\\040ckpt rw,relatime shared:1 - tmpfs tmpfs rw,size=64k\n' + '40 25 259:1 / / rw - ext4 /dev/nvme0n1p1 rw\n',
  );
  t.same(m, [
    { mountPoint: '/mnt/my ckpt', fsType: 'tmpfs', source: 'tmpfs', dev: 45 },
    { mountPoint: '/', fsType: 'ext4', source: '/dev/nvme0n1p1', dev: 259 * 1048576 + 1 },
  ]);
});
