// Replay-style unit tests of the causal graph: synthetic records in, graph
// structure, evidence, pid reuse, caps/grace eviction and rule matches out.
import t from 'tap';
import { makeRecord, pack, ipv4Bytes } from './helpers/synth';
import { RecordBatch } from '../src/events/decoder';
import { Kind } from '../src/events/layout';
import { Pipeline } from '../src/engine/pipeline';
import { answerWhy } from '../src/why/why';
import { loadRuleDir, defaultRulesDir } from '../src/rules';
import { loadRuleTexts } from '../src/rules/loader';
import { ProcessNode } from '../src/graph/model';

const S = 1e9;
const rules = () => {
  const r = loadRuleDir(defaultRulesDir());
  if (!r.ruleSet) throw new Error(r.errors.join('\n'));
  return r.ruleSet;
};
const batch = (...recs: Buffer[]) => RecordBatch.fromBytes(pack(recs));
const hdr = (pid: number, start: number, ts: number, comm = 'train') => ({
  'hdr.pid': pid,
  'hdr.tid': pid,
  'hdr.start_ns': start,
  'hdr.ts_ns': ts,
  'hdr.version': 1,
  'hdr.comm': comm,
});

/** A retransmit of 4 segments from `pid` (started at 5 s) to 10.0.0.2:5001. */
const retransmit = (pid: number, ts: number, extra: Record<string, number> = {}) =>
  makeRecord(Kind.TCP_RETRANSMIT, {
    ...hdr(pid, 5 * S, ts),
    'tcp.daddr': ipv4Bytes('10.0.0.2'),
    'tcp.saddr': ipv4Bytes('10.0.0.1'),
    'tcp.dport': 5001,
    'tcp.sport': 40000,
    'tcp.family': 2,
    'tcp.count': 1,
    'tcp.segs': 4,
    ...extra,
  });

t.test('retransmits: process waits_on peer with segment evidence; network_stall', async (t) => {
  const p = new Pipeline(rules());
  p.ingest(batch(...[1, 2, 3].map((k) => retransmit(100, 10 * S + k * S, { 'tcp.count': 2, 'tcp.owner_src': 1 }))));
  const proc = p.graph.findProcess(100)!;
  t.equal(proc.out.length, 1);
  const e = proc.out[0]!;
  t.equal(e.kind, 'waits_on');
  t.equal(e.to.label(), '10.0.0.2:5001');
  t.equal(e.sum, 12, '3 records x 4 segments');
  t.equal(e.count, 3);
  const a = answerWhy(p, 100);
  t.equal(a.scene, 'network_stall');
  t.equal(a.culprit?.label, '10.0.0.2:5001');
  t.equal(a.chain[0]!.evidence.in_window.sum, 12);
});

t.test('pid reuse: a new start time is a new process, the old one keeps its evidence', async (t) => {
  const p = new Pipeline(rules());
  p.ingest(batch(makeRecord(Kind.EXIT, { ...hdr(200, 1 * S, 2 * S, 'old'), 'exit.signal': 11 })));
  p.ingest(batch(makeRecord(Kind.EXEC, { ...hdr(200, 3 * S, 3 * S, 'new'), 'exec.filename': '/bin/new' })));
  const cur = p.graph.findProcess(200)!;
  t.equal(cur.comm, 'new');
  t.equal(cur.startNs, 3 * S);
  t.equal(p.graph.retired.size, 1, 'the old incarnation is retired, not merged');
  const old = [...p.graph.retired.values()][0]!;
  t.equal(old.comm, 'old');
  t.equal(old.exit?.signal, 11);
  t.equal(p.graph.evicted.pidReuse, 1);
  t.equal(answerWhy(p, 200).scene, 'healthy', "the new process is not blamed for the old one's crash");
});

