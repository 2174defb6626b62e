/** An NCCL collective: entry, exit, or still in flight past the threshold (uprobes of gpu.bpf.c). */
import { OFFSETS as O, NCCL_EXIT, NCCL_INFLIGHT } from '../events/layout';
import { MI } from '../graph/vocabulary';
import { NCCL_MAX_COMMS } from '../graph/model';
import type { EventBase } from './event';
import { fmtDuration } from '../events/units-text';
import { defineKind } from './kind';

/** nccl_call.fn (XCTL_NCCL_FN_*) as the API names it. */
const NCCL_FN_NAMES: readonly (string | undefined)[] = [
  undefined,
  'ncclAllReduce',
  'ncclBroadcast',
  'ncclReduce',
  'ncclAllGather',
  'ncclReduceScatter',
  'ncclSend',
  'ncclRecv',
  'ncclGroupEnd',
];

function fnName(fn: number): string {
  return NCCL_FN_NAMES[fn] ?? `fn ${fn}`;
}

export interface NcclCallEvent extends EventBase {
  kind: 'nccl_call';
  fn: string;
  phase: 'enter' | 'exit' | 'inflight';
  duration_ns: number;
  nccl_comm: string;
  count: number;
  datatype: number;
  result: number;
}

export const kind = defineKind<'nccl_call', NcclCallEvent>({
  name: 'nccl_call',
  family: 'cuda',
  event(b, i, e) {
    const phase = b.u8(i, O['nccl.phase']);
    return {
      ...e,
      kind: 'nccl_call',
      fn: fnName(b.u32(i, O['nccl.fn'])),
      phase: phase === NCCL_EXIT ? 'exit' : phase === NCCL_INFLIGHT ? 'inflight' : 'enter',
      duration_ns: b.u64Number(i, O['nccl.duration_ns']),
      nccl_comm: b.u64(i, O['nccl.comm']).toString(),
      count: b.u64Number(i, O['nccl.count']),
      datatype: b.u32(i, O['nccl.datatype']),
      result: b.s32(i, O['nccl.result']),
    };
  },
  text(ev) {
    return `${ev.fn} ${ev.phase}${ev.phase === 'enter' ? '' : ` ${fmtDuration(ev.duration_ns)}`} comm 0x${BigInt(ev.nccl_comm).toString(16)} count ${ev.count}${ev.phase === 'exit' && ev.result ? ` result ${ev.result}` : ''}`;
  },
  ingest(ing, b, i, t) {
    const phase = b.u8(i, O['nccl.phase']);
    if (phase !== NCCL_EXIT && phase !== NCCL_INFLIGHT) return;
    const p = ing.owner(b, i, t);
    const ns = b.u64Number(i, O['nccl.duration_ns']);
    if (phase === NCCL_INFLIGHT) {
      p.ncclInflight = { fn: fnName(b.u32(i, O['nccl.fn'])), ns, tNs: t };
      p.ncclInflightOpen = true;
      ing.observe(p, MI.ncclInflight, t, ns);
      ing.graph.noteAttr(p);
    } else {
      ing.observe(p, MI.ncclDuration, t, ns);
      // progress counters in place (per-rank export): no allocation but the first completion on a communicator
      p.ncclInflightOpen = false;
      p.ncclCompleted++;
      if (t > p.ncclLastExitNs) p.ncclLastExitNs = t;
      const comm = b.u64Number(i, O['nccl.comm']);
      const comms = (p.ncclComms ??= []);
      const done = (p.ncclCommCompleted ??= []);
      const k = comms.indexOf(comm);
      if (k >= 0) done[k]!++;
      else if (comms.length < NCCL_MAX_COMMS) {
        comms.push(comm);
        done.push(1);
      }
    }
  },
});
