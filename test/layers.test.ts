// The layer order of src/, written once, and a check that no module imports
// from a layer above its own (type-only imports and lazy require() included:
// they tie the lower layer to the higher one's declarations just the same).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/**
 * Folders of src/, lowest first: a module may import its own folder and any
 * folder listed before it. Top-level files (src/log.ts, src/errors.ts) sit
 * below everything.
 */
const LAYERS: readonly string[] = [
  '.', // src/*.ts: logger, error base class
  'native', // the addon's typed surface: a leaf the event layers load
  'events', // record layout, decoding, event text and units
  'record', // .xrec recording files of raw records
  'procfs', // /proc readers
  'identity', // who a process is: cgroup shape -> container/pod/slurm, environ -> rank/job, runtime files -> names
  'sources', // live probe sessions over the addon, preflight
  'ipc', // CLI <-> agent protocol and transport
  'graph', // the causal graph and its vocabulary
  'kinds', // one module per record kind: fields, text, graph ingest
  'rules', // the YAML rule language and its matcher
  'engine', // graph + rules fed by any source (Pipeline), and the answers' types
  'why', // queries on the engine: causal chains
  'fix', // plans and actions from findings
  'verify', // re-measures an applied plan
  'config', // the agent's configuration keys: the one declaration flags, help and `config show` derive from
  'ops', // operating the agent: metrics export, governor, crash reports, doctor, kube
  'fleet', // job-level answers across nodes: the Prometheus HTTP API client and the straggler analysis
  'faults', // fault injection for the demo and tests
  'agent', // the daemon
  'cli', // commands
];

const SRC = path.resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...sourceFiles(p));
    else if (ent.name.endsWith('.ts') && !ent.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The file a relative specifier names: x.ts, or x/index.ts for a folder. */
function resolveImport(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  if (fs.existsSync(`${base}.ts`)) return `${base}.ts`;
  if (fs.existsSync(path.join(base, 'index.ts'))) return path.join(base, 'index.ts');
  return base;
}

/** The layer of a file: its first folder under src/, '.' for a top-level file. */
function layerOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? '.' : rel[0]!;
}

const files = sourceFiles(SRC);

t.test('every folder of src/ has a place in the layer order', async (t) => {
  const unknown = [...new Set(files.map(layerOf))].filter((l) => !LAYERS.includes(l));
  t.same(unknown, [], 'add new folders to LAYERS in test/layers.test.ts');
});

t.test('no module imports from a layer above its own', async (t) => {
  const upward: string[] = [];
  const outside: string[] = [];
  for (const file of files) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue; // node: modules and packages
      const target = resolveImport(file, ref.fileName);
      if (!target.startsWith(SRC + path.sep)) outside.push(`${path.relative(SRC, file)} -> ${ref.fileName}`);
      const from = LAYERS.indexOf(layerOf(file));
      const to = LAYERS.indexOf(layerOf(target));
      if (to <= from) continue;
      upward.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, target)} (${LAYERS[from]} imports ${LAYERS[to]})`);
    }
  }
  t.same(outside, [], 'relative imports that leave src/');
  t.same(upward, [], 'imports from a higher layer');
});
