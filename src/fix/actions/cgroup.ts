/** cgroup v1 / v2 detection and a private cgroup per limited process: xctl-limit-<pid>. */
import * as fs from 'node:fs';

export type CgroupFlavor = { version: 2; root: string } | { version: 1; root: string };

/** Where the controller lives: v2 when /sys/fs/cgroup is the unified tree, else the v1 controller mount. */
export function cgroupFor(controller: 'cpu' | 'io', mounts = '/proc/self/mounts'): CgroupFlavor | undefined {
  let text = '';
  try {
    text = fs.readFileSync(mounts, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').map((l) => l.split(' '));
  const v1name = controller === 'cpu' ? 'cpu' : 'blkio';
  for (const [, dir, type, opts] of lines) {
    if (type === 'cgroup' && dir && opts?.split(',').includes(v1name)) return { version: 1, root: dir };
  }
  for (const [, dir, type] of lines) {
    if (type !== 'cgroup2' || !dir) continue;
    try {
      if (fs.readFileSync(`${dir}/cgroup.controllers`, 'utf8').split(/\s+/).includes(controller)) return { version: 2, root: dir };
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function limitGroup(flavor: CgroupFlavor, pid: number): string {
  const dir = `${flavor.root}/xctl-limit-${pid}`;
  fs.mkdirSync(dir, { recursive: true });
  if (flavor.version === 2) {
    // the controller must be enabled for the root's children
    const ctl = `${flavor.root}/cgroup.subtree_control`;
    try {
      fs.writeFileSync(ctl, '+cpu +io');
    } catch {
      /* already enabled or not delegable: the limit write below reports it */
    }
  }
  return dir;
}

export function moveInto(dir: string, pid: number): void {
  fs.writeFileSync(`${dir}/cgroup.procs`, String(pid));
}
