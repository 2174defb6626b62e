/** TCP retransmits of one socket, aggregated per flush interval (net.bpf.c). */
import { AF_INET, AF_INET6, addrText } from '../events/inet';
import { OFFSETS as O, F_NO_OWNER, OWNER_KERNEL, OWNER_USERSPACE } from '../events/layout';
import { tcpStateName } from '../events/names';
import type { PeerNode } from '../graph/model';
import { MI } from '../graph/vocabulary';
import type { EventBase } from './event';
import { defineKind } from './kind';

export interface TcpRetransmitEvent extends EventBase {
  kind: 'tcp_retransmit';
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  family: 'ipv4' | 'ipv6' | 'unknown';
  state: string;
  count: number;
  segs: number;
  owner: 'kernel' | 'none' | 'userspace';
  sock_ino: number;
  first_ts_ns: string;
  skaddr: string;
}

function hostPort(family: string, addr: string, port: number): string {
  return family === 'ipv4' ? `${addr}:${port}` : `[${addr}]:${port}`;
}

export const kind = defineKind<'tcp_retransmit', TcpRetransmitEvent>({
  name: 'tcp_retransmit',
  family: 'net',
  event(b, i, e) {
    const family = b.u16(i, O['tcp.family']);
    const bytes = b.recordBytes(i);
    const owner = b.u8(i, O['tcp.owner_src']);
    return {
      ...e,
      kind: 'tcp_retransmit',
      saddr: addrText(family, bytes, O['tcp.saddr']),
      daddr: addrText(family, bytes, O['tcp.daddr']),
      sport: b.u16(i, O['tcp.sport']),
      dport: b.u16(i, O['tcp.dport']),
      family: family === AF_INET ? 'ipv4' : family === AF_INET6 ? 'ipv6' : 'unknown',
      state: tcpStateName(b.u8(i, O['tcp.state'])),
      count: b.u32(i, O['tcp.count']),
      segs: b.u32(i, O['tcp.segs']),
      owner: owner === OWNER_KERNEL ? 'kernel' : owner === OWNER_USERSPACE ? 'userspace' : 'none',
      sock_ino: b.u64Number(i, O['tcp.sock_ino']),
      first_ts_ns: b.u64(i, O['tcp.first_ts_ns']).toString(),
      skaddr: b.u64(i, O['tcp.skaddr']).toString(),
    };
  },
  text(ev) {
    let s =
      `${hostPort(ev.family, ev.saddr, ev.sport)} -> ${hostPort(ev.family, ev.daddr, ev.dport)} ` +
      `${ev.state} x${ev.count} (${ev.segs} segs)`;
    if (ev.owner === 'none') s += ` owner unresolved (socket inode ${ev.sock_ino})`;
    return s;
  },
  ingest(ing, b, i, t) {
    const segs = b.u32(i, O['tcp.segs']) || b.u32(i, O['tcp.count']);
    const port = b.u16(i, O['tcp.dport']);
    const family = b.u16(i, O['tcp.family']);
    const g = ing.graph;
    let peer: PeerNode;
    if (family === AF_INET) {
      const key = b.u32(i, O['tcp.daddr']) * 65536 + port;
      peer = g.findPeer(key) ?? g.peer(key, addrText(AF_INET, b.recordBytes(i), O['tcp.daddr']), port);
    } else {
      const addr = addrText(family, b.recordBytes(i), O['tcp.daddr']);
      peer = g.peer(`${addr}|${port}`, addr, port);
    }
    peer.seen(t);
    ing.observe(peer, MI.tcpRetransmits, t, segs);
    if (b.pid(i) === 0 || b.flags(i) & F_NO_OWNER) {
      ing.stats.unattributed++;
      return;
    }
    const p = ing.owner(b, i, t);
    ing.observe(p, MI.tcpRetransmits, t, segs);
    p.observeEdge('waits_on', peer, 'segments', t, segs);
  },
});
