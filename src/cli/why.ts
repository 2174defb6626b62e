/**
 * `xctl why <pid|selector>` and `xctl ps`: thin clients of the agent.
 * why exit codes: 0 a cause was found, 1 the process looks healthy, 2 error
 * (unknown pid, no process matches the selector, no agent).
 */
import { parseArgs } from 'node:util';
import { callAgent } from '../ipc/client';
import { resolveSocketPath } from '../ipc/socket-path';
import { AgentUnavailableError } from '../ipc/errors';
import { renderPs, renderPsGroups, renderSelection, renderWhy } from './render';
import type { PsRow, WhyAnswer, WhySelection } from '../engine/answer';
import { UsageError } from './usage';
import { parseSelector, SelectorError, SELECTOR_FORMS } from '../identity/selector';
import { jobWhyCommand } from './why-job';
import { PS_LIMIT, WINDOW_SECONDS, boundedNumber } from '../ipc/args';

export const WHY_HELP = `usage: xctl why <pid|selector> [--rank N] [--json] [--window S] [--socket PATH]
       xctl why job/<ID> --prometheus URL [--json] [--window S]
  selectors: ${SELECTOR_FORMS}
  several processes match: the answer for those with a finding and a list of the rest
  exit code 0: a cause was found; 1: the process(es) look healthy; 2: error (unknown pid, no match, no agent)
  job/<ID> --prometheus: the job's ranks on every node, from the agents' xctl_rank_* series in Prometheus;
  names the straggler rank(s), their node, pid and local cause (exit 0), 1 if the job looks healthy,
  2 if Prometheus is unreachable or does not know the job`;

async function call(socket: string | undefined, method: string, pid: number, args: Record<string, string>) {
  const path = resolveSocketPath(socket);
  try {
    return await callAgent(path, { method, pid, args }, { timeoutMs: 10_000 });
  } catch (e) {
    if (e instanceof AgentUnavailableError) throw new UsageError(e.message);
    throw e;
  }
}

export async function whyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' },
      socket: { type: 'string' },
      window: { type: 'string' },
      rank: { type: 'string' },
      prometheus: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${WHY_HELP}\n`);
    return 0;
  }
  let sel: ReturnType<typeof parseSelector>;
  try {
    sel = parseSelector(positionals[0], values.rank);
  } catch (e) {
    if (e instanceof SelectorError) throw new UsageError(e.message.replace(/^why: /, `why needs a pid or a selector: `));
    throw e;
  }
  // job/<ID> across nodes, through Prometheus (without --prometheus, the agent answers for its own ranks)
  if (values.prometheus !== undefined) {
    if (sel.kind !== 'job' || sel.rank !== undefined)
      throw new UsageError(`--prometheus answers for a whole job: xctl why job/<ID> --prometheus URL, got "${positionals[0] ?? ''}"`);
    return jobWhyCommand(sel.job, { prometheus: values.prometheus, json: values.json, window: values.window });
  }
  const args: Record<string, string> = {};
  if (values.window !== undefined) {
    const w = boundedNumber(values.window, WINDOW_SECONDS);
    if (typeof w === 'string') throw new UsageError(`--window ${w}`);
    args.window_s = String(w);
  }
  if (sel.kind !== 'pid') {
    args.selector = positionals[0]!;
    if (values.rank !== undefined) args.rank = values.rank;
  }
  const reply = await call(values.socket, 'why', sel.kind === 'pid' ? sel.pid : 0, args);
  if (!reply.ok) {
    process.stderr.write(`xctl why: ${reply.error}\n`);
    return 2;
  }
  if (sel.kind !== 'pid') {
    const s = reply.body as WhySelection;
    process.stdout.write(`${values.json ? JSON.stringify(s) : renderSelection(s)}\n`);
    return s.answers.length ? 0 : 1;
  }
  const answer = reply.body as WhyAnswer;
  process.stdout.write(`${values.json ? JSON.stringify(answer) : renderWhy(answer)}\n`);
  return answer.scene === 'healthy' ? 1 : 0;
}

export async function psCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, socket: { type: 'string' }, limit: { type: 'string' }, by: { type: 'string' } },
  });
  const by = values.by;
  if (by !== undefined && by !== 'pod' && by !== 'job') throw new UsageError(`ps --by takes pod or job, got "${by}"`);
  const limit = values.limit === undefined ? undefined : boundedNumber(values.limit, PS_LIMIT);
  if (typeof limit === 'string') throw new UsageError(`--limit ${limit}`);
  const args: Record<string, string> = limit === undefined ? {} : { limit: String(limit) };
  if (by) args.all = '1';
  const reply = await call(values.socket, 'ps', 0, args);
  if (!reply.ok) {
    process.stderr.write(`xctl ps: ${reply.error}\n`);
    return 2;
  }
  const rows = reply.body as PsRow[];
  if (by) {
    const groups = groupRows(rows, by, values.limit ? Number(values.limit) : 50);
    process.stdout.write(`${values.json ? JSON.stringify(groups) : renderPsGroups(groups, by)}\n`);
    return 0;
  }
  process.stdout.write(`${values.json ? JSON.stringify(rows) : renderPs(rows)}\n`);
  return 0;
}

export interface PsGroup {
  /** pod: "namespace/name" (or the uid when the names are unknown); job: the job id; "" for the rest */
  key: string;
  pod?: PsRow['pod'];
  job?: string;
  processes: number;
  /** processes with a current finding */
  with_findings: number;
  worst?: { pid: number; comm: string; scene: string; summary: string; rank?: number };
  rows: PsRow[];
}

/** Rows grouped by pod (uid) or job (rank.job, else slurm.job); groups with findings first, the ungrouped rest last. */
export function groupRows(rows: PsRow[], by: 'pod' | 'job', limitPerGroup = 50): PsGroup[] {
  const m = new Map<string, PsGroup>();
  for (const r of rows) {
    const id = by === 'pod' ? r.pod?.uid : (r.rank?.job ?? r.slurm?.job);
    const k = id ?? '';
    let g = m.get(k);
    if (!g) {
      g = { key: k, processes: 0, with_findings: 0, rows: [] };
      if (by === 'pod' && r.pod) {
        g.pod = r.pod;
        if (r.pod.namespace && r.pod.name) g.key = `${r.pod.namespace}/${r.pod.name}`;
      }
      if (by === 'job' && id) g.job = id;
      m.set(k, g);
    }
    g.processes++;
    if (r.scene !== 'healthy') {
      g.with_findings++;
      if (!g.worst || r.score > (g.rows.find((x) => x.pid === g!.worst!.pid)?.score ?? 0))
        g.worst = { pid: r.pid, comm: r.comm, scene: r.scene, summary: r.summary, ...(r.rank && { rank: r.rank.rank }) };
    }
    if (g.rows.length < limitPerGroup) g.rows.push(r);
  }
  return [...m.values()].sort(
    (a, b) => (a.key === '' ? 1 : 0) - (b.key === '' ? 1 : 0) || b.with_findings - a.with_findings || a.key.localeCompare(b.key),
  );
}
