/**
 * What only the host can tell now: /proc state of the processes on a chain,
 * and who holds the other end of the pipe a process is blocked on. A reader
 * whose writer is stopped never wakes, so no eBPF event will ever say so;
 * /proc does. Found waits go into the query's overlay, never into the graph.
 */
import { inspectProcess } from '../procfs/inspect';
import { pipePeers } from '../procfs/fd-owners';
import type { ProcessNode } from '../graph/model';
import type { QueryOverlay } from './overlay';

const STATE_VOCAB: Record<string, string> = {
  running: 'running',
  sleeping: 'sleeping',
  blocked: 'blocked',
  stopped: 'stopped',
  traced: 'stopped',
  zombie: 'exited',
  idle: 'sleeping',
};

export class LiveInspector {
  private states = new Map<number, string>();

  constructor(private readonly overlay: QueryOverlay) {}

  /** /proc state in the rules' vocabulary, cached for one `why`. */
  state(p: ProcessNode): string | undefined {
    if (p.state === 'exited') return 'exited';
    const cached = this.states.get(p.pid);
    if (cached !== undefined) return cached;
    const live = inspectProcess(p.pid);
    const s = live && Math.abs(Number(live.startNs) - p.startNs) <= 10e6 ? STATE_VOCAB[live.stateName] : undefined;
    this.states.set(p.pid, s ?? '');
    return s;
  }

  /**
   * If `p` is blocked on a pipe now, links it in the overlay to the processes
   * holding the other end (waits_on, source procfs). Returns the processes linked.
   */
  linkPipePeers(p: ProcessNode): ProcessNode[] {
    if (p.state === 'exited') return [];
    const peers = pipePeers(p.pid, { budgetMs: 100 });
    if (!peers || peers.peers.length === 0) return [];
    const out: ProcessNode[] = [];
    for (const peer of peers.peers) {
      const live = inspectProcess(peer.pid);
      const q = this.overlay.process(peer.pid, live ? Number(live.startNs) : 0, peer.comm);
      const end = peers.role === 'reader' ? 'write' : 'read';
      this.overlay.linkWait(
        p,
        q,
        `${p.label()} is blocked ${peers.role === 'reader' ? 'reading' : 'writing'} pipe:[${peers.inode}]; ${q.label()} holds its ${end} end and is ${peer.stateName}`,
      );
      this.states.set(q.pid, STATE_VOCAB[peer.stateName] ?? '');
      out.push(q);
    }
    return out;
  }
}
