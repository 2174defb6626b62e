/**
 * The part of every decoded event that comes from the common record header
 * (units for text lines are in events/units-text). JSON events are
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
