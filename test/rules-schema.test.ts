// Rule file validation: every way a rule file can be wrong gives a precise
// "file:line:col: message", all errors of a file are reported, and the
// shipped rules/ directory is valid.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRuleDir, shippedScenes } from '../src/rules/loader';
import { defaultRulesDir, rulesCheckCommand, rulesCommand } from '../src/rules/check';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-rules-schema-'));
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

/** Writes the files into a fresh directory, loads it, returns the errors with paths relative to it. */
function errorsOf(files: Record<string, string>): string[] {
  const dir = path.join(root, String(n++));
  fs.mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const result = loadRuleDir(dir);
  t.equal(result.ruleSet, undefined, 'no rule set when there are errors');
  return result.errors.map((e) => String(e).slice(dir.length + 1));
}

const OOM = `when: { attr: oom_killed, op: '==', value: true }`;
const AGGS = 'count, sum, rate, max, min, avg, p50, p90, p99, last';
const SCENE_LIST = [...shippedScenes().keys()].join(', ');
const DECLARE = 'declare it under "scenes:" in a rule file';
const PLACES = 'attributes are self.<attr> or <waits_on|consumes|blocked_by>.<type>.<attr>';

t.test('YAML syntax errors carry their position', async (t) => {
  t.same(errorsOf({ 'a.yaml': `rules:\n  - id: a\n    scene: host_oom\n    when: { attr: pid, op: exists\n  - id: b\n` }), [
    'a.yaml:5:3: YAML: Flow map in block collection must be sufficiently indented and end with a }',
  ]);
  t.same(errorsOf({ 'a.yaml': `rules:\n  - id: a\n\tscene: host_oom\n` }), ['a.yaml:3:1: YAML: Tabs are not allowed as indentation']);
  t.same(errorsOf({ 'a.yaml': `rules:\n  - id: a\n    id: b\n    scene: host_oom\n    ${OOM}\n` }), [
    'a.yaml:3:5: YAML: Map keys must be unique',
  ]);
  t.same(errorsOf({ 'a.yaml': `rules:\n  - id: a\n    scene: host_oom\n    when: *nope\n` }), [
    'a.yaml:4:11: unknown alias "*nope" (an anchor "&nope" must come before it)',
  ]);
});

t.test('operators YAML would misread get a quoting hint', async (t) => {
  t.same(
    errorsOf({
      'a.yaml': `rules:\n  - id: a\n    scene: host_oom\n    when: { attr: oom_killed, op: !=, value: true }\n  - id: b\n    scene: host_oom\n    when:\n      attr: pid\n      op: >=\n      value: 1\n`,
    }),
    [
      `a.yaml:4:35: "!=" must be quoted in YAML ('!='), unquoted it is read as a tag`,
      `a.yaml:9:11: ">=" must be quoted in YAML ('>='), unquoted it starts a folded block`,
    ],
  );
});

t.test('unknown keys are errors, with a suggestion', async (t) => {
  t.same(
    errorsOf({
      'net.yaml': `rules:\n  - id: a\n    scene: storage_slow\n    prio: 3\n    when:\n      metric: io.latency\n      agg: p90\n      windw: 30s\n      op: '>='\n      value: 100ms\n`,
    }),
    [
      'net.yaml:4:5: unknown key "prio" in rule (did you mean "priority"? expected one of id, description, scene, priority, confidence, enabled, bind, when, cause, actions, verify)',
      'net.yaml:6:7: missing required field "window" in metric condition (aggregate "p90" reads a time window)',
      'net.yaml:8:7: unknown key "windw" in metric condition (did you mean "window"? expected one of metric, agg, window, op, value, on, name)',
    ],
  );
  t.same(errorsOf({ 'a.yaml': `rule:\n  - id: a\n` }), [
    'a.yaml:1:1: unknown key "rule" in rule file (did you mean "rules"? expected one of rules, scenes)',
    'a.yaml:1:1: missing required field "rules" in rule file',
  ]);
});

