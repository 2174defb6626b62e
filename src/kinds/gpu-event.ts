/** An NVML event: Xid, ECC error, GPU unavailable (native/nvml.cc). */
import { OFFSETS as O, COMM_LEN, NVML_EV_DBE, NVML_EV_GPU_UNAVAILABLE, NVML_EV_SBE, NVML_EV_XID } from '../events/layout';
import { MI } from '../graph/vocabulary';
import type { EventBase } from './event';
import { defineKind } from './kind';

/** gpu_event.gpu when NVML could not name the device. */
const NO_GPU = 0xffffffff;

export interface GpuEventEvent extends EventBase {
  kind: 'gpu_event';
  gpu: number;
  uuid_hash: number;
  event_type: number;
  event_data: number;
  xid?: number; // when event_type has XidCriticalError
  nvml_status: number;
}

export const kind = defineKind<'gpu_event', GpuEventEvent>({
  name: 'gpu_event',
  family: 'gpu',
  event(b, i, e) {
    const type = b.u64Number(i, O['gev.event_type']);
    const data = b.u64Number(i, O['gev.event_data']);
    const ev: GpuEventEvent = {
      ...e,
      kind: 'gpu_event',
      gpu: b.u32(i, O['gev.gpu']),
      uuid_hash: b.u32(i, O['gev.uuid_hash']),
      event_type: type,
      event_data: data,
      nvml_status: b.s32(i, O['gev.nvml_status']),
    };
    if (type & NVML_EV_XID) ev.xid = data;
    return ev;
  },
  text(ev) {
    return ev.xid !== undefined
      ? `gpu ${ev.gpu} Xid ${ev.xid}`
      : `gpu ${ev.gpu} event 0x${ev.event_type.toString(16)} data ${ev.event_data}${ev.nvml_status ? ` nvml status ${ev.nvml_status}` : ''}`;
  },
  ingest(ing, b, i, t) {
    const idx = b.u32(i, O['gev.gpu']);
    if (idx === NO_GPU) return;
    const graph = ing.graph;
    const g = graph.gpu(idx);
    g.seen(t);
    if (g.name === '') g.name = b.str(i, O['hdr.comm'], COMM_LEN);
    const type = b.u64Number(i, O['gev.event_type']);
    const data = b.u64Number(i, O['gev.event_data']);
    if (type & NVML_EV_XID) {
      g.lastXid = { xid: data, tNs: t };
      const e = graph.error(`xid:${idx}:${data}`, 'gpu_xid', `Xid ${data} on GPU ${idx}`);
      e.seen(t);
      e.count++;
      g.edgeTo('blocked_by', e, 'events').add(t, 1, `Xid ${data}`);
      ing.observe(g, MI.gpuXid, t, data);
    }
    if (type & (NVML_EV_SBE | NVML_EV_DBE)) {
      ing.observe(g, MI.gpuEccErrors, t, 1);
    }
    if (type & NVML_EV_GPU_UNAVAILABLE) {
      const status = b.s32(i, O['gev.nvml_status']);
      g.lost = { status, tNs: t };
      const e = graph.error(`gpulost:${idx}`, 'gpu_lost', `GPU ${idx} unavailable${status ? ` (NVML status ${status})` : ''}`);
      e.seen(t);
      e.count++;
      g.edgeTo('blocked_by', e, 'events').add(t, 1);
    }
    graph.noteAttr(g);
  },
});
