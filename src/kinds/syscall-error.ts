/**
 * Failed syscalls of one process, counted in the kernel per syscall and errno
 * (syscall.bpf.c): the first error of a key at once, then the errors since the
 * previous record on an interval and at exit. `count` summed over a key's
 * records is exact; `total` is the running count the kernel kept.
 */
import { AF_INET, AF_INET6, addrText } from '../events/inet';
import { OFFSETS as O, SCR_EXIT, SCR_FIRST, SCR_INTERVAL, SCS_ADDR, SCS_FILE, SCS_F_AT_ROOT, SCS_PATH } from '../events/layout';
import { errnoName } from '../events/names';
import { isCauseError } from '../graph/attributes';
import type { SyscallErrorEntry } from '../graph/model';
import { MI } from '../graph/vocabulary';
import { mountOfDev, mountOfPath } from '../procfs/mounts';
import type { RecordBatch } from '../events/decoder';
import type { EventBase } from './event';
import { defineKind } from './kind';

/** XCTL_SC_* as the syscalls are called */
const SC_NAMES: readonly string[] = [
  '?',
  'open',
  'openat',
  'write',
  'pwrite64',
  'fsync',
  'fdatasync',
  'connect',
  'accept',
  'accept4',
  'mmap',
  'clone',
  'clone3',
];

/** super_block.s_magic of the filesystems training nodes write to, for when mountinfo does not know the device */
const FS_MAGIC: ReadonlyMap<number, string> = new Map([
  [0x01021994, 'tmpfs'],
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x6969, 'nfs'],
  [0x794c7630, 'overlay'],
  [0x65735546, 'fuse'],
  [0x0bd00bd0, 'lustre'],
  [0x47504653, 'gpfs'],
  [0x00c36400, 'ceph'],
  [0x2fc12fc1, 'zfs'],
]);

const SAMPLE = O['sce.sample'];
const SAMPLE_LEN = 36;

export interface SyscallErrorEvent extends EventBase {
  kind: 'syscall_error';
  syscall: string;
  errno: string;
  err: number;
  count: number;
  total: number;
  first_ts_ns: string;
  last_ts_ns: string;
  reason: 'first' | 'interval' | 'exit' | 'unaggregated';
  fd?: number;
  path?: string;
  /** FILE sample: the file's name, its device (major:minor) and filesystem */
  file?: string;
  dev?: string;
  fs?: string;
  peer?: string;
}

function reasonName(r: number): SyscallErrorEvent['reason'] {
  return r === SCR_FIRST ? 'first' : r === SCR_INTERVAL ? 'interval' : r === SCR_EXIT ? 'exit' : 'unaggregated';
}