t.test('closed word lists: aggregate, operator, scene, action, bind', async (t) => {
  t.same(
    errorsOf({
      'net.yaml': `rules:
  - id: a
    scene: net_stall
    bind: gpuu
    when:
      all:
        - { metric: tcp.retransmits, agg: p95, window: 30s, op: '>=', value: 3 }
        - { attr: state, op: '~=', value: x }
        - { metric: io.errors, agg: last, op: matches, value: 1 }
    actions:
      - type: reboot
`,
    }),
    [
      `net.yaml:3:12: unknown scene "net_stall" (expected one of ${SCENE_LIST}); ${DECLARE}`,
      'net.yaml:4:11: unknown bind type "gpuu" (did you mean "gpu"? expected one of process, peer, device, cgroup, cpu, gpu)',
      `net.yaml:7:43: unknown aggregate "p95" (did you mean "p90"? expected one of ${AGGS})`,
      'net.yaml:8:30: unknown operator "~=" (did you mean "=="? expected one of ==, !=, >, >=, <, <=, in, not_in, exists, matches)',
      'net.yaml:9:47: operator "matches" is not valid for a metric (expected one of ==, !=, >, >=, <, <=)',
      'net.yaml:11:15: unknown action "reboot" (expected one of manual, signal, terminate, sigcont, renice, ionice, cgroup_cpu_limit, cgroup_io_limit, drop_caches, gpu_reset, cordon_node, checkpoint)',
    ],
  );
});

t.test('durations, sizes and values', async (t) => {
  t.same(
    errorsOf({
      'a.yaml': `rules:
  - id: a
    scene: storage_slow
    when:
      any:
        - { metric: io.latency, agg: p90, window: 30 sec, op: '>=', value: 100ms }
        - { metric: io.latency, agg: p90, window: 30s, op: '>=', value: 100 msec }
        - { metric: io.latency, agg: sum, window: 0s, op: '>', value: 1 }
        - { metric: io.latency, agg: sum, window: 30, op: '>', value: 1 }
        - { attr: pid, op: in, value: 3 }
        - { attr: pid, op: '>', value: abc }
        - { attr: pid, op: '==' }
        - { attr: pid, op: exists, value: 3 }
        - { attr: pid, op: matches, value: "([a-z" }
`,
    }),
    [
      'a.yaml:6:51: bad duration "30 sec" for "window" (expected a number and a unit (ns, us, ms, s, m, h, d), e.g. 30s or 500ms, more than 0 and at most 30d)',
      'a.yaml:7:73: bad value "100 msec" (expected a number, a duration like 500ms, a size like 64MiB or a percentage like 90%)',
      'a.yaml:8:51: bad duration "0s" for "window" (expected a number and a unit (ns, us, ms, s, m, h, d), e.g. 30s or 500ms, more than 0 and at most 30d)',
      'a.yaml:9:51: bad duration "30" for "window" (expected a number and a unit (ns, us, ms, s, m, h, d), e.g. 30s or 500ms, more than 0 and at most 30d)',
      'a.yaml:10:39: value for "in" must be a list, got a number (3)',
      'a.yaml:11:40: bad value "abc" (expected a number, a duration like 500ms, a size like 64MiB or a percentage like 90%)',
      'a.yaml:12:11: missing required field "value" in attr condition (operator "==" compares with a value)',
      'a.yaml:13:43: operator "exists" takes no value',
      'a.yaml:14:44: bad regular expression "([a-z": Invalid regular expression: /([a-z/: Unterminated character class',
    ],
  );
});

t.test('wrong types and missing fields', async (t) => {
  t.same(
    errorsOf({
      'a.yaml': `rules:
  - id: a
    scene: host_oom
    priority: "50"
    confidence: 2
    enabled: yes
    description: [x]
    when: [ { attr: oom_killed, op: '==', value: true } ]
  - description: nothing else
  - id: Bad_ID
    scene: 7
    ${OOM}
`,
    }),
    [
      'a.yaml:4:15: "priority" must be an integer from 0 to 100, got a string ("50")',
      'a.yaml:5:17: "confidence" must be a number from 0 to 1, got a number (2)',
      'a.yaml:6:14: "enabled" must be true or false, got a string ("yes")',
      'a.yaml:7:18: "description" must be a single value, got a list',
      'a.yaml:8:11: "when" must be a mapping, got a list',
      'a.yaml:9:5: missing required field "id" in rule',
      'a.yaml:9:5: missing required field "scene" in rule',
      'a.yaml:9:5: missing required field "when" in rule',
      'a.yaml:10:9: bad rule id "Bad_ID" (use lower-case letters, digits, "_", "." and "-")',
      `a.yaml:11:12: unknown scene "7" (expected one of ${SCENE_LIST}); ${DECLARE}`,
    ],
  );
  t.same(errorsOf({ 'a.yaml': `rules:\n  id: a\n` }), ['a.yaml:2:3: "rules" must be a list, got a mapping']);
  t.same(errorsOf({ 'a.yaml': `` }), ['a.yaml:1:1: rule file must be a mapping, got nothing']);
});

