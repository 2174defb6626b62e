// The .xrec format: byte-exact round trips, and every kind of damage reported
// as a RecordingError naming the right byte offset (never any other throw).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kind, LAYOUT_HASH, RECORD_SIZE } from '../src/events/layout';
import { CHUNK_HEADER_SIZE, PREAMBLE_SIZE, RecordReader, RecordWriter, RecordingError, crc32, readRecording } from '../src/record/file';
import { encodePreamble, makeHeader } from '../src/record/header';
import { ipv4Bytes, makeRecord, pack } from './helpers/synth';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-rec-test-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const tmp = (): string => path.join(dir, `r${fileNo++}.xrec`);

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** n records cycling through every kind, each with distinguishing content. */
function synthRecords(n: number): Buffer {
  const recs: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const kind = (i % 9) + 1;
    recs.push(
      makeRecord(kind, {
        'hdr.ts_ns': 1_000_000_000n + BigInt(i) * 1000n,
        'hdr.pid': 1000 + i,
        'hdr.tid': 2000 + i,
        'hdr.comm': `proc${i}`,
        'hdr.cpu': i % 64,
        ...(kind === Kind.TCP_RETRANSMIT ? { 'tcp.saddr': ipv4Bytes('10.0.0.1'), 'tcp.count': i } : {}),
        ...(kind === Kind.OFFCPU ? { 'off.duration_ns': i, 'off.max_ns': 0xffff_ffff_ffff_ffffn } : {}),
        ...(kind === Kind.EXIT ? { 'exit.exit_code': -1, 'exit.signal': 11 } : {}),
      }),
    );
  }
  return pack(recs);
}

const OPTS = { bootToWallOffsetNs: 1_700_000_000_000_000_000n, families: ['net', 'proc'], meta: { note: 'test', n: 1 } };

/** Writes records in uneven batches (at a non-zero byteOffset) with small chunks. */
function writeFile(p: string, records: Buffer, chunkRecords = 10): void {
  const w = new RecordWriter(p, { ...OPTS, chunkBytes: chunkRecords * RECORD_SIZE });
  const padded = Buffer.concat([Buffer.alloc(RECORD_SIZE * 2, 0xee), records]);
  const total = records.length / RECORD_SIZE;
  let done = 0;
  const sizes = [1, 3, 7, 0, 13, 2];
  for (let k = 0; done < total; k++) {
    const n = Math.min(sizes[k % sizes.length] as number, total - done);
    w.writeBatch(padded.buffer as ArrayBuffer, padded.byteOffset + RECORD_SIZE * (2 + done), n);
    done += n;
  }
  t.equal(w.records, total);
  w.close();
  w.close(); // idempotent
}

/** Everything a reader yields before failing (or finishing), and the error. */
function drain(r: RecordReader): { data: Buffer; error: unknown } {
  const parts: Buffer[] = [];
  try {
    for (const b of r) parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    return { data: Buffer.concat(parts), error: null };
  } catch (e) {
    return { data: Buffer.concat(parts), error: e };
  } finally {
    r.close();
  }
}

/** Opens and drains bytes; header errors and chunk errors both land in `error`. */
function readAll(bytes: Uint8Array): { data: Buffer; error: unknown } {
  let r: RecordReader;
  try {
    r = RecordReader.fromBytes(bytes);
  } catch (e) {
    return { data: Buffer.alloc(0), error: e };
  }
  return drain(r);
}

function expectError(t: Tap, bytes: Uint8Array, offset: number, message: RegExp | string, what: string): void {
  const err = readAll(bytes).error;
  t.type(err, RecordingError, `${what}: RecordingError`);
  if (err instanceof RecordingError) {
    t.equal(err.offset, offset, `${what}: offset`);
    if (typeof message === 'string') t.equal(err.message, message, `${what}: message`);
    else t.match(err.message, message, `${what}: message`);
  }
}
type Tap = tap.Test;

