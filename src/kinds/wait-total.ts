/**
 * A thread's waits of one state (run queue, S, D) in one window, summed in the
 * kernel whatever the per-event thresholds (sched.bpf.c): the graph's offcpu.*
 * series come from these, so short waits count.
 */
import { OFFSETS as O, OFFCPU_BLOCKED, OFFCPU_RUNQ, OFFCPU_SLEEP, WAIT_F_EXIT, WAIT_F_HIST_SAT, WAIT_HIST_BUCKETS } from '../events/layout';
import { MI } from '../graph/vocabulary';
import type { EventBase } from './event';
import { fmtMs } from '../events/units-text';
import { defineKind } from './kind';
import { OFFCPU_STATES } from './offcpu';

export interface WaitTotalEvent extends EventBase {
  kind: 'wait_total';
  state: 'runq' | 'sleep' | 'blocked' | 'unknown';
  total_ns: number;
  max_ns: number;
  count: number;
  window_ns: number;
  /** flushed at the thread's exit */
  exit: boolean;
  /** waits per log2(us) bucket: [0] < 2 us, [b] [2^b, 2^(b+1)) us, the last open-ended */
  hist: number[];
  /** a bucket reached 65535 (the histogram is a lower bound; total and count are exact) */
  hist_saturated: boolean;
}

/** the series each state feeds, by XCTL_OFFCPU_* */
const SERIES = { [OFFCPU_RUNQ]: MI.offcpuRunq, [OFFCPU_SLEEP]: MI.offcpuSleep, [OFFCPU_BLOCKED]: MI.offcpuBlocked } as Record<
  number,
  number
>;

export const kind = defineKind<'wait_total', WaitTotalEvent>({
  name: 'wait_total',
  family: 'sched',
  event(b, i, e) {
    const flags = b.u8(i, O['wt.flags']);
    const hist = Array.from({ length: WAIT_HIST_BUCKETS }, (_, k) => b.u16(i, O['wt.hist'] + 2 * k));
    const ev: WaitTotalEvent = {
      ...e,
      kind: 'wait_total',
      state: OFFCPU_STATES[b.u8(i, O['wt.state'])] ?? 'unknown',
      total_ns: 0,
      max_ns: 0,
      count: 0,
      window_ns: 0,
      exit: false,
      hist,
      hist_saturated: false,
    };
    ev.total_ns = b.u64Number(i, O['wt.total_ns']);
    ev.max_ns = b.u64Number(i, O['wt.max_ns']);
    ev.window_ns = b.u64Number(i, O['wt.window_ns']);
    ev.count = b.u32(i, O['wt.count']);
    ev.exit = (flags & WAIT_F_EXIT) !== 0;
    ev.hist_saturated = (flags & WAIT_F_HIST_SAT) !== 0;
    return ev;
  },
  text(ev) {
    return `${ev.state} ${fmtMs(ev.total_ns)} over ${ev.count} waits (max ${fmtMs(ev.max_ns)}) in ${fmtMs(ev.window_ns)}${ev.exit ? ' at exit' : ''}`;
  },
  ingest(ing, b, i, t) {
    const state = b.u8(i, O['wt.state']);
    const metric = SERIES[state];
    if (metric === undefined) return;
    const total = b.u64Number(i, O['wt.total_ns']);
    const p = ing.owner(b, i, t);
    ing.observe(p, metric, t, total);
    if (state === OFFCPU_RUNQ) {
      const g = ing.graph;
      p.observeEdge('waits_on', g.cpu, 'ns', t, total);
      g.cpu.seen(t);
    }
  },
});
