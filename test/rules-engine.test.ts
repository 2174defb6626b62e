// The rule engine end to end on an in-memory graph: each shipped scene rule
// fires on its own scenario only, with the right root cause winning;
// templates, not/any, neighbour bindings; the incremental matcher only
// evaluates what a change can affect and lets matches expire; hot reload.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryContext } from '../src/rules/memory-context';
import { loadRuleDir, loadRuleTexts, shippedScenes, watchRules } from '../src/rules/loader';
import { defaultRulesDir } from '../src/rules/check';
import { RuleMatcher } from '../src/rules/matcher';
import type { RuleSet } from '../src/rules/ruleset';
import type { EntityRef, EntityType } from '../src/rules/context';
import type { RuleError } from '../src/rules/errors';
import { parseDuration, parseSize } from '../src/rules/units';
import { formatBytes, formatNs, formatPct } from '../src/events/units-text';

const S = 1_000_000_000n;
const MS = 1_000_000n;
const ent = (type: EntityType, id: string): EntityRef => ({ type, id });

function rulesFrom(text: string): RuleSet {
  const r = loadRuleTexts([{ file: 'test.yaml', text }]);
  if (!r.ruleSet) throw new Error(r.errors.join('\n'));
  return r.ruleSet;
}

const shipped = loadRuleDir(defaultRulesDir());

/** Seven failure scenarios and a healthy process on one fake host, at t = 100 s. */
function scenarios() {
  const ctx = new MemoryContext();
  ctx.nowNs = 100n * S;
  const at = (s: number) => BigInt(Math.round(s * 1e9));
  const proc = (name: string, pid: number, attrs: Record<string, string | number | boolean> = {}) => {
    const p = ent('process', `p:${pid}:1`);
    ctx.set(p, { pid, comm: name, exe: `/usr/bin/${name}`, state: 'sleeping', cgroup: `/jobs/${name}`, ...attrs });
    return p;
  };

  const net = proc('iperf', 101);
  const peer = ent('peer', 'peer:10.0.0.2:5001');
  ctx.set(peer, { addr: '10.0.0.2', port: 5001, endpoint: '10.0.0.2:5001' });
  ctx.link(net, 'waits_on', peer);
  for (const [t, n] of [
    [80, 2],
    [90, 3],
    [99, 2],
  ] as const)
    ctx.sample(net, 'tcp.retransmits', n, at(t));
  ctx.sample(net, 'tcp.retransmits', 50, at(10)); // outside the 30 s window: not counted
  ctx.sample(peer, 'tcp.retransmits', 7, at(95));

  const slow = proc('dd', 102, { state: 'blocked' });
  const loop0 = ent('device', 'dev:7:0');
  ctx.set(loop0, { dev: '7:0', name: 'loop0' });
  ctx.link(slow, 'waits_on', loop0);
  for (let i = 0; i < 10; i++) ctx.sample(slow, 'io.latency', 250e6 + i * 1e6, at(50 + i));
  ctx.sample(slow, 'offcpu.blocked', 2e9, at(98)); // D state too: a weaker, secondary explanation

  const ioerr = proc('writer', 103);
  const sda = ent('device', 'dev:8:0');
  ctx.set(sda, { dev: '8:0', name: 'sda' });
  ctx.link(ioerr, 'waits_on', sda);
  ctx.sample(ioerr, 'io.errors', 1, at(40)).sample(ioerr, 'io.errors', 1, at(41));
  ctx.sample(ioerr, 'io.latency', 1e6, at(41));

  const oom = proc('memhog', 104, {
    state: 'exited',
    'exit.code': 137,
    'exit.signal': 9,
    'exit.signal_name': 'SIGKILL',
    oom_killed: true,
    'oom.anon_rss_kb': 7_340_032,
  });

  const crash = proc('segv', 105, {
    state: 'exited',
    'exit.code': 139,
    'exit.signal': 11,
    'exit.signal_name': 'SIGSEGV',
    'exit.core_dumped': true,
  });

  const waiter = proc('reader', 106);
  const holder = proc('writer', 107, { state: 'stopped', 'stopped_by.pid': 77, 'stopped_by.comm': 'bash' });
  ctx.link(waiter, 'waits_on', holder);

  const starved = proc('trainer', 108, { state: 'running' });
  const cpus = ent('cpu', 'cpu:host');
  ctx.set(cpus, { competitors: 'cpu-hog (4242) 98 %, cpu-hog (4243) 97 %', 'top.pid': 4242, 'top.comm': 'cpu-hog' });
  ctx.link(starved, 'waits_on', cpus);
  for (let i = 0; i < 9; i++) ctx.sample(starved, 'offcpu.runq', 100e6, at(75 + i * 2));

  const healthy = proc('sshd', 109);
  const peer2 = ent('peer', 'peer:10.0.0.9:22');
  ctx.set(peer2, { endpoint: '10.0.0.9:22' });
  ctx.link(healthy, 'waits_on', peer2);
  ctx.sample(healthy, 'tcp.retransmits', 1, at(95)).sample(healthy, 'io.latency', 2e6, at(95)).sample(healthy, 'offcpu.runq', 10e6, at(95));
  ctx.sample(healthy, 'offcpu.waits_on_process', 50e6, at(95)).sample(healthy, 'cpu.usage', 0.02, at(95));

  const subjects = { net, slow, ioerr, oom, crash, waiter, starved, healthy };
  return { ctx, subjects, peer, loop0, holder, cpus };
}