t.test('crc32', async (t) => {
  t.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'IEEE check value');
  t.equal(crc32(Buffer.alloc(0)), 0);
  const naive = (b: Uint8Array): number => {
    let c = 0xffffffff;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  const r = rng(1);
  for (let n = 0; n < 200; n++) {
    const b = Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
    t.equal(crc32(b), naive(b), `length ${n}`);
    const cut = Math.floor(n / 3);
    t.equal(crc32(b, cut, n, crc32(b, 0, cut)), naive(b), `length ${n} continued`);
  }
});

t.test('round trip is byte-exact, header fields kept', async (t) => {
  const records = synthRecords(95);
  const p = tmp();
  const before = Date.now();
  writeFile(p, records);
  const rec = readRecording(p);
  t.equal(rec.records, 95);
  t.equal(rec.batches.length, 10, '95 records in chunks of 10');
  const back = Buffer.concat(rec.batches.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
  t.ok(back.equals(records), 'all records byte-identical');
  const h = rec.header;
  t.equal(h.record_version, 1);
  t.equal(h.record_size, 128);
  t.equal(h.layout_hash, LAYOUT_HASH);
  t.equal(h.boot_to_wall_offset_ns, '1700000000000000000');
  t.equal(h.host, os.hostname());
  t.equal(h.kernel, os.release());
  t.same(h.families, ['net', 'proc']);
  t.same(h.meta, { note: 'test', n: 1 });
  const created = Date.parse(h.created);
  t.ok(created >= before - 1000 && created <= Date.now() + 1000, 'created is now');
  t.equal(rec.batches[3]?.pid(2), 1032, 'batches decode');

  const reader = RecordReader.open(p);
  const offsets = [...reader.chunks()].map((c) => c.offset);
  reader.close();
  t.equal(offsets[0], reader.dataOffset);
  t.equal(offsets[1], reader.dataOffset + CHUNK_HEADER_SIZE + 10 * RECORD_SIZE);
});

t.test('default chunking coalesces to ~1 MiB and flushes the rest on close', async (t) => {
  const records = synthRecords(9000);
  const p = tmp();
  const w = new RecordWriter(p, OPTS);
  for (let i = 0; i < 9000; i += 100) w.writeBatch(records, i * RECORD_SIZE, 100);
  w.close();
  const rec = readRecording(p);
  t.same(
    rec.batches.map((b) => b.count),
    [8192, 808],
  );
  t.ok(Buffer.concat(rec.batches.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))).equals(records));
  t.equal(w.bytesWritten, fs.statSync(p).size);
});

t.test('empty recording, and writer misuse', async (t) => {
  const p = tmp();
  const w = new RecordWriter(p, { bootToWallOffsetNs: -5n, families: [] });
  t.throws(() => w.writeBatch(new ArrayBuffer(256), 128, 2), RangeError);
  w.writeBatch(new Uint8Array(0), 0, 0);
  w.close();
  t.throws(() => w.writeBatch(new ArrayBuffer(128), 0, 1), /closed/);
  const rec = readRecording(p);
  t.equal(rec.records, 0);
  t.same(rec.batches, []);
  t.equal(rec.header.boot_to_wall_offset_ns, '-5');
  t.same(rec.header.meta, {});
});

