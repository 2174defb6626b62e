/** Command-line options shared by every command that runs the live probes (generated from the config keys). */
import type { Family, ProbeConfig } from '../native/addon';
import { resolveProbeFlags } from '../config/config';
import { PROBE_FLAG_KEYS, flagHelp, flagOptions, flagValues } from './flags';

export const PROBE_OPTIONS = flagOptions(PROBE_FLAG_KEYS);

/** The families and probe settings the flags ask for, over the built-in defaults. */
export function probeSettings(values: Record<string, unknown>): { families: Family[]; probes: ProbeConfig } {
  return resolveProbeFlags(flagValues(values, PROBE_FLAG_KEYS));
}

export function probeHelp(): string {
  return flagHelp(PROBE_FLAG_KEYS, { env: false });
}