t.test('the shipped rules load', async (t) => {
  t.same(shipped.errors.map(String), []);
  t.ok(shipped.ruleSet);
});

t.test('each scene rule fires on its own scenario and the root cause wins', async (t) => {
  const rs = shipped.ruleSet!;
  const { ctx, subjects, holder } = scenarios();
  const matcher = new RuleMatcher(rs);
  const got = Object.fromEntries(Object.entries(subjects).map(([k, e]) => [k, matcher.evaluateNow(ctx, e)]));
  const top = (k: string) => got[k]![0];

  t.same(
    Object.fromEntries(Object.entries(got).map(([k, ms]) => [k, ms.map((m) => m.ruleId)])),
    {
      net: ['network.retransmits'],
      slow: ['storage.slow_io', 'process.uninterruptible'],
      ioerr: ['storage.io_errors'],
      oom: ['memory.oom_killed'],
      crash: ['process.crash_signal', 'process.exit_nonzero'],
      waiter: ['process.blocked_on_stopped'],
      starved: ['cpu.runqueue_starvation'],
      healthy: [],
    },
    'every scenario matches exactly its rules, best first; the healthy process none',
  );
  t.same(
    Object.keys(subjects).map((k) => top(k)?.scene),
    ['network_stall', 'storage_slow', 'storage_io_error', 'host_oom', 'process_crash', 'process_blocked', 'cpu_starvation', undefined],
  );

  t.equal(top('net')!.cause, 'iperf (101) is stalled on the network: 7 TCP retransmits in 30 s to 10.0.0.2:5001');
  t.same(top('net')!.values, { retrans: 7 });
  t.same(top('net')!.evidence, [{ leaf: 'sum(tcp.retransmits over 30s) = 7 >= 3', value: 7, entity: subjects.net }]);
  t.same(top('net')!.bindings, { 'waits_on.peer': { type: 'peer', id: 'peer:10.0.0.2:5001' } });
  t.match(top('net')!.actions, [{ type: 'manual', targetSpec: 'self', text: /^check the path to 10\.0\.0\.2:5001: / }]);

  t.equal(top('slow')!.cause, 'dd (102) waits on slow storage: p90 I/O latency 258.0 ms over 60 s on device 7:0 (loop0)');
  t.same(
    top('slow')!.evidence.map((e) => e.leaf),
    ['p90(io.latency over 60s) = 258.0 ms >= 100ms'],
  );
  t.equal(got.slow![1]!.cause, 'dd (102) spent 2.0 s of the last 60 s in uninterruptible sleep (D state)');

  t.equal(top('ioerr')!.cause, 'writer (103) got 2 failed I/O(s) in 5 min on device 8:0 (sda), last error unknown');
  t.same(
    top('ioerr')!.actions.map((a) => [a.type, a.params]),
    [
      ['manual', {}],
      ['checkpoint', { op: 'save' }],
    ],
  );

  t.equal(top('oom')!.cause, 'memhog (104) was killed by the kernel OOM killer (anon RSS 7340032 kB, cgroup /jobs/memhog)');
  t.match(top('oom')!.actions[0]!.text, /^raise the memory limit of cgroup \/jobs\/memhog /);

  t.equal(top('crash')!.cause, 'segv (105) crashed with SIGSEGV (signal 11, core dumped: true)');
  t.same(
    top('crash')!.evidence.map((e) => e.leaf),
    ['state = "exited" == "exited"', 'exit.signal = 11 in [4, 6, 7, 8, 11, 31]'],
  );
  t.equal(got.crash![1]!.cause, 'segv (105) exited with code 139', 'the exit code is a secondary match');

  t.equal(top('waiter')!.cause, 'reader (106) is blocked waiting on writer (107), which is stopped by bash (77)');
  const sigcont = top('waiter')!.actions[0]!;
  t.same(
    [sigcont.type, sigcont.targetSpec, sigcont.target, sigcont.text],
    ['sigcont', 'waits_on.process', holder, 'resume writer (107): kill -CONT 107'],
  );
  t.same(top('waiter')!.evidence[1], { leaf: 'waits_on.process.state = "stopped" == "stopped"', value: 'stopped', entity: holder });

  t.equal(
    top('starved')!.cause,
    'trainer (108) waited 900.0 ms for a CPU in the last 30 s; competing: cpu-hog (4242) 98 %, cpu-hog (4243) 97 %',
  );
  const [renice, limit] = top('starved')!.actions;
  t.same(renice!.params, { pid: 4242, nice: 19 }, 'a param that is one placeholder keeps the number type');
  t.equal(renice!.text, 'lower the priority of the top competitor cpu-hog (4242): renice -n 19 -p 4242');
  t.same(limit!.params, { pid: 4242, cpus: 1 });

  // without a known top competitor there is nobody to renice: the actions are left out, the cause stays
  const { ctx: ctx2, subjects: s2, cpus } = scenarios();
  ctx2.set(cpus, { 'top.pid': undefined, competitors: undefined });
  const bare = matcher.evaluateNow(ctx2, s2.starved)[0]!;
  t.equal(bare.cause, 'trainer (108) waited 900.0 ms for a CPU in the last 30 s; competing: unknown');
  t.same(bare.actions, []);
});