t.test('A woken by B: waits_on edge to the waker with wait time', async (t) => {
  const p = new Pipeline(rules());
  const recs = [];
  for (let k = 0; k < 6; k++) {
    recs.push(
      makeRecord(Kind.OFFCPU, {
        ...hdr(300, 1 * S, 10 * S + k * 0.3 * S, 'reader'),
        'off.state': 1,
        'off.duration_ns': 0.3 * S,
        'off.max_ns': 0.3 * S,
        'off.count': 1,
        'off.waker_pid': 301,
        'off.waker_tid': 301,
        'off.waker_comm': 'writer',
        'off.waker_start_ns': 2 * S,
      }),
    );
  }
  p.ingest(batch(...recs));
  const a = p.graph.findProcess(300)!;
  const b = p.graph.findProcess(301)!;
  t.equal(b.comm, 'writer');
  t.equal(b.startNs, 2 * S);
  const e = a.out.find((x) => x.to === b)!;
  t.equal(e.kind, 'waits_on');
  t.equal(e.sum, 1.8 * S);
  t.equal(answerWhy(p, 300).scene, 'process_blocked', '1.8 s waiting on another process in 60 s');
  t.equal(answerWhy(p, 300).culprit?.label, 'writer (301)');
});

t.test('throttled IO waiter records: storage_slow on the process, not the kworker', async (t) => {
  const p = new Pipeline(rules());
  const dev = (7 << 20) | 3;
  const recs = [];
  for (let k = 0; k < 4; k++) {
    // the request as issued by a kworker...
    recs.push(
      makeRecord(Kind.BLOCK_IO, {
        ...hdr(41, 1, 10 * S + k * S, 'kworker/1:1'),
        'hdr.flags': 1,
        'io.dev': dev,
        'io.latency_ns': 1e6,
        'io.device_ns': 1e6,
        'io.bytes': 262144,
        'io.flags': 1,
      }),
    );
    // ...and as the waiting writer saw it
    recs.push(
      makeRecord(Kind.BLOCK_IO, {
        ...hdr(400, 1 * S, 10 * S + k * S, 'writer'),
        'io.dev': dev,
        'io.latency_ns': 0.25 * S,
        'io.device_ns': 1e6,
        'io.bytes': 262144,
        'io.flags': 1 | 2,
      }),
    );
  }
  p.ingest(batch(...recs));
  t.notOk(p.graph.findProcess(41), 'the kworker is not a node');
  const d = p.graph.devices.get(dev)!;
  t.equal(d.series('io.latency')!.totalCount, 4, 'the device counts each request once');
  const a = answerWhy(p, 400);
  t.equal(a.scene, 'storage_slow');
  t.equal(a.culprit?.label, '7:3');
});

t.test('SIGSTOP from another process: stopped_by, and SIGCONT clears it', async (t) => {
  const p = new Pipeline(rules());
  p.ingest(
    batch(
      makeRecord(Kind.SIGNAL, {
        ...hdr(500, 1 * S, 5 * S, 'ops'),
        'sig.sig': 19,
        'sig.target_pid': 501,
        'sig.target_start_ns': 2 * S,
        'sig.target_comm': 'worker',
      }),
    ),
  );
  const w = p.graph.findProcess(501)!;
  t.equal(w.state, 'stopped');
  t.equal(w.stoppedBy?.pid, 500);
  t.equal(answerWhy(p, 501).scene, 'process_blocked');
  p.ingest(
    batch(
      makeRecord(Kind.SIGNAL, { ...hdr(500, 1 * S, 6 * S, 'ops'), 'sig.sig': 18, 'sig.target_pid': 501, 'sig.target_start_ns': 2 * S }),
    ),
  );
  t.equal(w.state, 'running');
  t.equal(w.stoppedBy, undefined);
});

t.test('kernel SIGKILL (OOM) does not blame the allocating task', async (t) => {
  const p = new Pipeline(rules());
  p.ingest(
    batch(
      makeRecord(Kind.OOM_KILL, { ...hdr(600, 1 * S, 5 * S, 'hog'), 'oom.anon_rss_kb': 32000, 'oom.trigger_pid': 601 }),
      makeRecord(Kind.SIGNAL, {
        ...hdr(601, 1 * S, 5 * S, 'other'),
        'sig.sig': 9,
        'sig.code': 0x80,
        'sig.target_pid': 600,
        'sig.target_start_ns': 1 * S,
      }),
      makeRecord(Kind.EXIT, { ...hdr(600, 1 * S, 5.1 * S, 'hog'), 'exit.signal': 9 }),
    ),
  );
  const v = p.graph.findProcess(600)!;
  t.equal(v.killedBy, undefined);
  t.equal(answerWhy(p, 600).scene, 'host_oom');
});

