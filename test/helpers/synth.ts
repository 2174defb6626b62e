/**
 * Synthetic records for tests: fields are written at their layout.ts offsets
 * with their declared widths, so tests exercise the same offsets the decoder
 * reads (and the addon exports).
 */
import { FIELDS, type FieldName, type Kind, RECORD_SIZE, RECORD_VERSION } from '../../src/events/layout';

export type FieldValue = number | bigint | string | Uint8Array | readonly number[];
export type RecordFields = Partial<Record<FieldName, FieldValue>>;

/** One 128-byte record; hdr.version and hdr.kind default to RECORD_VERSION and `kind`. */
export function makeRecord(kind: Kind | number, fields: RecordFields = {}): Buffer {
  const buf = Buffer.alloc(RECORD_SIZE);
  const all: RecordFields = { 'hdr.version': RECORD_VERSION, 'hdr.kind': kind, ...fields };
  for (const [name, value] of Object.entries(all) as [FieldName, FieldValue][]) {
    const f = FIELDS[name];
    if (!f) throw new Error(`synth: unknown field ${name}`);
    const len = 'len' in f ? f.len : 0;
    switch (f.type) {
      case 'u8':
        buf.writeUInt8(Number(value), f.off);
        break;
      case 'u16':
        buf.writeUInt16LE(Number(value), f.off);
        break;
      case 'u32':
        buf.writeUInt32LE(Number(value), f.off);
        break;
      case 's32':
        buf.writeInt32LE(Number(value), f.off);
        break;
      case 'u64':
        buf.writeBigUInt64LE(BigInt(value as number | bigint), f.off);
        break;
      case 'str': {
        const b = Buffer.from(String(value), 'utf8');
        if (b.length > len) throw new Error(`synth: ${name} longer than ${len} bytes`);
        b.copy(buf, f.off); // rest stays NUL; a full-length string has no NUL, like the kernel's
        break;
      }
      case 'bytes': {
        const b = Buffer.from(value as Uint8Array | readonly number[]);
        if (b.length > len) throw new Error(`synth: ${name} longer than ${len} bytes`);
        b.copy(buf, f.off);
        break;
      }
    }
  }
  return buf;
}

/** Records packed back to back, as the addon delivers them. */
export function pack(records: readonly Uint8Array[]): Buffer {
  return Buffer.concat(records);
}

/** 16-byte address field holding an IPv4 address in the first 4 bytes. */
export function ipv4Bytes(text: string): number[] {
  const parts = text.split('.').map(Number);
  return [...parts, ...new Array<number>(12).fill(0)];
}

/** 16 bytes of a full (uncompressed, 8-group) IPv6 address text. */
export function ipv6Bytes(groups: readonly number[]): number[] {
  if (groups.length !== 8) throw new Error('synth: need 8 groups');
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}
