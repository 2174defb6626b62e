// Kind reclaim_stall end to end: the record -> `xctl events --json` fields and
// text -> the graph metric a rule reads (offcpu.blocked of the process).
import t from 'tap';
import { RecordBatch } from '../src/events/decoder';
import { Kind } from '../src/events/layout';
import { Graph } from '../src/graph/graph';
import { formatText, toEvent } from '../src/kinds/format';
import { GraphIngestor } from '../src/kinds/ingest';
import { makeRecord, pack } from './helpers/synth';

const rec = makeRecord(Kind.RECLAIM_STALL, {
  'hdr.ts_ns': 5_000_000_000n, 'hdr.start_ns': 1_000n, 'hdr.pid': 77, 'hdr.tid': 78, 'hdr.comm': 'trainer',
  'reclaim.duration_ns': 340_000_000n, 'reclaim.nr_reclaimed': 512n, 'reclaim.order': 3,
});
const b = RecordBatch.fromBytes(pack([rec]));

t.test('JSON event and text line', async (t) => {
  const ev = toEvent(b, 0, { bootToWallOffsetNs: 0n });
  t.match(ev, { kind: 'reclaim_stall', pid: 77, comm: 'trainer', duration_ns: 340_000_000, nr_reclaimed: 512, order: 3 });
  t.match(formatText(ev, { utc: true }), /reclaim_stall\s+direct reclaim 340\.0 ms \(order 3, 512 pages\)$/);
});

t.test('the graph metric a rule reads', async (t) => {
  const g = new Graph();
  new GraphIngestor(g).ingest(b);
  const p = g.process(77, 1_000);
  t.equal(p.series('offcpu.blocked')?.aggregate('max', 5, 10), 340_000_000);
});
