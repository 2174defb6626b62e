/** The OOM killer chose a victim: header = victim (proc.bpf.c). */
import { OFFSETS as O, COMM_LEN } from '../events/layout';
import type { EventBase } from './event';
import { fmtKb } from '../events/units-text';
import { defineKind } from './kind';

export interface OomKillEvent extends EventBase {
  kind: 'oom_kill'; // header = victim
  trigger_pid: number;
  trigger_comm: string;
  uid: number;
  total_vm_kb: number;
  anon_rss_kb: number;
  file_rss_kb: number;
  shmem_rss_kb: number;
  oom_score_adj: number;
}

export const kind = defineKind<'oom_kill', OomKillEvent>({
  name: 'oom_kill',
  family: 'proc',
  event(b, i, e) {
    return {
      ...e,
      kind: 'oom_kill',
      trigger_pid: b.u32(i, O['oom.trigger_pid']),
      trigger_comm: b.str(i, O['oom.trigger_comm'], COMM_LEN),
      uid: b.u32(i, O['oom.uid']),
      total_vm_kb: b.u64Number(i, O['oom.total_vm_kb']),
      anon_rss_kb: b.u64Number(i, O['oom.anon_rss_kb']),
      file_rss_kb: b.u64Number(i, O['oom.file_rss_kb']),
      shmem_rss_kb: b.u64Number(i, O['oom.shmem_rss_kb']),
      oom_score_adj: b.s32(i, O['oom.oom_score_adj']),
    };
  },
  text(ev) {
    return (
      `oom-killed anon-rss ${fmtKb(ev.anon_rss_kb)} file-rss ${fmtKb(ev.file_rss_kb)} ` +
      `shmem-rss ${fmtKb(ev.shmem_rss_kb)} total-vm ${fmtKb(ev.total_vm_kb)} ` +
      `oom_score_adj ${ev.oom_score_adj} (trigger ${ev.trigger_pid} ${ev.trigger_comm})`
    );
  },
  ingest(ing, b, i, t) {
    const victim = ing.owner(b, i, t);
    victim.oom = {
      anonRssKb: b.u64Number(i, O['oom.anon_rss_kb']),
      totalVmKb: b.u64Number(i, O['oom.total_vm_kb']),
      triggerPid: b.u32(i, O['oom.trigger_pid']),
      triggerComm: b.str(i, O['oom.trigger_comm'], COMM_LEN),
      tNs: t,
    };
    const scope = victim.cgroupId ? `cgroup ${victim.cgroupId}` : 'host';
    const e = ing.graph.error(`oom:${victim.id}`, 'oom_kill', `OOM kill (${scope}), rss ${fmtKb(victim.oom.anonRssKb)}`);
    e.seen(t);
    e.count++;
    victim.edgeTo('blocked_by', e, 'events').add(t, victim.oom.anonRssKb * 1024);
    ing.graph.noteAttr(victim);
  },
});
