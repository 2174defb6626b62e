// Kind reclaim_stall end to end: the record -> `xctl events --json` fields and
// text -> the graph metric mem.reclaim_stall -> a rule that reads it matches.
import t from 'tap';
import { RecordBatch } from '../src/events/decoder';
import { Kind } from '../src/events/layout';
import { formatText, toEvent } from '../src/kinds/format';
import { Pipeline } from '../src/engine/pipeline';
import { loadRuleTexts } from '../src/rules/loader';
import { answerWhy } from '../src/why/why';
import { makeRecord, pack } from './helpers/synth';

const rec = makeRecord(Kind.RECLAIM_STALL, {
  'hdr.ts_ns': 5_000_000_000n, 'hdr.start_ns': 1_000n, 'hdr.pid': 77, 'hdr.tid': 78, 'hdr.comm': 'trainer', 'hdr.version': 1,
  'reclaim.duration_ns': 340_000_000n, 'reclaim.nr_reclaimed': 512n, 'reclaim.order': 3,
});
const b = RecordBatch.fromBytes(pack([rec]));

t.test('JSON event and text line', async (t) => {
  const ev = toEvent(b, 0, { bootToWallOffsetNs: 0n });
  t.match(ev, { kind: 'reclaim_stall', pid: 77, comm: 'trainer', duration_ns: 340_000_000, nr_reclaimed: 512, order: 3 });
  t.match(formatText(ev, { utc: true }), /reclaim_stall\s+direct reclaim 340\.0 ms \(order 3, 512 pages\)$/);
});

t.test('a rule reads the kind\'s metric', async (t) => {
  const rule = `scenes:
  - { name: memory_reclaim, description: stalled reclaiming memory }
rules:
  - id: mem.reclaim
    scene: memory_reclaim
    when: { metric: mem.reclaim_stall, agg: sum, window: 60s, op: '>=', value: 100ms, name: stall }
    cause: "{{self.comm}} stalled {{stall | ns}} in direct reclaim"
`;
  const r = loadRuleTexts([{ file: 'reclaim.yaml', text: rule }]);
  t.same(r.errors, []);
  const p = new Pipeline(r.ruleSet!);
  p.ingest(b);
  const a = answerWhy(p, 77);
  t.equal(a.scene, 'memory_reclaim');
  t.match(a.summary, /trainer stalled 340\.0 ms in direct reclaim/);
});