t.test('the stopped holder and the lossy peer are explained by their own rules', async (t) => {
  const { ctx, holder, peer } = scenarios();
  const matcher = new RuleMatcher(shipped.ruleSet!);
  const h = matcher.evaluateNow(ctx, holder);
  t.same(
    h.map((m) => [m.ruleId, m.cause]),
    [['process.stopped', 'writer (107) is stopped by bash (77)']],
  );
  t.same(
    h[0]!.actions.map((a) => [a.type, a.target]),
    [['sigcont', holder]],
  );
  t.same(matcher.evaluateNow(ctx, peer), [], '7 retransmits to the peer are under its threshold of 10');
  ctx.sample(peer, 'tcp.retransmits', 5, ctx.nowNs);
  t.equal(matcher.evaluateNow(ctx, peer)[0]?.cause, 'the path to 10.0.0.2:5001 is losing packets: 12 TCP retransmits in 30 s');
});

t.test('an OOM-killed process is host_oom, not a crash or a kill', async (t) => {
  const { ctx, subjects } = scenarios();
  ctx.set(subjects.oom, { 'killed_by.pid': 1, 'killed_by.comm': 'oom_reaper' });
  const matcher = new RuleMatcher(shipped.ruleSet!);
  t.same(
    matcher.evaluateNow(ctx, subjects.oom).map((m) => m.scene),
    ['host_oom'],
  );
  ctx.set(subjects.oom, { oom_killed: false, 'killed_by.comm': 'supervisord', 'killed_by.pid': 1 });
  t.same(
    matcher.evaluateNow(ctx, subjects.oom).map((m) => [m.ruleId, m.cause]),
    [
      ['process.killed', 'memhog (104) was killed by supervisord (1) with SIGKILL'],
      ['process.exit_nonzero', 'memhog (104) exited with code 137'],
    ],
  );
});