function hostPort(family: number, addr: string, port: number): string {
  return family === AF_INET6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** The sample of record i as (target, filesystem, peer) texts; allocates: once per new key. */
interface Sample {
  target: string;
  fs: string;
  mount: string;
  peer: string;
  file?: string;
  dev?: string;
}

/** `withFs`: name the filesystem (reads mountinfo): only for errors that can explain a failure. */
function sampleOf(b: RecordBatch, i: number, withFs: boolean): Sample {
  const kind = b.u8(i, O['sce.sample_kind']);
  const fd = b.s32(i, O['sce.fd']);
  if (kind === SCS_PATH) {
    const path = b.str(i, SAMPLE, SAMPLE_LEN);
    const m = withFs ? mountOfPath(path) : undefined;
    return { target: path, fs: m ? `${m.fsType} on ${m.mountPoint}` : '', mount: m?.mountPoint ?? '', peer: '' };
  }
  if (kind === SCS_FILE) {
    const dev = b.u32(i, SAMPLE);
    const magic = b.u32(i, SAMPLE + 4);
    const name = b.str(i, SAMPLE + 8, SAMPLE_LEN - 8);
    const m = withFs ? mountOfDev(dev) : undefined;
    const atRoot = (b.u8(i, O['sce.sample_flags']) & SCS_F_AT_ROOT) !== 0;
    const mp = m ? (m.mountPoint === '/' ? '' : m.mountPoint) : '';
    const path = m ? (atRoot ? `${mp}/${name}` : `${mp}/…/${name}`) : name;
    const fsType = m?.fsType ?? FS_MAGIC.get(magic) ?? `fs 0x${magic.toString(16)}`;
    const devText = `${Math.floor(dev / 1048576)}:${dev % 1048576}`;
    return {
      target: `fd ${fd} (${path})`,
      fs: m ? `${fsType} on ${m.mountPoint}` : `${fsType} ${devText}`,
      mount: m?.mountPoint ?? '',
      peer: '',
      file: path,
      dev: devText,
    };
  }
  if (kind === SCS_ADDR) {
    const family = b.u16(i, SAMPLE);
    const port = b.u16(i, SAMPLE + 2);
    if (family !== AF_INET && family !== AF_INET6) return { target: fd >= 0 ? `fd ${fd}` : '', fs: '', mount: '', peer: '' };
    const peer = hostPort(family, addrText(family, b.recordBytes(i), SAMPLE + 4), port);
    return { target: peer, fs: '', mount: '', peer };
  }
  return { target: fd >= 0 ? `fd ${fd}` : '', fs: '', mount: '', peer: '' };
}

export const kind = defineKind<'syscall_error', SyscallErrorEvent>({
  name: 'syscall_error',
  family: 'syscall',
  event(b, i, e) {
    const err = b.u16(i, O['sce.err']);
    const fd = b.s32(i, O['sce.fd']);
    const ev: SyscallErrorEvent = {
      ...e,
      kind: 'syscall_error',
      syscall: SC_NAMES[b.u16(i, O['sce.sc'])] ?? `sc ${b.u16(i, O['sce.sc'])}`,
      errno: errnoName(err),
      err,
      count: b.u32(i, O['sce.count']),
      total: b.u32(i, O['sce.total']),
      first_ts_ns: b.u64(i, O['sce.first_ts_ns']).toString(),
      last_ts_ns: b.u64(i, O['sce.last_ts_ns']).toString(),
      reason: reasonName(b.u8(i, O['sce.reason'])),
    };
    if (fd >= 0) ev.fd = fd;
    const s = sampleOf(b, i, isCauseError(ev.errno, ev.syscall));
    const kindOfSample = b.u8(i, O['sce.sample_kind']);
    if (kindOfSample === SCS_PATH) ev.path = s.target;
    if (s.file !== undefined) {
      ev.file = s.file;
      ev.dev = s.dev;
    }
    if (s.fs) ev.fs = s.fs;
    if (s.peer) ev.peer = s.peer;
    return ev;
  },
  text(ev) {
    let where = '';
    if (ev.peer) where = ` to ${ev.peer}`;
    else if (ev.path !== undefined) where = ` ${JSON.stringify(ev.path)}`;
    else if (ev.fd !== undefined) where = ` fd ${ev.fd}${ev.file ? ` (${ev.file})` : ''}`;
    const fs = ev.fs && ev.errno !== 'ENOENT' ? ` [${ev.fs}]` : '';
    return `${ev.syscall}() ${ev.errno} x${ev.count}${where}${fs} (${ev.reason}, ${ev.total} so far)`;
  },
  ingest(ing, b, i, t) {
    const count = b.u32(i, O['sce.count']);
    const p = ing.owner(b, i, t);
    const sc = b.u16(i, O['sce.sc']);
    const err = b.u16(i, O['sce.err']);
    const name = SC_NAMES[sc] ?? '?';
    const errno = errnoName(err);
    if (isCauseError(errno, name)) ing.observe(p, MI.syscallErrors, t, count);
    const list = p.syscallErrors;
    if (list !== undefined)
      for (let k = 0; k < list.length; k++) {
        const e = list[k]!;
        if (e.sc === sc && e.err === err) {
          e.total += count;
          e.lastNs = b.u64Number(i, O['sce.last_ts_ns']);
          ing.graph.noteAttr(p);
          return;
        }
      }
    // a new key of this process: once per (process, syscall, errno), so the texts are made here
    const s = sampleOf(b, i, isCauseError(errno, name));
    const entry: SyscallErrorEntry = {
      sc,
      err,
      name,
      errno,
      total: count,
      firstNs: b.u64Number(i, O['sce.first_ts_ns']),
      lastNs: b.u64Number(i, O['sce.last_ts_ns']),
      target: s.target,
      fs: s.fs,
      mount: s.mount,
      peer: s.peer,
    };
    if (list === undefined) p.syscallErrors = [entry];
    else if (list.length < 32) list.push(entry);
    ing.graph.noteAttr(p);
  },
});
