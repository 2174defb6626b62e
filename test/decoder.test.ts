// Decoding of every record kind from synthetic records: accessors, toEvent
// fields, text lines, validation, filters, and the layout table itself.
import t from 'tap';
import { RecordBatch } from '../src/events/decoder';
import { EventFilter } from '../src/events/filter';
import { formatText, toEvent, type XEvent } from '../src/kinds/format';
import { ipv6Text } from '../src/events/inet';
import { currentBootToWallOffsetNs, wallIso } from '../src/events/clock';
import {
  F_KTHREAD,
  F_NO_OWNER,
  FIELDS,
  IO_F_WAITER,
  IO_F_WRITE,
  IO_F_FLUSH,
  KIND_IDS,
  KIND_NAMES,
  KIND_SYNTHETIC,
  KIND_TABLE,
  Kind,
  LAYOUT_HASH,
  OFFCPU_BLOCKED,
  OFFCPU_F_AGGREGATE,
  OFFCPU_F_IOWAIT,
  OFFCPU_F_WAKER_IRQ,
  OFFCPU_RUNQ,
  OFFSETS,
  OWNER_KERNEL,
  OWNER_NONE,
  RECORD_SIZE,
  RECORD_VERSION,
  kindFromName,
  kindName,
  layoutHash,
} from '../src/events/layout';
import { ipv4Bytes, ipv6Bytes, makeRecord, pack, type RecordFields } from './helpers/synth';

// 2024-01-02T03:04:05.678Z at boot 1000 s
const BOOT_TS = 1_000_000_000_000n;
const WALL_MS = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
const clock = { bootToWallOffsetNs: BigInt(WALL_MS) * 1_000_000n - BOOT_TS };

const HDR: RecordFields = {
  'hdr.ts_ns': BOOT_TS,
  'hdr.start_ns': 123_456_789_012_345_678n, // > 2^53
  'hdr.cgroup_id': 0xffff_ffff_ffff_fff0n,
  'hdr.pid': 4242,
  'hdr.tid': 4243,
  'hdr.cpu': 7,
  'hdr.comm': 'python3',
};

function one(kind: Kind | number, fields: RecordFields): { b: RecordBatch; ev: XEvent } {
  const buf = pack([makeRecord(kind, { ...HDR, ...fields })]);
  const b = RecordBatch.fromBytes(buf);
  return { b, ev: toEvent(b, 0, clock) };
}

t.test('layout table is self-consistent', async (t) => {
  t.equal(RECORD_SIZE, 128);
  t.equal(RECORD_VERSION, 1);
  // every field belongs to the header or to one kind's payload, and every kind has fields
  // (test/layout.test.ts proves the set equals the C struct's named fields)
  const groups = new Set(Object.keys(OFFSETS).map((k) => k.split('.')[0]));
  t.same([...groups].sort(), ['hdr', ...KIND_TABLE.map((k) => k.member)].sort(), 'fields are keyed by hdr or a kind member');
  const width = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8 } as const;
  const byStruct = new Map<string, [number, number, string][]>();
  for (const [k, f] of Object.entries(FIELDS)) {
    const w = 'len' in f ? f.len : width[f.type as keyof typeof width];
    t.ok(f.off + w <= RECORD_SIZE, `${k} fits in the record`);
    if (f.type === 'u64') t.equal(f.off % 8, 0, `${k} 8-aligned`);
    const s = k.split('.')[0] as string;
    if (s !== 'hdr') t.ok(f.off >= 56, `${k} is in the payload`);
    byStruct.set(s, [...(byStruct.get(s) ?? []), [f.off, f.off + w, k]]);
  }
  for (const [s, ranges] of byStruct) {
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) {
      const [, prevEnd, prevKey] = ranges[i - 1] as [number, number, string];
      const [start, , key] = ranges[i] as [number, number, string];
      t.ok(start >= prevEnd, `${s}: ${key} does not overlap ${prevKey}`);
    }
  }
  t.match(LAYOUT_HASH, /^[0-9a-f]{16}$/);
  const shuffled = Object.fromEntries(Object.entries(OFFSETS).reverse());
  t.equal(layoutHash(RECORD_SIZE, RECORD_VERSION, shuffled), LAYOUT_HASH, 'hash ignores key order');
  t.not(layoutHash(RECORD_SIZE, RECORD_VERSION, { ...OFFSETS, 'io.dev': 60 }), LAYOUT_HASH, 'hash sees offsets');
  t.not(layoutHash(RECORD_SIZE, 2, OFFSETS), LAYOUT_HASH, 'hash sees version');
  t.equal(kindFromName('exit'), Kind.EXIT);
  t.equal(kindFromName('toString'), undefined, 'no prototype keys');
  for (const [name, id] of Object.entries(KIND_IDS)) t.equal(KIND_NAMES[id], name);
});

