/**
 * Units of the rule language: durations (to ns), sizes (to bytes) and
 * percentages (to fractions) in rule files, and their human formatting in
 * rendered causes. Parsing is strict ("30 sec" is an error, not 30 s) because
 * a silently misread threshold is worse than a load error.
 */

const DURATION_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9, d: 86400e9 };
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

const oneDecimal = (v: number) => (Math.round(v * 10) / 10).toFixed(1);

/** 512_300_000 -> "512.3 ms", 2_100_000_000 -> "2.1 s". */
export function formatNs(ns: number): string {
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)} ns`;
  if (a < 1e6) return `${oneDecimal(ns / 1e3)} µs`;
  if (a < 1e9) return `${oneDecimal(ns / 1e6)} ms`;
  if (a < 120e9) return `${oneDecimal(ns / 1e9)} s`;
  if (a < 7200e9) return `${oneDecimal(ns / 60e9)} min`;
  return `${oneDecimal(ns / 3600e9)} h`;
}

/** 67108864 -> "64.0 MiB". */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (Math.abs(bytes) < 1024) return `${Math.round(bytes)} B`;
  let v = bytes / 1024;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${oneDecimal(v)} ${units[i]}`;
}

/** 0.934 -> "93 %" (the value is a fraction, as cpu.usage is). */
export function formatPct(fraction: number): string {
  return `${Math.round(fraction * 100)} %`;
}

/** A plain number for text: integers as is, others with at most 3 decimals. */
export function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
}

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
