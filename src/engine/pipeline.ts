/**
 * Graph + rules as one unit, fed batches by any source: the live agent and
 * `xctl analyze` (replay) run exactly the same code. Ingest marks what changed;
 * flush() re-evaluates only that (the incremental matcher) on a timer. Queries
 * on it (why/) sit above it.
 */
import type { RecordBatch } from '../events/decoder';
import { Graph, type GraphCaps } from '../graph/graph';
import { GraphIngestor } from '../kinds/ingest';
import { GraphContext, type LiveProviders } from '../graph/eval-context';
import type { ProcessNode } from '../graph/model';
import { RuleMatcher, type ChangeSet } from '../rules/matcher';
import type { RuleSet } from '../rules/ruleset';
import type { EntityType } from '../rules/context';
import type { RuleMatch } from '../rules/compile';
import { Series } from '../graph/series';
import type { CgroupScope } from '../procfs/cgroup-scope';
import { ATTR_CHANGED, METRIC_NAMES } from '../graph/vocabulary';
import type { PsRow } from './answer';
import { IdentityResolver } from '../identity/resolver';
import { identityFields, resolveProcess, type Identity, type ResolveOptions } from '../identity/identity';
import { CgroupSampler } from './cgroup-sampler';

/** `ps --by pod|job` asks for every row: at most this many (findings first), so one reply stays small */
export const PS_ALL_MAX = 5000;

export interface PipelineOptions {
  caps?: Partial<GraphCaps>;
  /** host clock in boot ns (live); replays use the newest record time */
  clock?: () => number;
  live?: { providers: LiveProviders; inspect: boolean };
  /** track only the processes in this cgroup subtree (--scope-cgroup) */
  scope?: CgroupScope;
  /** live: resolve each process's identity (container, pod, slurm, rank) off the hot path */
  identity?: ResolveOptions;
  /** live: sample CPU throttling and memory pressure of the processes' cgroups (tick() on the agent's timer) */
  cgroups?: boolean;
}

export class Pipeline {
  readonly graph: Graph;
  readonly ingestor: GraphIngestor;
  matcher: RuleMatcher;
  /** kernel + user drops per second, for "what could we not see in this window" */
  readonly drops = new Series();
  flushes = 0;
  /** change sets by node type and metric bits, for the rule set they were made from */
  private readonly changeSets = new Map<EntityType, Map<number, ChangeSet>>();
  private changeSetsOf: RuleSet | undefined;
  /** live only: the identity resolver; its tick() runs on the agent's timer */
  readonly identities?: IdentityResolver;
  /** live only: CPU quota throttling and memory pressure of the processes' cgroups; its tick() runs on the agent's timer */
  readonly cgroups?: CgroupSampler;

  constructor(
    rules: RuleSet,
    private readonly opts: PipelineOptions = {},
  ) {
    this.graph = new Graph(opts.caps);
    this.matcher = new RuleMatcher(rules);
    this.graph.samplePercentiles(rules.percentileMetrics);
    this.ingestor = new GraphIngestor(this.graph, opts.scope ?? null);
    this.graph.onEvict = (node) => this.matcher.forget(node);
    if (opts.identity) {
      const g = this.graph;
      this.identities = new IdentityResolver(opts.identity, () => g.procs.values());
      this.identities.onChange = (h) => g.noteAttr(h as ProcessNode); // rules on pod.*, container.*, job, rank re-evaluate
      g.identities = this.identities;
    }
    if (opts.cgroups) this.cgroups = new CgroupSampler(this.graph, () => this.nowNs());
  }

  /** The identity of a process: resolved (now, if the timer has not yet) on a live host; what was recorded in replays. */
  identityOf(p: ProcessNode): Identity | undefined {
    return this.identities ? this.identities.identityOf(p) : p.identity;
  }

  /** Replays: identities recorded with the recording ("pid:start_ns" -> identity) onto the graph's processes. */
  attachIdentities(ids: ReadonlyMap<string, Identity>): number {
    let n = 0;
    for (const m of [this.graph.procs, this.graph.retired] as Iterable<[unknown, ProcessNode]>[])
      for (const [, p] of m) {
        const id = ids.get(`${p.pid}:${p.startNs}`);
        if (id) {
          p.identity = id;
          this.graph.noteAttr(p);
          n++;
        }
      }
    return n;
  }

