/**
 * The part of every decoded event that comes from the common record header,
 * and the text helpers kind modules share for their lines. JSON events are
 * the edge of the system (CLI output, JSON lines, reports): allocation is
 * fine here, never on the batch hot path. 64-bit values that may exceed 2^53
 * (timestamps, ids, kernel addresses) are decimal strings; durations and
 * sizes are numbers.
 */
import type { KindName } from '../events/layout';

export interface EventBase {
  ts: string; // ISO-8601 wall clock (UTC)
  ts_ns: string; // CLOCK_BOOTTIME ns
  kind: KindName | 'unknown';
  pid: number;
  tid: number;
  comm: string;
  cgroup_id: string;
  start_ns: string; // attributed process start (boot ns): pid-reuse guard
  cpu: number;
  kthread?: true; // header flag XCTL_F_KTHREAD
  no_owner?: true; // header flag XCTL_F_NO_OWNER
}

/** A record whose kind number this build does not know. */
export interface UnknownEvent extends EventBase {
  kind: 'unknown';
  kind_id: number;
}

/** "512.3 ms"; sub-millisecond values keep µs precision. */
export function fmtMs(ns: number): string {
  const ms = ns / 1e6;
  return `${ms < 1 ? ms.toFixed(3) : ms.toFixed(1)} ms`;
}

/** "12.0 s" for runtimes >= 1 s, else milliseconds. */
export function fmtDuration(ns: number): string {
  return ns >= 1e9 ? `${(ns / 1e9).toFixed(1)} s` : fmtMs(ns);
}

export function fmtKb(kb: number): string {
  return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)} GiB` : `${(kb / 1024).toFixed(1)} MiB`;
}

export function fmtBytes(b: number): string {
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(1)} GiB`;
  if (b >= 1024 ** 2) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${b} B`;
}