t.test('condition shapes', async (t) => {
  t.same(
    errorsOf({
      'a.yaml': `rules:
  - id: a
    scene: host_oom
    when: { attr: pid, metric: io.errors, op: exists }
  - id: b
    scene: host_oom
    when: { atr: x, op: exists }
  - id: c
    scene: host_oom
    when: { all: [] }
  - id: d
    scene: host_oom
    when: { not: { attr: pid, op: exists }, op: exists }
  - id: e
    scene: host_oom
    when:
      all:
        - { attr: pid, op: exists, on: waits_on.pear }
        - { attr: pid, op: exists, name: self }
        - { attr: pid, op: exists, name: n }
        - { attr: comm, op: exists, name: n }
`,
    }),
    [
      'a.yaml:4:11: "when" needs exactly one of all, any, not, metric, attr (found metric and attr)',
      'a.yaml:7:11: "when" needs exactly one of all, any, not, metric, attr (found keys atr, op) (did you mean "attr"? expected one of all, any, not, metric, attr)',
      'a.yaml:10:18: "all" needs at least one condition',
      'a.yaml:13:45: unknown key "op" in "not" condition (expected one of not)',
      'a.yaml:18:40: bad "on": unknown entity type "pear" in "waits_on.pear" (did you mean "peer"? expected one of process, peer, device, cgroup, cpu, error, gpu)',
      'a.yaml:19:42: bad name "self" (a name is letters, digits and _, not self or an edge kind)',
      'a.yaml:21:43: duplicate condition name "n" (first used at line 20:42)',
    ],
  );
});

t.test('templates: unknown placeholders and filters point into the string', async (t) => {
  t.same(
    errorsOf({
      'net.yaml': `rules:
  - id: a
    scene: network_stall
    when: { metric: tcp.retransmits, agg: sum, window: 30s, op: '>=', value: 3, name: retrans }
    cause: "{{self.comm}}: {{retrns}} to {{waits_on.peer.endpoint}} {{wait_on.peer.addr}} {{retrans | ms}} {{retrans | int: 2}} {{x"
    actions:
      - { type: manual, text: "check {{peer}}" }
      - { type: manual, text: "ok {{self.pid}}" }
`,
    }),
    [
      `net.yaml:5:28: unknown placeholder "{{retrns}}" in cause (did you mean "retrans"? named values: retrans; ${PLACES})`,
      `net.yaml:5:69: unknown placeholder "{{wait_on.peer.addr}}" in cause (named values: retrans; ${PLACES})`,
      'net.yaml:5:91: unknown filter "ms" in "{{retrans | ms}}" in cause (did you mean "ns"? expected one of ns, bytes, pct, int, default)',
      'net.yaml:5:108: filter "int" takes no argument in "{{retrans | int: 2}}" in cause',
      'net.yaml:5:129: unclosed "{{" in cause',
      `net.yaml:7:38: unknown placeholder "{{peer}}" in action text (named values: retrans; ${PLACES})`,
    ],
  );
  // a block scalar cannot be mapped character by character: the error points at the string
  t.same(errorsOf({ 'a.yaml': `rules:\n  - id: a\n    scene: host_oom\n    ${OOM}\n    cause: >\n      folded {{nope}}\n` }), [
    `a.yaml:5:12: unknown placeholder "{{nope}}" in cause (no condition has a "name:"; ${PLACES})`,
  ]);
});

t.test('actions: targets and required parts', async (t) => {
  t.same(
    errorsOf({
      'a.yaml': `rules:
  - id: a
    scene: cpu_starvation
    ${OOM}
    actions:
      - type: manual
      - { type: renice, target: waits_on.cpu }
      - { type: renice, target: waits_on.cpu, params: { pid: "{{waits_on.cpu.top.pid}}" } }
      - type: signal
      - { type: gpu_reset, params: { id: "{{nope}}", x: } }
      - { type: sigcont, target: waits_for.process }
      - { type: manual, text: hi, colour: red }
`,
    }),
    [
      'a.yaml:6:9: missing required field "text" in action (a manual action tells a person what to do)',
      'a.yaml:7:33: action "renice" acts on a process, but its target is a cpu (or name the process with params.pid)',
      'a.yaml:9:9: action "signal" needs params.signal',
      'a.yaml:10:9: action "gpu_reset" acts on a gpu, but its target is a process',
      `a.yaml:10:43: unknown placeholder "{{nope}}" in param "id" (no condition has a "name:"; ${PLACES})`,
      'a.yaml:10:54: param "x" has no value',
      'a.yaml:11:34: bad action target: unknown edge kind "waits_for" in "waits_for.process" (did you mean "waits_on"? expected one of waits_on, consumes, blocked_by)',
      'a.yaml:12:35: unknown key "colour" in action (expected one of type, text, target, params)',
    ],
  );
});

