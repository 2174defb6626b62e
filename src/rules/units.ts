/**
 * Units of the rule language: durations (to ns), sizes (to bytes) and
 * percentages (to fractions) in rule files, and a value as text in its unit
 * (the formatters are events/units-text.ts). Parsing is strict ("30 sec" is an error, not 30 s) because
 * a silently misread threshold is worse than a load error.
 */
import { formatBytes, formatNs, formatNumber, formatPct } from '../events/units-text';

const DURATION_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9, d: 86400e9 };
const SIZE_BYTES: Record<string, number> = {
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
};

const NUMBER_UNIT = /^(\d+(?:\.\d+)?)([a-zA-Zµ%]+)$/;

/** "30s" -> 30_000_000_000n; undefined when not a duration. */
export function parseDuration(text: string): bigint | undefined {
  const m = NUMBER_UNIT.exec(text);
  const scale = m ? DURATION_NS[m[2]!] : undefined;
  if (scale === undefined) return undefined;
  return BigInt(Math.round(Number(m![1]) * scale));
}

/** "64MiB" -> 67108864; undefined when not a size. */
export function parseSize(text: string): number | undefined {
  const m = NUMBER_UNIT.exec(text);
  const scale = m ? SIZE_BYTES[m[2]!] : undefined;
  if (scale === undefined) return undefined;
  return Math.round(Number(m![1]) * scale);
}

/** "90%" -> 0.9; undefined when not a percentage. */
export function parsePercent(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(text);
  return m ? Number(m[1]) / 100 : undefined;
}

export type Unit = 'number' | 'ns' | 'bytes' | 'fraction';

/** A threshold written as a number, a duration, a size or a percentage. */
export function parseQuantity(text: string): { value: number; unit: Unit } | undefined {
  const d = parseDuration(text);
  if (d !== undefined) return { value: Number(d), unit: 'ns' };
  const s = parseSize(text);
  if (s !== undefined) return { value: s, unit: 'bytes' };
  const p = parsePercent(text);
  if (p !== undefined) return { value: p, unit: 'fraction' };
  return undefined;
}

/** A value as text in its rule unit. */
export function formatInUnit(v: number, unit: Unit): string {
  switch (unit) {
    case 'ns':
      return formatNs(v);
    case 'bytes':
      return formatBytes(v);
    case 'fraction':
      return formatPct(v);
    default:
      return formatNumber(v);
  }
}
