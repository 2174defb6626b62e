/** GPU memory one process holds, per NVML sample (native/nvml.cc): header = the process. */
import { OFFSETS as O } from '../events/layout';
import { MI } from '../graph/vocabulary';
import type { EventBase } from './event';
import { fmtBytes } from '../events/units-text';
import { defineKind } from './kind';

export interface GpuProcMemEvent extends EventBase {
  kind: 'gpu_proc_mem'; // header = the process
  gpu: number;
  uuid_hash: number;
  used_bytes: number;
  mem_total: number;
}

export const kind = defineKind<'gpu_proc_mem', GpuProcMemEvent>({
  name: 'gpu_proc_mem',
  family: 'gpu',
  event(b, i, e) {
    return {
      ...e,
      kind: 'gpu_proc_mem',
      gpu: b.u32(i, O['gmem.gpu']),
      uuid_hash: b.u32(i, O['gmem.uuid_hash']),
      used_bytes: b.u64Number(i, O['gmem.used_bytes']),
      mem_total: b.u64Number(i, O['gmem.mem_total']),
    };
  },
  text(ev) {
    return `gpu ${ev.gpu} uses ${fmtBytes(ev.used_bytes)} of ${fmtBytes(ev.mem_total)}`;
  },
  ingest(ing, b, i, t) {
    if (b.pid(i) === 0) return;
    const g = ing.graph.gpu(b.u32(i, O['gmem.gpu']));
    g.seen(t);
    const bytes = b.u64Number(i, O['gmem.used_bytes']);
    const p = ing.owner(b, i, t);
    g.procMem.set(p.pid, { bytes, tNs: t, proc: p });
    // "the process holds this much of the GPU": consumes, with the bytes as evidence
    p.observeEdge('consumes', g, 'bytes', t, bytes);
    ing.observe(p, MI.gpuMemUsed, t, bytes);
    ing.graph.noteAttr(g);
  },
});
