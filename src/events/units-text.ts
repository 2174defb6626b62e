/**
 * Durations and sizes as text, in one place. Two families: the fmt* forms of
 * `xctl events` lines (fixed shapes a reader scans down a column), and the
 * format* forms of rule causes, chains and answers (the unit that reads best).
 */

/** "512.3 ms"; sub-millisecond values keep µs precision. */
export function fmtMs(ns: number): string {
  const ms = ns / 1e6;
  return `${ms < 1 ? ms.toFixed(3) : ms.toFixed(1)} ms`;
}

/** "12.0 s" for runtimes >= 1 s, else milliseconds. */
export function fmtDuration(ns: number): string {
  return ns >= 1e9 ? `${(ns / 1e9).toFixed(1)} s` : fmtMs(ns);
}

/** A size given in KiB: "30.0 GiB" from 1 GiB on, else "2.0 MiB". */
export function fmtKb(kb: number): string {
  return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)} GiB` : `${(kb / 1024).toFixed(1)} MiB`;
}

/** "1.0 GiB", "64.0 MiB"; under 1 MiB in bytes. */
export function fmtBytes(b: number): string {
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(1)} GiB`;
  if (b >= 1024 ** 2) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${b} B`;
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
