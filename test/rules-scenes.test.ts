// Scenes are data: a rule file declares the scenes its rules name (with what
// a fix verifies and whether the node is unusable), a rule's scene must be
// declared somewhere, and fix plans verify what the rule or scene declares,
// whatever the rule id says.
import t from 'tap';
import { loadRuleTexts, shippedScenes } from '../src/rules/loader';
import { MemoryContext } from '../src/rules/memory-context';
import type { EntityRef } from '../src/rules/context';
import { buildPlan } from '../src/fix/plan';
import type { Finding, WhyAnswer } from '../src/engine/answer';

const NEW_SCENE = `scenes:
  - name: disk_full
    description: Writes fail because the file system is full.
    verify: { metric: io.errors, max: 0 }
    fatal: true
rules:
  - id: storage.enospc
    scene: disk_full
    when: { attr: io.last_error, op: '==', value: ENOSPC }
  - id: storage.enospc_stopped
    scene: disk_full
    verify: { metric: process.stopped, of: culprit }
    when: { attr: state, op: '==', value: stopped }
`;

t.test('a rule file declares a new scene; its rules name it and carry its verification', async (t) => {
  const r = loadRuleTexts([{ file: 'disk.yaml', text: NEW_SCENE }]);
  t.same(r.errors.map(String), []);
  const scene = r.ruleSet!.scenes.get('disk_full');
  t.same(
    [scene?.description, scene?.fatal, scene?.verify],
    ['Writes fail because the file system is full.', true, { metric: 'io.errors', of: 'victim', max: 0 }],
  );
  t.ok(r.ruleSet!.scenes.has('network_stall'), 'the shipped scenes stay available to a custom rule set');
  t.equal(shippedScenes().get('gpu_xid')?.fatal, true, 'the shipped gpu_xid scene makes the node unusable');
  const ctx = new MemoryContext();
  const p: EntityRef = { type: 'process', id: 'p:1:1' };
  ctx.set(p, { 'io.last_error': 'ENOSPC', state: 'stopped' });
  const [first, second] = r.ruleSet!.rules.map((rule) => rule.evaluate(ctx, p));
  t.same(first?.verify, { metric: 'io.errors', of: 'victim', max: 0 }, "the scene's verify");
  t.same(second?.verify, { metric: 'process.stopped', of: 'culprit', max: 0 }, "the rule's own verify wins");
});

t.test('scene names are checked once every file is read', async (t) => {
  const r = loadRuleTexts([
    { file: 'a.yaml', text: `rules:\n  - id: a\n    scene: disk_ful\n    when: { attr: pid, op: exists }\n` },
    { file: 'b.yaml', text: NEW_SCENE },
    {
      file: 'c.yaml',
      text: `scenes:\n  - name: disk_full\n    description: again\nrules:\n  - id: c\n    scene: host_oom\n    verify: { metric: io.erors }\n    when: { attr: pid, op: exists }\n`,
    },
  ]);
  const errs = r.errors.map(String);
  t.match(errs[0], /^a\.yaml:3:12: unknown scene "disk_ful" \(did you mean "disk_full"\? expected one of disk_full, /);
  t.match(errs[0], /; declare it under "scenes:" in a rule file$/);
  t.equal(errs[1], 'c.yaml:2:11: scene "disk_full" is declared twice (first at b.yaml:2:11)');
  t.match(errs[2], /^c\.yaml:7:23: unknown metric "io\.erors" \(did you mean "io\.errors"\?/);
  t.equal(errs.length, 3);
});

function answer(f: Partial<Finding>): WhyAnswer {
  const finding: Finding = {
    scene: 'disk_full',
    rule: 'x',
    confidence: 0.9,
    score: 1,
    summary: 's',
    culprit: { type: 'process', id: 'p:42:777', label: 'holder (42)' },
    chain: [],
    actions: [],
    evidence: [],
    ...f,
  };
  return {
    pid: 7,
    comm: 'victim',
    start_ns: 5,
    state: 'running',
    scene: finding.scene,
    confidence: 0.9,
    summary: 's',
    chain: [],
    actions: [],
    findings: [finding],
    dropped_events: 0,
    window_s: 300,
    answered_in_ms: 1,
  };
}

t.test('a fix plan verifies the declared metric, whatever the rule id says', async (t) => {
  const ctx = { nowNs: 1, policy: () => 'ask' as const, measure: () => 3 };
  const byScene = buildPlan(
    answer({ rule: 'storage.stopped_looking_id', verify: { metric: 'io.errors', of: 'victim', max: 0 } }),
    ctx,
  ).verification;
  t.same([byScene.metric, byScene.agg, byScene.unit, byScene.threshold, byScene.before], ['io.errors', 'sum', 'events', 0, 3]);
  t.same(
    byScene.entity,
    { type: 'process', pid: 7, start_ns: 5, label: 'victim (7)' },
    'of the victim, although the rule id says "stopped"',
  );
  const onCulprit = buildPlan(answer({ verify: { metric: 'process.stopped', of: 'culprit', max: 0 } }), ctx).verification;
  t.same(
    [onCulprit.metric, onCulprit.agg, onCulprit.unit, onCulprit.text],
    ['process.stopped', 'state', 'bool', 'whether holder (42) is stopped (1) or running (0)'],
  );
  t.same(onCulprit.entity, { type: 'process', pid: 42, start_ns: 777, label: 'holder (42)' });
  const none = buildPlan(answer({ rule: 'process.blocked_on_stopped' }), ctx).verification;
  t.same([none.metric, none.text], ['none', 'no automatic measure for disk_full: judge by hand'], 'no declared verify: judged by hand');
});
