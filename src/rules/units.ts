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

/**
 * Every quantity is bounded, so no rule or config value can become Infinity (or a BigInt
 * conversion of it): a value past its bound is not a duration/size/percentage at all, and the
 * messages below say the bound.
 */
export const MAX_DURATION_NS = 30 * 86400e9;
export const MAX_SIZE_BYTES = 2 ** 50;
export const MAX_PERCENT = 1e6;
/** a plain number in a rule: finite and at most this in magnitude */
export const MAX_PLAIN_NUMBER = 1e15;
export const DURATION_BOUND_TEXT = 'at most 30d';
export const SIZE_BOUND_TEXT = 'at most 1PiB';
export const PERCENT_BOUND_TEXT = 'at most 1000000%';
export const NUMBER_BOUND_TEXT = 'a finite number from -1e15 to 1e15';

/** "30s" -> 30_000_000_000n; undefined when not a duration or over MAX_DURATION_NS. */
export function parseDuration(text: string): bigint | undefined {
  const m = NUMBER_UNIT.exec(text);
  const scale = m ? DURATION_NS[m[2]!] : undefined;
  if (scale === undefined) return undefined;
  const ns = Math.round(Number(m![1]) * scale);
  return Number.isFinite(ns) && ns <= MAX_DURATION_NS ? BigInt(ns) : undefined;
}

/** "64MiB" -> 67108864; undefined when not a size or over MAX_SIZE_BYTES. */
export function parseSize(text: string): number | undefined {
  const m = NUMBER_UNIT.exec(text);
  const scale = m ? SIZE_BYTES[m[2]!] : undefined;
  if (scale === undefined) return undefined;
  const bytes = Math.round(Number(m![1]) * scale);
  return Number.isFinite(bytes) && bytes <= MAX_SIZE_BYTES ? bytes : undefined;
}

/** "90%" -> 0.9; undefined when not a percentage or over MAX_PERCENT. */
export function parsePercent(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(text);
  const pct = m ? Number(m[1]) : Number.NaN;
  return pct <= MAX_PERCENT ? pct / 100 : undefined;
}

/** Why a quantity text that has a unit was refused: its bound, or undefined when the unit is unknown. */
export function quantityBoundProblem(text: string): string | undefined {
  const m = NUMBER_UNIT.exec(text);
  if (!m) return undefined;
  if (DURATION_NS[m[2]!] !== undefined) return `a duration is ${DURATION_BOUND_TEXT}`;
  if (SIZE_BYTES[m[2]!] !== undefined) return `a size is ${SIZE_BOUND_TEXT}`;
  if (m[2] === '%') return `a percentage is ${PERCENT_BOUND_TEXT}`;
  return undefined;
}

/** A plain number a rule may hold: finite, within MAX_PLAIN_NUMBER. */
export function isBoundedNumber(v: number): boolean {
  return Number.isFinite(v) && Math.abs(v) <= MAX_PLAIN_NUMBER;
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
