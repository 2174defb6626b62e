import * as fs from 'node:fs';
import { cgroupFor, limitGroup, moveInto } from './cgroup';
import type { ActionRunner } from './types';
import { errText } from './types';
/** Throttle the process's IO to params.device (major:minor) at params.bps: v1 blkio.throttle.*, v2 io.max. */
export const cgroupIoLimit: ActionRunner = async (step) => {
  const pid = step.target.pid!;
  const dev = String(step.params.device ?? '');
  const bps = Number(step.params.bps ?? 10 << 20);
  if (!/^\d+:\d+$/.test(dev)) return { status: 'refused', detail: `cgroup_io_limit needs params.device as major:minor, got "${dev}"` };
  const flavor = cgroupFor('io');
  if (!flavor) return { status: 'unsupported', detail: 'unsupported: no cgroup v1 blkio controller and no cgroup v2 with io is mounted' };
  try {
    const dir = limitGroup(flavor, pid);
    if (flavor.version === 1) {
      fs.writeFileSync(`${dir}/blkio.throttle.read_bps_device`, `${dev} ${bps}`);
      fs.writeFileSync(`${dir}/blkio.throttle.write_bps_device`, `${dev} ${bps}`);
    } else {
      fs.writeFileSync(`${dir}/io.max`, `${dev} rbps=${bps} wbps=${bps}`);
    }
    moveInto(dir, pid);
    return { status: 'ok', detail: `${step.target.label} IO to ${dev} throttled at ${bps} B/s in ${dir}` };
  } catch (e) {
    return { status: 'failed', detail: `cgroup v${flavor.version} IO limit for ${pid}: ${errText(e)}` };
  }
};
