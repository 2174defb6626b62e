import { inspectProcess, hasHandler } from '../../procfs/inspect';
import type { ActionRunner } from './types';
import { errText, signalNumber } from './types';
/** Ask the process to checkpoint with SIGUSR1 (or params.signal), ONLY if it has a handler installed: the default action of SIGUSR1 is to die. */
export const checkpoint: ActionRunner = async (step) => {
  if (step.params.op === 'restore') return { status: 'manual', detail: `restore from a checkpoint is not automated: ${step.text}` };
  const pid = step.target.pid!;
  const sig = signalNumber(step.params.signal ?? 'SIGUSR1') ?? 'SIGUSR1';
  const num = typeof sig === 'number' ? sig : (require('node:os') as typeof import('node:os')).constants.signals[sig];
  const live = inspectProcess(pid);
  if (!live) return { status: 'refused', detail: `process ${pid} is gone` };
  if (!hasHandler(live, num))
    return {
      status: 'refused',
      detail: `refused: ${step.target.label} has no handler for signal ${num} (SigCgt in /proc/${pid}/status); its default action would kill it`,
    };
  try {
    process.kill(pid, sig);
    return { status: 'ok', detail: `sent ${sig} (handled) to ${step.target.label}` };
  } catch (e) {
    return { status: 'failed', detail: errText(e) };
  }
};
