// The graph's catalogue is what the rules may name: `xctl rules check` rejects
// an unknown metric, attribute, edge kind, entity type or template field with
// file:line:col and a "did you mean" (such a rule would silently never match),
// and a module above the graph adds a metric with one defineMetric() call.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rulesCheckCommand } from '../src/rules/check';
import { loadRuleTexts } from '../src/rules/loader';
import { METRIC_NAMES, MI, M, defineMetric, metricId } from '../src/graph/vocabulary';
import { readmePath, withTables } from '../src/rules/doc-tables';
import { ATTRIBUTES } from '../src/graph/attributes';
import { Graph } from '../src/graph/graph';
import { GraphContext } from '../src/graph/eval-context';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-rules-vocab-'));
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

async function check(name: string, text: string): Promise<{ code: number; err: string; file: string }> {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  const file = path.join(dir, 'r.yaml');
  fs.writeFileSync(file, text);
  let err = '';
  const write = process.stderr.write.bind(process.stderr);
  const out = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((s: string) => {
    err += s;
    return true;
  }) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    const code = await rulesCheckCommand([dir]);
    return { code, err, file };
  } finally {
    process.stderr.write = write;
    process.stdout.write = out;
  }
}

const rule = (when: string, cause = 'x') => `rules:
  - id: r
    scene: network_stall
    when:
${when}
    cause: "${cause}"
`;

t.test('an unknown metric is an error with file:line:col and a suggestion', async (t) => {
  const r = await check('metric', rule(`      metric: tcp.retransmitz\n      agg: sum\n      window: 30s\n      op: '>='\n      value: 3`));
  t.equal(r.code, 1);
  t.match(r.err, `${r.file}:5:15: unknown metric "tcp.retransmitz" (did you mean "tcp.retransmits"? expected one of `);
  t.match(r.err, /1 error in 1 file/);
});

t.test('a metric the entity type does not record is an error', async (t) => {
  const r = await check('metric-type', rule(`      metric: io.bytes\n      agg: sum\n      window: 30s\n      op: '>='\n      value: 3`));
  t.match(r.err, `${r.file}:5:15: metric "io.bytes" is not recorded on a process (only on device)`);
  const onDevice = await check(
    'metric-type-ok',
    rule(`      metric: io.bytes\n      on: waits_on.device\n      agg: sum\n      window: 30s\n      op: '>='\n      value: 3`),
  );
  t.same([onDevice.code, onDevice.err], [0, ''], 'the same metric read on a device is fine');
});

t.test('an unknown attribute is an error with a suggestion, per entity type', async (t) => {
  const r = await check(
    'attr',
    rule(
      `      all:\n        - { attr: comm_typo, op: exists }\n        - { attr: endpont, on: waits_on.peer, op: exists }\n        - { attr: comm, on: waits_on.peer, op: exists }`,
    ),
  );
  t.equal(r.code, 1);
  t.match(r.err, `${r.file}:6:19: unknown attribute "comm_typo" of a process (did you mean "comm"? expected one of pid, comm,`);
  t.match(r.err, `${r.file}:7:19: unknown attribute "endpont" of a peer (did you mean "endpoint"? expected one of addr, port, endpoint)`);
  t.match(r.err, `${r.file}:8:19: unknown attribute "comm" of a peer (expected one of addr, port, endpoint)`);
});

t.test('unknown edge kinds and entity types in "on" are errors with a suggestion', async (t) => {
  const r = await check(
    'selector',
    rule(`      all:\n        - { attr: pid, on: waitson.process, op: exists }\n        - { attr: pid, on: waits_on.proces, op: exists }`),
  );
  t.match(r.err, `${r.file}:6:28: bad "on": unknown edge kind "waitson" in "waitson.process" (did you mean "waits_on"?`);
  t.match(r.err, `${r.file}:7:28: bad "on": unknown entity type "proces" in "waits_on.proces" (did you mean "process"?`);
});

