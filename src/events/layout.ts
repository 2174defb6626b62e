/**
 * The record layout of bpf/xctl_record.h, for TypeScript.
 *
 * Every record is RECORD_SIZE bytes, little-endian: a HEADER_SIZE-byte common
 * header then a per-kind payload. Offsets are absolute from the record start.
 * The tables come from layout.gen.ts, which scripts/gen-layout.js generates
 * from the header at build time (kinds from XCTL_KINDS, fields from its BTF,
 * constants from its #defines); this module derives the lookups and hashes.
 * The native addon exports offsetof() of the same fields under the same keys
 * (recordLayout().offsets) and test/layout.test.ts proves the two agree.
 */
import { createHash } from 'node:crypto';
import { FIELDS, KIND_TABLE, RECORD_SIZE, RECORD_VERSION } from './layout.gen';

export * from './layout.gen';

export type KindName = (typeof KIND_TABLE)[number]['name'];
type KindEntry = (typeof KIND_TABLE)[number];

/** Kind numbers by upper-case name, e.g. Kind.EXIT; also the type of a known kind number. */
export const Kind = Object.freeze(Object.fromEntries(KIND_TABLE.map((k) => [k.name.toUpperCase(), k.id]))) as {
  readonly [K in KindEntry as Uppercase<K['name']>]: K['id'];
};
export type Kind = KindEntry['id'];

/** The highest kind number: valid kinds are 1..KIND_MAX (numbers may have gaps). */
export const KIND_MAX: number = Math.max(...KIND_TABLE.map((k) => k.id));

/** Indexed by kind number; undefined where no kind has that number (index 0). */
export const KIND_NAMES: readonly (KindName | undefined)[] = (() => {
  const names = new Array<KindName | undefined>(KIND_MAX + 1).fill(undefined);
  for (const k of KIND_TABLE) names[k.id] = k.name;
  return names;
})();

export const KIND_IDS: Readonly<Record<KindName, Kind>> = Object.freeze(
  Object.fromEntries(KIND_TABLE.map((k) => [k.name, k.id])) as Record<KindName, Kind>,
);

export function kindName(kind: number): KindName | undefined {
  return KIND_NAMES[kind];
}

export function kindFromName(name: string): Kind | undefined {
  return Object.hasOwn(KIND_IDS, name) ? KIND_IDS[name as KindName] : undefined;
}

/** Field encodings; 'str' is NUL-terminated text, 'bytes' raw (addresses). */
export type FieldType = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 'str' | 'bytes';
export interface FieldSpec {
  readonly off: number;
  readonly type: FieldType;
  readonly len?: number; // for str/bytes
}
FIELDS satisfies Record<string, FieldSpec>;

export type FieldName = keyof typeof FIELDS;

/** Length of the GPU UUID prefix field (not NUL-terminated when full). */
export const GPU_UUID_LEN = FIELDS['gpu.uuid'].len;

/** Absolute byte offset of each field, keyed like the addon's recordLayout().offsets. */
export const OFFSETS: { readonly [K in FieldName]: (typeof FIELDS)[K]['off'] } = Object.freeze(
  Object.fromEntries(Object.entries(FIELDS).map(([k, f]) => [k, f.off])),
) as { readonly [K in FieldName]: (typeof FIELDS)[K]['off'] };

/**
 * Stable fingerprint of a layout: sha256 over size, version and the offsets
 * sorted by key, first 16 hex chars. Exported so a test can hash the native
 * addon's offsets the same way and recordings can refuse foreign layouts.
 */
export function layoutHash(size: number, version: number, offsets: Readonly<Record<string, number>>): string {
  const lines = [`size ${size}`, `version ${version}`];
  for (const key of Object.keys(offsets).sort()) lines.push(`${key} ${offsets[key]}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

export const LAYOUT_HASH: string = layoutHash(RECORD_SIZE, RECORD_VERSION, OFFSETS);

/** What a per-kind layout hash covers: the common header, or one kind. */
export type LayoutPart = 'hdr' | KindName;

function fieldLines(member: string): string[] {
  const prefix = `${member}.`;
  return Object.entries(FIELDS as Readonly<Record<string, FieldSpec>>)
    .filter(([k]) => k.startsWith(prefix))
    .map(([k, f]) => `${k.slice(prefix.length)} ${f.off} ${f.type}${f.len !== undefined ? ` ${f.len}` : ''}`)
    .sort();
}

function hash16(lines: readonly string[]): string {
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

/**
 * Layout fingerprint of each part on its own (sha256 of its fields' names,
 * offsets and types, first 16 hex chars): 'hdr' also covers record size and
 * version; a kind covers its number and payload fields. Recordings keep these,
 * so adding a kind leaves every other part's hash, and older files, valid.
 */
export const KIND_LAYOUT_HASHES: Readonly<Record<LayoutPart, string>> = Object.freeze(
  Object.fromEntries([
    ['hdr', hash16([`size ${RECORD_SIZE}`, `version ${RECORD_VERSION}`, ...fieldLines('hdr')])],
    ...KIND_TABLE.map((k) => [k.name, hash16([`kind ${k.id}`, ...fieldLines(k.member)])]),
  ]) as Record<LayoutPart, string>,
);
