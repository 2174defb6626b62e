import type { ActionRunner } from './types';
import { errText, signalNumber } from './types';
/** kill(2) with the signal in params.signal. */
export const signal: ActionRunner = async (step) => {
  const sig = signalNumber(step.params.signal);
  if (sig === undefined) return { status: 'refused', detail: `unknown signal "${String(step.params.signal)}"` };
  try {
    process.kill(step.target.pid!, sig);
    return { status: 'ok', detail: `sent ${sig} to ${step.target.label}` };
  } catch (e) {
    return { status: 'failed', detail: `kill(${step.target.pid}, ${sig}): ${errText(e)}` };
  }
};
