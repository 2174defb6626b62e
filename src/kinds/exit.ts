/** A whole thread group is gone (proc.bpf.c). */
import { OFFSETS as O } from '../events/layout';
import { signalName } from '../events/names';
import type { EventBase } from './event';
import { fmtDuration } from '../events/units-text';
import { defineKind } from './kind';

export interface ExitEvent extends EventBase {
  kind: 'exit';
  exit_code: number;
  signal: number;
  signal_name?: string; // when signal != 0
  core_dumped: boolean;
  ppid: number;
  runtime_ns: number;
  raw_status: number;
}

export const kind = defineKind<'exit', ExitEvent>({
  name: 'exit',
  family: 'proc',
  event(b, i, e) {
    const signal = b.u32(i, O['exit.signal']);
    const ev: ExitEvent = {
      ...e,
      kind: 'exit',
      exit_code: b.s32(i, O['exit.exit_code']),
      signal,
      core_dumped: b.u8(i, O['exit.core_dumped']) !== 0,
      ppid: b.u32(i, O['exit.ppid']),
      runtime_ns: b.u64Number(i, O['exit.runtime_ns']),
      raw_status: b.u32(i, O['exit.raw_status']),
    };
    if (signal !== 0) ev.signal_name = signalName(signal);
    return ev;
  },
  text(ev) {
    const how = ev.signal
      ? `killed by ${ev.signal_name ?? `signal ${ev.signal}`}${ev.core_dumped ? ' (core)' : ''}`
      : `exit code ${ev.exit_code}`;
    return `${how} after ${fmtDuration(ev.runtime_ns)} (ppid ${ev.ppid})`;
  },
  ingest(ing, b, i, t) {
    const p = ing.owner(b, i, t);
    p.state = 'exited';
    p.exit = {
      code: b.s32(i, O['exit.exit_code']),
      signal: b.u32(i, O['exit.signal']),
      core: b.u8(i, O['exit.core_dumped']) !== 0,
      tNs: t,
    };
    if (p.exit.signal !== 0 && p.exit.signal !== 9 && !p.killedBy) {
      // a fault the process raised itself (SIGSEGV, SIGABRT...): an error entity of its own
      const e = ing.graph.error(
        `sig:${p.id}`,
        'fatal_signal',
        `${signalName(p.exit.signal) ?? `signal ${p.exit.signal}`}${p.exit.core ? ' (core dumped)' : ''}`,
      );
      e.seen(t);
      e.count++;
      p.edgeTo('blocked_by', e, 'events').add(t, 1);
    }
    ing.graph.noteAttr(p);
  },
});