t.test('bounded: caps evict least recently seen; exited processes go after their grace period', async (t) => {
  const p = new Pipeline(rules(), { caps: { maxProcesses: 100, exitedGraceNs: 10 * S, idleTtlNs: 1000 * S } });
  const recs = [];
  for (let pid = 1000; pid < 1300; pid++) recs.push(makeRecord(Kind.EXEC, { ...hdr(pid, 1 * S, (pid - 1000) * 0.001 * S + S, 'x') }));
  p.ingest(batch(...recs));
  p.sweep();
  t.equal(p.graph.procs.size, 100, 'capped at 100');
  t.equal(p.graph.evicted.processes, 200);
  t.ok(p.graph.findProcess(1299) && !p.graph.findProcess(1000), 'the newest stay, the oldest go');
  p.ingest(batch(makeRecord(Kind.EXIT, { ...hdr(1299, 1 * S, 2 * S, 'x'), 'exit.exit_code': 3 })));
  p.graph.nowNs = 11 * S;
  p.sweep();
  t.ok(p.graph.findProcess(1299), 'still there within its grace period');
  p.graph.nowNs = 13 * S;
  p.sweep();
  t.notOk(p.graph.findProcess(1299), 'gone after the grace period');
});

t.test('malformed records are counted, not ingested', async (t) => {
  const p = new Pipeline(rules());
  p.ingest(batch(makeRecord(Kind.EXIT, { ...hdr(700, 1, 1, 'a'), 'hdr.version': 9 }), makeRecord(77, { ...hdr(701, 1, 1, 'b') })));
  t.equal(p.ingestor.stats.invalid, 2);
  t.equal(p.graph.procs.size, 0);
});

t.test('why on an unknown pid names the problem', async (t) => {
  const p = new Pipeline(rules());
  t.throws(() => answerWhy(p, 424242), /no process 424242: it is not running \(offline analysis\)/);
});

t.test('ProcessNode identity: start time learnt later keeps the node', async (t) => {
  const p = new Pipeline(rules());
  const n = p.graph.process(800, 0);
  const same = p.graph.process(800, 5 * S);
  t.equal(n, same);
  t.ok(n instanceof ProcessNode);
  t.equal(n.id, `p:800:${5 * S}`);
});

t.test('changes reach the matcher at flush, once per node; evicted nodes leave the matcher', async (t) => {
  const p = new Pipeline(rules(), { caps: { idleTtlNs: 60 * S } });
  p.ingest(batch(...[1, 2, 3].map((k) => retransmit(100, 10 * S + k * S))));
  const proc = p.graph.findProcess(100)!;
  t.ok(proc.changes !== 0, 'ingest only marks the node');
  t.equal(p.matcher.active.size, 0, 'nothing is evaluated before the flush');
  const f = p.flush();
  t.equal(proc.changes, 0, 'the flush took the marks');
  t.same(
    f.started.map((m) => [m.entity.id, m.scene]).filter(([id]) => id === proc.id),
    [[proc.id, 'network_stall']],
  );
  t.ok(p.matcher.active.has(proc.id));
  // 2 minutes without events: past the idle TTL, the process, the peer and their matches go
  p.graph.nowNs = 135 * S;
  p.sweep();
  t.notOk(p.graph.findProcess(100));
  t.ok(proc.evicted);
  t.equal(p.matcher.active.size, 0, 'no match is kept for an entity the graph dropped');
});