t.test('units and template filters', async (t) => {
  t.equal(parseDuration('30s'), 30n * S);
  t.equal(parseDuration('500ms'), 500n * MS);
  t.equal(parseDuration('2m'), 120n * S);
  t.equal(parseDuration('1h'), 3600n * S);
  t.equal(parseDuration('10us'), 10_000n);
  t.equal(parseDuration('1.5s'), 1_500_000_000n);
  t.equal(parseDuration('30 sec'), undefined);
  t.equal(parseSize('64MiB'), 64 * 2 ** 20);
  t.equal(parseSize('4KiB'), 4096);
  t.equal(formatNs(512_300_000), '512.3 ms');
  t.equal(formatNs(2_100_000_000), '2.1 s');
  t.equal(formatNs(850), '850 ns');
  t.equal(formatNs(12_340), '12.3 µs');
  t.equal(formatBytes(64 * 2 ** 20), '64.0 MiB');
  t.equal(formatBytes(512), '512 B');
  t.equal(formatPct(0.934), '93 %');

  const rs = rulesFrom(`
rules:
  - id: fmt
    scene: cpu_starvation
    when:
      all:
        - { metric: offcpu.runq, agg: sum, window: 30s, op: '>=', value: 0ms, name: wait }
        - { metric: gpu.mem_used, agg: last, op: '>=', value: 1MiB, name: rss }
        - { metric: cpu.usage, agg: avg, window: 10s, op: '>', value: 50%, name: usage }
    cause: "{{wait | ns}} / {{rss | bytes}} / {{usage | pct}} / {{usage | int}} / {{usage}} / {{self.comm}} / {{self.exe}} / {{self.exe | default: n/a}} / {{waits_on.peer.addr | default: 'no peer'}}"
`);
  const ctx = new MemoryContext();
  ctx.nowNs = 100n * S;
  const p = ent('process', 'p:1:1');
  ctx
    .set(p, { comm: 'app' })
    .sample(p, 'offcpu.runq', 512_300_000, 99n * S)
    .sample(p, 'gpu.mem_used', 64 * 2 ** 20, 1n * S)
    .sample(p, 'cpu.usage', 0.9345, 99n * S);
  const m = rs.rules[0]!.evaluate(ctx, p);
  t.equal(m?.cause, '512.3 ms / 64.0 MiB / 93 % / 1 / 0.935 / app / ? / n/a / no peer');
  t.same(m?.values, { wait: 512_300_000, rss: 64 * 2 ** 20, usage: 0.9345 });
  t.same(
    m?.evidence.map((e) => e.leaf),
    ['sum(offcpu.runq over 30s) = 512.3 ms >= 0ms', 'last(gpu.mem_used) = 64.0 MiB >= 1MiB', 'avg(cpu.usage over 10s) = 93 % > 50%'],
  );
});

t.test('not / any and the evidence that explains them', async (t) => {
  const rs = rulesFrom(`
rules:
  - id: either
    scene: process_crash
    when:
      all:
        - any:
            - { attr: exit.signal, op: in, value: [6, 11], name: sig }
            - { attr: exit.code, op: '>', value: 0, name: code }
        - not: { attr: oom_killed, op: '==', value: true }
    cause: "sig={{sig}} code={{code}}"
`);
  const rule = rs.rules[0]!;
  const ctx = new MemoryContext();
  const p = ent('process', 'p');
  ctx.set(p, { 'exit.code': 3 });
  const m = rule.evaluate(ctx, p);
  t.equal(m?.cause, 'sig=? code=3', 'named values of leaves not evaluated are read for the template');
  t.same(
    m?.evidence.map((e) => e.leaf),
    ['exit.code = 3 > 0', 'oom_killed = (absent), not == true'],
    'the failed any-branch is not evidence',
  );
  ctx.set(p, { 'exit.code': 0, 'exit.signal': 6 });
  t.equal(rule.evaluate(ctx, p)?.cause, 'sig=6 code=0');
  ctx.set(p, { oom_killed: true });
  t.equal(rule.evaluate(ctx, p), null, 'not: excludes');
  ctx.set(p, { oom_killed: undefined, 'exit.signal': 9 });
  t.equal(rule.evaluate(ctx, p), null, 'any: neither branch');
  t.equal(rule.evaluate(ctx, ent('peer', 'p')), null, 'a rule bound to process never matches a peer');
});

