/**
 * Record batches -> graph updates. Each record goes to its kind's ingest hook
 * (src/kinds/<kind>.ts) through the generated dispatch switch, reading fields
 * in place from the batch; the only allocations are new nodes/edges/series and
 * strings for names we have not seen before. Every metric or attribute change
 * is noted in the graph's change log (a bit on the node), so the rule matcher
 * re-evaluates just what changed, once per flush rather than once per event.
 */
import type { RecordBatch } from '../events/decoder';
import { COMM_LEN, F_KTHREAD, KIND_MAX, Kind, OFFSETS as O, RECORD_VERSION } from '../events/layout';
import type { CgroupScope } from '../procfs/cgroup-scope';
import type { Graph } from '../graph/graph';
import type { GraphNode, ProcessNode } from '../graph/model';
import { ingestRecord } from './registry.gen';

export interface IngestStats {
  records: number;
  /** Indexed by kind number. */
  byKind: number[];
  invalid: number;
  unattributed: number;
  /** records of processes outside the agent's cgroup scope (--scope-cgroup), dropped */
  outOfScope: number;
}

export class GraphIngestor {
  readonly stats: IngestStats = { records: 0, byKind: new Array(KIND_MAX + 1).fill(0), invalid: 0, unattributed: 0, outOfScope: 0 };

  /** scope: only processes in this cgroup subtree are tracked (a signal counts when its target is) */
  constructor(
    readonly graph: Graph,
    private readonly scope: CgroupScope | null = null,
  ) {}

  /** One sample of metric `id` on `node`, noted for the rule matcher. */
  observe(node: GraphNode, id: number, t: number, value: number): void {
    node.observe(id, t, value);
    this.graph.noteMetric(node, id);
  }

  ingest(b: RecordBatch): void {
    const n = b.count;
    const byKind = this.stats.byKind;
    let invalid = 0;
    let newest = this.graph.nowNs;
    for (let i = 0; i < n; i++) {
      const kind = b.kind(i);
      if (b.version(i) !== RECORD_VERSION || kind === 0 || kind > KIND_MAX) {
        invalid++;
        continue;
      }
      if (this.scope !== null && !this.inScope(b, i, kind)) {
        this.stats.outOfScope++;
        continue;
      }
      byKind[kind]!++;
      const t = b.u64Number(i, O['hdr.ts_ns']);
      if (t > newest) newest = t;
      ingestRecord(this, kind, b, i, t); // kinds without a hook, and XCTL_KIND_SYNTHETIC, are counted only
    }
    // once per batch: per record, these are loads and stores through `this` that the loop does not need
    this.graph.nowNs = newest;
    this.stats.invalid += invalid;
    this.stats.records += n - invalid;
  }

  private inScope(b: RecordBatch, i: number, kind: number): boolean {
    const scope = this.scope!;
    if (kind === Kind.EXEC) scope.forget(b.pid(i));
    if (scope.admits(b.pid(i), b.u64Number(i, O['hdr.start_ns']))) return true;
    // who stopped or killed a process in scope is part of its story
    return kind === Kind.SIGNAL && scope.pidInScope(b.u32(i, O['sig.target_pid'])) === true;
  }

  /** The header's process, described by its first record. */
  owner(b: RecordBatch, i: number, t: number): ProcessNode {
    const p = this.graph.process(b.pid(i), b.u64Number(i, O['hdr.start_ns']));
    p.seen(t);
    if (!p.described) this.describe(p, b, i);
    if (b.flags(i) & F_KTHREAD) p.kthread = true;
    return p;
  }

  /** Name and cgroup, decoded once per process (exec() refreshes both: a runtime moves a task into its cgroup before exec). */
  private describe(p: ProcessNode, b: RecordBatch, i: number): void {
    if (p.comm === '') p.comm = b.str(i, O['hdr.comm'], COMM_LEN); // a waker may have been named already
    this.setCgroup(p, b, i);
    p.described = true;
    this.graph.identities?.note(p); // resolved later, off the hot path
  }

  setCgroup(p: ProcessNode, b: RecordBatch, i: number): void {
    const cg = b.u64Number(i, O['hdr.cgroup_id']);
    if (cg) p.cgroupId = String(cg);
  }
}
