// Hostile rule files (issue 13): numbers past any sensible bound, YAML alias bombs, oversized files and
// regexes built to backtrack are refused (or made harmless) with file:line:col, never thrown; a bad
// file at the first load is skipped while the others load, and a reload keeps the previous set.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRuleDir, loadRuleTexts, loadRuleTextsSkippingBad, watchRules } from '../src/rules/loader';
import { MAX_RULE_FILE_BYTES, parseRuleFile } from '../src/rules/schema';
import { MAX_REGEX_SUBJECT, compileRuleRegex, regexSubject } from '../src/rules/regex';
import type { AttrLeaf } from '../src/rules/spec';
import { parseDuration, parseSize } from '../src/rules/units';
import { loadAgentConfig } from '../src/config/config';
import { RuleMatcher } from '../src/rules/matcher';
import { MemoryContext } from '../src/rules/memory-context';
import type { EntityRef } from '../src/rules/context';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-hostile-rules-'));
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
const NINES = '9'.repeat(400);

const metricRule = (id: string, window: string, value: string) =>
  `rules:\n  - id: ${id}\n    scene: cpu_starvation\n    when:\n      metric: offcpu.runq\n      agg: sum\n      window: ${window}\n      op: '>'\n      value: ${value}\n`;
const matchesRule = (id: string, re: string) =>
  `rules:\n  - id: ${id}\n    scene: cpu_starvation\n    when:\n      attr: exe\n      op: matches\n      value: '${re}'\n`;
const GOOD = metricRule('good', '10s', '100ms');

/** Errors of one file's text as "line:col: message". */
function errorsOf(text: string): string[] {
  return parseRuleFile(text, 'f.yaml').errors.map((e) => String(e).slice('f.yaml:'.length));
}

t.test('a huge duration, size or number is an error with its place and bound, not a crash', async (t) => {
  t.same(errorsOf(metricRule('a', `${NINES}s`, '1')), [
    `7:15: bad duration "${'9'.repeat(20)}…(401 characters)" for "window" (expected a number and a unit (ns, us, ms, s, m, h, d), e.g. 30s or 500ms, more than 0 and at most 30d)`,
  ]);
  t.same(errorsOf(metricRule('a', `${NINES}ms`, '1')).length, 1, '…ms too');
  t.same(errorsOf(metricRule('a', '31d', '1')), [
    '7:15: bad duration "31d" for "window" (expected a number and a unit (ns, us, ms, s, m, h, d), e.g. 30s or 500ms, more than 0 and at most 30d)',
  ]);
  t.same(errorsOf(metricRule('a', '10s', `${NINES}GiB`)), [
    `9:14: value "${'9'.repeat(20)}…(403 characters)" is out of range (a size is at most 1PiB)`,
  ]);
  t.same(errorsOf(metricRule('a', '10s', `${NINES}s`)), [
    `9:14: value "${'9'.repeat(20)}…(401 characters)" is out of range (a duration is at most 30d)`,
  ]);
  t.same(errorsOf(metricRule('a', '10s', `${NINES}%`)), [
    `9:14: value "${'9'.repeat(20)}…(401 characters)" is out of range (a percentage is at most 1000000%)`,
  ]);
  t.same(errorsOf(metricRule('a', '10s', '1e400')), ['9:14: value Infinity is out of range (a finite number from -1e15 to 1e15)']);
  t.same(errorsOf(metricRule('a', '10s', '-.inf')), ['9:14: value -Infinity is out of range (a finite number from -1e15 to 1e15)']);
  t.same(errorsOf(metricRule('a', '30d', '1024TiB')), [], 'the bounds themselves are accepted');
  t.equal(parseDuration(`${NINES}s`), undefined, 'parseDuration never throws');
  t.equal(parseSize(`${NINES}GiB`), undefined);
  t.equal(parseDuration('30d'), 30n * 86400n * 1_000_000_000n);
  // rules check, the command, reports it the same way
  const dir = path.join(root, 'check');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'huge.yaml'), metricRule('a', `${NINES}s`, '1'));
  const r = loadRuleDir(dir);
  t.equal(r.ruleSet, undefined);
  t.match(String(r.errors[0]), /huge\.yaml:7:15: bad duration .* at most 30d\)$/);
});

