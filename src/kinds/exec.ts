/** A process image replaced by execve (proc.bpf.c). */
import { OFFSETS as O, COMM_LEN, FILENAME_LEN } from '../events/layout';
import type { EventBase } from './event';
import { defineKind } from './kind';

export interface ExecEvent extends EventBase {
  kind: 'exec';
  ppid: number;
  filename: string;
}

export const kind = defineKind<'exec', ExecEvent>({
  name: 'exec',
  family: 'proc',
  event(b, i, e) {
    return {
      ...e,
      kind: 'exec',
      ppid: b.u32(i, O['exec.ppid']),
      filename: b.str(i, O['exec.filename'], FILENAME_LEN),
    };
  },
  text(ev) {
    return `${ev.filename} (ppid ${ev.ppid})`;
  },
  ingest(ing, b, i, t) {
    const p = ing.owner(b, i, t);
    p.comm = b.str(i, O['hdr.comm'], COMM_LEN); // exec changes the name
    ing.setCgroup(p, b, i);
    p.exe = b.str(i, O['exec.filename'], FILENAME_LEN);
    p.ppid = b.u32(i, O['exec.ppid']);
    p.state = 'running';
    ing.graph.identities?.note(p); // a new image: a new environment (rank), maybe a new cgroup
    ing.graph.noteAttr(p);
  },
});
