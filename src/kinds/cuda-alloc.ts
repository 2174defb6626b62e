/** A CUDA allocation call and its result (uprobes of gpu.bpf.c): header = the calling thread. */
import { OFFSETS as O } from '../events/layout';
import { MI } from '../graph/vocabulary';
import type { EventBase } from './event';
import { fmtBytes, fmtMs } from '../events/units-text';
import { defineKind } from './kind';

/** cuda_alloc.fn (XCTL_CUDA_FN_*) as the API names it. */
const CUDA_FN_NAMES: readonly (string | undefined)[] = [undefined, 'cudaMalloc', 'cuMemAlloc_v2', 'cudaMallocManaged', 'cudaMallocAsync'];
/** cudaErrorMemoryAllocation / CUDA_ERROR_OUT_OF_MEMORY */
const OUT_OF_MEMORY = 2;

function fnName(fn: number): string {
  return CUDA_FN_NAMES[fn] ?? `fn ${fn}`;
}

export interface CudaAllocEvent extends EventBase {
  kind: 'cuda_alloc';
  fn: string;
  size: number;
  result: number;
  latency_ns: number;
  ptr: string;
}

export const kind = defineKind<'cuda_alloc', CudaAllocEvent>({
  name: 'cuda_alloc',
  family: 'cuda',
  event(b, i, e) {
    return {
      ...e,
      kind: 'cuda_alloc',
      fn: fnName(b.u32(i, O['cuda.fn'])),
      size: b.u64Number(i, O['cuda.size']),
      result: b.s32(i, O['cuda.result']),
      latency_ns: b.u64Number(i, O['cuda.latency_ns']),
      ptr: b.u64(i, O['cuda.ptr']).toString(),
    };
  },
  text(ev) {
    return `${ev.fn}(${fmtBytes(ev.size)}) = ${ev.result}${ev.result === OUT_OF_MEMORY ? ' (out of memory)' : ''} in ${fmtMs(ev.latency_ns)}`;
  },
  ingest(ing, b, i, t) {
    const result = b.s32(i, O['cuda.result']);
    if (result === 0) return;
    const p = ing.owner(b, i, t);
    p.cudaFailure = { fn: fnName(b.u32(i, O['cuda.fn'])), size: b.u64Number(i, O['cuda.size']), result, tNs: t };
    ing.observe(p, MI.cudaAllocFailures, t, 1);
    ing.graph.noteAttr(p);
  },
});
