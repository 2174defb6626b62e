/**
 * `why <pid>`: walk the graph outward from the process (waits_on / blocked_by,
 * several hops), evaluate the rules on every entity reached, and rank what
 * matched as causal chains: each link cites its evidence and window.
 */
import { XctlError } from '../errors';
import type { Graph } from '../graph/graph';
import { ProcessNode, type Edge, type GraphNode } from '../graph/model';
import { GraphContext, type LiveProviders } from '../graph/eval-context';
import type { RuleMatcher } from '../rules/matcher';
import type { PendingMatch } from '../rules/compile';
import type { Pipeline } from '../engine/pipeline';

import type { ChainLink, Finding, FindingAction, NodeRef, WhyAnswer } from '../engine/answer';
import { linkEvidence, ref } from './evidence';
import { LiveInspector } from './live';
import { QueryOverlay } from './overlay';
import { TcpPeerInspector } from './tcp-peer';
import { identityFields } from '../identity/identity';

export interface WhyOptions {
  /** boot-clock "now" (live: the host clock; replay: the newest record) */
  nowNs: number;
  /** look-back for evidence in chains, default 300 s */
  windowNs?: number;
  maxDepth?: number;
  /** live host: inspect /proc and sample CPUs */
  live?: { providers: LiveProviders; inspect: boolean };
  /** kernel + user drops in the window, as the source counted them */
  droppedEvents?: number;
}

export class WhyError extends XctlError {
  constructor(
    message: string,
    readonly code: 'NOT_FOUND',
  ) {
    super(message);
  }
}

const DEFAULT_WINDOW_NS = 300e9;
/** findings reported per answer, best first (the CLI prints the top one and three more) */
const MAX_FINDINGS = 10;

/** A rule match somewhere on the walk, scored, before it is rendered as a Finding. */
interface Candidate {
  node: GraphNode;
  d: number; // hops from the target
  m: PendingMatch;
  culprit: GraphNode;
  path: Edge[]; // target -> node, then node -> culprit (or what blocked it)
  confidence: number;
  score: number;
}
const MAX_NODES = 48;
const NO_EDGES: readonly Edge[] = [];
const FOLLOW_PER_HOP = 3;

/** `why <pid>` asked of a pipeline: what changed is evaluated first, then the walk runs at the pipeline's now. */
export function answerWhy(p: Pipeline, pid: number, windowNs = DEFAULT_WINDOW_NS): WhyAnswer {
  p.flush();
  const nowNs = p.nowNs();
  const answer = explain(p.graph, p.matcher, pid, { nowNs, windowNs, live: p.live, droppedEvents: p.droppedIn(nowNs, windowNs) });
  return { ...answer, ...identityFields(p.identityFor(answer.pid, answer.start_ns)) };
}

