/**
 * Records -> plain JSON-able events and human text, each kind through its
 * module (src/kinds/<kind>.ts). This is the edge of the system (CLI output,
 * JSON lines, reports): allocation is fine here, never on the batch hot path.
 */
import type { BootClock } from '../events/clock';
import { wallIso } from '../events/clock';
import type { RecordBatch } from '../events/decoder';
import { COMM_LEN, F_KTHREAD, F_NO_OWNER, kindName } from '../events/layout';
import type { EventBase } from './event';
import { KIND_BY_ID, KIND_BY_NAME, type XEvent } from './registry';

export type { EventBase, UnknownEvent } from './event';
export type { XEvent } from './registry';

function base(b: RecordBatch, i: number, clock: BootClock): EventBase {
  const ts = b.tsNs(i);
  const flags = b.flags(i);
  const ev: EventBase = {
    ts: wallIso(ts, clock),
    ts_ns: ts.toString(),
    kind: kindName(b.kind(i)) ?? 'unknown',
    pid: b.pid(i),
    tid: b.tid(i),
    comm: b.comm(i),
    cgroup_id: b.cgroupId(i).toString(),
    start_ns: b.startNs(i).toString(),
    cpu: b.cpu(i),
  };
  if (flags & F_KTHREAD) ev.kthread = true;
  if (flags & F_NO_OWNER) ev.no_owner = true;
  return ev;
}

/** Record i of the batch as a plain object (see the kind modules' event interfaces). */
export function toEvent(b: RecordBatch, i: number, clock: BootClock): XEvent {
  const e = base(b, i, clock);
  const kind = b.kind(i);
  const m = KIND_BY_ID[kind];
  return m ? (m.event(b, i, e) as XEvent) : { ...e, kind: 'unknown', kind_id: kind };
}

/** The kind-specific part of a text line. */
export function eventDetails(ev: XEvent): string {
  return ev.kind === 'unknown' ? `kind ${ev.kind_id}` : KIND_BY_NAME[ev.kind].text(ev);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** "HH:MM:SS.mmm" of an ISO timestamp, local time unless utc. */
export function clockText(iso: string, utc = false): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '??:??:??.???';
  const [h, m, s, ms] = utc
    ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${pad2(h)}:${pad2(m)}:${pad2(s)}.${String(ms).padStart(3, '0')}`;
}

export interface TextOptions {
  utc?: boolean;
}

/** One line: "HH:MM:SS.mmm  pid  comm  kind  details" (columns padded). */
export function formatText(ev: XEvent, opts: TextOptions = {}): string {
  return (
    `${clockText(ev.ts, opts.utc)}  ${String(ev.pid).padStart(7)}  ${(ev.comm || '-').padEnd(COMM_LEN - 1)}  ` +
    `${ev.kind.padEnd(14)}  ${eventDetails(ev)}`
  );
}
