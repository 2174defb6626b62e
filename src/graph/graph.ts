/**
 * The bounded causal graph: processes (by pid + start time, so a reused pid is
 * a new node), peers, block devices, the CPUs and error entities, linked by
 * Consumes / WaitsOn / BlockedBy edges that carry their evidence.
 *
 * Memory is bounded by caps on each node kind. Exited processes stay for a
 * grace period (so `why` works after a crash) and idle nodes expire; sweep()
 * runs on a timer, never per event, and evicts least-recently-seen first when
 * a cap is exceeded. Every eviction is counted.
 */
import { CgroupNode, CpuNode, DeviceNode, ErrorNode, GpuNode, GraphStore, PeerNode, ProcessNode, type GraphNode } from './model';
import { ATTR_CHANGED, metricId } from './vocabulary';

export interface GraphCaps {
  maxProcesses: number;
  maxPeers: number;
  maxDevices: number;
  maxErrors: number;
  /** exited processes are kept this long after their exit */
  exitedGraceNs: number;
  /** running processes, peers, devices with no event for this long are dropped */
  idleTtlNs: number;
}

const TICK_NS = 10_000_000;
/** sizes of the direct-mapped caches of pid and device lookups (powers of two) */
const RECENT_PIDS = 4096;
const RECENT_DEVICES = 64;

export const DEFAULT_CAPS: GraphCaps = {
  maxProcesses: 200_000,
  maxPeers: 50_000,
  maxDevices: 4_096,
  maxErrors: 10_000,
  exitedGraceNs: 15 * 60e9,
  idleTtlNs: 30 * 60e9,
};

export interface EvictionCounts {
  processes: number;
  peers: number;
  devices: number;
  errors: number;
  edges: number;
  pidReuse: number;
}

export class Graph {
  readonly caps: GraphCaps;
  /** the nodes' and edges' numbers (series heads, times) in flat arrays */
  readonly store = new GraphStore();
  /** current incarnation of each pid */
  readonly procs = new Map<number, ProcessNode>();
  /** earlier incarnations of reused pids, until their grace period ends */
  readonly retired = new Map<string, ProcessNode>();
  readonly peers = new Map<string | number, PeerNode>();
  /** the same nodes by id, for the rule engine's EntityRef lookups */
  private readonly ids = new Map<string, GraphNode>();
  readonly devices = new Map<number, DeviceNode>();
  readonly errors = new Map<string, ErrorNode>();
  readonly cpu = new CpuNode(this.store);
  /** GPUs by NVML index (few; never evicted) */
  readonly gpus = new Map<number, GpuNode>();
  /** cgroups of tracked processes, by key (made and dropped by the cgroup sampler, off the hot path) */
  readonly cgroups = new Map<string, CgroupNode>();
  readonly evicted: EvictionCounts = { processes: 0, peers: 0, devices: 0, errors: 0, edges: 0, pidReuse: 0 };
  /** newest event time seen: "now" for replays and for sweeps */
  nowNs = 0;
  /** optional: resolves a device's name (the agent reads /sys/dev/block) */
  deviceNamer?: (major: number, minor: number) => string | undefined;
  /** optional (live): told of each process at its first record and at exec, resolves its identity later, off the hot path */
  identities?: { note(p: ProcessNode): void };
  /** optional: told of every node the graph drops (the rule matcher forgets its matches) */
  onEvict?: (node: GraphNode) => void;
  /** nodes changed since the last drainChanges(), each listed once (its `changes` was 0) */
  private changed: GraphNode[] = [];
  /** recent pid lookups, by pid modulo the size: on the hot path a hit skips the Map's hashing */
  private readonly recent: (ProcessNode | undefined)[] = new Array<ProcessNode | undefined>(RECENT_PIDS).fill(undefined);
  private readonly recentDevices: (DeviceNode | undefined)[] = new Array<DeviceNode | undefined>(RECENT_DEVICES).fill(undefined);

  constructor(caps: Partial<GraphCaps> = {}) {
    this.caps = { ...DEFAULT_CAPS, ...caps };
  }

