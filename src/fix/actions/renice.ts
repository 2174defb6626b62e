import * as fs from 'node:fs';
import * as os from 'node:os';
import { niceOf } from './command';
import type { ActionRunner } from './types';
import { errText } from './types';
/** setpriority(2) on every thread of the process (Linux nice values are per thread). */
export const renice: ActionRunner = async (step) => {
  const pid = step.target.pid!;
  const nice = niceOf(step.params);
  let tids: number[];
  try {
    tids = fs
      .readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .filter((n) => n > 0);
  } catch {
    tids = [pid];
  }
  let done = 0;
  const errors: string[] = [];
  for (const tid of tids) {
    try {
      os.setPriority(tid, nice);
      done++;
    } catch (e) {
      errors.push(`${tid}: ${errText(e)}`);
    }
  }
  if (!done) return { status: 'failed', detail: `setpriority(${pid}, ${nice}) failed: ${errors.join('; ')}` };
  return {
    status: 'ok',
    detail: `nice ${nice} on ${done} thread(s) of ${step.target.label}${errors.length ? ` (${errors.length} vanished)` : ''}`,
  };
};