t.test('template fields are checked against the entity they read', async (t) => {
  const when = `      attr: pid\n      op: exists`;
  const r = await check(
    'template',
    rule(when, '{{self.nonexistent}} {{waits_on.peer.bogus}} {{waits_on.peer.endpont}} {{self.com}} {{waits_on.peeer.addr}}'),
  );
  t.equal(r.code, 1);
  t.match(r.err, `${r.file}:7:13: unknown attribute "nonexistent" of a process (expected one of pid, comm,`);
  t.match(
    r.err,
    `${r.file}:7:34: unknown attribute "bogus" of a peer (expected one of addr, port, endpoint) in "{{waits_on.peer.bogus}}" in cause`,
  );
  t.match(r.err, `${r.file}:7:58: unknown attribute "endpont" of a peer (did you mean "endpoint"?`);
  t.match(r.err, `${r.file}:7:84: unknown attribute "com" of a process (did you mean "comm"?`);
  t.match(r.err, `${r.file}:7:97: unknown entity type "peeer" in "waits_on.peeer" (did you mean "peer"?`);
  t.match(r.err, /5 errors in 1 file/);
});

t.test('GraphContext reads every catalogue attribute through its getter', async (t) => {
  const g = new Graph();
  const p = g.process(42, 7e9);
  p.comm = 'trainer';
  p.exit = { code: 0, signal: 11, core: true, tNs: 8e9 };
  const peer = g.peer('10.0.0.2:5001', '10.0.0.2', 5001);
  const dev = g.device((7 << 20) | 3);
  const gpu = g.gpu(1);
  gpu.tempC = 91;
  const ctx = new GraphContext(g, 10n * 1_000_000_000n, { processState: () => 'sleeping' });
  const cg = g.cgroup('/c|/m|/u', '/c');
  cg.cpuQuotaNs = 20e6;
  cg.cpuPeriodNs = 100e6;
  const nodes = { process: p, peer, device: dev, cpu: g.cpu, gpu, cgroup: cg, error: undefined };
  for (const [type, defs] of Object.entries(ATTRIBUTES))
    for (const d of defs) {
      const node = nodes[type as keyof typeof nodes]!;
      t.doesNotThrow(() => ctx.attr(node, d.name), `${type}.${d.name}`);
    }
  t.same(
    [
      ctx.attr(p, 'comm'),
      ctx.attr(p, 'state'),
      ctx.attr(p, 'exit.signal_name'),
      ctx.attr(peer, 'endpoint'),
      ctx.attr(dev, 'dev'),
      ctx.attr(gpu, 'temp'),
      ctx.attr(p, 'endpoint'),
      ctx.attr(cg, 'path'),
      ctx.attr(cg, 'cpu.limit'),
    ],
    ['trainer', 'sleeping', 'SIGSEGV', '10.0.0.2:5001', '7:3', 91, undefined, '/c', 0.2],
  );
});

t.test("rules/README.md's vocabulary tables are the catalogue's", async (t) => {
  const text = fs.readFileSync(readmePath(), 'utf8');
  const fresh = withTables(text);
  t.ok(fresh, 'the README has the vocabulary markers');
  t.ok(fresh === text, 'rules/README.md drifted from the catalogue: run `node dist/src/rules/doc-tables.js --write`');
});

// last: it adds a metric to this process's catalogue
t.test('a module above the graph adds a metric with one call; the rules can read it at once', async (t) => {
  const before = METRIC_NAMES.length;
  t.equal(MI.ioLatency, metricId(M.ioLatency), 'MI, M and metricId agree');
  const id = defineMetric({ name: 'test.widgets', entities: ['process'], unit: 'events', doc: '1 per widget' });
  t.equal(id, before, 'the next dense id');
  t.equal(metricId('test.widgets'), id);
  t.equal(METRIC_NAMES[id], 'test.widgets', 'METRIC_NAMES is live, not a copy made at load');
  t.throws(() => defineMetric({ name: 'test.widgets', entities: ['process'], unit: 'events', doc: '' }), /declared twice/);
  const r = loadRuleTexts([
    { file: 'w.yaml', text: rule(`      metric: test.widgets\n      agg: count\n      window: 30s\n      op: '>='\n      value: 1`) },
  ]);
  t.same(r.errors.map(String), []);
});