t.test('on: waits_on.peer reads the strongest neighbour and binds it', async (t) => {
  const rs = rulesFrom(`
rules:
  - id: peer_loss
    scene: network_stall
    when:
      all:
        - { metric: tcp.retransmits, on: waits_on.peer, agg: sum, window: 30s, op: '>=', value: 3, name: lost }
        - { attr: port, on: waits_on.peer, op: '==', value: 5001 }
    cause: "{{lost}} lost to {{waits_on.peer.addr}}:{{waits_on.peer.port}}"
    actions:
      - { type: manual, target: waits_on.peer, text: "mtr {{waits_on.peer.addr}}" }
`);
  const rule = rs.rules[0]!;
  const ctx = new MemoryContext();
  ctx.nowNs = 10n * S;
  const p = ent('process', 'p');
  const strong = ent('peer', 'peer:a');
  const weak = ent('peer', 'peer:b');
  t.equal(rule.evaluate(ctx, p), null, 'no neighbour: the leaf is false');
  ctx.set(strong, { addr: '10.0.0.2', port: 5001 }).set(weak, { addr: '10.0.0.3', port: 5001 });
  ctx.link(p, 'waits_on', strong).link(p, 'waits_on', weak);
  ctx.sample(strong, 'tcp.retransmits', 4).sample(weak, 'tcp.retransmits', 100);
  const m = rule.evaluate(ctx, p);
  t.equal(m?.cause, '4 lost to 10.0.0.2:5001', 'the first (strongest) neighbour, not the one with more loss');
  t.same(m?.bindings, { 'waits_on.peer': strong });
  t.same(
    m?.evidence.map((e) => [e.leaf, e.entity]),
    [
      ['sum(tcp.retransmits over 30s) on waits_on.peer = 4 >= 3', strong],
      ['waits_on.peer.port = 5001 == 5001', strong],
    ],
  );
  t.same(
    m?.actions.map((a) => [a.target, a.text]),
    [[strong, 'mtr 10.0.0.2']],
  );
  t.same(rule.metrics, ['tcp.retransmits']);
});

const MATCHER_RULES = `
rules:
  - id: reads_a
    scene: network_stall
    when: { metric: offcpu.sleep, agg: sum, window: 10s, op: '>=', value: 3 }
  - id: reads_b
    scene: storage_slow
    when: { metric: offcpu.blocked, agg: max, window: 10s, op: '>', value: 5 }
  - id: attr_only
    scene: process_crash
    priority: 90
    when: { attr: state, op: '==', value: exited }
  - id: holder_stopped
    scene: process_blocked
    when: { attr: state, on: waits_on.process, op: '==', value: stopped }
  - id: device_latency
    scene: storage_slow
    when: { metric: io.latency, on: waits_on.device, agg: max, window: 10s, op: '>=', value: 100ms }
`;

t.test('incremental matcher: a change set evaluates the union of its metrics once, and its shared list stays as made', async (t) => {
  const rs = rulesFrom(MATCHER_RULES);
  const ctx = new MemoryContext();
  ctx.nowNs = 100n * S;
  const m = new RuleMatcher(rs);
  const p = ent('process', 'p:1');
  const q = ent('process', 'p:2');
  const ab = m.changeSet('process', ['offcpu.sleep', 'offcpu.blocked']);
  t.same(ab.self.map((r) => r.id).sort(), ['reads_a', 'reads_b']);
  t.same(m.changeSet('peer', ['offcpu.sleep']).self, [], 'no rule reads "a" on a peer');
  const onlyA = m.changeSet('process', ['offcpu.sleep']);
  m.touchedSet(q, onlyA);
  m.touched(q, 'offcpu.blocked'); // merges into q's due list: a copy, not the shared one
  t.same(
    onlyA.self.map((r) => r.id),
    ['reads_a'],
    'the shared list was not modified',
  );
  m.touchedSet(p, ab);
  m.touchedSet(p, ab);
  t.equal(m.flush(ctx).evaluated, 4, 'two rules for each process, once each');
  t.same(Object.fromEntries(m.stats.evaluationsByRule), { reads_a: 2, reads_b: 2 });
});

