/**
 * Appends record batches to a .xrec file. Batches from the addon are often
 * small (one ring drain), so records are coalesced into ~1 MiB chunks: one
 * write and one crc per chunk. Synchronous on purpose: the addon's buffers are
 * only valid during its callback, and a sync copy/write keeps that simple.
 */
import * as fs from 'node:fs';
import { RECORD_SIZE } from '../events/layout';
import { crc32 } from './crc32';
import { CHUNK_HEADER_SIZE, CHUNK_MAGIC, type HeaderInput, type RecordingHeader, encodePreamble, makeHeader } from './header';

export interface WriterOptions extends HeaderInput {
  /** Target chunk payload size; rounded down to whole records (default 1 MiB). */
  chunkBytes?: number;
}

export class RecordWriter {
  readonly path: string;
  readonly header: RecordingHeader;
  private fd: number | null;
  private readonly chunk: Buffer; // CHUNK_HEADER_SIZE + capacity * RECORD_SIZE
  private readonly capacity: number; // records per chunk
  private pending = 0; // records in chunk
  private recordsTotal = 0;
  private bytesTotal = 0;

  /** Creates (truncates) path and writes the header. fs errors propagate. */
  constructor(path: string, options: WriterOptions) {
    this.path = path;
    this.header = makeHeader(options);
    this.capacity = Math.max(1, Math.floor((options.chunkBytes ?? 1 << 20) / RECORD_SIZE));
    this.chunk = Buffer.allocUnsafeSlow(CHUNK_HEADER_SIZE + this.capacity * RECORD_SIZE);
    const fd = fs.openSync(path, 'w', 0o644);
    this.fd = fd;
    try {
      this.writeAll(encodePreamble(this.header));
    } catch (e) {
      this.fd = null;
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Records accepted so far (written or pending). */
  get records(): number {
    return this.recordsTotal;
  }

  /** Bytes written to the file so far (header included, pending chunk not). */
  get bytesWritten(): number {
    return this.bytesTotal;
  }

  /**
   * Copies `count` packed records starting at byteOffset (relative to the view
   * when given a typed array); the caller may reuse its buffer on return.
   */
  writeBatch(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number, count: number): void {
    if (this.fd === null) throw new Error(`RecordWriter(${this.path}) is closed`);
    const src = ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
    if (
      !Number.isInteger(count) ||
      count < 0 ||
      !Number.isInteger(byteOffset) ||
      byteOffset < 0 ||
      byteOffset + count * RECORD_SIZE > src.byteLength
    ) {
      throw new RangeError(`writeBatch: ${count} records at byte ${byteOffset} exceed buffer of ${src.byteLength} bytes`);
    }
    let pos = byteOffset;
    let left = count;
    while (left > 0) {
      const n = Math.min(left, this.capacity - this.pending);
      const dst = CHUNK_HEADER_SIZE + this.pending * RECORD_SIZE;
      this.chunk.set(src.subarray(pos, pos + n * RECORD_SIZE), dst);
      this.pending += n;
      pos += n * RECORD_SIZE;
      left -= n;
      if (this.pending === this.capacity) this.flush();
    }
    this.recordsTotal += count;
  }

  /** Writes the pending records as one chunk (no fsync). */
  flush(): void {
    if (this.fd === null || this.pending === 0) return;
    const end = CHUNK_HEADER_SIZE + this.pending * RECORD_SIZE;
    this.chunk.writeUInt32LE(CHUNK_MAGIC, 0);
    this.chunk.writeUInt32LE(this.pending, 4);
    this.chunk.writeUInt32LE(crc32(this.chunk, CHUNK_HEADER_SIZE, end), 8);
    this.writeAll(this.chunk.subarray(0, end));
    this.pending = 0;
  }

  /** Flushes, fsyncs and closes; safe to call twice. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    try {
      this.flush();
      fs.fsyncSync(fd);
    } finally {
      this.fd = null;
      fs.closeSync(fd);
    }
  }

  private writeAll(buf: Uint8Array): void {
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd as number, buf, off, buf.length - off);
    this.bytesTotal += buf.length;
  }
}
