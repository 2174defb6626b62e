// The kind registry: one module per XCTL_KINDS entry, and everything derived
// from it (metrics family labels, --kind choices, decoder and ingest bounds).
import t from 'tap';
import { AgentMetrics } from '../src/ops/metrics';
import { checkFamilies } from '../src/native/families';
import { eventsHelp } from '../src/cli/events';
import { REPLAY_HELP } from '../src/cli/replay';
import { RecordBatch } from '../src/events/decoder';
import { KIND_IDS, KIND_MAX, KIND_NAMES, KIND_SYNTHETIC, KIND_TABLE, RECORD_VERSION } from '../src/events/layout';
import { Graph } from '../src/graph/graph';
import { GraphIngestor } from '../src/kinds/ingest';
import { KIND_BY_ID, KIND_CHOICES, KIND_FAMILY } from '../src/kinds/registry';
import { makeRecord, pack } from './helpers/synth';

t.test('every XCTL_KINDS entry has its module, by number and by name', async (t) => {
  t.equal(KIND_TABLE.length, KIND_CHOICES.length);
  for (const k of KIND_TABLE) {
    t.equal(KIND_BY_ID[k.id]?.name, k.name, `${k.name} is kind ${k.id}`);
    t.equal(KIND_NAMES[k.id], k.name);
  }
  t.equal(KIND_MAX, Math.max(...KIND_TABLE.map((k) => k.id)));
});

t.test('xctl_events_total has a real family label for every kind (GPU kinds were family="other")', async (t) => {
  const m = new AgentMetrics();
  m.update({ byKind: Object.fromEntries(KIND_CHOICES.map((k) => [k, KIND_IDS[k]])) });
  const text = await m.registry.metrics();
  const series = [...text.matchAll(/^xctl_events_total\{family="([^"]*)",kind="([^"]*)"\} (\d+)$/gm)];
  t.equal(series.length, KIND_CHOICES.length, 'one series per kind');
  for (const [, family, kind] of series) {
    t.not(family, 'other', `${kind} has a family`);
    t.equal(family, KIND_FAMILY[kind as keyof typeof KIND_FAMILY], `${kind}: the family its module declares`);
    t.same(checkFamilies([family!]), [family], `${kind}: ${family} is a family --families accepts`);
  }
  t.match(text, /xctl_events_total\{family="gpu",kind="gpu_sample"\} 10/);
  t.match(text, /xctl_events_total\{family="gpu",kind="gpu_proc_mem"\} 11/);
  t.match(text, /xctl_events_total\{family="gpu",kind="gpu_event"\} 12/);
  t.match(text, /xctl_events_total\{family="cuda",kind="cuda_alloc"\} 13/);
  t.match(text, /xctl_events_total\{family="cuda",kind="nccl_call"\} 14/);
});

t.test('--kind help lists every kind', async (t) => {
  const EVENTS_HELP = eventsHelp();
  for (const name of KIND_CHOICES) {
    t.match(EVENTS_HELP, new RegExp(`\\b${name}\\b`), `xctl events --help names ${name}`);
    t.match(REPLAY_HELP, new RegExp(`\\b${name}\\b`), `xctl replay --help names ${name}`);
  }
  for (const line of [...EVENTS_HELP.split('\n'), ...REPLAY_HELP.split('\n')]) t.ok(line.length < 100, `short line: ${line}`);
});

t.test('decoder and ingest bounds come from the kind table', async (t) => {
  const b = RecordBatch.fromBytes(pack([makeRecord(KIND_MAX, { 'hdr.pid': 1 }), makeRecord(KIND_MAX + 1, { 'hdr.pid': 1 })]));
  t.equal(b.validate(0), null, 'the highest kind is valid');
  t.equal(b.validate(1), `record 1: unknown kind ${KIND_MAX + 1}`);
  const ing = new GraphIngestor(new Graph());
  ing.ingest(b);
  t.equal(ing.stats.records, 1);
  t.equal(ing.stats.invalid, 1, 'one past the highest kind is invalid');
  t.equal(ing.stats.byKind.length, KIND_MAX + 1);
  t.equal(ing.stats.byKind[KIND_MAX], 1);
  t.equal(RECORD_VERSION, b.version(0));
});

t.test('synthetic test records (XCTL_KIND_SYNTHETIC, the bench family) are counted and never reach the graph', async (t) => {
  t.equal(KIND_NAMES[KIND_SYNTHETIC], undefined, 'no kind has the reserved number');
  t.equal(KIND_BY_ID[KIND_SYNTHETIC], undefined, 'no kind module');
  const g = new Graph();
  const ing = new GraphIngestor(g);
  ing.ingest(RecordBatch.fromBytes(pack([makeRecord(KIND_SYNTHETIC, { 'hdr.pid': 4242, 'hdr.ts_ns': 5n })])));
  t.equal(ing.stats.records, 1);
  t.equal(ing.stats.invalid, 0);
  t.equal(ing.stats.byKind[KIND_SYNTHETIC], 1);
  t.equal(g.findProcess(4242), undefined, 'no process node for its pid');
  t.same(g.size, { processes: 0, retired: 0, peers: 0, devices: 0, errors: 0, edges: 0 });
});
