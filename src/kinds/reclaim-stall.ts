/** A task stalled in direct memory reclaim (proc.bpf.c): header = the stalled task. */
import { OFFSETS as O } from '../events/layout';
import { MI } from '../graph/vocabulary';
import { type EventBase, fmtMs } from './event';
import { defineKind } from './kind';

export interface ReclaimStallEvent extends EventBase {
  kind: 'reclaim_stall';
  duration_ns: number;
  nr_reclaimed: number;
  order: number;
}

export const kind = defineKind<'reclaim_stall', ReclaimStallEvent>({
  name: 'reclaim_stall',
  family: 'proc',
  event(b, i, e) {
    return {
      ...e,
      kind: 'reclaim_stall',
      duration_ns: b.u64Number(i, O['reclaim.duration_ns']),
      nr_reclaimed: b.u64Number(i, O['reclaim.nr_reclaimed']),
      order: b.u32(i, O['reclaim.order']),
    };
  },
  text(ev) {
    return `direct reclaim ${fmtMs(ev.duration_ns)} (order ${ev.order}, ${ev.nr_reclaimed} pages)`;
  },
  ingest(ing, b, i, t) {
    // (with the vocabulary's defineMetric: `const STALL = defineMetric({ name: 'mem.reclaim_stall', ... })` here)
    ing.observe(ing.owner(b, i, t), MI.offcpuBlocked, t, b.u64Number(i, O['reclaim.duration_ns']));
  },
});
