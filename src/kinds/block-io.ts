/** One block request seen from the device, or a process's wait on one (io.bpf.c). */
import { OFFSETS as O, F_KTHREAD, IO_F_FLUSH, IO_F_SYNC, IO_F_WAITER, IO_F_WRITE } from '../events/layout';
import { errnoName } from '../events/names';
import type { ErrorNode } from '../graph/model';
import { MI } from '../graph/vocabulary';
import type { EventBase } from './event';
import { fmtMs } from '../events/units-text';
import { defineKind } from './kind';

export interface BlockIoEvent extends EventBase {
  kind: 'block_io';
  dev: string; // "major:minor"
  op: 'read' | 'write' | 'flush';
  bytes: number;
  sector: number;
  latency_ns: number;
  device_ns: number;
  error: number; // negative errno, 0 on success
  errno?: string;
  waiter: boolean;
  sync: boolean;
}

export const kind = defineKind<'block_io', BlockIoEvent>({
  name: 'block_io',
  family: 'io',
  event(b, i, e) {
    const dev = b.u32(i, O['io.dev']);
    const flags = b.u16(i, O['io.flags']);
    const error = b.s32(i, O['io.error']);
    const ev: BlockIoEvent = {
      ...e,
      kind: 'block_io',
      dev: `${dev >>> 20}:${dev & 0xfffff}`, // kernel dev_t, not the userspace encoding
      op: flags & IO_F_FLUSH ? 'flush' : flags & IO_F_WRITE ? 'write' : 'read',
      bytes: b.u32(i, O['io.bytes']),
      sector: b.u64Number(i, O['io.sector']),
      latency_ns: b.u64Number(i, O['io.latency_ns']),
      device_ns: b.u64Number(i, O['io.device_ns']),
      error,
      waiter: (flags & IO_F_WAITER) !== 0,
      sync: (flags & IO_F_SYNC) !== 0,
    };
    if (error !== 0) ev.errno = errnoName(error);
    return ev;
  },
  text(ev) {
    let s = `dev ${ev.dev} ${ev.op} ${ev.bytes} B latency ${fmtMs(ev.latency_ns)}`;
    if (ev.waiter) s += ` (waiter, device ${fmtMs(ev.device_ns)})`;
    if (ev.error !== 0) s += ` error ${ev.errno ?? ev.error}`;
    return s;
  },
  ingest(ing, b, i, t) {
    const g = ing.graph;
    const dev = g.device(b.u32(i, O['io.dev']));
    dev.seen(t);
    const lat = b.u64Number(i, O['io.latency_ns']);
    const err = b.s32(i, O['io.error']);
    const bytes = b.u32(i, O['io.bytes']);
    const flags = b.u16(i, O['io.flags']);
    const waiter = (flags & IO_F_WAITER) !== 0;
    // The device sees every request once: waiter records repeat a request from the
    // waiting process's side, so they count for the process only.
    if (!waiter) {
      ing.observe(dev, MI.ioLatency, t, b.u64Number(i, O['io.device_ns']) || lat);
      ing.observe(dev, MI.ioBytes, t, bytes);
    }
    let errNode: ErrorNode | undefined;
    const errName = err !== 0 ? (errnoName(-err) ?? `errno ${-err}`) : undefined;
    if (err !== 0) {
      dev.lastError = errName;
      errNode = g.error(`io:${dev.dev}:${err}`, 'io_error', `${errName} on ${dev.label()}`);
      errNode.seen(t);
      errNode.count++;
      if (!waiter) {
        ing.observe(dev, MI.ioErrors, t, 1);
        dev.edgeTo('blocked_by', errNode, 'events').add(t, 1, (flags & IO_F_WRITE) !== 0 ? 'write' : 'read');
      }
    }
    const kthreadIssuer = (b.flags(i) & F_KTHREAD) !== 0 && !waiter;
    if (b.pid(i) === 0 || kthreadIssuer) return; // writeback/throttle workers: the waiter record names the process
    const p = ing.owner(b, i, t);
    ing.observe(p, MI.ioLatency, t, lat);
    p.observeEdge('waits_on', dev, 'ns', t, lat);
    if (errNode) {
      p.lastIoError = errName;
      ing.observe(p, MI.ioErrors, t, 1);
      p.observeEdge('blocked_by', errNode, 'events', t, 1);
    }
  },
});