t.test('a huge duration in the agent config is a ConfigError with its place and bound', async (t) => {
  for (const [value, col] of [
    ['1e400', 13],
    [`${NINES}s`, 13],
    ['31d', 13],
  ] as const) {
    const file = path.join(root, `cfg-${value.length}.yaml`);
    fs.writeFileSync(file, `probes:\n  runq_min: ${value}\n`);
    t.throws(() => loadAgentConfig(file), {
      name: 'ConfigError',
      message: `${file}:2:${col}: "probes.runq_min" must be a duration like 10ms or 5s, at most 30d`,
    });
  }
});

/** `all:` conditions nested `depth` deep through anchors, `fan` aliases each: fan^depth leaves once expanded. */
function aliasBomb(depth: number, fan: number): string {
  const lines = ['  a0: &a0 {attr: exe, op: "==", value: x}'];
  for (let i = 1; i <= depth; i++)
    lines.push(
      `  a${i}: &a${i} {all: [${Array(fan)
        .fill(`*a${i - 1}`)
        .join(', ')}]}`,
    );
  return `x-anchors:\n${lines.join('\n')}\nrules:\n  - id: bomb\n    scene: cpu_starvation\n    when: *a${depth}\n`;
}

t.test('a YAML alias bomb is refused at its first alias, not expanded', { timeout: 20_000 }, async (t) => {
  const rss0 = process.memoryUsage().rss;
  for (const [depth, fan] of [
    [9, 10],
    [6, 10],
    [20, 2],
  ] as const) {
    t.same(
      errorsOf(aliasBomb(depth, fan)),
      ['3:18: YAML aliases expand this file to more than 100000 nodes (an alias bomb?); refused, not expanded'],
      `${depth} deep, ${fan} aliases each`,
    );
  }
  t.ok(process.memoryUsage().rss - rss0 < 100 * 2 ** 20, 'RSS grows by less than 100 MiB');
  // small, legitimate reuse still works
  t.same(
    errorsOf(aliasBomb(2, 3)).filter((e) => /alias/.test(e)),
    [],
    '9 conditions through aliases are fine',
  );
  const many = `x: &a 1\ny: [${Array(1001).fill('*a').join(', ')}]\n${GOOD}`;
  t.same(errorsOf(many), ['2:5: 1001 YAML aliases, more than the 1000 a rule file may use']);
});

t.test('an oversized rule file is refused unread, with its size and the limit', async (t) => {
  const dir = path.join(root, 'big');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'big.yaml'), `${GOOD}# ${'x'.repeat(MAX_RULE_FILE_BYTES)}\n`);
  const r = loadRuleDir(dir);
  t.equal(r.errors.length, 1);
  t.match(String(r.errors[0]), /big\.yaml:1:1: rule file of \d+ bytes, more than the 1048576-byte limit; not read$/);
  t.same(parseRuleFile(`${GOOD}#${'x'.repeat(MAX_RULE_FILE_BYTES)}`, 'f.yaml').errors.map(String), [
    `f.yaml:1:1: rule file of ${GOOD.length + 1 + MAX_RULE_FILE_BYTES} characters, more than the 1048576-character limit`,
  ]);
});

t.test('regexes run in linear time: no pattern can backtrack catastrophically', { timeout: 20_000 }, async (t) => {
  const parsed = parseRuleFile(matchesRule('re', '^(a+)+$'), 'f.yaml');
  t.same(parsed.errors, []);
  const re = (parsed.rules[0]!.when as AttrLeaf).regex!;
  t.ok(re.flags.includes('l'), 'compiled for the linear-time engine');
  // 2^n steps for a backtracking engine: n = 4000 would never finish
  t.equal(re.test(regexSubject(`${'a'.repeat(4000)}!`)), false);
  t.equal(re.test('aaaa'), true);
  t.equal(regexSubject('a'.repeat(100_000)).length, MAX_REGEX_SUBJECT, 'the subject is capped');
  for (const src of ['(a|a)*$', '(x+x+)+y', '^(\\w+\\s?)*$']) t.type(compileRuleRegex(src), RegExp, `${src} compiles`);
  t.same(errorsOf(matchesRule('re', '(a)\\1')), [
    '7:14: bad regular expression "(a)\\1": it cannot run in linear time (back-references and lookaround are not supported in rules)',
  ]);
  t.same(errorsOf(matchesRule('re', '(?=a)a')).length, 1, 'lookahead refused');
  t.same(errorsOf(matchesRule('re', '(a')), ['7:14: bad regular expression "(a": Invalid regular expression: /(a/: Unterminated group']);
});