  /** The identity of (pid, start): its node's, or read from /proc for a process the graph has not met (live). */
  identityFor(pid: number, startNs: number): Identity | undefined {
    const node = this.graph.findProcess(pid) ?? this.graph.retired.get(`p:${pid}:${startNs}`);
    if (node && (node.startNs === startNs || startNs === 0)) return this.identityOf(node);
    return this.identities ? resolveProcess(pid, startNs, this.identities.opts) : undefined;
  }

  nowNs(): number {
    return this.opts.clock ? this.opts.clock() : this.graph.nowNs;
  }

  ingest(b: RecordBatch): void {
    this.ingestor.ingest(b);
  }

  setRules(rs: RuleSet): void {
    this.graph.samplePercentiles(rs.percentileMetrics);
    this.matcher.setRuleSet(rs);
  }

  noteDrops(count: number): void {
    if (count > 0) this.drops.add(this.nowNs() / 1e9, count);
  }

  context(): GraphContext {
    return new GraphContext(this.graph, BigInt(Math.round(this.nowNs())), this.opts.live?.providers ?? {});
  }

  /** Re-evaluates what changed since the last flush (and the active matches, whose windows move). */
  flush() {
    this.flushes++;
    this.deliverChanges();
    return this.matcher.flush(this.context());
  }

  /** The graph's change log -> the matcher: once per changed node, not once per event. */
  private deliverChanges(): void {
    const m = this.matcher;
    if (this.changeSetsOf !== m.rules) {
      this.changeSets.clear();
      this.changeSetsOf = m.rules;
    }
    const cgroups = this.cgroups;
    this.graph.drainChanges((node, changes) => {
      if (cgroups && node.type === 'process') cgroups.note(node as ProcessNode);
      if (changes & ATTR_CHANGED) m.touchedAttr(node);
      const bits = changes & ~ATTR_CHANGED;
      if (bits !== 0) m.touchedSet(node, this.changeSet(node.type, bits));
    });
  }

  /** The matcher's change set for these metric bits on a node of `type`: few distinct sets, each made once per rule set. */
  private changeSet(type: EntityType, bits: number): ChangeSet {
    let byBits = this.changeSets.get(type);
    if (!byBits) this.changeSets.set(type, (byBits = new Map()));
    let cs = byBits.get(bits);
    if (!cs) {
      const names: string[] = [];
      for (let b = bits; b !== 0; b &= b - 1) names.push(METRIC_NAMES[31 - Math.clz32(b & -b)]!);
      byBits.set(bits, (cs = this.matcher.changeSet(type, names)));
    }
    return cs;
  }

  sweep(): void {
    this.graph.sweep(this.nowNs());
  }

  /** What a live host adds to queries (/proc inspection, CPU providers); undefined in replays. */
  get live(): PipelineOptions['live'] {
    return this.opts.live;
  }

  /** Kernel + user drops in the window of `windowNs` ending at `nowNs`. */
  droppedIn(nowNs: number, windowNs: number): number {
    return this.drops.aggregate('sum', nowNs / 1e9, windowNs / 1e9) ?? 0;
  }

  /**
   * Tracked processes with a current finding first, then the most recently seen.
   * Identity: resolved now for the rows returned; `all` (grouping by pod or job)
   * returns every row (at most PS_ALL_MAX) with what the resolver already knows.
   */
  ps(limit = 50, all = false): PsRow[] {
    this.flush();
    const now = this.nowNs();
    const rows: PsRow[] = [];
    const nodes = new Map<PsRow, ProcessNode>();
    const top = (p: ProcessNode): RuleMatch | undefined => this.matcher.topMatchFor(p);
    const consider = (p: ProcessNode) => {
      if (p.kthread) return;
      const m = top(p);
      rows.push({
        pid: p.pid,
        comm: p.comm,
        state: p.state,
        start_ns: p.startNs,
        last_seen_s: Number(((now - p.lastNs) / 1e9).toFixed(1)),
        scene: m?.scene ?? 'healthy',
        summary: m?.cause ?? '',
        score: m?.score ?? 0,
      });
      nodes.set(rows[rows.length - 1]!, p);
    };
    for (const p of this.graph.procs.values()) consider(p);
    for (const p of this.graph.retired.values()) consider(p);
    rows.sort((a, b) => b.score - a.score || a.last_seen_s - b.last_seen_s);
    const out = rows.slice(0, all ? PS_ALL_MAX : limit);
    for (const r of out) {
      const p = nodes.get(r)!;
      Object.assign(r, identityFields(all ? p.identity : this.identityOf(p)));
    }
    return out;
  }
}
