#!/usr/bin/env node
/*
 * Generates the record layout tables from bpf/xctl_record.h, the one declaration
 * of every record kind and field (run by scripts/build.sh before node-gyp and tsc):
 *
 *   src/events/layout.gen.ts    the header's numeric #defines, kind list (XCTL_KINDS)
 *                               and every named field's offset and type
 *   src/kinds/registry.gen.ts   imports of the kind modules src/kinds/<kind>.ts, in XCTL_KINDS order
 *   native/xctl_fields.gen.h    the addon's field list, for offsetof() (test/layout.test.ts compares)
 *
 * Field offsets and types come from the BTF of the header compiled for the BPF
 * target (what the kernel programs see), the kind list and constants from the
 * preprocessor. The outputs are build products (not in git): a kind added to the
 * header needs no generated file in its diff. Files are rewritten only when their
 * content changes, so make/node-gyp/tsc stay incremental.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const header = path.join(root, 'bpf', 'xctl_record.h');
const outDir = path.join(root, 'build', 'gen');
const CLANG = process.env.CLANG || 'clang';
const BPFTOOL = process.env.BPFTOOL || (fs.existsSync('/usr/sbin/bpftool') ? '/usr/sbin/bpftool' : 'bpftool');
const ARCH_DIR = `/usr/include/${execFileSync('uname', ['-m']).toString().trim()}-linux-gnu`; // asm/types.h for -target bpf
const CFLAGS = ['-x', 'c', '-I', path.dirname(header), '-I', ARCH_DIR];

function clang(args, input) {
  return execFileSync(CLANG, [...CFLAGS, ...args, '-'], { input, maxBuffer: 64 << 20 }).toString();
}

/** XCTL_KINDS(X) expanded: [{ NAME, id, member, tag }] in list order. */
function kindList() {
  const src = '#include "xctl_record.h"\n#define XCTL_GEN(NAME, num, member, tag) @kind NAME num member tag @\nXCTL_KINDS(XCTL_GEN)\n';
  const out = clang(['-E', '-P'], src);
  const kinds = [...out.matchAll(/@kind\s+(\w+)\s+(\d+)\s+(\w+)\s+(\w+)\s*@/g)].map((m) => ({
    NAME: m[1],
    id: Number(m[2]),
    member: m[3],
    tag: m[4],
  }));
  if (kinds.length === 0) throw new Error('gen-layout: XCTL_KINDS expanded to no kind');
  const seen = new Set();
  for (const k of kinds) {
    if (k.id < 1 || seen.has(k.id)) throw new Error(`gen-layout: kind ${k.NAME} has a bad or reused number ${k.id}`);
    seen.add(k.id);
  }
  return kinds;
}