t.test('incremental matcher: only rules reading the touched metric are evaluated', async (t) => {
  const rs = rulesFrom(MATCHER_RULES);
  t.same([...rs.byMetric.keys()].sort(), ['io.latency', 'offcpu.blocked', 'offcpu.sleep']);
  const ctx = new MemoryContext();
  ctx.nowNs = 100n * S;
  const m = new RuleMatcher(rs);
  const p = ent('process', 'p:1');
  const evals = () => Object.fromEntries(m.stats.evaluationsByRule);

  ctx.sample(p, 'offcpu.sleep', 2);
  m.touched(p, 'offcpu.sleep');
  t.same(m.flush(ctx).evaluated, 1);
  t.same(evals(), { reads_a: 1 }, 'touching a evaluates reads_a only');
  t.same(m.matchesFor(p), []);

  ctx.sample(p, 'offcpu.sleep', 2);
  m.touched(p, 'offcpu.sleep');
  m.touched(p, 'offcpu.sleep'); // several touches before a flush: one evaluation
  m.touched(p, 'unrelated.metric');
  const f = m.flush(ctx);
  t.same(evals(), { reads_a: 2 });
  t.same(
    f.started.map((x) => x.ruleId),
    ['reads_a'],
  );
  t.same(
    m.matchesFor(p).map((x) => x.ruleId),
    ['reads_a'],
  );
  t.same(Object.fromEntries(m.stats.matchesByRule), { reads_a: 1 });

  t.same(m.flush(ctx), { evaluated: 1, started: [], ended: [] }, 'an active match is re-evaluated on every flush');
  t.same(evals(), { reads_a: 3 });

  m.touched(ent('peer', 'x'), 'offcpu.sleep');
  m.flush(ctx);
  t.same(evals(), { reads_a: 4 }, 'a peer touching "a" does not evaluate process rules (only the active one re-runs)');

  ctx.set(p, { state: 'exited' });
  m.touchedAttr(p);
  m.flush(ctx);
  t.same(
    evals(),
    { reads_a: 5, reads_b: 1, attr_only: 1, holder_stopped: 1, device_latency: 1 },
    'an attribute change evaluates every process rule',
  );
  t.same(
    m.matchesFor(p).map((x) => x.ruleId),
    ['attr_only', 'reads_a'],
    'sorted by priority*confidence',
  );
  t.equal(m.topMatchFor(p)?.ruleId, 'attr_only', 'the top match is the first of them');
  t.equal(m.stats.evaluations, 9);
});

t.test('incremental matcher: active matches expire when the window passes', async (t) => {
  const rs = rulesFrom(MATCHER_RULES);
  const ctx = new MemoryContext();
  ctx.nowNs = 100n * S;
  const m = new RuleMatcher(rs);
  const p = ent('process', 'p:1');
  ctx.sample(p, 'offcpu.sleep', 5, 95n * S);
  m.touched(p, 'offcpu.sleep');
  t.same(
    m.flush(ctx).started.map((x) => x.ruleId),
    ['reads_a'],
  );
  ctx.nowNs = 104n * S;
  t.same(m.flush(ctx).ended, [], 'still inside the 10 s window');
  t.equal(m.active.size, 1);
  ctx.nowNs = 106n * S;
  const f = m.flush(ctx);
  t.same(f.ended, [{ entity: p, ruleId: 'reads_a' }], 'no new event, but the sample left the window');
  t.same(m.matchesFor(p), []);
  t.equal(m.active.size, 0);
  t.same(m.flush(ctx), { evaluated: 0, started: [], ended: [] }, 'nothing active, nothing touched: nothing evaluated');
});