t.test('truncation at any point is reported at the right offset', async (t) => {
  const records = synthRecords(25);
  const p = tmp();
  writeFile(p, records); // chunks of 10, 10, 5
  const full = fs.readFileSync(p);
  const D = RecordReader.fromBytes(full).dataOffset;
  const chunk = CHUNK_HEADER_SIZE + 10 * RECORD_SIZE;
  const hlen = D - PREAMBLE_SIZE;

  expectError(t, full.subarray(0, 0), 0, 'not an xctl recording (empty file at byte 0)', 'empty');
  expectError(t, full.subarray(0, 5), 0, /^truncated file header at byte 0/, 'inside magic');
  expectError(t, full.subarray(0, 12), 0, /^truncated file header at byte 0: need 16 bytes, only 12 remain/, 'inside preamble');
  expectError(
    t,
    full.subarray(0, PREAMBLE_SIZE + 10),
    16,
    `truncated header at byte 16: header says ${hlen} bytes, only 10 bytes remain`,
    'inside JSON',
  );
  expectError(t, full.subarray(0, D + 5), D, `truncated chunk header at byte ${D}: need 12 bytes, only 5 remain`, 'chunk header');
  expectError(
    t,
    full.subarray(0, D + CHUNK_HEADER_SIZE + 100),
    D,
    `truncated chunk at byte ${D}: header says 10 records (1280 bytes), only 100 bytes remain`,
    'first payload',
  );
  expectError(
    t,
    full.subarray(0, D + chunk + CHUNK_HEADER_SIZE + 1279),
    D + chunk,
    /^truncated chunk at byte \d+: header says 10 records \(1280 bytes\), only 1279 bytes remain$/,
    'second payload',
  );

  // a cut inside chunk 2 still delivers chunk 1 first (crash-truncated recordings replay up to the damage)
  const partial = drain(RecordReader.fromBytes(full.subarray(0, D + chunk + 40)));
  t.ok(partial.data.equals(records.subarray(0, 10 * RECORD_SIZE)), 'chunk before the cut delivered');
  t.type(partial.error, RecordingError);
  // a cut on a chunk boundary is a valid, shorter recording
  const clean = drain(RecordReader.fromBytes(full.subarray(0, D + 2 * chunk)));
  t.equal(clean.error, null);
  t.ok(clean.data.equals(records.subarray(0, 20 * RECORD_SIZE)));

  // same through a real file
  const cut = tmp();
  fs.writeFileSync(cut, full.subarray(0, D + CHUNK_HEADER_SIZE + 100));
  t.throws(
    () => readRecording(cut),
    new RecordingError(`truncated chunk at byte ${D}: header says 10 records (1280 bytes), only 100 bytes remain`, D),
  );
});

t.test('corruption', async (t) => {
  const p = tmp();
  writeFile(p, synthRecords(25));
  const full = fs.readFileSync(p);
  const D = RecordReader.fromBytes(full).dataOffset;
  const chunk = CHUNK_HEADER_SIZE + 10 * RECORD_SIZE;

  const flip = (at: number): Buffer => {
    const b = Buffer.from(full);
    b[at] = (b[at] as number) ^ 0x40;
    return b;
  };
  expectError(
    t,
    flip(D + CHUNK_HEADER_SIZE + 77),
    D,
    /^corrupt chunk at byte \d+: crc32 mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)$/,
    'payload flip',
  );
  expectError(t, flip(D + chunk + CHUNK_HEADER_SIZE + 1000), D + chunk, /^corrupt chunk at byte/, 'second chunk flip');
  expectError(t, flip(D + 8), D, /^corrupt chunk at byte/, 'stored crc flip');
  expectError(t, flip(D + chunk), D + chunk, `bad chunk magic at byte ${D + chunk} (0x58424114)`, 'chunk magic');
  expectError(t, flip(D + 5), D, /^truncated chunk at byte \d+: header says 16394 records/, 'record count');
  expectError(t, flip(3), 0, 'not an xctl recording (bad magic at byte 0)', 'file magic');

  const v7 = Buffer.from(full);
  v7.writeUInt32LE(7, 8);
  expectError(t, v7, 8, 'unsupported recording format version 7 at byte 8 (this xctl reads 1)', 'format version');
  const hugeHeader = Buffer.from(full);
  hugeHeader.writeUInt32LE(0xffffffff, 12);
  expectError(t, hugeHeader, 12, /^implausible header length 4294967295 at byte 12/, 'header length');
  expectError(t, Buffer.from('PK\x03\x04 definitely a zip file'), 0, 'not an xctl recording (bad magic at byte 0)', 'other format');
});

