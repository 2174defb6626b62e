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
import { PS_LIMIT, WINDOW_SECONDS, boundedNumber } from '../ipc/args';

export const WHY_HELP = `usage: xctl why <pid> [--json] [--window S] [--socket PATH]
  exit code 0: a cause was found; 1: the process looks healthy; 2: error (unknown pid, no agent)`;

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
    options: { json: { type: 'boolean' }, socket: { type: 'string' }, window: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${WHY_HELP}\n`);
    return 0;
  }
  const pid = Number(positionals[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`why needs a pid, got "${positionals[0] ?? ''}"`);
  const args: Record<string, string> = {};
  if (values.window !== undefined) {
    const w = boundedNumber(values.window, WINDOW_SECONDS);
    if (typeof w === 'string') throw new UsageError(`--window ${w}`);
    args.window_s = String(w);
  }
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
  const limit = values.limit === undefined ? undefined : boundedNumber(values.limit, PS_LIMIT);
  if (typeof limit === 'string') throw new UsageError(`--limit ${limit}`);
  const reply = await call(values.socket, 'ps', 0, limit === undefined ? {} : { limit: String(limit) });
  if (!reply.ok) {
    process.stderr.write(`xctl ps: ${reply.error}\n`);
    return 2;
  }
  const rows = reply.body as PsRow[];
  process.stdout.write(`${values.json ? JSON.stringify(rows) : renderPs(rows)}\n`);
  return 0;
}