t.test('incremental matcher: a change on a neighbour re-evaluates its dependents', async (t) => {
  const rs = rulesFrom(MATCHER_RULES);
  const ctx = new MemoryContext();
  ctx.nowNs = 100n * S;
  const m = new RuleMatcher(rs);
  const waiter = ent('process', 'p:waiter');
  const holder = ent('process', 'p:holder');
  const dev = ent('device', 'd');
  ctx.link(waiter, 'waits_on', holder).link(waiter, 'waits_on', dev);
  ctx.set(holder, { state: 'stopped' });
  m.touchedAttr(holder); // the holder got SIGSTOPped; nothing happens on the waiter itself
  m.flush(ctx);
  t.same(
    m.matchesFor(waiter).map((x) => x.ruleId),
    ['holder_stopped'],
  );
  t.equal(m.stats.evaluationsByRule.get('holder_stopped'), 2, 'once for the holder, once for its waiter');

  const before = Object.fromEntries(m.stats.evaluationsByRule);
  ctx.sample(dev, 'io.latency', 300e6);
  m.touched(dev, 'io.latency');
  const f = m.flush(ctx);
  t.same(
    f.started.map((x) => [x.ruleId, x.entity.id]),
    [['device_latency', 'p:waiter']],
  );
  const after = Object.fromEntries(m.stats.evaluationsByRule);
  t.same(
    after,
    { ...before, holder_stopped: before.holder_stopped! + 1, device_latency: before.device_latency! + 1 },
    'the device latency rule for the waiter, plus the active match',
  );
});

t.test('hot reload keeps the old rule set on a bad file and swaps on a good one', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-rules-reload-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const rule = (id: string, scene = 'host_oom') =>
    `rules:\n  - id: ${id}\n    scene: ${scene}\n    when: { attr: oom_killed, op: '==', value: true }\n`;
  fs.writeFileSync(path.join(dir, 'a.yaml'), rule('first'));
  const changes: RuleSet[] = [];
  const failures: RuleError[][] = [];
  const w = watchRules(
    dir,
    (rs) => changes.push(rs),
    (e) => failures.push(e),
    { debounceMs: 30 },
  );
  t.teardown(() => w.close());
  t.same(
    changes.map((rs) => rs.rules.map((r) => r.id)),
    [['first']],
    'the first load reports through onChange',
  );
  const matcher = new RuleMatcher(w.current!);

  fs.writeFileSync(path.join(dir, 'b.yaml'), rule('second', 'host_oomm'));
  const bad = w.reload();
  t.same(bad.errors.map(String), [
    `${path.join(dir, 'b.yaml')}:3:12: unknown scene "host_oomm" (did you mean "host_oom"? expected one of ${[...shippedScenes().keys()].join(', ')}); declare it under "scenes:" in a rule file`,
  ]);
  t.equal(failures.length, 1);
  t.same(
    w.current!.rules.map((r) => r.id),
    ['first'],
    'the old set stays active',
  );
  t.equal(changes.length, 1);

  fs.writeFileSync(path.join(dir, 'b.yaml'), rule('second'));
  const good = w.reload();
  t.same(good.errors, []);
  t.same(
    w.current!.rules.map((r) => r.id),
    ['first', 'second'],
  );
  t.equal(changes.length, 2);
  t.same(
    w.current!.source.map((s) => path.basename(s.file)),
    ['a.yaml', 'b.yaml'],
  );

  // an active match of a rule that a reload removes ends at the next flush
  const ctx = new MemoryContext();
  const p = ent('process', 'p');
  ctx.set(p, { oom_killed: true });
  matcher.setRuleSet(w.current!);
  matcher.touchedAttr(p);
  t.same(
    matcher.flush(ctx).started.map((m) => m.ruleId),
    ['first', 'second'],
  );
  fs.unlinkSync(path.join(dir, 'a.yaml'));
  w.reload();
  matcher.setRuleSet(w.current!);
  t.same(
    matcher.flush(ctx).ended.map((e) => e.ruleId),
    ['first'],
  );
  t.same(
    matcher.matchesFor(p).map((m) => m.ruleId),
    ['second'],
  );

  // and the file watcher picks up an edit by itself
  const swapped = new Promise<RuleSet>((resolve) => {
    const timer = setTimeout(() => resolve(w.current!), 5000);
    const poll = setInterval(() => {
      if (changes.length > 3) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(changes[changes.length - 1]!);
      }
    }, 20);
  });
  fs.writeFileSync(path.join(dir, 'c.yml'), rule('third'));
  t.same(
    (await swapped).rules.map((r) => r.id),
    ['second', 'third'],
    'fs.watch reloads after a change',
  );
});