t.test('header validation', async (t) => {
  const chunkless = (h: object): Buffer => {
    const json = Buffer.from(JSON.stringify(h));
    const pre = encodePreamble(makeHeader({ bootToWallOffsetNs: 0n, families: [] }));
    pre.writeUInt32LE(json.length, 12);
    return Buffer.concat([pre.subarray(0, PREAMBLE_SIZE), json]);
  };
  const good = makeHeader({ bootToWallOffsetNs: 0n, families: ['io'] });
  t.same(RecordReader.fromBytes(chunkless(good)).header.families, ['io'], 'baseline is valid');
  t.same(RecordReader.fromBytes(chunkless({ ...good, future_field: [1] })).header.future_field, [1], 'unknown keys kept');

  expectError(
    t,
    chunkless({ ...good, kind_layouts: undefined, layout_hash: 'deadbeefdeadbeef' }),
    16,
    `record layout mismatch: file layout hash deadbeefdeadbeef, this build ${LAYOUT_HASH}`,
    'layout hash',
  );
  expectError(
    t,
    chunkless({ ...good, record_size: 64 }),
    16,
    'unsupported record size 64 (this xctl reads 128-byte records)',
    'record size',
  );
  expectError(t, chunkless({ ...good, record_version: 2 }), 16, 'unsupported record version 2 (this xctl reads 1)', 'record version');
  expectError(
    t,
    chunkless({ ...good, record_size: undefined }),
    16,
    /^invalid header at byte 16: missing or non-numeric record_size$/,
    'missing size',
  );
  expectError(t, chunkless({ ...good, boot_to_wall_offset_ns: 12 }), 16, /boot_to_wall_offset_ns must be a decimal string/, 'offset type');
  expectError(t, chunkless({ ...good, families: 'net' }), 16, /families must be an array/, 'families type');
  expectError(t, chunkless({ ...good, host: 7 }), 16, /host must be a string/, 'host type');
  expectError(t, chunkless([1, 2]), 16, /not a JSON object/, 'array header');

  const badJson = chunkless(good);
  badJson[PREAMBLE_SIZE] = 0x78; // 'x' for the opening brace
  expectError(t, badJson, 16, /^invalid JSON header at byte 16: /, 'invalid JSON');
});

t.test('files that cannot be read', async (t) => {
  t.throws(() => readRecording(path.join(dir, 'missing.xrec')), {
    name: 'RecordingError',
    message: /^cannot open .*missing\.xrec: ENOENT/,
  });
  t.throws(() => readRecording(dir), { name: 'RecordingError', message: /is a directory/ });
});

t.test('garbage never throws anything but RecordingError', async (t) => {
  const p = tmp();
  writeFile(p, synthRecords(12), 4);
  const valid = fs.readFileSync(p);
  const r = rng(42);
  const outcomes = { ok: 0, recordingError: 0 };
  const tryRead = (bytes: Uint8Array, what: string): void => {
    const { error } = readAll(bytes);
    if (error === null) outcomes.ok++;
    else if (error instanceof RecordingError && Number.isInteger(error.offset) && error.offset >= 0 && error.offset <= bytes.length) {
      outcomes.recordingError++;
    } else {
      t.fail(`${what}: ${String(error)}`);
    }
  };
  for (let k = 0; k < 300; k++) {
    const n = Math.floor(r() * 2000);
    tryRead(Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256))), `random ${k}`);
  }
  // random tails after a valid preamble reach the JSON and chunk parsers
  for (let k = 0; k < 300; k++) {
    const n = Math.floor(r() * 400);
    const tail = Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
    const b = Buffer.concat([valid.subarray(0, Math.floor(r() * valid.length)), tail]);
    tryRead(b, `valid prefix + random ${k}`);
  }
  // every truncation and every single-byte change of a small valid file
  for (let cut = 0; cut <= valid.length; cut++) tryRead(valid.subarray(0, cut), `cut ${cut}`);
  for (let at = 0; at < valid.length; at++) {
    const b = Buffer.from(valid);
    b[at] = (b[at] as number) ^ (1 + Math.floor(r() * 255));
    tryRead(b, `mutate ${at}`);
  }
  t.ok(outcomes.recordingError > 0 && outcomes.ok > 0, `outcomes ${JSON.stringify(outcomes)}`);

  const g = tmp();
  fs.writeFileSync(g, Buffer.from(Array.from({ length: 5000 }, () => Math.floor(r() * 256))));
  t.throws(() => readRecording(g), RecordingError, 'random file on disk');
});
