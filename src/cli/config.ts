/**
 * `xctl config show [--json]`: the effective agent config and where each value
 * came from (default | file:PATH:LINE | env NAME | flag --name), given the
 * same --config and flags `xctl agent` takes. `xctl config validate FILE`:
 * exit 0 when valid, 1 with file:line:col when not, 2 on usage errors.
 */
import { parseArgs } from 'node:util';
import { CONFIG_KEYS, resolveConfig, validateConfigFile, type Resolved } from '../config/config';
import { AGENT_FLAG_KEYS, flagHelp, flagOptions, flagValues } from './flags';
import { UsageError } from './usage';

export const CONFIG_HELP = `usage: xctl config show [--config FILE] [--json] [agent flags...] (xctl agent --help)
       xctl config validate FILE
  show       the effective agent configuration, each value with its source:
             default < config file < environment (XCTL_*) < command-line flag
  validate   check a config file: unknown keys and wrong types are reported as FILE:LINE:COL
config file: --config FILE, else $XCTL_CONFIG, else /etc/xctl/config.yaml when it exists`;

/** The agent's config flags (one per config key that has a flag) and --config, shared by agent, config show and doctor. */
export const CONFIG_FLAG_OPTIONS = { config: { type: 'string' }, ...flagOptions(AGENT_FLAG_KEYS) } as const;

export type ConfigFlagValues = Record<string, unknown> & { config?: string };

/** Flag values keyed by config key (absent ones left out). */
export function configFlags(v: ConfigFlagValues): Record<string, unknown> {
  return flagValues(v, AGENT_FLAG_KEYS);
}

/** Help lines of the agent's flags, --config first. */
export function configFlagHelp(): string {
  return `  --config FILE        YAML config (default $XCTL_CONFIG, else /etc/xctl/config.yaml if present);
                       precedence: default < file < environment < flag (see: xctl config show)
${flagHelp(AGENT_FLAG_KEYS, { env: true })}`;
}

export function resolveFromFlags(v: ConfigFlagValues): Resolved {
  return resolveConfig({ file: v.config, flags: configFlags(v) });
}

export function formatConfigShow(r: Resolved): string {
  const rows = CONFIG_KEYS.map((k) => [k.key, JSON.stringify(r.values[k.key]), r.sources[k.key] ?? 'default']);
  const w0 = Math.max(...rows.map((x) => x[0]!.length));
  const w1 = Math.min(48, Math.max(...rows.map((x) => x[1]!.length)));
  const head = r.file ? `# config file: ${r.file}\n` : '# no config file (defaults, environment, flags)\n';
  return `${head + rows.map(([k, v, s]) => `${k!.padEnd(w0)}  ${v!.padEnd(w1)}  ${s}`).join('\n')}\n`;
}

export async function configCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`${CONFIG_HELP}\n`);
    return sub ? 0 : 2;
  }
  if (sub === 'show') {
    const { values } = parseArgs({
      args: rest,
      options: { ...CONFIG_FLAG_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(`${CONFIG_HELP}\n`);
      return 0;
    }
    const r = resolveFromFlags(values);
    if (values.json) {
      const config: Record<string, { value: unknown; source: string; env?: string; flag?: string }> = {};
      for (const k of CONFIG_KEYS)
        config[k.key] = {
          value: r.values[k.key],
          source: r.sources[k.key] ?? 'default',
          ...(k.env ? { env: k.env } : {}),
          ...(k.flag ? { flag: k.flag } : {}),
        };
      process.stdout.write(`${JSON.stringify({ file: r.file ?? null, config }, null, 2)}\n`);
    } else process.stdout.write(formatConfigShow(r));
    return 0;
  }
  if (sub === 'validate') {
    const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
    if (positionals.length !== 1) throw new UsageError(`validate needs exactly one FILE\n${CONFIG_HELP}`);
    const file = positionals[0]!;
    const err = validateConfigFile(file);
    if (err) {
      process.stderr.write(`${err}\n`);
      return 1;
    }
    process.stdout.write(`${file}: OK\n`);
    return 0;
  }
  throw new UsageError(`unknown subcommand "${sub}" (show, validate)\n${CONFIG_HELP}`);
}
