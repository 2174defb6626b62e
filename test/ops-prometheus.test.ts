// The metrics endpoint against real clients: promtool lints the exposition,
// the Debian prometheus server scrapes the in-process agent on loopback and
// its query API must return our series; alert rules and the dashboard only
// use names the agent exposes.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { ROOT, exposedNames, freePort, get, run, which } from './helpers/ops';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PROMETHEUS = which('prometheus') ?? '/usr/bin/prometheus';
const PROMTOOL = which('promtool') ?? '/usr/bin/promtool';

let ta: TestAgent;
let base = '';
let exposition = '';

t.before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ta = await startTestAgent({ metricsAddr: `127.0.0.1:${port}` });
  // some proc events: exec + exit
  for (let i = 0; i < 5; i++) spawnSync('/bin/true');
  await sleep(2500); // the agent's 1 s tick publishes the counters
  exposition = (await get(`${base}/metrics`)).body;
});
t.teardown(() => ta?.stop());

t.test('/metrics, /healthz, /readyz', async (t) => {
  const m = await get(`${base}/metrics`);
  t.equal(m.status, 200);
  t.match(m.headers['content-type'], /text\/plain/);
  t.match(m.body, /^xctl_events_total\{family="proc",kind="exec"\} [1-9]/m, 'exec events counted with family and kind');
  for (const name of [
    'xctl_events_total',
    'xctl_ring_drops_total',
    'xctl_ring_records_total',
    'xctl_ring_batches_total',
    'xctl_probe_attached',
    'xctl_bpf_program_run_time_seconds_total',
    'xctl_bpf_program_runs_total',
    'xctl_graph_nodes',
    'xctl_graph_evictions_total',
    'xctl_rule_evaluations_total',
    'xctl_rule_matches_total',
    'xctl_findings_active',
    'xctl_findings_total',
    'xctl_why_duration_seconds',
    'xctl_fix_plans_total',
    'xctl_fix_steps_total',
    'xctl_verify_outcomes_total',
    'xctl_nvml_available',
    'xctl_process_cpu_seconds_total',
    'xctl_process_resident_memory_bytes',
    'xctl_governor_level',
  ])
    t.ok(exposedNames(m.body).has(name), `exposes ${name}`);
  t.match(m.body, /^xctl_probe_attached\{family="sched",program="on_switch"\} 1$/m, 'probe status');
  t.match(m.body, /^xctl_bpf_program_runs_total\{family="net",program="on_retransmit"\} \d+/m, 'in-kernel cost series per program');
  t.match(m.body, /^xctl_rule_evaluations_total\{rule="[^"]+"\} \d+/m, 'evaluations by rule');
  t.match(m.body, /^xctl_nvml_available 0$/m);
  t.notMatch(m.body, /\bpid="/, 'no pid labels');
  // every label value set is bounded: no series has a label outside the allowed names
  const allowed = new Set([
    'family',
    'program',
    'kind',
    'scene',
    'rule',
    'action',
    'result',
    'outcome',
    'side',
    'direction',
    'le',
    'xid',
    'fatal',
    'version',
    'node',
  ]);
  for (const l of m.body.matchAll(/^xctl_\w+\{([^}]*)\}/gm))
    for (const kv of l[1]!.matchAll(/(\w+)="/g)) t.ok(allowed.has(kv[1]!), `label ${kv[1]} is bounded`) || t.fail(l[0]);
  const h = await get(`${base}/healthz`);
  t.equal(h.status, 200);
  const r = await get(`${base}/readyz`);
  t.equal(r.status, 200);
  t.equal(r.body, 'ready\n');
  t.equal((await get(`${base}/nope`)).status, 404);
});

t.test('the fix/verify/NVML API moves its series', async (t) => {
  ta.agent.metrics.fixPlan('renice');
  ta.agent.metrics.fixStep('renice', 'ok');
  ta.agent.metrics.verifyOutcome('resolved');
  ta.agent.metrics.setNvmlAvailable(true);
  const body = (await get(`${base}/metrics`)).body;
  t.match(body, /^xctl_fix_plans_total\{action="renice"\} 1$/m);
  t.match(body, /^xctl_fix_steps_total\{action="renice",result="ok"\} 1$/m);
  t.match(body, /^xctl_verify_outcomes_total\{outcome="resolved"\} 1$/m);
  t.match(body, /^xctl_nvml_available 1$/m);
  ta.agent.metrics.setNvmlAvailable(false);
});

t.test('promtool check metrics passes on the exposition', async (t) => {
  const r = await run(PROMTOOL, ['check', 'metrics'], { input: exposition });
  t.equal(r.code, 0, `promtool check metrics: ${r.stdout}${r.stderr}`);
});

t.test('promtool check rules passes on deploy/prometheus/alerts.yaml', async (t) => {
  const r = await run(PROMTOOL, ['check', 'rules', path.join(ROOT, 'deploy/prometheus/alerts.yaml')]);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /SUCCESS: \d+ rules found/);
});

t.test('the alert rules and the dashboard use only series we expose', async (t) => {
  const names = exposedNames(exposition);
  const dash = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/grafana/xctl-dashboard.json'), 'utf8'));
  const exprs: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'expr' || k === 'definition') && typeof x === 'string') exprs.push(x);
        else walk(x);
      }
    }
  };
  walk(dash);
  t.ok(exprs.length >= 20, `${exprs.length} PromQL expressions in the dashboard`);
  const alerts = fs.readFileSync(path.join(ROOT, 'deploy/prometheus/alerts.yaml'), 'utf8');
  for (const m of alerts.matchAll(/^\s*expr: (.*)$/gm)) exprs.push(m[1]!);
  for (const e of exprs) {
    const used = [...e.matchAll(/\b(xctl_[a-z0-9_]+)/g)].map((m) => m[1]!);
    t.ok(used.length > 0 || /\bup\{/.test(e), `expression reads an xctl series: ${e}`);
    for (const n of used) t.ok(names.has(n), `${n} is exposed (${e})`);
  }
  for (const scene of ['gpu_xid']) t.match(JSON.stringify(dash) + alerts, new RegExp(scene), `fatal Xids covered (${scene})`);
});