export function explain(g: Graph, matcher: RuleMatcher, pid: number, opts: WhyOptions): WhyAnswer {
  const t0 = process.hrtime.bigint();
  const windowNs = opts.windowNs ?? DEFAULT_WINDOW_NS;
  // edges are weighed in seconds; made once here (a double per call would be an allocation)
  const nowSec = opts.nowNs / 1e9;
  const windowSec = windowNs / 1e9;
  const maxDepth = opts.maxDepth ?? 4;
  // what /proc shows during this query stays in the overlay: the graph is only read
  const overlay = opts.live?.inspect ? new QueryOverlay(g, opts.nowNs) : undefined;
  const inspector = overlay ? new LiveInspector(overlay, g.deviceNamer) : undefined;
  const providers: LiveProviders = { ...(opts.live?.providers ?? {}) };
  if (inspector) {
    providers.processState = (p) => inspector.state(p);
    providers.liveWait = (p) => inspector.wait(p);
  }
  const tcpPeers = overlay ? new TcpPeerInspector(overlay) : undefined;
  if (tcpPeers) providers.tcpSend = (p) => tcpPeers.view(p);
  const target = g.findProcess(pid) ?? (overlay ? adoptLive(overlay, pid) : undefined);
  if (!target) {
    throw new WhyError(
      `no process ${pid}: it is not running${inspector ? '' : ' (offline analysis)'} and was not seen in the last ${Math.round(g.caps.exitedGraceNs / 60e9)} min`,
      'NOT_FOUND',
    );
  }
  const graphCtx = new GraphContext(g, BigInt(Math.round(opts.nowNs)), providers);
  const ctx = overlay ? overlay.context(graphCtx) : graphCtx;

  // Walk outward, remembering how each entity was reached.
  const via = new Map<GraphNode, Edge | null>([[target, null]]);
  const depth = new Map<GraphNode, number>([[target, 0]]);
  const queue: GraphNode[] = [target];
  while (queue.length && via.size < MAX_NODES) {
    const n = queue.shift()!;
    const d = depth.get(n)!;
    if (inspector && n instanceof ProcessNode && d < maxDepth) inspector.linkLiveWaits(n);
    if (tcpPeers && n instanceof ProcessNode && d < maxDepth) tcpPeers.linkPeers(n);
    if (d >= maxDepth) continue;
    // Only waits extend a chain: blocked_by names a culprit (who stopped or
    // killed it, an error) and is cited, never walked through. Only the
    // strongest few waits per hop are followed: chains are ranked by evidence
    // anyway, and this bounds the walk on hosts with busy fan-out.
    const next: Edge[] = []; // the strongest FOLLOW_PER_HOP waits, strongest first
    const weights: number[] = [];
    // the waits seen live now first, then the graph's (those to a process seen live are covered)
    const live = overlay?.waitsFrom(n) ?? NO_EDGES;
    for (let i = 0; i < live.length + n.out.length; i++) {
      const e = i < live.length ? live[i]! : n.out[i - live.length]!;
      if (e.kind !== 'waits_on' || via.has(e.to)) continue;
      if (i >= live.length && live.length && overlay!.waitTo(n, e.to)) continue;
      const w = e.source === 'procfs' ? Infinity : e.weight(nowSec, windowSec);
      if (!significant(e, w)) continue;
      let at = next.length;
      while (at > 0 && weights[at - 1]! < w) at--; // after equal weights: the first seen stays first
      if (at >= FOLLOW_PER_HOP) continue;
      // insert at `at`, the weakest falling off the end (by hand: splice allocates its result)
      for (let j = Math.min(next.length, FOLLOW_PER_HOP - 1); j > at; j--) {
        next[j] = next[j - 1]!;
        weights[j] = weights[j - 1]!;
      }
      next[at] = e;
      weights[at] = w;
    }
    for (const e of next) {
      via.set(e.to, e);
      depth.set(e.to, d + 1);
      queue.push(e.to);
    }
  }

  // Score every match first; chains, actions and evidence are built only for the
  // findings reported (the walk can reach dozens of matching entities).
  const candidates: Candidate[] = [];
  for (const [node, d] of depth) {
    if (node.type === 'error') continue;
    for (const m of matcher.testNow(ctx, node)) {
      const path = pathTo(node, via);
      // extend the chain to the culprit the rule named (e.g. the peer, the stopped holder), or,
      // when the cause is the entity itself (a crash, an OOM kill), cite what blocked it
      const culprit = culpritOf(g, node, m);
      const last =
        culprit !== node
          ? (overlay?.waitTo(node, culprit) ?? node.out.find((e) => e.to === culprit))
          : node.out.filter((e) => e.kind === 'blocked_by').sort((a, b) => b.lastNs - a.lastNs)[0];
      // a cause found further out is discounted a little per hop (direct evidence is
      // surer), and by how much the target really waits along the way: a process
      // that once woke it explains nothing unless the waits on it are substantial
      const confidence = Number((m.confidence * 0.95 ** d * pathStrength(path, opts.nowNs)).toFixed(3));
      candidates.push({ node, d, m, culprit, path: last ? [...path, last] : path, confidence, score: m.priority * confidence });
    }
  }
  candidates.sort((a, b) => b.score - a.score || a.path.length - b.path.length);
  const unique = dedupe(candidates)
    .slice(0, MAX_FINDINGS)
    .map((c): Finding => {
      const m = c.m.render();
      return {
        scene: m.scene,
        rule: m.ruleId,
        confidence: c.confidence,
        score: c.score,
        summary: tensed(
          c.node,
          m.cause,
          c.d === 0 ? '' : `${target.label()} ${target.state === 'exited' ? 'waited' : 'waits'} on ${c.node.label()}: `,
        ),
        culprit: ref(c.culprit),
        chain: c.path.map((e) => toLink(e, opts.nowNs, windowNs)),
        actions: m.actions.map((a) => ({
          type: a.type,
          text: a.text,
          target_spec: a.targetSpec,
          target: refOf(g, a.target),
          params: { ...a.params } as FindingAction['params'],
        })),
        evidence: m.evidence.map((e) => ({ leaf: e.leaf, value: e.value, entity: refOf(g, e.entity) })),
        ...(m.verify && { verify: m.verify }),
      };
    });
  const top = unique[0];
  const state = (providers.processState?.(target) ?? target.state) || target.state;
  const answer: WhyAnswer = {
    pid: target.pid,
    comm: target.comm,
    start_ns: target.startNs,
    state,
    scene: top?.scene ?? 'healthy',
    confidence: top?.confidence ?? healthyConfidence(target, opts.nowNs, windowNs),
    summary: top?.summary ?? healthySummary(target, opts.nowNs, windowNs),
    culprit: top?.culprit,
    chain: top?.chain ?? [],
    actions: top?.actions ?? [],
    findings: unique,
    dropped_events: opts.droppedEvents ?? 0,
    window_s: windowNs / 1e9,
    answered_in_ms: 0,
  };
  answer.answered_in_ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return answer;
}

