/** A task stalled in direct memory reclaim (proc.bpf.c): header = the stalled task. */
import { OFFSETS as O } from '../events/layout';
import { fmtMs } from '../events/units-text';
import { defineMetric } from '../graph/vocabulary';
import type { EventBase } from './event';
import { defineKind } from './kind';

/** The graph metric rules read: ns per direct-reclaim stall of the process. */
const RECLAIM_STALL = defineMetric({ name: 'mem.reclaim_stall', entities: ['process'], unit: 'ns', doc: 'ns per direct-reclaim stall' });

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
    ing.observe(ing.owner(b, i, t), RECLAIM_STALL, t, b.u64Number(i, O['reclaim.duration_ns']));
  },
});
