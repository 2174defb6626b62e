import { execArgv, which } from './exec';
import type { ActionRunner } from './types';
/** ioprio_set is not reachable from Node: run `ionice -c 3 -p PID` with an argument vector. */
export const ionice: ActionRunner = async (step) => {
  const bin = which('ionice');
  if (!bin) return { status: 'unsupported', detail: 'unsupported: the ionice program (util-linux) is not installed' };
  const cls = String(step.params.class ?? '3');
  const r = await execArgv(bin, ['-c', cls, '-p', String(step.target.pid)]);
  if (r.code !== 0) return { status: 'failed', detail: `ionice -c ${cls} -p ${step.target.pid}: exit ${r.code}: ${r.stderr.trim()}` };
  return { status: 'ok', detail: `IO class ${cls} (idle) for ${step.target.label}` };
};