/** Share of the last minute spent waiting on other processes along `path`, as a 0.05..1 weight. */
function pathStrength(path: Edge[], nowNs: number): number {
  let strength = 1;
  for (const e of path) {
    if (e.to.type !== 'process' || e.source === 'procfs') continue;
    const waited = e.weight(nowNs / 1e9, 60) / 60e9; // fraction of the last 60 s
    strength = Math.min(strength, Math.max(0.05, Math.min(1, waited / 0.2)));
  }
  return strength;
}

/** A wait worth following, by its weight in the window: seen live now, or recent evidence (≥ 100 ms for waits on another process). */
function significant(e: Edge, w: number): boolean {
  if (e.source === 'procfs') return true;
  if (e.to.type === 'process') return w >= 100e6;
  return w > 0;
}

/** Verbs a cause starts with after its subject, and their past tense (an exited process is described in the past). */
const PAST: readonly [string, string][] = [
  ['is', 'was'],
  ['are', 'were'],
  ['has been', 'had been'],
  ['has', 'had'],
  ['waits', 'waited'],
  ['uses', 'used'],
  ['runs', 'ran'],
  ['holds', 'held'],
  ['gets', 'got'],
];

/**
 * Tense: a cause about a process that has exited is told in the past ("was
 * stalled", "had been blocked"), one about a live process in the present, as
 * the rules write it. Only the verb right after the subject's label changes.
 */
function tensed(node: GraphNode, cause: string, prefix: string): string {
  if (!(node instanceof ProcessNode) || node.state !== 'exited') return prefix + cause;
  const subject = `${node.label()} `;
  const at = cause.indexOf(subject);
  if (at < 0) return prefix + cause;
  const rest = cause.slice(at + subject.length);
  for (const [now, then] of PAST) {
    if (rest.startsWith(`${now} `)) return `${prefix}${cause.slice(0, at)}${subject}${then}${rest.slice(now.length)}`;
  }
  return prefix + cause;
}

/** A running process the graph has not met (no event of its own yet): the query's own node. */
function adoptLive(overlay: QueryOverlay, pid: number): ProcessNode | undefined {
  // imported lazily: offline analysis never touches /proc
  const { inspectProcess } = require('../procfs/inspect') as typeof import('../procfs/inspect');
  const live = inspectProcess(pid);
  return live ? overlay.process(pid, Number(live.startNs), live.comm) : undefined;
}

function refOf(g: Graph, e: { type: string; id: string }): NodeRef {
  const n = 'out' in e ? (e as unknown as GraphNode) : g.byId(e.id);
  return n ? ref(n) : { type: e.type, id: e.id, label: e.id.startsWith('cpu') ? 'the CPUs' : e.id };
}

function pathTo(n: GraphNode, via: Map<GraphNode, Edge | null>): Edge[] {
  const out: Edge[] = [];
  for (let e = via.get(n); e; e = via.get(e.from)) out.unshift(e);
  return out;
}

function toLink(e: Edge, nowNs: number, windowNs: number): ChainLink {
  return { from: ref(e.from), to: ref(e.to), edge: e.kind, evidence: linkEvidence(e, nowNs, windowNs) };
}

/** The entity a match blames: its first neighbour binding (waits_on.peer...), else the entity itself. */
function culpritOf(g: Graph, node: GraphNode, m: PendingMatch): GraphNode {
  for (const b of Object.values(m.bindings)) {
    if (b.type === 'cpu') return g.cpu;
    const n = g.byId(b.id) ?? (b as unknown as GraphNode);
    if (n && n !== node && 'out' in n) return n;
  }
  return node;
}

/** One finding per (scene, culprit): the best-scored one. */
function dedupe(cs: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return cs.filter((c) => {
    const k = `${c.m.scene}|${c.culprit.id}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function healthySummary(p: ProcessNode, nowNs: number, windowNs: number): string {
  const recent = p.out.filter((e) => nowNs - e.lastNs <= windowNs).length;
  return recent
    ? `no rule matched: ${p.label()} has ${recent} recent wait edges, none strong enough to blame`
    : `no evidence of network, storage, memory, CPU or blocking problems for ${p.label()} in the last ${windowNs / 1e9} s`;
}

function healthyConfidence(p: ProcessNode, nowNs: number, windowNs: number): number {
  // less sure when we have seen little of it
  return nowNs - p.firstNs > windowNs ? 0.9 : 0.6;
}