  /**
   * The process node for (pid, start). A different start time means the pid was
   * reused: the old node is retired (kept for its grace period) and a new one made.
   * start 0 = unknown (e.g. a waker seen before any of its own events): match any.
   */
  process(pid: number, startNs: number): ProcessNode {
    // the per-event case: the pid's node is cached and this is the same incarnation
    const cur = this.recent[pid & (RECENT_PIDS - 1)];
    if (cur !== undefined && cur.pid === pid && !cur.evicted && cur.startsNear(startNs, TICK_NS)) return cur;
    return this.lookUpProcess(pid, startNs);
  }

  /** process() past the cache: the Map, then a first sighting or a reused pid. */
  private lookUpProcess(pid: number, startNs: number): ProcessNode {
    const slot = pid & (RECENT_PIDS - 1);
    const cur = this.procs.get(pid);
    if (cur) {
      this.recent[slot] = cur;
      // /proc start times have 10 ms (tick) resolution, kernel ones ns: same process within a tick
      if (cur.startsNear(startNs, TICK_NS)) return cur;
      if (cur.startNs === 0) {
        cur.identify(startNs); // met before we knew its start time
        return cur;
      }
      if (startNs < cur.startNs) {
        // a late record about an older incarnation
        return this.retired.get(`p:${pid}:${startNs}`) ?? cur;
      }
      this.retired.set(cur.id, cur);
      if (cur.state !== 'exited') cur.state = 'exited'; // its exit event was lost
      this.evicted.pidReuse++;
    }
    const node = new ProcessNode(this.store, pid, startNs);
    this.procs.set(pid, node);
    this.recent[slot] = node;
    return node;
  }

  /** Lookup without creating. */
  findProcess(pid: number): ProcessNode | undefined {
    return this.procs.get(pid);
  }

  /** The peer with this key, if known (lets the caller skip formatting an address it does not need). */
  findPeer(key: string | number): PeerNode | undefined {
    return this.peers.get(key);
  }

  peer(key: string | number, addr: string, port: number): PeerNode {
    let p = this.peers.get(key);
    if (!p) {
      this.peers.set(key, (p = new PeerNode(this.store, addr, port)));
      this.ids.set(p.id, p);
    }
    return p;
  }

  device(devT: number): DeviceNode {
    // per IO record: a hit in the small cache skips the Map's hashing
    const slot = (devT ^ (devT >>> 20)) & (RECENT_DEVICES - 1);
    const cached = this.recentDevices[slot];
    if (cached !== undefined && cached.devT === devT && !cached.evicted) return cached;
    let d = this.devices.get(devT);
    if (!d) {
      d = new DeviceNode(this.store, devT);
      d.name = this.deviceNamer?.(d.major, d.minor) ?? '';
      this.devices.set(devT, d);
      this.ids.set(d.id, d);
    }
    this.recentDevices[slot] = d;
    return d;
  }

  gpu(index: number): GpuNode {
    let g = this.gpus.get(index);
    if (!g) this.gpus.set(index, (g = new GpuNode(this.store, index)));
    return g;
  }

  /** The cgroup node with this key (see CgroupNode), made on first use. */
  cgroup(key: string, path: string): CgroupNode {
    let c = this.cgroups.get(key);
    if (!c) this.cgroups.set(key, (c = new CgroupNode(this.store, path, key)));
    return c;
  }

  /** Drops a cgroup node (no tracked process is in it any more). */
  dropCgroup(c: CgroupNode): void {
    if (this.cgroups.get(c.id.slice(3)) !== c) return;
    this.cgroups.delete(c.id.slice(3));
    this.drop(c);
  }

  error(key: string, kind: ErrorNode['kind'], detail: string): ErrorNode {
    let e = this.errors.get(key);
    if (!e) this.errors.set(key, (e = new ErrorNode(this.store, key, kind, detail)));
    return e;
  }

  /** Keeps raw samples (for percentiles) for these metric names only. */
  samplePercentiles(names: Iterable<string>): void {
    const ids: number[] = [];
    for (const name of names) {
      const id = metricId(name);
      if (id !== undefined) ids.push(id);
    }
    this.store.series.sampleMetrics(ids);
  }

  /** Metric `id` of `node` got a sample. Runs per event, so it only sets a bit. */
  noteMetric(node: GraphNode, id: number): void {
    if (node.changes === 0) this.changed.push(node);
    node.changes |= 1 << id;
  }

  /** Attributes or edges of `node` changed. */
  noteAttr(node: GraphNode): void {
    if (node.changes === 0) this.changed.push(node);
    node.changes |= ATTR_CHANGED;
  }

