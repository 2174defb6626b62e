/**
 * A training job's rank table from Prometheus: the per-rank series every node
 * agent exports (xctl_rank_*, see src/ops/metrics.ts), read with instant
 * queries at one evaluation time, and each rank's progress over the window
 * with a range query. The job label is `job` when Prometheus scrapes the
 * agents with honor_labels: true (deploy/prometheus), else `exported_job`:
 * both are tried.
 */
import { UserError } from '../errors';
import { type InstantSample, type PrometheusClient, promString } from './prometheus';
import type { RankFinding, RankRow } from './straggler';

export class JobUnknownError extends UserError {
  override name = 'JobUnknownError';
}

export interface RankProgress {
  rank: number;
  /** collectives completed in the window */
  completed_in_window: number;
  /** seconds since its completed count last moved (window_s if it did not move at all) */
  stalled_for_s: number;
}

export interface JobTable {
  job: string;
  /** Unix seconds the instant queries were evaluated at */
  at_s: number;
  window_s: number;
  rows: RankRow[];
  progress: RankProgress[];
}

const key = (l: Record<string, string>) => `${l.rank}|${l.node}`;

export async function readJobTable(prom: PrometheusClient, job: string, windowS: number, nowS = Date.now() / 1000): Promise<JobTable> {
  const at = Math.round(nowS * 1000) / 1000;
  let label = 'job';
  let info = await prom.query(`xctl_rank_info{job=${promString(job)}}`, at);
  if (!info.length) {
    label = 'exported_job';
    info = await prom.query(`xctl_rank_info{exported_job=${promString(job)}}`, at);
  }
  if (!info.length) {
    const known = await prom.query('count by (job, exported_job) (xctl_rank_info)', at);
    const names = [...new Set(known.map((s) => s.labels.exported_job ?? s.labels.job).filter(Boolean))].sort();
    throw new JobUnknownError(
      `job "${job}" is unknown to Prometheus at ${prom.base}: no xctl_rank_info series name it${names.length ? ` (jobs it knows: ${names.slice(0, 10).join(', ')})` : ' (no agent exports any rank: are the agents scraped, and do the ranks carry RANK and a job variable?)'}`,
    );
  }
  const sel = `{${label}=${promString(job)}}`;
  const [completed, inColl, since, last, findings] = await Promise.all([
    prom.query(`sum by (rank, node) (xctl_rank_collectives_completed_total${sel})`, at),
    prom.query(`xctl_rank_in_collective${sel}`, at),
    prom.query(`xctl_rank_collective_inflight_since_seconds${sel}`, at),
    prom.query(`xctl_rank_last_collective_timestamp_seconds${sel}`, at),
    prom.query(`xctl_rank_finding_confidence${sel}`, at),
  ]);
  const by = (xs: InstantSample[]) => new Map(xs.map((s) => [key(s.labels), s]));
  const cm = by(completed);
  const im = by(inColl);
  const sm = by(since);
  const lm = by(last);
  const fm = by(findings);
  // a rank restarted on another node leaves its old series until they go stale: the newest pid wins
  const rows = new Map<number, RankRow>();
  for (const s of info) {
    const l = s.labels;
    const k = key(l);
    const f = fm.get(k);
    const finding: RankFinding | undefined = f
      ? {
          scene: f.labels.scene ?? '',
          rule: f.labels.rule ?? '',
          culprit_kind: f.labels.culprit_kind ?? '',
          culprit: f.labels.culprit ?? '',
          confidence: f.value,
        }
      : undefined;
    const sinceS = sm.get(k);
    const row: RankRow = {
      rank: Number(l.rank),
      node: l.node ?? '?',
      pid: l.pid ? Number(l.pid) : undefined,
      pod: l.pod || undefined,
      container: l.container || undefined,
      world_size: l.world_size ? Number(l.world_size) : undefined,
      in_collective: im.get(k)?.value === 1,
      collective: sinceS ? { fn: sinceS.labels.fn ?? '?', since_s: sinceS.value } : undefined,
      completed: cm.get(k)?.value ?? 0,
      last_completion_s: lm.get(k)?.value,
      finding,
    };
    const prev = rows.get(row.rank);
    if (!prev || (row.last_completion_s ?? 0) > (prev.last_completion_s ?? 0)) rows.set(row.rank, row);
  }
  const step = Math.max(1, Math.round(windowS / 60));
  const series = await prom.queryRange(`sum by (rank) (xctl_rank_collectives_completed_total${sel})`, at - windowS, at, step);
  const progress: RankProgress[] = series
    .map((s) => {
      const pts = s.points;
      const lastV = pts[pts.length - 1]?.[1] ?? 0;
      let movedAt = pts[0]?.[0] ?? at - windowS;
      for (let i = 1; i < pts.length; i++) if (pts[i]![1] !== pts[i - 1]![1]) movedAt = pts[i]![0];
      return {
        rank: Number(s.labels.rank),
        completed_in_window: Math.max(0, lastV - (pts[0]?.[1] ?? 0)),
        stalled_for_s: Math.round((at - movedAt) * 10) / 10,
      };
    })
    .sort((a, b) => a.rank - b.rank);
  return { job, at_s: at, window_s: windowS, rows: [...rows.values()].sort((a, b) => a.rank - b.rank), progress };
}
