/**
 * A sender held up by its TCP peer, seen in /proc during one `why`: a full
 * send buffer or a zero window on an established socket, with nothing being
 * retransmitted. When the peer's socket is on this host (the reversed 4-tuple
 * in the sender's network namespace), the processes holding it are linked in
 * the query's overlay as what the sender waits on, so the walk follows them
 * and their own causes (multi-hop). Never written to the graph.
 */
import type { TcpSendView } from '../graph/attributes';
import type { ProcessNode } from '../graph/model';
import { inspectProcess } from '../procfs/inspect';
import { tcpSendBlock, type TcpSendBlock } from '../procfs/tcp';
import type { QueryOverlay } from './overlay';

export class TcpPeerInspector {
  private readonly seen = new Map<number, TcpSendBlock | null>();

  constructor(private readonly overlay: QueryOverlay) {}

  private block(p: ProcessNode): TcpSendBlock | undefined {
    if (p.state === 'exited') return undefined;
    let b = this.seen.get(p.pid);
    if (b === undefined) {
      b = tcpSendBlock(p.pid, { budgetMs: 100 }) ?? null;
      this.seen.set(p.pid, b);
    }
    return b ?? undefined;
  }

  /** The rules' view (tcp_send.* attributes). */
  view(p: ProcessNode): TcpSendView | undefined {
    const b = this.block(p);
    if (!b) return undefined;
    return {
      peer: b.peer,
      queued: b.socket.txQueue,
      zeroWindow: b.zeroWindow,
      blockedIn: b.inSend?.syscall,
      peerUnread: b.peerSocket?.rxQueue,
      lost: b.socket.retransmits,
    };
  }

  /** Links `p` to the local processes holding its peer's socket; returns them. */
  linkPeers(p: ProcessNode): ProcessNode[] {
    const b = this.block(p);
    if (!b) return [];
    const out: ProcessNode[] = [];
    for (const o of b.peerOwners) {
      const live = inspectProcess(o.pid);
      const q = this.overlay.process(o.pid, live ? Number(live.startNs) : 0, o.comm);
      const how = b.inSend ? `blocked in ${b.inSend.syscall}() with` : 'has';
      this.overlay.linkWait(
        p,
        q,
        `${p.label()} ${how} ${b.socket.txQueue} bytes queued to ${b.peer}${b.zeroWindow ? ' (zero window)' : ''}, none retransmitted; ${q.label()} holds the peer socket ${b.socket.remote} <- ${b.socket.local} with ${b.peerSocket?.rxQueue ?? '?'} bytes unread`,
      );
      out.push(q);
    }
    return out;
  }
}