t.test('header accessors', async (t) => {
  const { b, ev } = one(Kind.FORK, { 'fork.child_pid': 4300, 'hdr.flags': F_KTHREAD | F_NO_OWNER });
  t.equal(b.count, 1);
  t.equal(b.kind(0), Kind.FORK);
  t.equal(b.version(0), 1);
  t.equal(b.pid(0), 4242);
  t.equal(b.tid(0), 4243);
  t.equal(b.cpu(0), 7);
  t.equal(b.tsNs(0), BOOT_TS);
  t.equal(b.tsMs(0), 1_000_000);
  t.equal(b.startNs(0), 123_456_789_012_345_678n);
  t.equal(b.cgroupId(0), 0xffff_ffff_ffff_fff0n);
  t.equal(b.comm(0), 'python3');
  t.equal(b.flags(0), 3);
  t.equal(b.validate(0), null);
  t.match(ev, {
    ts: '2024-01-02T03:04:05.678Z',
    ts_ns: '1000000000000',
    kind: 'fork',
    pid: 4242,
    tid: 4243,
    comm: 'python3',
    cgroup_id: '18446744073709551600',
    start_ns: '123456789012345678',
    cpu: 7,
    kthread: true,
    no_owner: true,
    child_pid: 4300,
  });
  t.same(JSON.parse(JSON.stringify(ev)), ev, 'plain JSON-able object');
});

t.test('u64Number and strings', async (t) => {
  const buf = pack([
    makeRecord(Kind.NCCL_CALL, { 'nccl.comm': 2n ** 40n + 5n, 'nccl.count': 2n ** 53n - 1n, 'hdr.comm': 'abcdefghijklmnop' }),
    makeRecord(Kind.EXEC, { 'hdr.comm': 'zürich-δ', 'exec.filename': '/opt/conda/bin/python3.11' }),
  ]);
  const b = RecordBatch.fromBytes(buf);
  t.equal(b.u64Number(0, OFFSETS['nccl.comm']), 2 ** 40 + 5);
  t.equal(b.u64Number(0, OFFSETS['nccl.count']), 2 ** 53 - 1);
  t.equal(b.u64(0, OFFSETS['nccl.count']), 2n ** 53n - 1n);
  t.equal(b.comm(0), 'abcdefghijklmnop', '16 bytes with no NUL stop at the field end');
  t.equal(b.comm(1), 'zürich-δ', 'utf8 comm');
  t.equal(b.str(1, OFFSETS['exec.filename'], 64), '/opt/conda/bin/python3.11');
});

t.test('batch at an offset inside a larger buffer, and clone', async (t) => {
  const recs = [1, 2, 3].map((n) => makeRecord(Kind.EXIT, { 'hdr.pid': n }));
  const ab = new ArrayBuffer(RECORD_SIZE * 5);
  new Uint8Array(ab).set(pack(recs), RECORD_SIZE);
  const b = new RecordBatch(ab, RECORD_SIZE, 3);
  t.same([b.pid(0), b.pid(1), b.pid(2)], [1, 2, 3]);
  const c = b.clone();
  new Uint8Array(ab).fill(0);
  t.same([c.pid(0), c.pid(1), c.pid(2)], [1, 2, 3], 'clone survives buffer reuse');
  t.equal(b.pid(0), 0);
  t.throws(() => new RecordBatch(ab, RECORD_SIZE, 5), RangeError);
  t.equal(new RecordBatch(ab).count, 5, 'count defaults to what fits');
});

