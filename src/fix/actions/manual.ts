import type { ActionRunner } from './types';
/** Printed with its evidence, never executed. */
export const manual: ActionRunner = async (step) => ({ status: 'manual', detail: `not executed (manual step): ${step.text}` });
