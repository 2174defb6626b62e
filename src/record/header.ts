/**
 * The .xrec container: constants, the error type, and the JSON header.
 *
 *   byte 0   "XCTLREC\0"              magic
 *   byte 8   u32 format version (1)
 *   byte 12  u32 N = JSON header length
 *   byte 16  N bytes of utf8 JSON      (RecordingHeader)
 *   then chunks, each:
 *            u32 0x58424154 ("XBAT")   chunk magic
 *            u32 record count
 *            u32 crc32 of the payload
 *            count * 128 bytes         records, exactly as the kernel wrote them
 *
 * All integers are little-endian (so the chunk magic reads "TABX" in a hex
 * dump). Records are stored raw: a recording replays through the same decoder
 * as a live session. kind_layouts (one layout hash for the common header and
 * one per kind) makes a build skip the records of a kind whose layout changed,
 * naming it, and refuse a file whose header layout changed; adding a kind
 * leaves older recordings readable. Files from before kind_layouts carry only
 * layout_hash, read through LEGACY_LAYOUTS.
 */
import { XctlError } from '../errors';
import * as os from 'node:os';
import { KIND_IDS, KIND_LAYOUT_HASHES, KIND_TABLE, LAYOUT_HASH, RECORD_SIZE, RECORD_VERSION } from '../events/layout';
import { LEGACY_LAYOUTS } from './legacy-layouts';

export const FILE_MAGIC: Buffer = Buffer.from('XCTLREC\0', 'latin1');
export const FORMAT_VERSION = 1;
export const PREAMBLE_SIZE = 16;
export const CHUNK_MAGIC = 0x58424154;
export const CHUNK_HEADER_SIZE = 12;
/** Sanity bound so a corrupt length cannot make us allocate gigabytes. */
export const MAX_HEADER_BYTES = 1 << 20;

/** Any problem with a recording's bytes; offset = start of the offending structure. */
export class RecordingError extends XctlError {
  readonly offset: number;
  constructor(message: string, offset: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecordingError';
    this.offset = offset;
  }
}

export interface RecordingHeader {
  record_version: number;
  record_size: number;
  /** One hash over the whole layout (what builds before kind_layouts checked). */
  layout_hash: string;
  /** Layout hash of the common header ('hdr') and of each kind, by kind name. */
  kind_layouts?: Record<string, string>;
  boot_to_wall_offset_ns: string; // bigint as decimal
  host: string;
  kernel: string;
  created: string; // ISO-8601
  families: string[];
  meta: Record<string, unknown>;
  [extra: string]: unknown; // written by newer builds; kept, ignored
}

export interface HeaderInput {
  bootToWallOffsetNs: bigint;
  families: readonly string[];
  meta?: Record<string, unknown>;
}

export function makeHeader(input: HeaderInput): RecordingHeader {
  return {
    record_version: RECORD_VERSION,
    record_size: RECORD_SIZE,
    layout_hash: LAYOUT_HASH,
    kind_layouts: { ...KIND_LAYOUT_HASHES },
    boot_to_wall_offset_ns: input.bootToWallOffsetNs.toString(),
    host: os.hostname(),
    kernel: os.release(),
    created: new Date().toISOString(),
    families: [...input.families],
    meta: input.meta ?? {},
  };
}

/** Magic, format version, header length, then the JSON. */
export function encodePreamble(header: RecordingHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(PREAMBLE_SIZE + json.length);
  FILE_MAGIC.copy(out, 0);
  out.writeUInt32LE(FORMAT_VERSION, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, PREAMBLE_SIZE);
  return out;
}

/**
 * Checks the first 16 bytes (fewer if the file is shorter) and returns the
 * JSON length. `size` is the whole file's size.
 */
export function checkPreamble(pre: Buffer, size: number): number {
  if (size === 0) throw new RecordingError('not an xctl recording (empty file at byte 0)', 0);
  const n = Math.min(pre.length, FILE_MAGIC.length);
  if (!pre.subarray(0, n).equals(FILE_MAGIC.subarray(0, n))) {
    throw new RecordingError('not an xctl recording (bad magic at byte 0)', 0);
  }
  if (pre.length < PREAMBLE_SIZE) {
    throw new RecordingError(`truncated file header at byte 0: need ${PREAMBLE_SIZE} bytes, only ${pre.length} remain`, 0);
  }
  const version = pre.readUInt32LE(8);
  if (version !== FORMAT_VERSION) {
    throw new RecordingError(`unsupported recording format version ${version} at byte 8 (this xctl reads ${FORMAT_VERSION})`, 8);
  }
  const len = pre.readUInt32LE(12);
  if (len > MAX_HEADER_BYTES) {
    throw new RecordingError(`implausible header length ${len} at byte 12 (limit ${MAX_HEADER_BYTES})`, 12);
  }
  const remain = size - PREAMBLE_SIZE;
  if (len > remain) {
    throw new RecordingError(
      `truncated header at byte ${PREAMBLE_SIZE}: header says ${len} bytes, only ${remain} bytes remain`,
      PREAMBLE_SIZE,
    );
  }
  return len;
}

