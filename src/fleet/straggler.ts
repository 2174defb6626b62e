/**
 * Which rank holds a training job back, from the job's rank table (one row per
 * rank, as the node agents export it): a pure function, so the reasoning is
 * tested apart from Prometheus. A straggler is
 *  - a rank that is not inside the collective the others wait in,
 *  - a rank behind in completed collectives while the job is stalled (the
 *    waiting ranks' counts are frozen; a moving job's counts are scraped at
 *    different instants and are not compared),
 *  - a rank with a local finding of its own (waiting in a collective,
 *    nccl_hang, is what the victims show: not a cause by itself),
 *  - a rank of the world size that no agent exports (its node's agent is down,
 *    or the rank is gone).
 */

export interface RankFinding {
  scene: string;
  rule: string;
  culprit_kind: string;
  culprit: string;
  confidence: number;
}

export interface RankRow {
  rank: number;
  node: string;
  pid?: number;
  pod?: string;
  container?: string;
  world_size?: number;
  in_collective: boolean;
  /** the collective it waits in, and since when (Unix seconds) */
  collective?: { fn: string; since_s: number };
  completed: number;
  /** Unix seconds of its newest completed collective */
  last_completion_s?: number;
  finding?: RankFinding;
}

export interface Straggler {
  rank: number;
  node: string;
  pid?: number;
  pod?: string;
  container?: string;
  /** its local finding's scene, else "not_in_collective", "behind" or "not_exported" */
  scene: string;
  summary: string;
  reasons: string[];
  finding?: RankFinding;
}

export interface JobVerdict {
  /** true when no rank is to blame and the job is not stalled */
  healthy: boolean;
  stragglers: Straggler[];
  /** the collective the waiting ranks are in, and which ranks wait */
  waiting?: { fn: string; ranks: number[]; since_s: number };
  /** ranks below world_size that no agent exports */
  missing: number[];
  summary: string;
}

/** scenes that a rank shows because it waits for others: not a local cause */
export const VICTIM_SCENES: ReadonlySet<string> = new Set(['nccl_hang']);

const list = (ns: number[]) => (ns.length > 6 ? `${ns.slice(0, 6).join(', ')} ... (${ns.length})` : ns.join(', '));

export function findStragglers(rows: readonly RankRow[], nowS: number): JobVerdict {
  const byRank = [...rows].sort((a, b) => a.rank - b.rank);
  const waitingRows = byRank.filter((r) => r.in_collective);
  const notWaiting = byRank.filter((r) => !r.in_collective);
  let waiting: JobVerdict['waiting'];
  if (waitingRows.length) {
    const fns = new Map<string, number>();
    for (const r of waitingRows) if (r.collective) fns.set(r.collective.fn, (fns.get(r.collective.fn) ?? 0) + 1);
    const fn = [...fns].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'a collective';
    const since = Math.min(...waitingRows.map((r) => r.collective?.since_s ?? nowS));
    waiting = { fn, ranks: waitingRows.map((r) => r.rank), since_s: since };
  }
  const reasons = new Map<RankRow, string[]>();
  const add = (r: RankRow, why: string) => {
    const a = reasons.get(r);
    if (a) a.push(why);
    else reasons.set(r, [why]);
  };
  if (waiting && notWaiting.length) {
    const forS = Math.max(0, nowS - waiting.since_s).toFixed(1);
    for (const r of notWaiting)
      add(
        r,
        `not inside ${waiting.fn}, which rank${waiting.ranks.length > 1 ? 's' : ''} ${list(waiting.ranks)} wait${waiting.ranks.length > 1 ? '' : 's'} in for ${forS} s`,
      );
  }
  if (waiting) {
    const frozen = Math.max(...waitingRows.map((r) => r.completed));
    for (const r of byRank)
      if (r.completed < frozen)
        add(r, `behind: ${r.completed} collectives completed, the waiting ranks ${frozen} (${frozen - r.completed} behind)`);
  }
  for (const r of byRank)
    if (r.finding && !VICTIM_SCENES.has(r.finding.scene))
      add(r, `local finding ${r.finding.scene} (${r.finding.rule}), culprit ${r.finding.culprit_kind} ${r.finding.culprit}`);

  const world = Math.max(0, ...byRank.map((r) => r.world_size ?? 0));
  const present = new Set(byRank.map((r) => r.rank));
  const missing: number[] = [];
  for (let k = 0; k < world; k++) if (!present.has(k)) missing.push(k);

  const stragglers: Straggler[] = [];
  for (const [r, why] of reasons) {
    const f = r.finding && !VICTIM_SCENES.has(r.finding.scene) ? r.finding : undefined;
    const scene = f?.scene ?? (r.in_collective ? 'behind' : 'not_in_collective');
    const where = `rank ${r.rank} on ${r.node}${r.pid ? ` (pid ${r.pid})` : ''}`;
    const cause = f
      ? `local cause: ${f.scene}, ${f.rule} blames ${f.culprit_kind} ${f.culprit} (confidence ${f.confidence})`
      : 'no local finding on its node';
    stragglers.push({
      rank: r.rank,
      node: r.node,
      pid: r.pid,
      pod: r.pod,
      container: r.container,
      scene,
      summary: `${where}: ${why[0]}; ${cause}`,
      reasons: why,
      finding: f,
    });
  }
  stragglers.sort((a, b) => a.rank - b.rank);
  for (const k of missing)
    stragglers.push({
      rank: k,
      node: '?',
      scene: 'not_exported',
      summary: `rank ${k} of ${world}: no agent exports it (its node's agent is down or not scraped, or the rank is gone)`,
      reasons: ['not exported'],
    });

  const healthy = stragglers.length === 0 && !waiting;
  const summary = stragglers.length
    ? `${stragglers.length} straggler${stragglers.length > 1 ? 's' : ''}: ${stragglers.map((s) => `rank ${s.rank} on ${s.node}`).join(', ')}`
    : waiting
      ? `all ${waitingRows.length} ranks wait in ${waiting.fn}; none is behind and none has a local finding`
      : `${byRank.length} ranks, none waiting in a collective, none behind, no local finding`;
  return { healthy, stragglers, waiting, missing, summary };
}