t.test('tcp_retransmit ipv4', async (t) => {
  const { b, ev } = one(Kind.TCP_RETRANSMIT, {
    'tcp.saddr': ipv4Bytes('10.1.2.3'),
    'tcp.daddr': ipv4Bytes('10.1.2.4'),
    'tcp.sport': 40000,
    'tcp.dport': 5001,
    'tcp.family': 2,
    'tcp.state': 1,
    'tcp.owner_src': OWNER_KERNEL,
    'tcp.count': 3,
    'tcp.segs': 5,
    'tcp.sock_ino': 987654,
    'tcp.first_ts_ns': BOOT_TS - 5_000_000n,
    'tcp.skaddr': 0xffff_8881_0a2b_3c00n,
  });
  t.equal(b.u32(0, OFFSETS['tcp.count']), 3);
  t.same(ev, {
    ts: '2024-01-02T03:04:05.678Z',
    ts_ns: '1000000000000',
    kind: 'tcp_retransmit',
    pid: 4242,
    tid: 4243,
    comm: 'python3',
    cgroup_id: '18446744073709551600',
    start_ns: '123456789012345678',
    cpu: 7,
    saddr: '10.1.2.3',
    daddr: '10.1.2.4',
    sport: 40000,
    dport: 5001,
    family: 'ipv4',
    state: 'ESTABLISHED',
    count: 3,
    segs: 5,
    owner: 'kernel',
    sock_ino: 987654,
    first_ts_ns: '999995000000',
    skaddr: 0xffff_8881_0a2b_3c00n.toString(),
  });
  t.match(
    formatText(ev, { utc: true }),
    /^03:04:05\.678 +4242 +python3 +tcp_retransmit +10\.1\.2\.3:40000 -> 10\.1\.2\.4:5001 ESTABLISHED x3 \(5 segs\)$/,
  );
});

