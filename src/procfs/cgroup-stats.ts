/**
 * What a cgroup's own files say about CPU quota throttling and memory
 * pressure, for cgroup v1 (cpu.cfs_quota_us, cpu.cfs_period_us, cpu.stat;
 * memory.limit_in_bytes, memory.usage_in_bytes, memory.failcnt) and v2
 * (cpu.max, cpu.stat, memory.max, memory.current, memory.events), and PSI
 * ({cpu,memory,io}.pressure of the unified cgroup; /proc/pressure where the
 * process sits in the unified root or the kernel has no per-cgroup PSI).
 * Readers return undefined for what is not there; nothing throws.
 */
import { readText } from './read';
import type { CgroupEntry } from './parse';

/** Where each hierarchy is mounted: v1 controllers by name, and the unified (v2) mount. */
export interface CgroupMounts {
  v1: Map<string, string>;
  unified?: string;
}

/** From /proc/self/mounts text: `cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,...,cpu,cpuacct 0 0`, `cgroup2 /sys/fs/cgroup cgroup2 ...`. */
export function parseCgroupMounts(text: string | undefined): CgroupMounts {
  const v1 = new Map<string, string>();
  let unified: string | undefined;
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    const dir = f[1]!.replace(/\\040/g, ' ');
    if (f[2] === 'cgroup2') unified ??= dir;
    else if (f[2] === 'cgroup') for (const o of f[3]!.split(',')) if (!v1.has(o)) v1.set(o, dir);
  }
  return { v1, unified };
}

/** A process's cgroups as the sampler needs them: the cpu and memory controllers' directories and the unified one. */
export interface CgroupDirs {
  /** the key the cgroup is known by: its cpu, memory and unified paths */
  key: string;
  /** the path shown (cpu controller's, else memory's, else unified) */
  path: string;
  cpuDir?: string;
  memDir?: string;
  /** unified (v2) directory; undefined when the process sits in the unified root */
  unifiedDir?: string;
  /** v2 controllers live in the unified directory */
  cpuV2: boolean;
  memV2: boolean;
}

export function cgroupDirs(entries: CgroupEntry[], mounts: CgroupMounts): CgroupDirs | undefined {
  const v1 = (c: string) => entries.find((e) => e.hierarchy !== 0 && e.controllers.includes(c));
  const v2 = entries.find((e) => e.hierarchy === 0);
  const cpu = v1('cpu');
  const mem = v1('memory');
  const join = (root: string | undefined, path: string) => (root ? `${root}${path === '/' ? '' : path}` : undefined);
  const unifiedDir = v2 && v2.path !== '/' ? join(mounts.unified, v2.path) : undefined;
  const cpuDir = cpu ? join(mounts.v1.get('cpu'), cpu.path) : undefined;
  const memDir = mem ? join(mounts.v1.get('memory'), mem.path) : undefined;
  const cpuV2 = !cpu && unifiedDir !== undefined;
  const memV2 = !mem && unifiedDir !== undefined;
  const path = cpu?.path ?? mem?.path ?? v2?.path;
  if (path === undefined) return undefined;
  return {
    key: `${cpu?.path ?? ''}|${mem?.path ?? ''}|${v2?.path ?? ''}`,
    path: cpu && cpu.path === '/' && mem && mem.path !== '/' ? mem.path : path,
    cpuDir: cpuV2 ? unifiedDir : cpuDir,
    memDir: memV2 ? unifiedDir : memDir,
    unifiedDir,
    cpuV2,
    memV2,
  };
}

export interface CgroupReading {
  /** quota per period, µs (undefined: no quota) */
  quotaUs?: number;
  periodUs?: number;
  /** cumulative: periods elapsed, periods throttled, throttled time ns */
  nrPeriods?: number;
  nrThrottled?: number;
  throttledNs?: number;
  memLimit?: number;
  memUsage?: number;
  /** cumulative: times the limit was hit (v1 failcnt, v2 memory.events max) */
  memLimitHits?: number;
  /** cumulative PSI "some" stall time, µs; source says whose */
  psi?: { cpu?: number; memory?: number; io?: number; source: 'cgroup' | 'host' };
}

const UNLIMITED = 2 ** 62;

function kv(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

function int(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (!t) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** PSI file text: `some avg10=.. avg60=.. avg300=.. total=US` -> total µs of "some". */
export function psiSomeTotal(text: string | undefined): number | undefined {
  const m = text ? /^some .*total=(\d+)/m.exec(text) : null;
  return m ? Number(m[1]) : undefined;
}

/** Reads everything a sample needs from the cgroup's files (about 8 small reads). */
export function readCgroup(d: CgroupDirs): CgroupReading {
  const r: CgroupReading = {};
  if (d.cpuDir) {
    if (d.cpuV2) {
      const max = readText(`${d.cpuDir}/cpu.max`)?.trim().split(/\s+/);
      if (max && max[0] !== 'max') r.quotaUs = int(max[0]);
      r.periodUs = int(max?.[1]);
      const st = kv(readText(`${d.cpuDir}/cpu.stat`));
      const us = st.get('throttled_usec');
      if (us !== undefined) r.throttledNs = us * 1000;
      r.nrPeriods = st.get('nr_periods');
      r.nrThrottled = st.get('nr_throttled');
    } else {
      const q = int(readText(`${d.cpuDir}/cpu.cfs_quota_us`));
      if (q !== undefined && q > 0) r.quotaUs = q;
      r.periodUs = int(readText(`${d.cpuDir}/cpu.cfs_period_us`));
      const st = kv(readText(`${d.cpuDir}/cpu.stat`));
      r.throttledNs = st.get('throttled_time');
      r.nrPeriods = st.get('nr_periods');
      r.nrThrottled = st.get('nr_throttled');
    }
  }
  if (d.memDir) {
    if (d.memV2) {
      const max = readText(`${d.memDir}/memory.max`)?.trim();
      if (max && max !== 'max') r.memLimit = int(max);
      r.memUsage = int(readText(`${d.memDir}/memory.current`));
      r.memLimitHits = kv(readText(`${d.memDir}/memory.events`)).get('max');
    } else {
      const lim = int(readText(`${d.memDir}/memory.limit_in_bytes`));
      if (lim !== undefined && lim < UNLIMITED) r.memLimit = lim;
      r.memUsage = int(readText(`${d.memDir}/memory.usage_in_bytes`));
      r.memLimitHits = int(readText(`${d.memDir}/memory.failcnt`));
    }
  }
  // PSI: the unified cgroup's own files; else the host's
  const own = d.unifiedDir !== undefined ? psiOf(d.unifiedDir) : undefined;
  r.psi = own ?? psiOf('/proc/pressure', 'host');
  return r;
}

function psiOf(dir: string, source: 'cgroup' | 'host' = 'cgroup'): CgroupReading['psi'] {
  const memory = psiSomeTotal(readText(`${dir}/${source === 'host' ? 'memory' : 'memory.pressure'}`));
  if (memory === undefined) return undefined;
  return {
    memory,
    cpu: psiSomeTotal(readText(`${dir}/${source === 'host' ? 'cpu' : 'cpu.pressure'}`)),
    io: psiSomeTotal(readText(`${dir}/${source === 'host' ? 'io' : 'io.pressure'}`)),
    source,
  };
}