t.test('a process woken by many others: edges found through the index, and unlinked when a target goes', async (t) => {
  const p = new Pipeline(rules(), { caps: { idleTtlNs: 50 * S } });
  const g = p.graph;
  const sleeper = g.process(10, 1);
  sleeper.seen(100 * S);
  const wakers = Array.from({ length: 20 }, (_, i) => g.process(1000 + i, 1));
  for (const [i, w] of wakers.entries()) {
    w.seen(i === 5 ? 1 * S : 100 * S);
    for (let k = 0; k < 3; k++) sleeper.edgeTo('waits_on', w, 'ns').add(90 * S + k, 1e6 * (i + 1));
  }
  t.equal(sleeper.out.length, 20, 'one edge per waker, however many wakeups');
  t.same(
    sleeper.out.map((e) => e.count),
    new Array(20).fill(3),
  );
  t.equal(sleeper.edgeTo('waits_on', wakers[7]!, 'ns').sum, 3 * 8e6, 'found, not made again');
  g.nowNs = 100 * S;
  g.sweep();
  t.notOk(g.findProcess(1005), 'the waker idle for 99 s is gone');
  t.equal(sleeper.out.length, 19);
  const again = g.process(1005, 2);
  const e = sleeper.edgeTo('waits_on', again, 'ns');
  t.equal(e.count, 0, 'a new incarnation gets a new edge');
  t.equal(sleeper.out.length, 20);
});

t.test('raw samples are kept only for metrics a rule reads as a percentile, and follow a rule reload', async (t) => {
  const p = new Pipeline(rules());
  t.ok(p.matcher.rules.percentileMetrics.has('io.latency'), 'the shipped storage rules read io.latency percentiles');
  t.notOk(p.matcher.rules.percentileMetrics.has('offcpu.sleep'));
  const sleep = (ts: number) => makeRecord(Kind.OFFCPU, { ...hdr(300, 1 * S, ts), 'off.state': 1, 'off.duration_ns': 50e6 });
  p.ingest(batch(sleep(10 * S), sleep(11 * S)));
  const node = p.graph.findProcess(300)!;
  t.equal(node.series('offcpu.sleep')!.aggregate('p90', 12, 10), undefined, 'no samples: no percentile');
  t.equal(node.series('offcpu.sleep')!.aggregate('max', 12, 10), 50e6, 'the buckets are there all the same');
  const reload = loadRuleTexts([
    {
      file: 'p.yaml',
      text: "rules:\n  - id: long_sleeps\n    scene: process_blocked\n    when: { metric: offcpu.sleep, agg: p90, window: 30s, op: '>=', value: 1s }\n    cause: x\n",
    },
  ]);
  p.setRules(reload.ruleSet!);
  p.ingest(batch(sleep(12 * S)));
  t.equal(node.series('offcpu.sleep')!.aggregate('p90', 13, 10), 50e6, 'sampled from the reload on');
});

t.test('dropped nodes and edges give their slab records back', async (t) => {
  const p = new Pipeline(rules(), { caps: { idleTtlNs: 50 * S } });
  const g = p.graph;
  const heads0 = g.store.series.heads.used;
  const blocks0 = g.store.nodes.used;
  p.ingest(batch(...[1, 2, 3].map((k) => retransmit(100, 10 * S + k * S))));
  const proc = g.findProcess(100)!;
  const edge = proc.out[0]!;
  t.equal(edge.count, 3);
  t.ok(g.store.series.heads.used > heads0, 'metrics and the edge took heads');
  t.ok(g.store.nodes.used > blocks0);
  g.nowNs = 100 * S;
  g.sweep();
  t.notOk(g.findProcess(100));
  t.equal(g.store.series.heads.used, heads0, 'every head is back');
  t.equal(g.store.nodes.used, blocks0, 'every node block is back');
  t.equal(edge.count, 0, 'a dropped edge reads as empty, not as whatever reuses its head');
  t.equal(proc.lastNs, 0);
  t.equal(proc.series('tcp.retransmits'), undefined);
  proc.observe(0, 101 * S, 1);
  t.equal(g.store.series.heads.used, heads0, 'a dropped node records nothing');
});
