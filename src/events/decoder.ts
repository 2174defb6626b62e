/**
 * Zero-copy view over packed 128-byte records (bpf/xctl_record.h).
 *
 * Hot-path consumers loop by index and read fields through accessors, so no
 * per-event object is created:
 *   for (let i = 0; i < b.count; i++) if (b.kind(i) === Kind.EXIT) ...
 * Only string accessors allocate (the string itself).
 */
import { COMM_LEN, KIND_MAX, OFFSETS, RECORD_SIZE, RECORD_VERSION } from './layout';

const TWO_32 = 4294967296;

export class RecordBatch {
  readonly buffer: ArrayBuffer;
  readonly byteOffset: number;
  readonly count: number;
  readonly byteLength: number;
  private readonly dv: DataView;
  private readonly bytes: Uint8Array;
  /** Buffer view over the same bytes: toString(enc, start, end) decodes without a sub-view. */
  private readonly nb: Buffer;

  constructor(buffer: ArrayBuffer, byteOffset = 0, count = Math.floor((buffer.byteLength - byteOffset) / RECORD_SIZE)) {
    if (!Number.isInteger(count) || count < 0 || !Number.isInteger(byteOffset) || byteOffset < 0) {
      throw new RangeError(`RecordBatch: bad byteOffset ${byteOffset} / count ${count}`);
    }
    const byteLength = count * RECORD_SIZE;
    if (byteOffset + byteLength > buffer.byteLength) {
      throw new RangeError(
        `RecordBatch: ${count} records at byte ${byteOffset} need ${byteLength} bytes, buffer has ${buffer.byteLength - byteOffset}`,
      );
    }
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.count = count;
    this.byteLength = byteLength;
    this.dv = new DataView(buffer, byteOffset, byteLength);
    this.bytes = new Uint8Array(buffer, byteOffset, byteLength);
    this.nb = Buffer.from(buffer, byteOffset, byteLength);
  }

  /** View over the bytes of a Buffer/Uint8Array (no copy). */
  static fromBytes(bytes: Uint8Array, count = Math.floor(bytes.byteLength / RECORD_SIZE)): RecordBatch {
    return new RecordBatch(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  }

  /** Copy, for keeping a batch past the addon's buffer rotation. */
  clone(): RecordBatch {
    return new RecordBatch(this.buffer.slice(this.byteOffset, this.byteOffset + this.byteLength), 0, this.count);
  }

  /** The raw 128 bytes of record i (a view, not a copy). */
  recordBytes(i: number): Uint8Array {
    return this.bytes.subarray(i * RECORD_SIZE, (i + 1) * RECORD_SIZE);
  }

  // --- raw field access: off is absolute within the record (OFFSETS) ---

  u8(i: number, off: number): number {
    return this.bytes[i * RECORD_SIZE + off] ?? 0;
  }
  u16(i: number, off: number): number {
    return this.dv.getUint16(i * RECORD_SIZE + off, true);
  }
  u32(i: number, off: number): number {
    return this.dv.getUint32(i * RECORD_SIZE + off, true);
  }
  s32(i: number, off: number): number {
    return this.dv.getInt32(i * RECORD_SIZE + off, true);
  }
  u64(i: number, off: number): bigint {
    return this.dv.getBigUint64(i * RECORD_SIZE + off, true);
  }
  /** u64 as a double without a BigInt: exact below 2^53 (durations, sizes). */
  u64Number(i: number, off: number): number {
    const p = i * RECORD_SIZE + off;
    return this.dv.getUint32(p, true) + this.dv.getUint32(p + 4, true) * TWO_32;
  }

  /** NUL-terminated string of at most maxLen bytes; ASCII decodes as latin1 (fastest), else utf8. */
  str(i: number, off: number, maxLen: number): string {
    const start = i * RECORD_SIZE + off;
    const bytes = this.bytes;
    let end = start;
    let ascii = true;
    const limit = start + maxLen;
    for (; end < limit; end++) {
      const c = bytes[end] ?? 0;
      if (c === 0) break;
      if (c > 0x7f) ascii = false;
    }
    if (end === start) return '';
    return this.nb.toString(ascii ? 'latin1' : 'utf8', start, end);
  }

  // --- header ---

  tsNs(i: number): bigint {
    return this.u64(i, OFFSETS['hdr.ts_ns']);
  }
  /** Boot-time milliseconds as a double (sub-ms fraction kept). */
  tsMs(i: number): number {
    return this.u64Number(i, OFFSETS['hdr.ts_ns']) / 1e6;
  }
  startNs(i: number): bigint {
    return this.u64(i, OFFSETS['hdr.start_ns']);
  }
  cgroupId(i: number): bigint {
    return this.u64(i, OFFSETS['hdr.cgroup_id']);
  }
  pid(i: number): number {
    return this.u32(i, OFFSETS['hdr.pid']);
  }
  tid(i: number): number {
    return this.u32(i, OFFSETS['hdr.tid']);
  }
  kind(i: number): number {
    return this.u16(i, OFFSETS['hdr.kind']);
  }
  version(i: number): number {
    return this.u8(i, OFFSETS['hdr.version']);
  }
  flags(i: number): number {
    return this.u8(i, OFFSETS['hdr.flags']);
  }
  cpu(i: number): number {
    return this.u32(i, OFFSETS['hdr.cpu']);
  }
  comm(i: number): string {
    return this.str(i, OFFSETS['hdr.comm'], COMM_LEN);
  }

  /** null if record i is well-formed for this build, else why not. */
  validate(i: number): string | null {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) return `record index ${i} out of range (batch has ${this.count})`;
    const v = this.version(i);
    if (v !== RECORD_VERSION) return `record ${i}: unsupported record version ${v} (expected ${RECORD_VERSION})`;
    const k = this.kind(i);
    if (k < 1 || k > KIND_MAX) return `record ${i}: unknown kind ${k}`;
    return null;
  }
}
