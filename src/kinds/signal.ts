/** A signal sent: header = sender, payload = target (proc.bpf.c). */
import { OFFSETS as O, COMM_LEN } from '../events/layout';
import { signalName } from '../events/names';
import { FATAL_BY_DEFAULT, SIGCONT, SIGNAL_STOPS } from '../graph/vocabulary';
import type { EventBase } from './event';
import { defineKind } from './kind';

const SI_KERNEL = 0x80;

export interface SignalEvent extends EventBase {
  kind: 'signal'; // header = sender
  target_pid: number;
  target_tid: number;
  target_comm: string;
  target_start_ns: string;
  sig: number;
  signal_name: string;
  handled: boolean;
  result: number;
  code: number;
}

export const kind = defineKind<'signal', SignalEvent>({
  name: 'signal',
  family: 'proc',
  event(b, i, e) {
    const sig = b.u32(i, O['sig.sig']);
    return {
      ...e,
      kind: 'signal',
      target_pid: b.u32(i, O['sig.target_pid']),
      target_tid: b.u32(i, O['sig.target_tid']),
      target_comm: b.str(i, O['sig.target_comm'], COMM_LEN),
      target_start_ns: b.u64(i, O['sig.target_start_ns']).toString(),
      sig,
      signal_name: signalName(sig),
      handled: b.u8(i, O['sig.handled']) !== 0,
      result: b.s32(i, O['sig.result']),
      code: b.s32(i, O['sig.code']),
    };
  },
  text(ev) {
    let s = `${ev.signal_name} -> ${ev.target_pid}${ev.target_comm ? ` ${ev.target_comm}` : ''}`;
    if (ev.handled) s += ' (handled)';
    if (ev.result !== 0) s += ` result ${ev.result}`;
    return s;
  },
  ingest(ing, b, i, t) {
    const sig = b.u32(i, O['sig.sig']);
    const sender = ing.owner(b, i, t);
    const target = ing.graph.process(b.u32(i, O['sig.target_pid']), b.u64Number(i, O['sig.target_start_ns']));
    target.seen(t);
    if (target.comm === '') target.comm = b.str(i, O['sig.target_comm'], COMM_LEN);
    if (target === sender) return; // faults are signalled by the process itself: the exit says enough
    const culprit = { pid: sender.pid, comm: sender.comm, tNs: t, signal: sig };
    if (SIGNAL_STOPS.has(sig)) {
      target.state = 'stopped';
      target.stoppedBy = culprit;
      target.edgeTo('blocked_by', sender, 'events').add(t, 1, signalName(sig));
    } else if (sig === SIGCONT) {
      if (target.state === 'stopped') target.state = 'running';
      target.stoppedBy = undefined;
    } else if (FATAL_BY_DEFAULT.has(sig) && b.u8(i, O['sig.handled']) === 0 && b.s32(i, O['sig.code']) !== SI_KERNEL) {
      // SI_KERNEL: the kernel itself (e.g. the OOM killer) sent it, not the current task
      target.killedBy = culprit;
      target.edgeTo('blocked_by', sender, 'events').add(t, 1, signalName(sig));
    }
    ing.graph.noteAttr(target);
  },
});
