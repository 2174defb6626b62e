/** A new process (not a thread): header = parent (proc.bpf.c). */
import { OFFSETS as O } from '../events/layout';
import type { EventBase } from './event';
import { defineKind } from './kind';

export interface ForkEvent extends EventBase {
  kind: 'fork'; // header = parent
  child_pid: number;
  child_start_ns: string;
}

export const kind = defineKind<'fork', ForkEvent>({
  name: 'fork',
  family: 'proc',
  event(b, i, e) {
    return {
      ...e,
      kind: 'fork',
      child_pid: b.u32(i, O['fork.child_pid']),
      child_start_ns: b.u64(i, O['fork.child_start_ns']).toString(),
    };
  },
  text(ev) {
    return `child ${ev.child_pid}`;
  },
  ingest(ing, b, i, t) {
    const parent = ing.owner(b, i, t);
    const child = ing.graph.process(b.u32(i, O['fork.child_pid']), b.u64Number(i, O['fork.child_start_ns']));
    child.seen(t);
    child.ppid = parent.pid;
    if (child.comm === '') child.comm = parent.comm; // until its exec says otherwise
  },
});