t.test('first load: a bad file is skipped and reported, the other files load', async (t) => {
  const inputs = [
    { file: 'a-good.yaml', text: GOOD },
    { file: 'b-huge.yaml', text: metricRule('huge', `${NINES}s`, '1') },
    { file: 'c-bomb.yaml', text: aliasBomb(9, 10) },
    { file: 'd-dup.yaml', text: metricRule('good', '5s', '1') },
    { file: 'e-good.yaml', text: metricRule('other', '5s', '1') },
  ];
  t.equal(loadRuleTexts(inputs).ruleSet, undefined, 'all or nothing for a reload');
  const r = loadRuleTextsSkippingBad(inputs);
  t.same(
    r.ruleSet?.rules.map((x) => x.id),
    ['good', 'other'],
  );
  t.same(r.skipped, ['b-huge.yaml', 'c-bomb.yaml', 'd-dup.yaml']);
  t.same(
    r.errors.map((e) => `${e.file}:${e.line}:${e.col}`),
    ['b-huge.yaml:7:15', 'c-bomb.yaml:3:18', 'd-dup.yaml:2:9'],
  );
  const none = loadRuleTextsSkippingBad([{ file: 'x.yaml', text: metricRule('x', `${NINES}s`, '1') }]);
  t.same(none.ruleSet?.rules, [], 'every file bad: an empty set, still no crash');
});

t.test('the watcher: a bad file never blocks the first load; a reload keeps the previous set', async (t) => {
  const dir = path.join(root, 'watch');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'a.yaml'), GOOD);
  fs.writeFileSync(path.join(dir, 'b.yaml'), metricRule('huge', `${NINES}ms`, '1'));
  const changes: string[][] = [];
  const errors: string[][] = [];
  const w = watchRules(
    dir,
    (rs) => changes.push(rs.rules.map((r) => r.id)),
    (errs) => errors.push(errs.map((e) => path.basename(e.file))),
    { debounceMs: 10_000 },
  );
  t.teardown(() => w.close());
  t.same(changes, [['good']], 'started with the good file');
  t.same(errors, [['b.yaml']], 'the bad one reported');
  fs.writeFileSync(path.join(dir, 'c.yaml'), metricRule('third', '5s', '1'));
  const r = w.reload();
  t.equal(r.ruleSet, undefined, 'the reload is refused while b.yaml is bad');
  t.same(
    w.current?.rules.map((x) => x.id),
    ['good'],
    'previous set kept',
  );
  fs.writeFileSync(path.join(dir, 'b.yaml'), metricRule('fixed', '5s', '1'));
  t.same(
    w.reload().ruleSet?.rules.map((x) => x.id),
    ['good', 'fixed', 'third'],
  );
});

t.test('a rule whose evaluation throws is disabled alone; the other rules keep matching', async (t) => {
  const text = ['boom', 'fine'].map((id) => `  - id: ${id}\n    scene: process_blocked\n    when: { attr: exe, op: exists }\n`).join('');
  const rs = loadRuleTexts([{ file: 'a.yaml', text: `rules:\n${text}` }]).ruleSet!;
  let calls = 0;
  rs.byId.get('boom')!.test = () => {
    calls++;
    throw new Error('injected');
  };
  const matcher = new RuleMatcher(rs);
  const ctx = new MemoryContext();
  const p = { type: 'process', id: 'p:1:1' } as EntityRef;
  ctx.set(p, { pid: 1, exe: '/bin/x' });
  t.same(
    matcher.evaluateNow(ctx, p).map((m) => m.ruleId),
    ['fine'],
    'no throw; the other rule matched',
  );
  t.same([...matcher.failedRules.keys()], ['boom']);
  t.match(matcher.failedRules.get('boom'), /^injected \(on process p:1:1\)$/);
  matcher.evaluateNow(ctx, p);
  t.equal(calls, 1, 'the failed rule is not evaluated again');
  matcher.setRuleSet(rs);
  t.equal(matcher.failedRules.size, 0, 'a new rule set enables it again');
});
