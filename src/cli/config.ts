/**
 * `xctl config show [--json]`: the effective agent config and where each value
 * came from (default | file:PATH:LINE | env NAME | flag --name), given the
 * same --config and flags `xctl agent` takes. `xctl config validate FILE`:
 * exit 0 when valid, 1 with file:line:col when not, 2 on usage errors.
 */
import { parseArgs } from 'node:util';
import { CONFIG_KEYS, resolveConfig, validateConfigFile, type Resolved } from '../agent/config';
import { PROBE_OPTIONS, probeConfig, type ProbeArgs } from './probe-options';
import { UsageError } from './usage';

export const CONFIG_HELP = `usage: xctl config show [--config FILE] [--json] [agent flags...]
       xctl config validate FILE
  show       the effective agent configuration, each value with its source:
             default < config file < environment (XCTL_*) < command-line flag
  validate   check a config file: unknown keys and wrong types are reported as FILE:LINE:COL
config file: --config FILE, else $XCTL_CONFIG, else /etc/xctl/config.yaml when it exists`;

/** The agent's config flags, shared by agent, config show and doctor. */
export const CONFIG_FLAG_OPTIONS = {
  config: { type: 'string' },
  socket: { type: 'string' },
  rules: { type: 'string' },
  'metrics-addr': { type: 'string' },
  'log-level': { type: 'string' },
  'log-pretty': { type: 'boolean' },
  'state-dir': { type: 'string' },
  'cpu-budget': { type: 'string' },
  ...PROBE_OPTIONS,
} as const;

export type ConfigFlagValues = ProbeArgs & {
  config?: string;
  socket?: string;
  rules?: string;
  'metrics-addr'?: string;
  'log-level'?: string;
  'log-pretty'?: boolean;
  'state-dir'?: string;
  'cpu-budget'?: string;
};

/** Flag values keyed by config key (undefined ones left out). */
export function configFlags(v: ConfigFlagValues): Record<string, unknown> {
  const p = probeConfig(v);
  const out: Record<string, unknown> = {
    socket: v.socket,
    rules: v.rules,
    metrics_addr: v['metrics-addr'],
    log_level: v['log-level'],
    log_pretty: v['log-pretty'] ? true : undefined,
    state_dir: v['state-dir'],
    families: v.families,
    'limits.cpu_budget': v['cpu-budget'],
    'probes.io_min_latency': p.ioMinLatencyNs,
    'probes.offcpu_min': p.offcpuMinNs,
    'probes.runq_min': p.runqMinNs,
    'probes.tcp_flush': p.tcpFlushNs,
    'probes.include_kthreads': v['include-kthreads'] ? true : undefined,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

export function resolveFromFlags(v: ConfigFlagValues): Resolved {
  return resolveConfig({ file: v.config, flags: configFlags(v) });
}

export function formatConfigShow(r: Resolved): string {
  const rows = CONFIG_KEYS.map((k) => [k.key, JSON.stringify(r.values[k.key]), r.sources[k.key] ?? 'default']);
  const w0 = Math.max(...rows.map((x) => x[0]!.length));
  const w1 = Math.min(48, Math.max(...rows.map((x) => x[1]!.length)));
  const head = r.file ? `# config file: ${r.file}\n` : '# no config file (defaults, environment, flags)\n';
  return head + rows.map(([k, v, s]) => `${k!.padEnd(w0)}  ${v!.padEnd(w1)}  ${s}`).join('\n') + '\n';
}

export async function configCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(CONFIG_HELP + '\n');
    return sub ? 0 : 2;
  }
  if (sub === 'show') {
    const { values } = parseArgs({ args: rest, options: { ...CONFIG_FLAG_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      process.stdout.write(CONFIG_HELP + '\n');
      return 0;
    }
    const r = resolveFromFlags(values);
    if (values.json) {
      const config: Record<string, { value: unknown; source: string; env?: string; flag?: string }> = {};
      for (const k of CONFIG_KEYS) config[k.key] = { value: r.values[k.key], source: r.sources[k.key] ?? 'default', ...(k.env ? { env: k.env } : {}), ...(k.flag ? { flag: k.flag } : {}) };
      process.stdout.write(JSON.stringify({ file: r.file ?? null, config }, null, 2) + '\n');
    } else process.stdout.write(formatConfigShow(r));
    return 0;
  }
  if (sub === 'validate') {
    const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
    if (positionals.length !== 1) throw new UsageError(`validate needs exactly one FILE\n${CONFIG_HELP}`);
    const file = positionals[0]!;
    const err = validateConfigFile(file);
    if (err) {
      process.stderr.write(err + '\n');
      return 1;
    }
    process.stdout.write(`${file}: OK\n`);
    return 0;
  }
  throw new UsageError(`unknown subcommand "${sub}" (show, validate)\n${CONFIG_HELP}`);
}
