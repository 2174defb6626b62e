import { cgroupFor, limitGroup, moveInto } from './cgroup';
import { CPU_PERIOD_US, cpuQuotaOf } from './command';
import type { ActionRunner } from './types';
import { errText } from './types';
/** Cap the process at params.cpus CPUs with a CFS quota: v1 cpu.cfs_quota_us, v2 cpu.max. */
export const cgroupCpuLimit: ActionRunner = async (step) => {
  const pid = step.target.pid!;
  const flavor = cgroupFor('cpu');
  if (!flavor) return { status: 'unsupported', detail: 'unsupported: no cgroup v1 cpu controller and no cgroup v2 with cpu is mounted' };
  const { cpus, quota } = cpuQuotaOf(step.params);
  if (!(cpus > 0)) return { status: 'refused', detail: `bad cpus "${String(step.params.cpus)}"` };
  const period = CPU_PERIOD_US;
  try {
    const dir = limitGroup(flavor, pid);
    if (flavor.version === 1) {
      require('node:fs').writeFileSync(`${dir}/cpu.cfs_period_us`, String(period));
      require('node:fs').writeFileSync(`${dir}/cpu.cfs_quota_us`, String(quota));
    } else {
      require('node:fs').writeFileSync(`${dir}/cpu.max`, `${quota} ${period}`);
    }
    moveInto(dir, pid);
    return {
      status: 'ok',
      detail: `${step.target.label} moved to ${dir} (cgroup v${flavor.version}) capped at ${quota}/${period} us = ${cpus} CPU`,
    };
  } catch (e) {
    return { status: 'failed', detail: `cgroup v${flavor.version} CPU limit for ${pid}: ${errText(e)}` };
  }
};
