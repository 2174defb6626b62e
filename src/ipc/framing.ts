// Length-delimited frames: a varint32 byte length, then that many bytes of
// protobuf message (the protobufjs encodeDelimited/decodeDelimited layout).
import { FrameError } from './errors';

export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** A varint32 takes at most 5 bytes; a 6th continuation byte means the stream is garbage. */
const MAX_VARINT_BYTES = 5;

/**
 * Splits a byte stream into frame payloads. Memory stays bounded: a length
 * above maxFrameBytes is rejected as soon as its prefix is read, so at most
 * one frame (<= maxFrameBytes) is ever held back. After a FrameError the
 * stream is desynchronised and every later push throws that error again.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  // length prefix being read: value so far and bytes consumed
  private lengthSoFar = 0;
  private lengthBytes = 0;
  // body being collected once the length is known (-1: reading a length prefix)
  private bodyLength = -1;
  private bodyParts: Buffer[] = [];
  private bodyReceived = 0;
  private failure: FrameError | undefined;

  constructor(opts: { maxFrameBytes?: number } = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** True when bytes of a frame not yet complete are held (a prefix or part of a body). */
  get hasPartialFrame(): boolean {
    return this.lengthBytes > 0 || this.bodyLength >= 0;
  }

  /** Bytes held back for an incomplete frame. */
  get bufferedBytes(): number {
    return this.bodyReceived + this.lengthBytes;
  }

  /**
   * Returns the payloads of the frames this chunk completes, in order. Throws
   * FrameError on an oversized or malformed length prefix; the frames completed
   * before it in the same chunk are on the error's completeFrames.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.failure) throw new FrameError(this.failure.code, this.failure.message);
    const frames: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.bodyLength < 0) {
        const byte = chunk[pos++]!;
        // multiply, not shift: the 5th byte may carry bits above 2^31
        this.lengthSoFar += (byte & 0x7f) * 2 ** (7 * this.lengthBytes);
        this.lengthBytes++;
        if (byte & 0x80) {
          if (this.lengthBytes >= MAX_VARINT_BYTES) {
            this.fail(new FrameError('MALFORMED_FRAME', `frame length prefix is longer than ${MAX_VARINT_BYTES} bytes`), frames);
          }
          continue;
        }
        const length = this.lengthSoFar;
        this.lengthSoFar = 0;
        this.lengthBytes = 0;
        if (length > this.maxFrameBytes) {
          this.fail(new FrameError('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the ${this.maxFrameBytes}-byte limit`), frames);
        }
        if (length === 0) {
          frames.push(Buffer.alloc(0));
          continue;
        }
        this.bodyLength = length;
        continue;
      }
      const take = Math.min(this.bodyLength - this.bodyReceived, chunk.length - pos);
      // whole frame inside this chunk: hand out a view, no copy
      const part = chunk.subarray(pos, pos + take);
      pos += take;
      if (this.bodyReceived === 0 && take === this.bodyLength) {
        frames.push(part);
        this.bodyLength = -1;
        continue;
      }
      // copy partial bodies so we do not pin whole socket chunks in memory
      this.bodyParts.push(Buffer.from(part));
      this.bodyReceived += take;
      if (this.bodyReceived === this.bodyLength) {
        frames.push(Buffer.concat(this.bodyParts, this.bodyLength));
        this.bodyParts = [];
        this.bodyReceived = 0;
        this.bodyLength = -1;
      }
    }
    return frames;
  }

  /** frames: those this push completed before the error, so the caller can still answer them */
  private fail(err: FrameError, frames: Buffer[]): never {
    err.completeFrames = frames;
    this.failure = err;
    this.bodyParts = [];
    this.bodyReceived = 0;
    this.bodyLength = -1;
    throw err;
  }
}
