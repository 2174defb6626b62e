import { readProcIdentity, sameStart } from '../../procfs/process';
import { protectedReason } from '../safety';
import type { ActionRunner } from './types';
import { errText, sleep } from './types';
/** SIGTERM, wait params.grace_s (default 10 s), then SIGKILL; params.launcher=true acts on the parent. */
export const terminate: ActionRunner = async (step) => {
  let pid = step.target.pid!;
  let start = BigInt(Math.round(step.target.start_ns ?? 0));
  if (step.params.launcher === true || step.params.launcher === 'true') {
    const me = readProcIdentity(pid);
    if (!me) return { status: 'refused', detail: `process ${pid} is gone` };
    pid = me.ppid;
    const why = protectedReason(pid);
    if (why) return { status: 'refused', detail: `refused: the launcher ${why}` };
    const p = readProcIdentity(pid);
    if (!p) return { status: 'refused', detail: `launcher ${pid} is gone` };
    start = p.startNs;
  }
  const alive = () => {
    const id = readProcIdentity(pid);
    return !!id && sameStart(start, id.startNs) && id.state !== 'Z';
  };
  const grace = Number(step.params.grace_s ?? 10) * 1000;
  try {
    process.kill(pid, 'SIGTERM');
  } catch (e) {
    return { status: 'failed', detail: `SIGTERM ${pid}: ${errText(e)}` };
  }
  for (const t0 = Date.now(); Date.now() - t0 < grace; await sleep(100))
    if (!alive()) return { status: 'ok', detail: `pid ${pid} exited after SIGTERM` };
  if (!alive()) return { status: 'ok', detail: `pid ${pid} exited after SIGTERM` };
  try {
    process.kill(pid, 'SIGKILL');
  } catch (e) {
    return { status: 'failed', detail: `SIGKILL ${pid}: ${errText(e)}` };
  }
  return { status: 'ok', detail: `pid ${pid} ignored SIGTERM for ${grace / 1000} s: sent SIGKILL` };
};
