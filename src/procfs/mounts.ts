/**
 * Which mount a device number or a path belongs to, from /proc/self/mountinfo:
 * the filesystem a failed write or open hit ("tmpfs /ckpt"). Reread when older
 * than 100 ms: an anonymous device number (tmpfs 0:NN) is reused by the next
 * mount once its filesystem is unmounted, so an older table can name the wrong
 * mount. Callers ask only for failures that name a cause (ENOSPC, EIO...), once
 * per process and syscall/errno, never per record.
 */
import { readText } from './read';

export interface MountInfo {
  /** where it is mounted, e.g. `/ckpt` */
  mountPoint: string;
  /** e.g. `tmpfs`, `ext4` */
  fsType: string;
  /** the source column, e.g. `/dev/nvme0n1p1` or `tmpfs` */
  source: string;
  /** kernel dev_t as BPF reads it: major << 20 | minor */
  dev: number;
}

const REREAD_MS = 100;
let mounts: MountInfo[] = [];
let readAtMs = -Infinity;

/** mountinfo's octal escapes (`\040` for a space) */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const f = line.slice(0, sep).split(' ');
    const g = line.slice(sep + 3).split(' ');
    const [maj, min] = (f[2] ?? '').split(':').map(Number);
    if (maj === undefined || min === undefined || f[4] === undefined) continue;
    out.push({ mountPoint: unescapeOctal(f[4]), fsType: g[0] ?? '?', source: unescapeOctal(g[1] ?? ''), dev: maj * 1048576 + min });
  }
  return out;
}

function load(): MountInfo[] {
  const now = Date.now();
  if (now - readAtMs < REREAD_MS) return mounts;
  readAtMs = now;
  const text = readText('/proc/self/mountinfo');
  if (text !== undefined) mounts = parseMountinfo(text);
  return mounts;
}

/** The mount of a kernel dev_t (major << 20 | minor); the last one mounted wins (it is the visible one). */
export function mountOfDev(dev: number): MountInfo | undefined {
  let hit: MountInfo | undefined;
  for (const m of load()) if (m.dev === dev) hit = m;
  return hit;
}

/** The mount an absolute path lies on (longest mount point that prefixes it). */
export function mountOfPath(path: string): MountInfo | undefined {
  if (!path.startsWith('/')) return undefined;
  let best: MountInfo | undefined;
  for (const m of load()) {
    const mp = m.mountPoint;
    const under = mp === '/' || path === mp || path.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (under && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}