t.test('duplicate ids across files name the first definition', async (t) => {
  const rule = (id: string) => `rules:\n  - id: ${id}\n    scene: host_oom\n    ${OOM}\n`;
  t.same(
    errorsOf({
      'a.yaml': rule('x'),
      'b.yml': `# second\n${rule('y')}${rule('x').slice('rules:\n'.length)}`,
      'notes.txt': 'not a rule file',
    }),
    [`b.yml:6:9: duplicate rule id "x" (first defined at ${path.join(root, String(n - 1), 'a.yaml')}:2:9)`],
  );
});

t.test('all errors of all files are reported, in file and position order', async (t) => {
  const errs = errorsOf({
    'b.yaml': `rules:\n  - id: b\n    scene: nope\n    ${OOM}\n  - id: c\n    scene: host_oom\n    priority: 101\n    ${OOM}\n`,
    'a.yaml': `rules:\n  - id: a\n    scene: host_oom\n    when: { metric: io.errors, agg: p95, window: 1x, op: '>', value: 1 }\n`,
  });
  t.same(
    errs.map((e) => e.split(': ')[0]),
    ['a.yaml:4:37', 'a.yaml:4:50', 'b.yaml:3:12', 'b.yaml:7:15'],
  );
});

t.test('the shipped rules/ directory loads with zero errors and covers every host scene', async (t) => {
  const dir = defaultRulesDir();
  t.equal(path.basename(dir), 'rules');
  const result = loadRuleDir(dir);
  t.same(result.errors.map(String), []);
  const rs = result.ruleSet!;
  t.same(
    rs.source.map((s) => path.basename(s.file)),
    ['cpu.yaml', 'gpu.yaml', 'memory.yaml', 'network.yaml', 'process.yaml', 'storage.yaml', 'syscall-errors.yaml'],
  );
  const scenes = new Set(rs.rules.map((r) => r.scene));
  for (const s of ['network_stall', 'storage_slow', 'storage_io_error', 'host_oom', 'process_crash', 'process_blocked', 'cpu_starvation'])
    t.ok(scenes.has(s as never), s);
  t.ok(scenes.has('storage_full' as never), 'storage_full');
  t.ok(scenes.has('network_peer_slow' as never), 'network_peer_slow');
  t.same(
    rs.byMetric.get('tcp.retransmits')?.map((r) => r.id),
    ['nccl.hang_network', 'network.retransmits', 'network.peer_retransmits', 'network.peer_not_reading'],
  );
  t.same([...rs.byBind.keys()].sort(), ['device', 'peer', 'process']);
  t.ok(rs.source.every((s) => s.mtimeMs > 0));
});

async function capture(f: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => {
    err += s;
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await f(), out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

t.test('xctl rules check', async (t) => {
  const ok = await capture(() => rulesCheckCommand([]));
  t.same([ok.code, ok.err], [0, '']);
  t.match(ok.out, /^\d+ rules in 7 files OK\n$/); // xid-catalog.yaml is data, not a rule file
  const count = loadRuleDir(defaultRulesDir()).ruleCount;
  t.equal(ok.out, `${count} rules in 7 files OK\n`);

  const dir = path.join(root, 'check');
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, 'x.yaml'),
    `rules:\n  - id: x\n    scene: host_oom\n    when: { metric: io.errors, agg: p95, window: 1m, op: '>', value: 1 }\n`,
  );
  const bad = await capture(() => rulesCheckCommand([dir]));
  t.same([bad.code, bad.out], [1, '']);
  t.equal(
    bad.err,
    `${path.join(dir, 'x.yaml')}:4:37: unknown aggregate "p95" (did you mean "p90"? expected one of ${AGGS})\n1 error in 1 file\n`,
  );

  const one = await capture(() => rulesCommand(['check', path.join(defaultRulesDir(), 'memory.yaml')]));
  t.same([one.code, one.out], [0, '2 rules in 1 file OK\n'], 'a single file can be checked');

  const missing = await capture(() => rulesCheckCommand([path.join(root, 'nope')]));
  t.equal(missing.code, 1);
  t.match(missing.err, /nope:1:1: cannot read rules: ENOENT/);

  t.equal((await capture(() => rulesCheckCommand(['a', 'b']))).code, 2, 'two paths: usage error');
  t.equal((await capture(() => rulesCheckCommand(['--frobnicate']))).code, 2, 'unknown flag: usage error');
  t.equal((await capture(() => rulesCommand(['lint']))).code, 2, 'unknown subcommand');
  const help = await capture(() => rulesCheckCommand(['--help']));
  t.same([help.code, help.out.split('\n')[0]], [0, 'usage: xctl rules check [DIR|FILE]']);
});
