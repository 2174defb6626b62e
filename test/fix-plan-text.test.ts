// A plan's text and what it applies agree: the command at the end of every executable step's
// text is made from the params the runner applies (renice's nice, the CPU cap after it is halved
// to the competitor's use), whatever the rule's own text says.
import t from 'tap';
import { spawn } from 'node:child_process';
import type { Finding, FindingAction, WhyAnswer } from '../src/engine/answer';
import { buildPlan, withCommand } from '../src/fix/plan';
import { commandOf, cpuQuotaOf, niceOf } from '../src/fix/actions/command';
import { ACTION_TYPES } from '../src/rules/vocabulary';

function answer(actions: FindingAction[]): WhyAnswer {
  const finding: Finding = {
    scene: 'cpu_starvation',
    rule: 'x',
    confidence: 0.9,
    score: 1,
    summary: 's',
    culprit: { type: 'cpu', id: 'cpu', label: 'the CPUs' },
    chain: [],
    actions,
    evidence: [],
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

t.test('renice and cgroup_cpu_limit: the text ends with what is applied', async (t) => {
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => void sleeper.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 100));
  const pid = sleeper.pid!;
  const act = (type: string, text: string, params: FindingAction['params']): FindingAction => ({
    type,
    text,
    target_spec: 'self',
    target: { type: 'process', id: `p:${pid}:0`, label: `sleep (${pid})` },
    params: { pid, ...params },
  });
  const plan = buildPlan(
    answer([
      act('renice', `lower the priority of sleep (${pid}): renice -n 10 -p ${pid}`, {}),
      act('renice', 'lower it', { nice: 25 }),
      act('cgroup_cpu_limit', `cap the CPU of sleep (${pid}) with its cgroup's cpu.max`, { cpus: 1 }),
    ]),
    { nowNs: 1, policy: () => 'ask', measure: () => 0, cpuUsage: () => 0.8 },
  );
  const [r1, r2, cap] = plan.steps;
  t.equal(r1!.text, `lower the priority of sleep (${pid}): renice -n 19 -p ${pid}`, 'the default nice 19 is what the text says');
  t.equal(niceOf(r1!.params), 19);
  t.equal(r2!.text, `lower it: renice -n 19 -p ${pid}`, 'a nice out of range is clamped in the text as in the action');
  t.equal(cap!.params.cpus, 0.4, 'capped at half of its use');
  t.equal(cpuQuotaOf(cap!.params).quota, 40000);
  t.match(cap!.text, /cpu\.max "40000 100000" \(0\.4 CPU\)$/);
  for (const s of plan.steps) t.ok(s.text.endsWith(commandOf(s)!), `${s.action}: ${s.text}`);
});

t.test('every executable action type has a command, and a text keeps or replaces its own', async (t) => {
  for (const type of ACTION_TYPES) {
    const cmd = commandOf({
      action: type,
      target: { type: 'process', id: 'p:42:1', label: 'x (42)', pid: 42 },
      params: { signal: 'TERM' },
    });
    if (type === 'manual') t.equal(cmd, undefined);
    else t.ok(cmd, `${type}: ${cmd}`);
  }
  t.equal(withCommand('resume it: kill -CONT 42', 'kill -CONT 42'), 'resume it: kill -CONT 42');
  t.equal(withCommand('resume it: kill -STOP 42', 'kill -CONT 42'), 'resume it: kill -CONT 42');
  t.equal(withCommand('stop scheduling on this node: Xid 79', 'cordon node n1'), 'stop scheduling on this node: Xid 79: cordon node n1');
});
