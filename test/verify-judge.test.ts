// verify on synthetic series: the verdict is a rate over settled windows, so the same situation
// gives the same outcome whatever the fraction of a second the plan was applied at, however long
// the process had been observed before the plan, and a count's noise is not an improvement.
import t from 'tap';
import { Graph } from '../src/graph/graph';
import { MI } from '../src/graph/vocabulary';
import type { Plan, Verification } from '../src/fix/plan';
import { baseline, readyInS, shareOf, verifyPlan } from '../src/verify/verify';

const S = 1e9;

/** A process seen from `firstS`, with `perS(t)` of `metric` recorded in every 100 ms slice at second t. */
function scenario(metric: number, firstS: number, untilS: number, perS: (t: number) => number) {
  const g = new Graph();
  const p = g.process(4242, 1);
  p.seen(firstS * S);
  for (let t = firstS; t < untilS; t += 0.1) p.observe(metric, t * S, perS(t) / 10);
  return { g, p };
}

function planAt(g: Graph, metric: string, unit: string, createdS: number, appliedS: number, threshold: number): Plan {
  const v: Verification = {
    metric,
    entity: { type: 'process', pid: 4242, start_ns: 1, label: 'victim (4242)' },
    agg: 'sum',
    window_s: 10,
    threshold,
    unit,
    text: '',
  };
  const b = baseline(g, v, createdS * S);
  if (b) {
    v.before_rate = shareOf(v, b);
    v.before_s = b.seconds;
  }
  return {
    verification: v,
    created_ns: createdS * S,
    applied_ns: appliedS * S,
    outcomes: [],
  } as unknown as Plan;
}

/** The outcome once the plan's settled window has closed (verify --wait's first moment). */
function verdict(g: Graph, plan: Plan): ReturnType<typeof verifyPlan> {
  const readyAt = plan.applied_ns! / S + readyInS(plan, plan.applied_ns!);
  return verifyPlan(g, plan, readyAt * S + 0.05 * S, 'verify');
}

t.test('run-queue share: stops at the fix -> resolved, halves -> partial, stays -> failed, at every apply offset', async (t) => {
  for (const frac of [0, 0.05, 0.3, 0.5, 0.7, 0.95]) {
    const apply = 30 + frac;
    for (const [name, after, want] of [
      ['stops', 0, 'resolved'],
      ['halves', 0.22, 'partial'],
      ['stays', 0.5, 'failed'],
    ] as const) {
      // the victim waits half its time before the fix; observed only 5 s before the plan in some runs
      for (const first of [5, 26]) {
        const { g } = scenario(MI.offcpuRunq, first, 60, (s) => (s < apply ? 0.5 : after) * S);
        const plan = planAt(g, 'offcpu.runq', 'ns', apply - 0.2, apply, 100e6);
        const threshold = Math.max(100e6, Math.round(plan.verification.before_rate! * 0.25 * 10));
        plan.verification.threshold = threshold;
        const r = verdict(g, plan);
        t.equal(r.outcome, want, `${name}, applied at ${apply}, seen from ${first}: ${r.before_rate} -> ${r.after_rate}`);
        t.ok(Math.abs(plan.verification.before_rate! - 0.5 * S) < 0.02 * S, 'the baseline is the share of wall time observed');
        t.ok(r.span!.from_s >= apply + 2, 'the judged window starts after the fix settled');
      }
    }
  }
});

t.test('retransmits: judged on the share of seconds with any, not on a rate that swings with throughput', async (t) => {
  const cases: [string, (s: number) => number, string][] = [
    // loss goes on in every second; the sender backs off and loses 4x less per second: still failed
    ['same loss, less sent', (s) => (s < 30 ? 40 : 10), 'failed'],
    ['bursty', (s) => (Math.floor(s) % 3 === 0 ? 14 : 8), 'failed'],
    ['in half the seconds', (s) => (s < 30 || Math.floor(s) % 2 === 0 ? 10 : 0), 'partial'],
    ['no loss', (s) => (s < 30 ? 10 : 0), 'resolved'],
  ];
  for (const frac of [0, 0.3, 0.7]) {
    for (const [name, perS, want] of cases) {
      const { g } = scenario(MI.tcpRetransmits, 20, 60, perS);
      const plan = planAt(g, 'tcp.retransmits', 'segments', 30 + frac - 0.3, 30 + frac, 0);
      t.equal(plan.verification.before_rate, 1, 'it retransmitted in every second before');
      const r = verdict(g, plan);
      t.equal(r.outcome, want, `${name}, applied at ${30 + frac}: share ${r.before_rate} -> ${r.after_rate}`);
    }
  }
});

t.test('a plan whose process was seen too briefly has no rate baseline, and a reused pid is not measured', async (t) => {
  const { g } = scenario(MI.offcpuRunq, 29, 40, () => 0.5 * S);
  const plan = planAt(g, 'offcpu.runq', 'ns', 30.1, 30.1, 100e6);
  t.equal(plan.verification.before_rate, undefined, 'under 2 settled seconds observed');
  const other = planAt(g, 'offcpu.runq', 'ns', 38, 38, 100e6).verification;
  t.ok(baseline(g, other, 38 * S), 'the same process is measured');
  (other.entity as { start_ns: number }).start_ns = 5e9;
  t.equal(baseline(g, other, 38 * S), undefined, 'another start time at that pid is not');
});