function bad(what: string): RecordingError {
  return new RecordingError(`invalid header at byte ${PREAMBLE_SIZE}: ${what}`, PREAMBLE_SIZE);
}

function optString(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (v === undefined) return '';
  if (typeof v !== 'string') throw bad(`${key} must be a string`);
  return v;
}

/** Parses and validates the JSON header against this build's record layout. */
export function parseHeader(json: Buffer): RecordingHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw new RecordingError(`invalid JSON header at byte ${PREAMBLE_SIZE}: ${(e as Error).message}`, PREAMBLE_SIZE, { cause: e });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not a JSON object');
  const o = raw as Record<string, unknown>;

  const size = o.record_size;
  if (typeof size !== 'number') throw bad('missing or non-numeric record_size');
  if (size !== RECORD_SIZE) {
    throw new RecordingError(`unsupported record size ${size} (this xctl reads ${RECORD_SIZE}-byte records)`, PREAMBLE_SIZE);
  }
  const version = o.record_version;
  if (typeof version !== 'number') throw bad('missing or non-numeric record_version');
  if (version !== RECORD_VERSION) {
    throw new RecordingError(`unsupported record version ${version} (this xctl reads ${RECORD_VERSION})`, PREAMBLE_SIZE);
  }
  const hash = o.layout_hash;
  if (typeof hash !== 'string') throw bad('missing layout_hash');
  const kindLayouts = fileKindLayouts(o.kind_layouts, hash);
  if (kindLayouts.hdr !== KIND_LAYOUT_HASHES.hdr) {
    throw new RecordingError(
      `record header layout mismatch: file header hash ${kindLayouts.hdr ?? '(none)'}, this build ${KIND_LAYOUT_HASHES.hdr}`,
      PREAMBLE_SIZE,
    );
  }
  const offset = o.boot_to_wall_offset_ns;
  if (typeof offset !== 'string' || !/^-?\d{1,30}$/.test(offset)) {
    throw bad('boot_to_wall_offset_ns must be a decimal string');
  }
  const families = o.families ?? [];
  if (!Array.isArray(families) || !families.every((f) => typeof f === 'string')) {
    throw bad('families must be an array of strings');
  }
  const meta = o.meta ?? {};
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw bad('meta must be an object');

  return {
    ...o,
    record_version: version,
    record_size: size,
    layout_hash: hash,
    kind_layouts: kindLayouts,
    boot_to_wall_offset_ns: offset,
    host: optString(o, 'host'),
    kernel: optString(o, 'kernel'),
    created: optString(o, 'created'),
    families: families as string[],
    meta: meta as Record<string, unknown>,
  };
}

/** The file's per-part layout hashes: its kind_layouts, or those of a known pre-kind_layouts layout. */
function fileKindLayouts(raw: unknown, hash: string): Record<string, string> {
  if (raw !== undefined) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
      throw bad('kind_layouts must be an object of strings');
    }
    return raw as Record<string, string>;
  }
  if (hash === LAYOUT_HASH) return { ...KIND_LAYOUT_HASHES };
  const legacy = LEGACY_LAYOUTS[hash];
  if (legacy === undefined) {
    throw new RecordingError(`record layout mismatch: file layout hash ${hash}, this build ${LAYOUT_HASH}`, PREAMBLE_SIZE);
  }
  return { ...legacy };
}

/** A kind this build decodes differently from the build that wrote the file. */
export interface ChangedKind {
  id: number;
  name: string;
  /** Why its records are skipped, naming the kind. */
  reason: string;
}

/**
 * Kinds whose layout differs between the file and this build: their records
 * would be misread, so the reader skips them. A kind the file does not list
 * (added since) has no records in it; one this build does not know decodes
 * as 'unknown'.
 */
export function changedKinds(h: RecordingHeader): ChangedKind[] {
  const file = h.kind_layouts ?? {};
  const changed: ChangedKind[] = [];
  for (const { name } of KIND_TABLE) {
    const theirs = file[name];
    if (theirs === undefined || theirs === KIND_LAYOUT_HASHES[name]) continue;
    changed.push({
      id: KIND_IDS[name],
      name,
      reason: `kind ${name}: record layout changed since this recording was made (file ${theirs}, this build ${KIND_LAYOUT_HASHES[name]}); its records are skipped`,
    });
  }
  return changed;
}

/** The header's clock, for toEvent(). */
export function headerClock(h: RecordingHeader): { bootToWallOffsetNs: bigint } {
  return { bootToWallOffsetNs: BigInt(h.boot_to_wall_offset_ns) };
}
