/**
 * Who a process is, read from the shape of its cgroup path alone: the names
 * container runtimes, the kubelet and slurmstepd give the cgroups they create.
 * Pure functions over strings; the tests hold a real path of every shape.
 *
 * Kubernetes (kubelet), systemd cgroup driver:
 *   /kubepods.slice/kubepods-pod<uid_>.slice/<runtime scope>                             guaranteed
 *   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/<scope>  burstable
 *   /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/<scope> besteffort
 *   (the pod uid with '-' written as '_'); runtime scopes: cri-containerd-<id>.scope,
 *   crio-<id>.scope, docker-<id>.scope (cri-dockerd), libpod-<id>.scope
 * Kubernetes, cgroupfs driver:
 *   /kubepods/pod<uid>/<id>, /kubepods/burstable/pod<uid>/<id>, /kubepods/besteffort/pod<uid>/<id>
 *   (CRI-O names the leaf crio-<id>; containerd and docker write the bare id, so the runtime
 *   is 'unknown' until the runtime's files name it, see runtime-files.ts)
 * Slurm (slurmstepd): /slurm/uid_<U>/job_<J>/step_<S>[/task_<T>] (v1),
 *   /system.slice/[<node>_]slurmstepd.scope/job_<J>/step_<S>[/user/task_<T>] (v2)
 * Containers outside Kubernetes: /machine.slice/libpod-<id>.scope[/container] (podman, systemd
 *   manager, also under user@<uid>.service for rootless), /libpod_parent/libpod-<id> (podman,
 *   cgroupfs manager), /system.slice/docker-<id>.scope and /docker/<id> (docker).
 * Any other path: no container, no pod; the path itself is kept.
 */
import type { CgroupEntry } from '../procfs/parse';

export type Runtime = 'containerd' | 'cri-o' | 'docker' | 'podman' | 'unknown';
export type Qos = 'guaranteed' | 'burstable' | 'besteffort';

export interface CgroupIdentity {
  /** the cgroup path the identity was read from (kept whatever its shape) */
  cgroup: string;
  container?: { runtime: Runtime; id: string };
  pod?: { uid: string; qos: Qos };
  slurm?: { job: string; step?: string };
}

const ID = '([0-9a-f]{64})';
/** systemd scope names of container runtimes, and the runtime each means */
const SCOPES: readonly [RegExp, Runtime][] = [
  [new RegExp(`^cri-containerd-${ID}\\.scope$`), 'containerd'],
  [new RegExp(`^crio-${ID}\\.scope$`), 'cri-o'],
  [new RegExp(`^docker-${ID}\\.scope$`), 'docker'],
  [new RegExp(`^libpod-${ID}\\.scope$`), 'podman'],
];
/** cgroupfs leaf names */
const LEAVES: readonly [RegExp, Runtime][] = [
  [new RegExp(`^crio-${ID}$`), 'cri-o'],
  [new RegExp(`^libpod-${ID}$`), 'podman'],
  [new RegExp(`^${ID}$`), 'unknown'],
];

const POD_SYSTEMD = /^kubepods(?:-(burstable|besteffort))?-pod([0-9a-f_]+)\.slice$/;
const POD_CGROUPFS = /^pod([0-9a-f-]+)$/;

export function identityFromCgroupPath(path: string): CgroupIdentity {
  const out: CgroupIdentity = { cgroup: path };
  const parts = path.split('/').filter(Boolean);
  const kube = parts.findIndex((p) => p === 'kubepods' || p === 'kubepods.slice');
  if (kube >= 0) {
    for (let i = kube + 1; i < parts.length; i++) {
      const p = parts[i]!;
      const sd = POD_SYSTEMD.exec(p);
      if (sd) {
        out.pod = { uid: sd[2]!.replace(/_/g, '-'), qos: (sd[1] as Qos | undefined) ?? 'guaranteed' };
        out.container = containerIn(parts, i + 1, SCOPES);
        break;
      }
      const fs = POD_CGROUPFS.exec(p);
      if (fs) {
        const prev = parts[i - 1];
        out.pod = { uid: fs[1]!, qos: prev === 'burstable' || prev === 'besteffort' ? prev : 'guaranteed' };
        out.container = containerIn(parts, i + 1, LEAVES);
        break;
      }
    }
    if (!out.container) delete out.container;
    return out;
  }
  const slurm = slurmIn(parts);
  if (slurm) {
    out.slurm = slurm;
    return out;
  }
  // containers outside Kubernetes: the innermost component that names one
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i]!;
    const c = match(p, SCOPES) ?? (parts[i - 1] === 'docker' ? match(p, LEAVES, 'docker') : undefined);
    const lp = parts[i - 1] === 'libpod_parent' ? match(p, LEAVES) : undefined;
    if (c ?? lp) {
      out.container = (c ?? lp)!;
      break;
    }
  }
  return out;
}

function match(name: string, table: readonly [RegExp, Runtime][], runtime?: Runtime): { runtime: Runtime; id: string } | undefined {
  for (const [re, rt] of table) {
    const m = re.exec(name);
    if (m) return { runtime: runtime ?? rt, id: m[1]! };
  }
  return undefined;
}

/** The container directly under the pod's cgroup (deeper components, e.g. podman's /container, are inside it). */
function containerIn(parts: string[], at: number, table: readonly [RegExp, Runtime][]): { runtime: Runtime; id: string } | undefined {
  const p = parts[at];
  return p === undefined ? undefined : match(p, table);
}

function slurmIn(parts: string[]): { job: string; step?: string } | undefined {
  const root = parts.findIndex((p) => p === 'slurm' || p === 'slurmstepd.scope' || p.endsWith('_slurmstepd.scope'));
  if (root < 0) return undefined;
  for (let i = root + 1; i < parts.length; i++) {
    const j = /^job_(\d+)$/.exec(parts[i]!);
    if (!j) continue;
    const s = /^step_(\w+)$/.exec(parts[i + 1] ?? '');
    return s ? { job: j[1]!, step: s[1]! } : { job: j[1]! };
  }
  return undefined;
}

/** How much a shape says: container > pod > slurm > nothing. */
function weight(c: CgroupIdentity): number {
  return (c.container ? (c.container.runtime === 'unknown' ? 7 : 8) : 0) + (c.pod ? 4 : 0) + (c.slurm ? 2 : 0);
}

/**
 * The identity from all of /proc/<pid>/cgroup: the v2 entry, and each v1
 * hierarchy's path; the one that says the most wins (v1 controllers can sit in
 * different places: slurm's task cgroup may be only in memory and cpuset), the
 * unified or name=systemd path among equals. No entries: cgroup "" (unknown).
 */
export function identityFromCgroups(entries: readonly CgroupEntry[]): CgroupIdentity {
  let best: CgroupIdentity | undefined;
  let bestW = -1;
  const ordered = [...entries].sort((a, b) => rankEntry(a) - rankEntry(b));
  for (const e of ordered) {
    const c = identityFromCgroupPath(e.path);
    const w = weight(c);
    if (w > bestW) {
      best = c;
      bestW = w;
    }
  }
  return best ?? { cgroup: '' };
}

/** Preference among equally informative entries: v2, name=systemd, memory, then the rest in file order. */
function rankEntry(e: CgroupEntry): number {
  if (e.hierarchy === 0) return 0;
  if (e.controllers.includes('name=systemd')) return 1;
  if (e.controllers.includes('memory')) return 2;
  return 3;
}