t.test('tcp_retransmit ipv6, unowned', async (t) => {
  const { ev } = one(Kind.TCP_RETRANSMIT, {
    'tcp.saddr': ipv6Bytes([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
    'tcp.daddr': ipv6Bytes([0xfe80, 0, 0, 0, 0x1ff, 0xfe23, 0x4567, 0x890a]),
    'tcp.sport': 22,
    'tcp.dport': 51000,
    'tcp.family': 10,
    'tcp.state': 2,
    'tcp.owner_src': OWNER_NONE,
    'tcp.count': 1,
    'tcp.segs': 1,
    'tcp.sock_ino': 55,
  });
  t.match(ev, { family: 'ipv6', saddr: '2001:db8::1', daddr: 'fe80::1ff:fe23:4567:890a', state: 'SYN_SENT', owner: 'none' });
  t.match(
    formatText(ev),
    /\[2001:db8::1\]:22 -> \[fe80::1ff:fe23:4567:890a\]:51000 SYN_SENT x1 \(1 segs\) owner unresolved \(socket inode 55\)$/,
  );
});

t.test('ipv6 text follows RFC 5952', async (t) => {
  const cases: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    [[0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001], '::ffff:10.0.0.1'],
    [[0x2001, 0xdb8, 0xabcd, 0x12, 0xffff, 0xffff, 0xffff, 0xffff], '2001:db8:abcd:12:ffff:ffff:ffff:ffff'],
  ];
  for (const [groups, text] of cases) t.equal(ipv6Text(new Uint8Array(ipv6Bytes(groups)), 0), text, text);
});

t.test('block_io', async (t) => {
  const { ev } = one(Kind.BLOCK_IO, {
    'io.dev': (7 << 20) | 0,
    'io.bytes': 524288,
    'io.sector': 2048,
    'io.latency_ns': 512_300_000,
    'io.device_ns': 512_300_000,
    'io.error': 0,
    'io.flags': IO_F_WRITE,
  });
  t.match(ev, {
    kind: 'block_io',
    dev: '7:0',
    op: 'write',
    bytes: 524288,
    sector: 2048,
    latency_ns: 512_300_000,
    device_ns: 512_300_000,
    error: 0,
    waiter: false,
    sync: false,
  });
  t.notOk('errno' in ev, 'no errno name on success');
  t.match(formatText(ev), / {2}dev 7:0 write 524288 B latency 512\.3 ms$/);

  const failed = one(Kind.BLOCK_IO, {
    'io.dev': (259 << 20) | 3,
    'io.bytes': 4096,
    'io.latency_ns': 1_500_000_000,
    'io.device_ns': 20_000_000,
    'io.error': -28,
    'io.flags': IO_F_WRITE | IO_F_WAITER,
  }).ev;
  t.match(failed, { dev: '259:3', error: -28, errno: 'ENOSPC', waiter: true, op: 'write' });
  t.match(formatText(failed), /dev 259:3 write 4096 B latency 1500\.0 ms \(waiter, device 20\.0 ms\) error ENOSPC$/);

  const flush = one(Kind.BLOCK_IO, { 'io.flags': IO_F_FLUSH, 'io.latency_ns': 50_000 }).ev;
  t.match(flush, { op: 'flush', dev: '0:0' });
  t.match(formatText(flush), /latency 0\.050 ms$/);
  t.match(one(Kind.BLOCK_IO, { 'io.flags': 0 }).ev, { op: 'read' });
});

t.test('exec', async (t) => {
  const { ev } = one(Kind.EXEC, { 'exec.ppid': 1, 'exec.filename': '/usr/bin/python3' });
  t.match(ev, { kind: 'exec', ppid: 1, filename: '/usr/bin/python3' });
  t.match(formatText(ev), /exec +\/usr\/bin\/python3 \(ppid 1\)$/);
});

t.test('exit', async (t) => {
  const code = one(Kind.EXIT, { 'exit.exit_code': 3, 'exit.ppid': 100, 'exit.runtime_ns': 12_000_000_000, 'exit.raw_status': 3 << 8 }).ev;
  t.match(code, { kind: 'exit', exit_code: 3, signal: 0, core_dumped: false, ppid: 100, runtime_ns: 12e9, raw_status: 768 });
  t.notOk('signal_name' in code);
  t.match(formatText(code), /exit code 3 after 12\.0 s \(ppid 100\)$/);

  const segv = one(Kind.EXIT, { 'exit.signal': 11, 'exit.core_dumped': 1, 'exit.raw_status': 0x8b, 'exit.runtime_ns': 250_000_000 }).ev;
  t.match(segv, { exit_code: 0, signal: 11, signal_name: 'SIGSEGV', core_dumped: true });
  t.match(formatText(segv), /killed by SIGSEGV \(core\) after 250\.0 ms/);
  t.match(one(Kind.EXIT, { 'exit.signal': 9 }).ev, { signal_name: 'SIGKILL' });
  t.match(one(Kind.EXIT, { 'exit.signal': 40 }).ev, { signal_name: 'SIGRTMIN+6' });
});

t.test('signal', async (t) => {
  const { ev } = one(Kind.SIGNAL, {
    'sig.target_pid': 777,
    'sig.target_tid': 778,
    'sig.sig': 9,
    'sig.result': 0,
    'sig.code': 0,
    'sig.handled': 0,
    'sig.target_comm': 'trainer',
    'sig.target_start_ns': 55n,
  });
  t.match(ev, {
    kind: 'signal',
    pid: 4242,
    target_pid: 777,
    target_tid: 778,
    target_comm: 'trainer',
    target_start_ns: '55',
    sig: 9,
    signal_name: 'SIGKILL',
    handled: false,
    result: 0,
    code: 0,
  });
  t.match(formatText(ev), /SIGKILL -> 777 trainer$/);
  const term = one(Kind.SIGNAL, { 'sig.sig': 15, 'sig.handled': 1, 'sig.result': 2, 'sig.code': -6 }).ev;
  t.match(term, { signal_name: 'SIGTERM', handled: true, result: 2, code: -6 });
  t.match(formatText(term), /SIGTERM -> 0 \(handled\) result 2$/);
});

t.test('oom_kill', async (t) => {
  const { ev } = one(Kind.OOM_KILL, {
    'oom.trigger_pid': 9000,
    'oom.trigger_comm': 'alloc',
    'oom.uid': 1000,
    'oom.total_vm_kb': 32 * 1024 * 1024,
    'oom.anon_rss_kb': 30 * 1024 * 1024,
    'oom.file_rss_kb': 2048,
    'oom.shmem_rss_kb': 0,
    'oom.oom_score_adj': -500,
  });
  t.match(ev, {
    kind: 'oom_kill',
    trigger_pid: 9000,
    trigger_comm: 'alloc',
    uid: 1000,
    total_vm_kb: 33554432,
    anon_rss_kb: 31457280,
    file_rss_kb: 2048,
    shmem_rss_kb: 0,
    oom_score_adj: -500,
  });
  t.match(formatText(ev), /oom-killed anon-rss 30\.0 GiB file-rss 2\.0 MiB .*oom_score_adj -500 \(trigger 9000 alloc\)$/);
});

t.test('offcpu', async (t) => {
  const { ev } = one(Kind.OFFCPU, {
    'off.duration_ns': 2_500_000_000,
    'off.max_ns': 2_500_000_000,
    'off.count': 1,
    'off.state': OFFCPU_BLOCKED,
    'off.flags': OFFCPU_F_IOWAIT,
    'off.waker_pid': 321,
    'off.waker_tid': 322,
    'off.waker_comm': 'kworker/u16:2',
    'off.waker_start_ns': 99n,
  });
  t.match(ev, {
    kind: 'offcpu',
    state: 'blocked',
    duration_ns: 2.5e9,
    max_ns: 2.5e9,
    count: 1,
    iowait: true,
    aggregate: false,
    waker_pid: 321,
    waker_tid: 322,
    waker_comm: 'kworker/u16:2',
    waker_start_ns: '99',
    waker_irq: false,
  });
  t.match(formatText(ev), /blocked iowait 2500\.0 ms woken by 321 kworker\/u16:2$/);
  const runq = one(Kind.OFFCPU, {
    'off.duration_ns': 40_000_000,
    'off.max_ns': 9_000_000,
    'off.count': 12,
    'off.state': OFFCPU_RUNQ,
    'off.flags': OFFCPU_F_AGGREGATE | OFFCPU_F_WAKER_IRQ,
  }).ev;
  t.match(runq, { state: 'runq', aggregate: true, waker_irq: true, count: 12 });
  t.match(formatText(runq), /runq 40\.0 ms over 12 waits \(max 9\.0 ms\) woken from irq\/idle$/);
  t.match(one(Kind.OFFCPU, { 'off.state': 1 }).ev, { state: 'sleep' });
});

t.test('synthetic test records (the reserved kind) decode as unknown', async (t) => {
  t.equal(kindName(KIND_SYNTHETIC), undefined, 'no kind has the reserved number');
  const { ev } = one(KIND_SYNTHETIC, { 'hdr.pid': 7 });
  t.match(ev, { kind: 'unknown', kind_id: KIND_SYNTHETIC, pid: 7 });
  t.match(formatText(ev), new RegExp(`kind ${KIND_SYNTHETIC}$`));
});

t.test('validate', async (t) => {
  const buf = pack([makeRecord(Kind.EXIT, {}), makeRecord(Kind.EXIT, { 'hdr.version': 2 }), makeRecord(0, {}), makeRecord(42, {})]);
  const b = RecordBatch.fromBytes(buf);
  t.equal(b.validate(0), null);
  t.match(b.validate(1), /unsupported record version 2/);
  t.match(b.validate(2), /unknown kind 0/);
  t.match(b.validate(3), /unknown kind 42/);
  t.match(b.validate(4), /out of range/);
  t.match(toEvent(b, 3, clock), { kind: 'unknown', kind_id: 42 }, 'toEvent does not throw on unknown kinds');
});

t.test('EventFilter', async (t) => {
  const b = RecordBatch.fromBytes(
    pack([
      makeRecord(Kind.EXIT, { 'hdr.pid': 1 }),
      makeRecord(Kind.SIGNAL, { 'hdr.pid': 2, 'sig.target_pid': 1 }),
      makeRecord(Kind.FORK, { 'hdr.pid': 2 }),
      makeRecord(Kind.EXEC, { 'hdr.pid': 3 }),
    ]),
  );
  const pass = (f: EventFilter): number[] => [0, 1, 2, 3].filter((i) => f.matches(b, i));
  t.same(pass(new EventFilter()), [0, 1, 2, 3]);
  t.ok(new EventFilter({}).isEmpty);
  t.same(pass(new EventFilter({ pids: [1] })), [0, 1], 'signal matches its target');
  t.same(pass(new EventFilter({ pids: [2] })), [1, 2]);
  t.same(pass(new EventFilter({ kinds: ['exit', 'exec'] })), [0, 3]);
  t.same(pass(new EventFilter({ pids: [2], kinds: ['fork'] })), [2]);
  t.throws(() => new EventFilter({ kinds: ['exits'] }), /unknown kind "exits"/);
  t.throws(() => new EventFilter({ pids: [1.5] }), /invalid pid/);
});

t.test('clock', async (t) => {
  const boot = 5_000_000_000n;
  const off = currentBootToWallOffsetNs(boot);
  const wallMs = Number((boot + off) / 1_000_000n);
  t.ok(Math.abs(wallMs - Date.now()) < 1000, 'offset maps boot now to wall now');
  t.equal(wallIso(BOOT_TS, clock), '2024-01-02T03:04:05.678Z');
  t.match(wallIso(1n, { bootToWallOffsetNs: 10n ** 29n }), /^invalid-time/, 'no throw out of range');
});