/** Every `#define XCTL_<NAME> <integer>` of the header, as [NAME, value text]. */
function constants() {
  const out = clang(['-E', '-dM'], '#include "xctl_record.h"\n');
  const consts = [];
  for (const m of out.matchAll(/^#define XCTL_(\w+) \(?(0x[0-9a-fA-F]+|\d+)U?L*L?\)?$/gm)) consts.push([m[1], m[2]]);
  return consts.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** BTF of struct xctl_record compiled for the BPF target: { byId, byName }. */
function btf() {
  fs.mkdirSync(outDir, { recursive: true });
  const obj = path.join(outDir, 'xctl_layout.o');
  clang(['-g', '-O0', '-target', 'bpf', '-c', '-o', obj], '#include "xctl_record.h"\nstruct xctl_record xctl_gen_record;\n');
  const types = JSON.parse(execFileSync(BPFTOOL, ['-j', 'btf', 'dump', 'file', obj], { maxBuffer: 64 << 20 }).toString()).types;
  const byId = new Map(types.map((t) => [t.id, t]));
  const byName = new Map(types.filter((t) => t.kind === 'STRUCT').map((t) => [t.name, t]));
  return { byId, byName };
}

/** The decoder's encoding of one member type; throws for types the decoder cannot read. */
function encoding(byId, typeId, where) {
  let t = byId.get(typeId);
  while (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE') t = byId.get(t.type_id);
  if (t.kind === 'INT') {
    const signed = t.encoding === 'SIGNED';
    const enc = { 1: 'u8', 2: 'u16', 4: signed ? 's32' : 'u32', 8: signed ? null : 'u64' }[t.size];
    if (enc && !(signed && t.size < 4 && t.name !== 'char')) return { type: enc };
  } else if (t.kind === 'ARRAY') {
    let e = byId.get(t.type_id);
    while (e.kind === 'TYPEDEF') e = byId.get(e.type_id);
    if (e.kind === 'INT' && e.size === 1) return { type: e.name === 'char' ? 'str' : 'bytes', len: t.nr_elems };
  }
  throw new Error(
    `gen-layout: ${where} has a type the decoder does not read (${t.kind} ${t.name}); use __u8/__u16/__u32/__s32/__u64 or char/__u8 arrays`,
  );
}

/** Named members of struct `tag` (leading '_' = padding, skipped) as [field, off, enc]. */
function fieldsOf({ byId, byName }, tag, base) {
  const s = byName.get(tag);
  if (!s) throw new Error(`gen-layout: struct ${tag} is not in the header's BTF`);
  return s.members
    .filter((m) => !m.name.startsWith('_'))
    .map((m) => {
      if (m.bits_offset % 8 !== 0) throw new Error(`gen-layout: ${tag}.${m.name} is a bit field`);
      return [m.name, base + m.bits_offset / 8, encoding(byId, m.type_id, `${tag}.${m.name}`)];
    });
}

function writeIfChanged(file, text) {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
  fs.writeFileSync(file, text);
}

/** tcp_retransmit -> tcp-retransmit (module file), tcpRetransmit (identifier). */
const fileOf = (name) => name.replace(/_/g, '-');
const identOf = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

function main() {
  const kinds = kindList();
  const consts = constants();
  const synthetic = Number((consts.find(([n]) => n === 'KIND_SYNTHETIC') ?? [])[1]);
  const clash = kinds.find((k) => k.id === synthetic);
  if (clash)
    throw new Error(
      `gen-layout: kind ${clash.NAME} uses ${synthetic}, the number reserved for synthetic test records (XCTL_KIND_SYNTHETIC)`,
    );
  const types = btf();
  const record = types.byName.get('xctl_record');
  const hdr = types.byName.get('xctl_hdr');
  const payload = record.members.find((m) => m.name !== 'h').bits_offset / 8;
  const recordSize = Number((consts.find(([n]) => n === 'RECORD_SIZE') ?? [])[1]);
  if (record.size !== recordSize)
    throw new Error(`gen-layout: sizeof(struct xctl_record) ${record.size} != XCTL_RECORD_SIZE ${recordSize}`);
  if (payload !== hdr.size) throw new Error('gen-layout: the payload must follow the header');

  const fields = fieldsOf(types, 'xctl_hdr', 0).map(([f, off, enc]) => [`hdr.${f}`, `h.${f}`, off, enc]);
  for (const k of kinds) {
    for (const [f, off, enc] of fieldsOf(types, k.tag, payload)) fields.push([`${k.member}.${f}`, `${k.member}.${f}`, off, enc]);
  }
  const banner = 'Generated by scripts/gen-layout.js from bpf/xctl_record.h (build output, not in git): do not edit.';

  const ts = [`// ${banner}`, '', "/** The header's numeric #defines, without the XCTL_ prefix. */"];
  for (const [name, value] of consts) ts.push(`export const ${name} = ${value};`);
  ts.push('/** sizeof(struct xctl_hdr): the payload starts here. */', `export const HEADER_SIZE = ${hdr.size};`, '');
  ts.push('/** XCTL_KINDS in list order: name = NAME in lower case; member = the union member its fields are keyed by. */');
  ts.push('export const KIND_TABLE = [');
  for (const k of kinds) ts.push(`  { name: '${k.NAME.toLowerCase()}', id: ${k.id}, member: '${k.member}' },`);
  ts.push('] as const;', '', '/** Every named (non-padding) field of struct xctl_record, keyed "<union member>.<field>". */');
  ts.push('export const FIELDS = {');
  for (const [key, , off, enc] of fields) {
    ts.push(`  '${key}': { off: ${off}, type: '${enc.type}'${enc.len !== undefined ? `, len: ${enc.len}` : ''} },`);
  }
  ts.push('} as const;', '');
  ts.push(
    "// Frozen, so layout.ts's `export *` copies these as data properties: TypeScript's re-export",
    '// helper otherwise makes each a getter, a call per read on the ingest hot path.',
    'Object.freeze(exports);',
    '',
  );
  writeIfChanged(path.join(root, 'src', 'events', 'layout.gen.ts'), ts.join('\n'));

  const reg = [`// ${banner}`, "// One module per XCTL_KINDS entry: src/kinds/<kind name, '-' for '_'>.ts exporting `kind`."];
  reg.push(
    "import type { RecordBatch } from '../events/decoder';",
    "import type { EventOf } from './kind';",
    "import type { UnknownEvent } from './event';",
    "import type { GraphIngestor } from './ingest';",
  );
  for (const k of kinds) {
    const name = k.NAME.toLowerCase();
    reg.push(`import { kind as ${identOf(name)} } from './${fileOf(name)}';`);
  }
  reg.push('', '/** The kind modules in XCTL_KINDS order. */', 'export const KIND_MODULES = [');
  for (const k of kinds) reg.push(`  ${identOf(k.NAME.toLowerCase())},`);
  reg.push('] as const;', '', "/** Any decoded event: the union of every kind module's event shape. */", 'export type XEvent =');
  for (const k of kinds) reg.push(`  | EventOf<typeof ${identOf(k.NAME.toLowerCase())}>`);
  reg.push('  | UnknownEvent;', '');
  reg.push(
    '/**',
    " * Record i of b to its kind's ingest hook. A switch, not a table of hooks: each call site",
    ' * sees one function, which V8 inlines (a shared call site through a table cannot be).',
    ' */',
  );
  reg.push(
    'export function ingestRecord(ing: GraphIngestor, kind: number, b: RecordBatch, i: number, t: number): void {',
    '  switch (kind) {',
  );
  for (const k of kinds) reg.push(`    case ${k.id}:`, `      ${identOf(k.NAME.toLowerCase())}.ingest?.(ing, b, i, t);`, '      return;');
  reg.push('  }', '}', '');
  writeIfChanged(path.join(root, 'src', 'kinds', 'registry.gen.ts'), reg.join('\n'));

  const c = [`/* ${banner} */`, '/* XCTL_FIELD(key, member path) for every named field of struct xctl_record. */'];
  for (const [key, member] of fields) c.push(`XCTL_FIELD("${key}", ${member})`);
  writeIfChanged(path.join(root, 'native', 'xctl_fields.gen.h'), `${c.join('\n')}\n`);
}

main();
