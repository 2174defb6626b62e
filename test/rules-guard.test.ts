// Rule guards: the cheap threshold checks that let the matcher skip a full
// evaluation. A guard must never reject an entity the rule would match.
import t from 'tap';
import { compileGuard } from '../src/rules/guard';
import { parseRuleFile } from '../src/rules/schema';
import { compileCondition, EvalScope } from '../src/rules/conditions';
import { Graph } from '../src/graph/graph';
import { GraphContext } from '../src/graph/eval-context';
import { MI } from '../src/graph/vocabulary';
import { xorshift } from './helpers/random';

const S = 1e9;

function spec(when: string) {
  const parsed = parseRuleFile(`rules:\n  - id: r\n    scene: storage_slow\n    when: ${when}\n    cause: "x"\n`, 'guard.yaml');
  if (parsed.errors.length) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  return parsed.rules[0]!;
}

t.test('what gives a guard and what does not', async (t) => {
  t.ok(compileGuard(spec(`{ metric: io.latency, agg: p90, window: 30s, op: '>=', value: 100ms }`).when), 'p90 >= T: bounded by max');
  t.ok(compileGuard(spec(`{ metric: io.latency, agg: p99, window: 30s, op: '<', value: 100ms }`).when), 'p99 < T: bounded by min');
  t.notOk(compileGuard(spec(`{ metric: io.latency, agg: p90, window: 30s, op: '==', value: 100ms }`).when), 'p90 == T: no bound');
  t.notOk(
    compileGuard(spec(`{ metric: io.latency, on: waits_on.device, agg: max, window: 30s, op: '>', value: 1 }`).when),
    'a neighbour metric: no guard',
  );
  t.notOk(
    compileGuard(
      spec(`{ any: [ { metric: io.latency, agg: max, window: 30s, op: '>', value: 1 }, { attr: state, op: '==', value: exited } ] }`).when,
    ),
    'any: no guard',
  );
  t.ok(
    compileGuard(
      spec(`{ all: [ { attr: state, op: '==', value: running }, { metric: io.errors, agg: count, window: 30s, op: '>=', value: 1 } ] }`)
        .when,
    ),
    'the metric leaf of an all',
  );
});

t.test('a guard never rejects what the rule matches, and rejects most of what it does not', async (t) => {
  const rnd = xorshift(11);
  const aggs = ['count', 'sum', 'rate', 'max', 'min', 'avg', 'p50', 'p90', 'p99', 'last'];
  const ops = ['>', '>=', '<', '<=', '==', '!='];
  let rejected = 0;
  let falseRules = 0;
  let unsound = 0;
  for (let trial = 0; trial < 400; trial++) {
    const g = new Graph();
    g.samplePercentiles(['io.latency']); // as the pipeline does for rules that read percentiles
    const p = g.process(100 + trial, 1);
    const n = Math.floor(rnd() * 60);
    for (let i = 0; i < n; i++) p.observe(MI.ioLatency, (50 + rnd() * 50) * S, Math.floor(rnd() * 10));
    const agg = aggs[Math.floor(rnd() * aggs.length)]!;
    const op = ops[Math.floor(rnd() * ops.length)]!;
    const value = Math.floor(rnd() * 10);
    const window = agg === 'last' ? '' : ` window: ${1 + Math.floor(rnd() * 40)}s,`;
    const sp = spec(
      `{ all: [ { metric: io.latency, agg: ${agg},${window} op: '${op}', value: ${value} }, { attr: pid, op: '>', value: 0 } ] }`,
    );
    const condition = compileCondition(sp.when).fn; // the full condition, without the guard
    const guard = compileGuard(sp.when);
    const ctx = new GraphContext(g, BigInt(100 * S));
    const matched = condition(new EvalScope(ctx, p));
    if (!matched) falseRules++;
    if (guard && !guard(ctx, p)) {
      rejected++;
      if (matched) unsound++;
    }
  }
  t.equal(unsound, 0, 'no match was rejected by its guard');
  t.ok(rejected > falseRules * 0.6, `guards rejected ${rejected} of the ${falseRules} non-matching cases`);
});