t.test('a real prometheus server scrapes the agent and answers queries', async (t) => {
  if (!fs.existsSync(PROMETHEUS)) {
    t.fail(`prometheus not installed (${PROMETHEUS}); run scripts/setup.sh`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-prom-'));
  const port = await freePort();
  const target = base.replace('http://', '');
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - ${path.join(ROOT, 'deploy/prometheus/alerts.yaml')}\nscrape_configs:\n  - job_name: xctl\n    static_configs:\n      - targets: ['${target}']\n`,
  );
  const prom = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  prom.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  t.teardown(() => {
    prom.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 30_000;
  let result: { metric: Record<string, string>; value: [number, string] }[] = [];
  const t0 = Date.now();
  while (Date.now() < deadline) {
    try {
      const r = await get(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent('xctl_events_total')}`);
      if (r.status === 200) {
        const j = JSON.parse(r.body) as { status: string; data: { resultType: string; result: typeof result } };
        if (j.status === 'success' && j.data.result.length) {
          result = j.data.result;
          break;
        }
      }
    } catch {
      /* not up yet */
    }
    await sleep(500);
  }
  t.ok(
    result.length > 0,
    `query returned series within ${((Date.now() - t0) / 1000).toFixed(1)} s${result.length ? '' : `; prometheus log: ${log}`}`,
  );
  const exec = result.find((s) => s.metric.kind === 'exec');
  t.ok(exec, 'a series with kind="exec"');
  t.equal(exec?.metric.family, 'proc');
  t.equal(exec?.metric.job, 'xctl');
  t.equal(exec?.metric.instance, target);
  t.ok(Number(exec?.value[1]) >= 1, 'value counted');
  const up = await get(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent('up{job="xctl"}')}`);
  t.match(up.body, /"value":\[[\d.]+,"1"\]/, 'target up');
  const rules = JSON.parse((await get(`http://127.0.0.1:${port}/api/v1/rules`)).body) as { data: { groups: unknown[] } };
  t.ok(rules.data.groups.length >= 2, 'the alert rules loaded into the real server');
});
