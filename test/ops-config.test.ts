// Config: file:line:col errors, precedence default < file < env < flag, the
// source of every value in `config show --json`, `config validate` exit codes.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveConfig, loadAgentConfig, validateConfigFile, ConfigError } from '../src/config/config';
import { xctl } from './helpers/ops';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-config-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XCTL_')));

t.test('errors name file:line:col', async (t) => {
  const badKey = write('bad-key.yaml', 'socket: /tmp/a.sock\nmetrics_adr: 127.0.0.1:1\n');
  t.throws(() => loadAgentConfig(badKey), {
    name: 'ConfigError',
    message: new RegExp(`^${badKey}:2:1: unknown config key "metrics_adr" \\(keys: socket, rules, metrics_addr, .*kubernetes.*\\)$`),
  });
  t.ok(new ConfigError('x') instanceof Error);
  const badNested = write('bad-nested.yaml', 'probes:\n  offcpu_min: 5ms\n  runq_minimum: 5ms\n');
  t.throws(() => loadAgentConfig(badNested), { message: new RegExp(`^${badNested}:3:3: unknown config key "probes.runq_minimum"`) });
  const badType = write('bad-type.yaml', 'graph:\n  max_processes: lots\n');
  t.throws(() => loadAgentConfig(badType), { message: `${badType}:2:18: "graph.max_processes" must be a positive integer` });
  const badDur = write('bad-dur.yaml', '\n\nprobes:\n    io_min_latency: fast\n');
  t.throws(() => loadAgentConfig(badDur), {
    message: `${badDur}:4:21: "probes.io_min_latency" must be a duration like 10ms or 5s, at most 30d`,
  });
  const badYaml = write('bad-yaml.yaml', 'socket: [unclosed\n');
  t.throws(() => loadAgentConfig(badYaml), { message: new RegExp(`^${badYaml}:\\d+:\\d+: `) });
  const badAddr = write('bad-addr.yaml', 'metrics_addr: 9464\n');
  t.throws(() => loadAgentConfig(badAddr), { message: `${badAddr}:1:15: "metrics_addr" must be HOST:PORT (e.g. 127.0.0.1:9464) or "off"` });
  const badRing = write('bad-ring.yaml', 'limits:\n  ring_bytes: 3MiB\n');
  t.throws(() => loadAgentConfig(badRing), { message: /:2:15: "limits.ring_bytes" must be a power of two/ });
});

t.test('a full valid file', async (t) => {
  const f = write(
    'ok.yaml',
    [
      'socket: /tmp/xctl-test.sock',
      'metrics_addr: 127.0.0.1:19464',
      'log_level: debug',
      'state_dir: /tmp/xctl-state',
      'families: [net, proc]',
      'probes:',
      '  io_min_latency: 20ms',
      '  offcpu_min: 50ms',
      '  bpf_stats: true',
      'graph:',
      '  max_processes: 1000',
      '  idle_ttl: 10m',
      'limits:',
      '  ring_bytes: 8MiB',
      '  cpu_budget: 10%',
      'kubernetes:',
      '  node_conditions: true',
      '  node_name: gpu-node-7',
      '',
    ].join('\n'),
  );
  t.equal(validateConfigFile(f), null);
  const c = loadAgentConfig(f);
  t.same(c.probes, { ioMinLatencyNs: 20_000_000n, offcpuMinNs: 50_000_000n });
  t.equal(c.bpfStats, true);
  t.same(c.families, ['net', 'proc']);
  t.equal(c.graph?.maxProcesses, 1000);
  t.equal(c.graph?.idleTtlNs, 600e9);
  t.equal(c.limits?.ringBytes, 8 * 1024 * 1024);
  t.equal(c.limits?.cpuBudget, 0.1);
  t.same(c.kubernetes, { nodeConditions: true, nodeName: 'gpu-node-7' });
  const r = resolveConfig({ file: f, env: {} });
  t.equal(r.sources.socket, `file:${f}:1`);
  t.equal(r.sources['probes.offcpu_min'], `file:${f}:8`);
  t.equal(r.sources['graph.max_peers'], 'default');
  t.equal(r.values['probes.offcpu_min'], '50ms');
  t.equal(r.config.graph.maxPeers, 50_000);
});

