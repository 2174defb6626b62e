/**
 * One long wait and who ended it (sched.bpf.c). Records flagged `detail` (all
 * the kernel emits now) are only the waker's evidence: their time is also in a
 * wait_total record, which feeds the offcpu.* series. Older recordings have
 * no wait_total records: their offcpu records feed the series themselves.
 */
import {
  OFFSETS as O,
  COMM_LEN,
  OFFCPU_BLOCKED,
  OFFCPU_F_AGGREGATE,
  OFFCPU_F_DETAIL,
  OFFCPU_F_IOWAIT,
  OFFCPU_F_WAKER_IRQ,
  OFFCPU_RUNQ,
  OFFCPU_SLEEP,
} from '../events/layout';
import { MI } from '../graph/vocabulary';
import type { EventBase } from './event';
import { fmtMs } from '../events/units-text';
import { defineKind } from './kind';

export interface OffcpuEvent extends EventBase {
  kind: 'offcpu';
  state: 'runq' | 'sleep' | 'blocked' | 'unknown';
  duration_ns: number;
  max_ns: number;
  count: number;
  iowait: boolean;
  aggregate: boolean;
  waker_pid: number;
  waker_tid: number;
  waker_comm: string;
  waker_start_ns: string;
  waker_irq: boolean;
  /** set (true) on the records of this build: its time is also in a wait_total record; absent in older recordings */
  detail?: boolean;
}

/** XCTL_OFFCPU_* as text (wait_total uses the same states) */
export const OFFCPU_STATES: Readonly<Record<number, OffcpuEvent['state']>> = {
  [OFFCPU_RUNQ]: 'runq',
  [OFFCPU_SLEEP]: 'sleep',
  [OFFCPU_BLOCKED]: 'blocked',
};

export const kind = defineKind<'offcpu', OffcpuEvent>({
  name: 'offcpu',
  family: 'sched',
  event(b, i, e) {
    const flags = b.u8(i, O['off.flags']);
    return {
      ...e,
      kind: 'offcpu',
      state: OFFCPU_STATES[b.u8(i, O['off.state'])] ?? 'unknown',
      duration_ns: b.u64Number(i, O['off.duration_ns']),
      max_ns: b.u64Number(i, O['off.max_ns']),
      count: b.u32(i, O['off.count']),
      iowait: (flags & OFFCPU_F_IOWAIT) !== 0,
      aggregate: (flags & OFFCPU_F_AGGREGATE) !== 0,
      waker_pid: b.u32(i, O['off.waker_pid']),
      waker_tid: b.u32(i, O['off.waker_tid']),
      waker_comm: b.str(i, O['off.waker_comm'], COMM_LEN),
      waker_start_ns: b.u64(i, O['off.waker_start_ns']).toString(),
      waker_irq: (flags & OFFCPU_F_WAKER_IRQ) !== 0,
      ...(flags & OFFCPU_F_DETAIL ? { detail: true } : {}),
    };
  },
  text(ev) {
    let s = `${ev.state}${ev.iowait ? ' iowait' : ''} ${fmtMs(ev.duration_ns)}`;
    if (ev.count > 1) s += ` over ${ev.count} waits (max ${fmtMs(ev.max_ns)})`;
    if (ev.waker_irq) s += ' woken from irq/idle';
    else if (ev.waker_pid) s += ` woken by ${ev.waker_pid} ${ev.waker_comm}`;
    return s;
  },
  ingest(ing, b, i, t) {
    const state = b.u8(i, O['off.state']);
    const dur = b.u64Number(i, O['off.duration_ns']);
    const p = ing.owner(b, i, t);
    const g = ing.graph;
    const detail = (b.u8(i, O['off.flags']) & OFFCPU_F_DETAIL) !== 0; // the series come from wait_total
    if (state === OFFCPU_RUNQ) {
      if (detail) return;
      ing.observe(p, MI.offcpuRunq, t, dur);
      p.observeEdge('waits_on', g.cpu, 'ns', t, dur);
      g.cpu.seen(t);
      return;
    }
    if (!detail) ing.observe(p, state === OFFCPU_BLOCKED ? MI.offcpuBlocked : MI.offcpuSleep, t, dur);
    const wakerPid = b.u32(i, O['off.waker_pid']);
    if (wakerPid === 0 || wakerPid === p.pid || b.u8(i, O['off.flags']) & OFFCPU_F_WAKER_IRQ) return;
    if (state !== OFFCPU_SLEEP && state !== OFFCPU_BLOCKED) return;
    const w = g.process(wakerPid, b.u64Number(i, O['off.waker_start_ns']));
    w.seen(t);
    if (!w.described && w.comm === '') w.comm = b.str(i, O['off.waker_comm'], COMM_LEN); // until its own records say
    // "A slept until B woke it": A waited on B for that long
    p.observeEdge('waits_on', w, 'ns', t, dur);
    ing.observe(p, MI.waitsOnProcess, t, dur);
  },
});
