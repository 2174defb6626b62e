/**
 * `xctl why <pid>` and `xctl ps`: thin clients of the agent.
 * why exit codes: 0 a cause was found, 1 the process looks healthy, 2 error.
 */
import { parseArgs } from 'node:util';
import { callAgent } from '../ipc/client';
import { resolveSocketPath } from '../ipc/socket-path';
import { AgentUnavailableError } from '../ipc/errors';
import { renderPs, renderWhy } from './render';
import type { PsRow, WhyAnswer } from '../engine/answer';
import { UsageError } from './usage';
import { jobWhyCommand } from './why-job';

export const WHY_HELP = `usage: xctl why <pid> [--json] [--window S] [--socket PATH]
       xctl why job/<ID> --prometheus URL [--json] [--window S]
  exit code 0: a cause was found; 1: the process looks healthy; 2: error (unknown pid, no agent)
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
      prometheus: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${WHY_HELP}\n`);
    return 0;
  }
  // job/<ID> across nodes, through Prometheus (the local job/ selectors go to the agent)
  if (values.prometheus !== undefined) {
    const sel = positionals[0] ?? '';
    if (!sel.startsWith('job/')) throw new UsageError(`--prometheus answers for a job: xctl why job/<ID> --prometheus URL, got "${sel}"`);
    return jobWhyCommand(sel.slice(4), { prometheus: values.prometheus, json: values.json, window: values.window });
  }
  const pid = Number(positionals[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`why needs a pid, got "${positionals[0] ?? ''}"`);
  const args: Record<string, string> = {};
  if (values.window) args.window_s = values.window;
  const reply = await call(values.socket, 'why', pid, args);
  if (!reply.ok) {
    process.stderr.write(`xctl why: ${reply.error}\n`);
    return 2;
  }
  const answer = reply.body as WhyAnswer;
  process.stdout.write(`${values.json ? JSON.stringify(answer) : renderWhy(answer)}\n`);
  return answer.scene === 'healthy' ? 1 : 0;
}

export async function psCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, socket: { type: 'string' }, limit: { type: 'string' } },
  });
  const reply = await call(values.socket, 'ps', 0, values.limit ? { limit: values.limit } : {});
  if (!reply.ok) {
    process.stderr.write(`xctl ps: ${reply.error}\n`);
    return 2;
  }
  const rows = reply.body as PsRow[];
  process.stdout.write(`${values.json ? JSON.stringify(rows) : renderPs(rows)}\n`);
  return 0;
}