  /** Hands each node changed since the last call to `visit` with its change bits, once; evicted ones are skipped. */
  drainChanges(visit: (node: GraphNode, changes: number) => void): void {
    const list = this.changed;
    this.changed = [];
    for (const n of list) {
      const c = n.changes;
      n.changes = 0;
      if (!n.evicted) visit(n, c);
    }
  }

  /** Any node by its id (the rule engine's EntityRef.id). */
  byId(id: string): GraphNode | undefined {
    switch (id.charCodeAt(0)) {
      case 112 /* p */:
        {
          if (id.startsWith('peer:')) return this.ids.get(id);
          const pid = Number(id.slice(2, id.indexOf(':', 2)));
          const cur = this.procs.get(pid);
          return cur && cur.id === id ? cur : this.retired.get(id);
        }
      case 100 /* d */:
        return this.ids.get(id);
      case 99 /* c */:
        return id === 'cpu' ? this.cpu : id.startsWith('cg:') ? this.cgroups.get(id.slice(3)) : undefined;
      case 101 /* e */:
        return this.errors.get(id.slice(4));
      case 103 /* g */:
        return id.startsWith('gpu:') ? this.gpus.get(Number(id.slice(4))) : undefined;
    }
    return undefined;
  }

  get size(): { processes: number; retired: number; peers: number; devices: number; errors: number; edges: number } {
    let edges = 0;
    for (const p of this.procs.values()) edges += p.out.length;
    for (const p of this.retired.values()) edges += p.out.length;
    for (const d of this.devices.values()) edges += d.out.length;
    return {
      processes: this.procs.size,
      retired: this.retired.size,
      peers: this.peers.size,
      devices: this.devices.size,
      errors: this.errors.size,
      edges,
    };
  }

  /** Drops what is past its grace/TTL, then least-recently-seen beyond the caps. */
  sweep(nowNs = this.nowNs): void {
    const grace = this.caps.exitedGraceNs;
    const ttl = this.caps.idleTtlNs;
    for (const [id, p] of this.retired) {
      if (nowNs - p.lastNs > grace) {
        this.retired.delete(id);
        this.drop(p);
        this.evicted.processes++;
      }
    }
    for (const [pid, p] of this.procs) {
      const limit = p.state === 'exited' ? grace : ttl;
      if (nowNs - p.lastNs > limit) {
        this.procs.delete(pid);
        this.drop(p);
        this.evicted.processes++;
      }
    }
    this.expire(this.peers, ttl, nowNs, 'peers');
    this.expire(this.devices, ttl, nowNs, 'devices');
    this.expire(this.errors, grace, nowNs, 'errors');
    this.enforceCap(this.procs, this.caps.maxProcesses, 'processes');
    this.enforceCap(this.peers, this.caps.maxPeers, 'peers');
    this.enforceCap(this.devices, this.caps.maxDevices, 'devices');
    this.enforceCap(this.errors, this.caps.maxErrors, 'errors');
  }

  private expire<K>(m: Map<K, GraphNode>, ttl: number, nowNs: number, what: 'peers' | 'devices' | 'errors'): void {
    for (const [k, n] of m) {
      if (nowNs - n.lastNs > ttl) {
        m.delete(k);
        this.ids.delete(n.id);
        this.drop(n);
        this.evicted[what]++;
      }
    }
  }

  private enforceCap<K>(m: Map<K, GraphNode>, cap: number, what: keyof EvictionCounts): void {
    if (m.size <= cap) return;
    // least recently seen first; exited processes go before live ones at equal age
    const entries = [...m.entries()].sort((a, b) => a[1].lastNs - b[1].lastNs);
    for (let i = 0; i < entries.length - cap; i++) {
      const [k, n] = entries[i]!;
      m.delete(k);
      this.ids.delete(n.id);
      this.drop(n);
      this.evicted[what]++;
    }
  }

  /** Unlinks a node's edges from its neighbours. */
  private drop(n: GraphNode): void {
    n.evicted = true;
    this.onEvict?.(n);
    for (const e of n.out) {
      const i = e.to.inn.indexOf(e);
      if (i >= 0) e.to.inn.splice(i, 1);
      e.release();
      this.evicted.edges++;
    }
    for (const e of n.inn) {
      e.from.unlinkOut(e);
      e.release();
      this.evicted.edges++;
    }
    n.clearEdges();
    n.release();
  }
}
