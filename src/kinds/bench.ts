/** Synthetic records of the benchmark producer (bench.bpf.c): no graph meaning. */
import { OFFSETS as O } from '../events/layout';
import type { EventBase } from './event';
import { defineKind } from './kind';

export interface BenchEvent extends EventBase {
  kind: 'bench';
  seq: number;
  value: number;
}

export const kind = defineKind<'bench', BenchEvent>({
  name: 'bench',
  family: 'bench',
  event(b, i, e) {
    return {
      ...e,
      kind: 'bench',
      seq: b.u64Number(i, O['bench.seq']),
      value: b.u64Number(i, O['bench.value']),
    };
  },
  text(ev) {
    return `seq ${ev.seq} value ${ev.value}`;
  },
});
