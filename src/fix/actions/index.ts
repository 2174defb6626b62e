/** One runner per action type of src/rules/vocabulary.ts ACTION_TYPES. */
import { ACTION_TARGET_TYPES, type ActionType } from '../../rules/vocabulary';
import { checkpoint } from './checkpoint';
import { cgroupCpuLimit } from './cgroup-cpu-limit';
import { cgroupIoLimit } from './cgroup-io-limit';
import { cordonNode } from './cordon-node';
import { dropCaches } from './drop-caches';
import { gpuReset } from './gpu-reset';
import { ionice } from './ionice';
import { manual } from './manual';
import { renice } from './renice';
import { sigcont } from './sigcont';
import { signal } from './signal';
import { terminate } from './terminate';
import type { ActionRunner } from './types';

export type { ActionContext, ActionResult, ActionRunner } from './types';

export const ACTIONS: Record<ActionType, ActionRunner> = {
  manual,
  signal,
  checkpoint,
  terminate,
  sigcont,
  renice,
  ionice,
  cgroup_cpu_limit: cgroupCpuLimit,
  cgroup_io_limit: cgroupIoLimit,
  drop_caches: dropCaches,
  gpu_reset: gpuReset,
  cordon_node: cordonNode,
};

/** Actions that act on one process and so need the pid + start-time check: those whose targets include a process. */
export const PROCESS_ACTIONS: ReadonlySet<string> = new Set(
  Object.entries(ACTION_TARGET_TYPES)
    .filter(([, types]) => types?.includes('process'))
    .map(([action]) => action),
);
