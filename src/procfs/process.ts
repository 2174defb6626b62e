/**
 * Small, allocation-light readers of /proc for identity: the kernel's process
 * start time (for pid-reuse checks) and the name. Used at the edges only.
 */
import * as fs from 'node:fs';

/** USER_HZ: /proc/<pid>/stat times are in these ticks. 100 on every Linux ABI we run on. */
export const CLOCK_TICKS_PER_SEC = 100;

export interface ProcIdentity {
  pid: number;
  comm: string;
  ppid: number;
  /** start time since boot in ns, at tick (10 ms) resolution */
  startNs: bigint;
  state: string;
}

/**
 * Splits a /proc/<pid>/stat line. comm is in parentheses and may itself
 * contain ") ", so split at the LAST ")". `fields[i]` is stat field i+3
 * (fields[0] = state, [1] = ppid, [11] = utime, [12] = stime, [19] = starttime,
 * [36] = processor).
 */
export function splitStat(text: string): { comm: string; fields: string[] } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  return { comm: text.slice(open + 1, close), fields: text.slice(close + 2).split(' ') };
}

/** Converts a stat starttime (ticks since boot) to ns. */
export function ticksToNs(ticks: bigint): bigint {
  return (ticks * 1_000_000_000n) / BigInt(CLOCK_TICKS_PER_SEC);
}

/** Parses /proc/<pid>/stat; returns null if the process does not exist. */
export function readProcIdentity(pid: number): ProcIdentity | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const split = splitStat(text);
  if (!split) return null;
  const rest = split.fields;
  // rest[0] is field 3 (state); starttime is field 22 => rest[19]
  const startTicks = BigInt(rest[19] ?? '0');
  return {
    pid,
    comm: split.comm,
    state: rest[0] ?? '?',
    ppid: Number(rest[1] ?? 0),
    startNs: ticksToNs(startTicks),
  };
}

/** True when a kernel start time (ns precision) and a /proc one (tick precision) name the same process. */
export function sameStart(kernelNs: bigint, procNs: bigint): boolean {
  const tick = 1_000_000_000n / BigInt(CLOCK_TICKS_PER_SEC);
  const d = kernelNs > procNs ? kernelNs - procNs : procNs - kernelNs;
  return d <= tick;
}
