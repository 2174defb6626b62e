/**
 * `xctl why job/<ID> --prometheus URL`: the job's rank table from Prometheus
 * (every node agent exports its ranks) and the straggler(s) that hold it back.
 * Exit 0: a straggler (or a stall) was found; 1: the job looks healthy; 2: an
 * error, saying which: Prometheus unreachable, or the job unknown to it.
 */
import { PrometheusClient } from '../fleet/prometheus';
import { readJobTable, type JobTable } from '../fleet/job';
import { findStragglers, type JobVerdict } from '../fleet/straggler';
import { UsageError } from './usage';

export interface JobWhyAnswer {
  job: string;
  prometheus: string;
  at_s: number;
  window_s: number;
  healthy: boolean;
  summary: string;
  waiting?: JobVerdict['waiting'];
  missing: number[];
  ranks: (JobTable['rows'][number] & { completed_in_window?: number; stalled_for_s?: number })[];
  stragglers: JobVerdict['stragglers'];
  answered_in_ms: number;
}

export async function answerJobWhy(job: string, url: string, windowS: number): Promise<JobWhyAnswer> {
  const t0 = Date.now();
  const prom = new PrometheusClient(url);
  const table = await readJobTable(prom, job, windowS);
  const v = findStragglers(table.rows, table.at_s);
  const prog = new Map(table.progress.map((p) => [p.rank, p]));
  return {
    job,
    prometheus: prom.base,
    at_s: table.at_s,
    window_s: windowS,
    healthy: v.healthy,
    summary: v.summary,
    waiting: v.waiting,
    missing: v.missing,
    ranks: table.rows.map((r) => ({
      ...r,
      completed_in_window: prog.get(r.rank)?.completed_in_window,
      stalled_for_s: prog.get(r.rank)?.stalled_for_s,
    })),
    stragglers: v.stragglers,
    answered_in_ms: Date.now() - t0,
  };
}

export function renderJobWhy(a: JobWhyAnswer): string {
  const lines = [`job ${a.job}: ${a.summary}`];
  if (a.waiting)
    lines.push(
      `  waiting in ${a.waiting.fn}: rank${a.waiting.ranks.length > 1 ? 's' : ''} ${a.waiting.ranks.join(', ')} for ${Math.max(0, a.at_s - a.waiting.since_s).toFixed(1)} s`,
    );
  for (const s of a.stragglers) {
    lines.push(`  straggler ${s.summary}`);
    if (s.pod || s.container) lines.push(`    ${s.pod ? `pod ${s.pod} ` : ''}${s.container ? `container ${s.container}` : ''}`.trimEnd());
    if (s.pid && s.node !== '?') lines.push(`    next: xctl why ${s.pid} on ${s.node} for the full local chain`);
  }
  lines.push('', '  RANK  NODE              PID      IN-COLLECTIVE      COMPLETED  IN-WINDOW  FINDING');
  for (const r of a.ranks) {
    const inColl = r.in_collective ? (r.collective?.fn ?? 'yes') : '-';
    lines.push(
      `  ${String(r.rank).padEnd(5)} ${r.node.padEnd(17)} ${String(r.pid ?? '?').padEnd(8)} ${inColl.padEnd(18)} ${String(r.completed).padEnd(10)} ${String(r.completed_in_window ?? '?').padEnd(10)} ${r.finding ? `${r.finding.scene} (${r.finding.rule})` : '-'}`,
    );
  }
  return lines.join('\n');
}

/** The `job/<ID> --prometheus URL` branch of `xctl why`. */
export async function jobWhyCommand(job: string, opts: { prometheus: string; json?: boolean; window?: string }): Promise<number> {
  if (!job) throw new UsageError('why job/<ID>: the job id is empty');
  const windowS = opts.window === undefined ? 300 : Number(opts.window);
  if (!Number.isFinite(windowS) || windowS <= 0)
    throw new UsageError(`--window must be a positive number of seconds, got "${opts.window}"`);
  let a: JobWhyAnswer;
  try {
    a = await answerJobWhy(job, opts.prometheus, windowS);
  } catch (e) {
    if (e instanceof Error && (e as { userFacing?: boolean }).userFacing) {
      process.stderr.write(`xctl why: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  process.stdout.write(`${opts.json ? JSON.stringify(a) : renderJobWhy(a)}\n`);
  return a.healthy ? 1 : 0;
}
