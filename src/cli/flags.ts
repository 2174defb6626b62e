/**
 * Command-line flags generated from the config key table (src/config/config.ts
 * CONFIG_KEYS): parseArgs options, the values by config key, and help lines.
 * A key with `flag` is a flag everywhere its group is accepted; nothing else
 * declares it.
 */
import { CONFIG_KEYS, type KeySpec } from '../config/config';
import { UsageError } from './usage';

/** Flags of `xctl agent`, `config show` and `doctor`. */
export const AGENT_FLAG_KEYS: readonly KeySpec[] = CONFIG_KEYS.filter((k) => k.flag);
/** Flags of every command that runs the live probes (`events`, `record`). */
export const PROBE_FLAG_KEYS: readonly KeySpec[] = AGENT_FLAG_KEYS.filter((k) => k.probe);

type FlagOption = { type: 'string' | 'boolean' };

const flagName = (k: KeySpec) => k.flag!.replace(/^--/, '');

export function flagOptions(keys: readonly KeySpec[]): Record<string, FlagOption> {
  return Object.fromEntries(keys.map((k) => [flagName(k), { type: k.kind === 'bool' ? 'boolean' : 'string' } as FlagOption]));
}

/** parseArgs values -> config key -> value (raw strings, or ns for millisecond flags); absent flags left out. */
export function flagValues(values: Record<string, unknown>, keys: readonly KeySpec[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = values[flagName(k)];
    if (v === undefined || v === false) continue;
    out[k.key] = k.flagMs ? msToNs(k.flag!, String(v)) : v;
  }
  return out;
}

function msToNs(flag: string, text: string): bigint {
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new UsageError(`${flag} must be a non-negative number of milliseconds, got "${text}"`);
  return BigInt(Math.round(v * 1e6));
}

/** How help shows a key's default, in the flag's unit; undefined for off-by-default switches. */
export function flagDefault(k: KeySpec): string | undefined {
  if (k.defaultText) return k.defaultText();
  const d = k.default();
  if (k.kind === 'bool') return d ? 'on' : undefined;
  if (k.flagMs && typeof d === 'bigint') return String(Number(d) / 1e6);
  return Array.isArray(d) ? d.join(',') : String(d);
}

/** One help line per flag; `env`: mention the environment variable (the agent reads it, events does not). */
export function flagHelp(keys: readonly KeySpec[], opts: { env: boolean }): string {
  return keys
    .map((k) => {
      const left = `${k.flag}${k.arg ? ` ${k.arg}` : ''}`;
      const d = flagDefault(k);
      const env = opts.env && k.env ? `$${k.env} or ` : '';
      return wrapHelp(`  ${left.padEnd(20)} ${k.doc}${d === undefined ? '' : ` (default ${env}${d})`}`);
    })
    .join('\n');
}

const HELP_WIDTH = 99;
/** Breaks a help line past HELP_WIDTH at a space, continuing under the description column. */
function wrapHelp(line: string): string {
  const indent = ' '.repeat(23);
  const out: string[] = [];
  while (line.length > HELP_WIDTH) {
    const cut = line.lastIndexOf(' ', HELP_WIDTH);
    if (cut <= indent.length) break;
    out.push(line.slice(0, cut));
    line = indent + line.slice(cut + 1);
  }
  out.push(line);
  return out.join('\n');
}
