import { readProcIdentity } from '../../procfs/process';
import type { ActionRunner } from './types';
import { errText, sleep } from './types';
/** SIGCONT a stopped process, then confirm it left the stopped state. */
export const sigcont: ActionRunner = async (step) => {
  const pid = step.target.pid!;
  const before = readProcIdentity(pid);
  if (before && before.state !== 'T' && before.state !== 't')
    return { status: 'refused', detail: `precondition failed: ${step.target.label} is not stopped (state ${before.state})` };
  try {
    process.kill(pid, 'SIGCONT');
  } catch (e) {
    return { status: 'failed', detail: `kill(${pid}, SIGCONT): ${errText(e)}` };
  }
  for (let i = 0; i < 20; i++) {
    const s = readProcIdentity(pid)?.state;
    if (s !== 'T' && s !== 't') return { status: 'ok', detail: `sent SIGCONT to ${step.target.label}; state now ${s ?? 'gone'}` };
    await sleep(25);
  }
  return { status: 'failed', detail: `sent SIGCONT but ${step.target.label} is still stopped (traced by a debugger?)` };
};
