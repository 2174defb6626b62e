/**
 * Reads .xrec recordings chunk by chunk into RecordBatches. Every problem with
 * the bytes (and any I/O failure) surfaces as a RecordingError naming the
 * byte offset; batches before a bad chunk are still delivered, so a recording
 * cut short by a crash replays up to the damage.
 */
import * as fs from 'node:fs';
import { RecordBatch } from '../events/decoder';
import { KIND_MAX, OFFSETS, RECORD_SIZE } from '../events/layout';
import { crc32 } from './crc32';
import {
  CHUNK_HEADER_SIZE,
  CHUNK_MAGIC,
  PREAMBLE_SIZE,
  type ChangedKind,
  type RecordingHeader,
  RecordingError,
  changedKinds,
  checkPreamble,
  parseHeader,
} from './header';

/** Random-access bytes: a file or an in-memory buffer. */
interface Source {
  readonly name: string;
  readonly size: number;
  /** Up to len bytes at pos (fewer only at end of data), in a fresh unpooled buffer. */
  read(pos: number, len: number): Buffer;
  close(): void;
}

function fileSource(path: string): Source {
  let fd: number;
  let size: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new RecordingError(`cannot open ${path}: ${(e as Error).message}`, 0, { cause: e });
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw new Error('is a directory');
    size = st.size;
  } catch (e) {
    fs.closeSync(fd);
    throw new RecordingError(`cannot read ${path}: ${(e as Error).message}`, 0, { cause: e });
  }
  let open = true;
  return {
    name: path,
    size,
    read(pos, len) {
      const n = Math.max(0, Math.min(len, size - pos));
      const buf = Buffer.allocUnsafeSlow(n);
      let got = 0;
      try {
        while (got < n) {
          const r = fs.readSync(fd, buf, got, n - got, pos + got);
          if (r === 0) break; // file shrank under us
          got += r;
        }
      } catch (e) {
        throw new RecordingError(`cannot read ${path} at byte ${pos + got}: ${(e as Error).message}`, pos + got, {
          cause: e,
        });
      }
      return got === n ? buf : buf.subarray(0, got);
    },
    close() {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

function bufferSource(bytes: Uint8Array, name: string): Source {
  return {
    name,
    size: bytes.byteLength,
    read(pos, len) {
      const end = Math.min(bytes.byteLength, pos + len);
      const out = Buffer.allocUnsafeSlow(Math.max(0, end - pos));
      out.set(bytes.subarray(pos, end));
      return out;
    },
    close() {},
  };
}

export interface RecordChunk {
  /** Byte offset of the chunk header in the file. */
  offset: number;
  batch: RecordBatch;
}

export class RecordReader implements Iterable<RecordBatch> {
  readonly header: RecordingHeader;
  /** Byte offset of the first chunk. */
  readonly dataOffset: number;
  /** Kinds whose layout changed since the file was written: their records are skipped (see `skipped`). */
  readonly changedKinds: readonly ChangedKind[];
  /** Records of changed kinds dropped so far. */
  skipped = 0;
  private readonly src: Source;
  /** skipKind[k] === 1: drop records of kind k; null when no kind changed. */
  private readonly skipKind: Uint8Array | null;

  private constructor(src: Source) {
    this.src = src;
    try {
      const len = checkPreamble(src.read(0, PREAMBLE_SIZE), src.size);
      this.header = parseHeader(src.read(PREAMBLE_SIZE, len));
      this.dataOffset = PREAMBLE_SIZE + len;
      this.changedKinds = changedKinds(this.header);
      this.skipKind = this.changedKinds.length ? new Uint8Array(KIND_MAX + 1) : null;
      for (const k of this.changedKinds) this.skipKind![k.id] = 1;
    } catch (e) {
      src.close();
      throw e instanceof RecordingError ? e : new RecordingError(`unreadable header: ${String(e)}`, 0, { cause: e });
    }
  }

  /** Opens and validates the header; throws RecordingError. */
  static open(path: string): RecordReader {
    return new RecordReader(fileSource(path));
  }

  /** Same over bytes already in memory. */
  static fromBytes(bytes: Uint8Array, name = '<memory>'): RecordReader {
    return new RecordReader(bufferSource(bytes, name));
  }

  get name(): string {
    return this.src.name;
  }

  get fileSize(): number {
    return this.src.size;
  }

  /** Chunks in file order, each checked (magic, length, crc) before it is yielded. */
  *chunks(): Generator<RecordChunk, void, undefined> {
    const size = this.src.size;
    let pos = this.dataOffset;
    while (pos < size) {
      const h = this.src.read(pos, CHUNK_HEADER_SIZE);
      if (h.length < CHUNK_HEADER_SIZE) {
        throw new RecordingError(`truncated chunk header at byte ${pos}: need ${CHUNK_HEADER_SIZE} bytes, only ${h.length} remain`, pos);
      }
      const magic = h.readUInt32LE(0);
      if (magic !== CHUNK_MAGIC) {
        throw new RecordingError(`bad chunk magic at byte ${pos} (0x${magic.toString(16).padStart(8, '0')})`, pos);
      }
      const count = h.readUInt32LE(4);
      const stored = h.readUInt32LE(8);
      const bytes = count * RECORD_SIZE;
      const remain = size - pos - CHUNK_HEADER_SIZE;
      if (bytes > remain) {
        throw new RecordingError(
          `truncated chunk at byte ${pos}: header says ${count} records (${bytes} bytes), only ${remain} bytes remain`,
          pos,
        );
      }
      const payload = this.src.read(pos + CHUNK_HEADER_SIZE, bytes);
      if (payload.length < bytes) {
        throw new RecordingError(
          `truncated chunk at byte ${pos}: header says ${count} records (${bytes} bytes), only ${payload.length} bytes remain`,
          pos,
        );
      }
      const computed = crc32(payload);
      if (computed !== stored) {
        throw new RecordingError(
          `corrupt chunk at byte ${pos}: crc32 mismatch (stored ${hex32(stored)}, computed ${hex32(computed)})`,
          pos,
        );
      }
      const kept = this.skipKind ? this.dropSkipped(payload, count) : count;
      yield { offset: pos, batch: new RecordBatch(payload.buffer as ArrayBuffer, payload.byteOffset, kept) };
      pos += CHUNK_HEADER_SIZE + bytes;
    }
  }

  /** Moves the records of unchanged kinds to the front of payload (a fresh buffer); returns how many. */
  private dropSkipped(payload: Buffer, count: number): number {
    const skip = this.skipKind!;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const at = i * RECORD_SIZE;
      if (skip[payload.readUInt16LE(at + OFFSETS['hdr.kind'])] === 1) continue;
      if (kept !== i) payload.copy(payload, kept * RECORD_SIZE, at, at + RECORD_SIZE);
      kept++;
    }
    this.skipped += count - kept;
    return kept;
  }

  *batches(): Generator<RecordBatch, void, undefined> {
    for (const c of this.chunks()) yield c.batch;
  }

  [Symbol.iterator](): Iterator<RecordBatch> {
    return this.batches();
  }

  close(): void {
    this.src.close();
  }
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

export interface Recording {
  header: RecordingHeader;
  batches: RecordBatch[];
  records: number;
}

/** Whole recording in memory (tests, small files); throws RecordingError. */
export function readRecording(path: string): Recording {
  const r = RecordReader.open(path);
  try {
    const batches: RecordBatch[] = [];
    let records = 0;
    for (const b of r) {
      batches.push(b);
      records += b.count;
    }
    return { header: r.header, batches, records };
  } finally {
    r.close();
  }
}