t.test('precedence: default < file < env < flag', async (t) => {
  const f = write('prec.yaml', 'socket: /tmp/file.sock\nmetrics_addr: 127.0.0.1:1111\nlog_level: warn\nrules: /tmp/file-rules\n');
  const env = { XCTL_METRICS_ADDR: '127.0.0.1:2222', XCTL_LOG_LEVEL: 'error', XCTL_STATE_DIR: '/tmp/env-state' };
  const r = resolveConfig({ file: f, env, flags: { log_level: 'debug' } });
  t.equal(r.config.socket, '/tmp/file.sock');
  t.equal(r.sources.socket, `file:${f}:1`);
  t.equal(r.config.metricsAddr, '127.0.0.1:2222', 'env wins over the file');
  t.equal(r.sources.metrics_addr, 'env XCTL_METRICS_ADDR');
  t.equal(r.config.logLevel, 'debug', 'flag wins over env');
  t.equal(r.sources.log_level, 'flag --log-level');
  t.equal(r.config.stateDir, '/tmp/env-state');
  t.equal(r.sources.state_dir, 'env XCTL_STATE_DIR');
  t.equal(r.sources.log_pretty, 'default');
  t.throws(() => resolveConfig({ env: { XCTL_CPU_BUDGET: 'lots' } }), {
    message: /^env XCTL_CPU_BUDGET="lots": "limits.cpu_budget" must be/,
  });
  t.throws(() => resolveConfig({ env: {}, flags: { metrics_addr: 'nonsense' } }), { message: /^--metrics-addr: / });
});

t.test('xctl config show --json reports the source of each value', async (t) => {
  const f = write('show.yaml', 'socket: /tmp/file.sock\nmetrics_addr: 127.0.0.1:1111\nlog_level: warn\n');
  const env = { ...cleanEnv(), XCTL_METRICS_ADDR: '127.0.0.1:2222', XCTL_LOG_LEVEL: 'error', XCTL_RULES: '/tmp/env-rules' };
  const r = await xctl(['config', 'show', '--json', '--config', f, '--log-level', 'debug', '--offcpu-min-ms', '25'], { env });
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { file: string; config: Record<string, { value: unknown; source: string }> };
  t.equal(j.file, f);
  t.same(j.config.socket, { value: '/tmp/file.sock', source: `file:${f}:1`, env: 'XCTL_SOCKET', flag: '--socket' });
  t.equal(j.config.metrics_addr!.value, '127.0.0.1:2222');
  t.equal(j.config.metrics_addr!.source, 'env XCTL_METRICS_ADDR');
  t.equal(j.config.log_level!.value, 'debug');
  t.equal(j.config.log_level!.source, 'flag --log-level');
  t.equal(j.config.rules!.source, 'env XCTL_RULES');
  t.equal(j.config['probes.offcpu_min']!.value, '25ms');
  t.equal(j.config['probes.offcpu_min']!.source, 'flag --offcpu-min-ms');
  t.equal(j.config['limits.cpu_budget']!.source, 'default');
  t.equal(j.config['limits.cpu_budget']!.value, 0.05);
  for (const [k, v] of Object.entries(j.config))
    t.match(v.source, /^(default|file:.+:\d+|env XCTL_\w+|flag --[\w-]+)$/, `${k} has a source`);
  const text = await xctl(['config', 'show', '--config', f], { env });
  t.match(text.stdout, /^metrics_addr\s+"127\.0\.0\.1:2222"\s+env XCTL_METRICS_ADDR$/m);
  const viaEnv = await xctl(['config', 'show', '--json'], { env: { ...env, XCTL_CONFIG: f } });
  t.equal((JSON.parse(viaEnv.stdout) as { file: string }).file, f, '$XCTL_CONFIG names the file');
});

t.test('xctl config validate exit codes', async (t) => {
  const ok = write('v-ok.yaml', 'log_level: info\nprobes:\n  runq_min: 5ms\n');
  const bad = write('v-bad.yaml', 'log_level: info\nprobes:\n  runq_min: soon\n');
  const r0 = await xctl(['config', 'validate', ok]);
  t.equal(r0.code, 0);
  t.match(r0.stdout, /OK/);
  const r1 = await xctl(['config', 'validate', bad]);
  t.equal(r1.code, 1);
  t.equal(r1.stderr.trim(), `${bad}:3:13: "probes.runq_min" must be a duration like 10ms or 5s, at most 30d`);
  const r2 = await xctl(['config', 'validate']);
  t.equal(r2.code, 2, 'usage error');
  const r3 = await xctl(['config', 'validate', path.join(dir, 'missing.yaml')]);
  t.equal(r3.code, 1);
  t.match(r3.stderr, /cannot read config/);
  const r4 = await xctl(['config', 'bogus']);
  t.equal(r4.code, 2);
  const r5 = await xctl(['agent', '--config', bad]);
  t.equal(r5.code, 2, 'the agent refuses a bad config');
  t.match(r5.stderr, /v-bad\.yaml:3:13/);
});
