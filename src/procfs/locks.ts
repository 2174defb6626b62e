/**
 * File locks from /proc/locks: who holds the flock() or POSIX (fcntl) lock a
 * process is blocked on. Lines look like
 *   `1: FLOCK  ADVISORY  WRITE 4242 00:2d:1234 0 EOF` (a held lock) and
 *   `1: -> FLOCK  ADVISORY  WRITE 4243 00:2d:1234 0 EOF` (a waiter on lock 1);
 * the file is major:minor (hex) and inode. OFD locks have pid -1.
 */
import * as fs from 'node:fs';
import { readText } from './read';

export interface FileLock {
  /** the lock's number in /proc/locks (a waiter carries the number of the lock it waits on) */
  id: number;
  /** FLOCK, POSIX, OFDLCK, LEASE, ... */
  kind: string;
  /** READ or WRITE */
  access: string;
  /** the owner (for flock: the process that took it); -1 for OFD locks */
  pid: number;
  major: number;
  minor: number;
  inode: number;
  /** a waiter, not a holder */
  waiting: boolean;
}

export function parseLocks(text: string | undefined): FileLock[] {
  const out: FileLock[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):\s+(->\s+)?(\S+)\s+\S+\s+(\S+)\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/i.exec(line);
    if (!m) continue;
    out.push({
      id: Number(m[1]),
      waiting: m[2] !== undefined,
      kind: m[3]!,
      access: m[4]!,
      pid: Number(m[5]),
      major: parseInt(m[6]!, 16),
      minor: parseInt(m[7]!, 16),
      inode: Number(m[8]),
    });
  }
  return out;
}

/** major/minor of a stat() st_dev (the kernel's new_encode_dev, as glibc decodes it). */
export function devParts(dev: number): { major: number; minor: number } {
  const d = BigInt(dev);
  return {
    major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)),
    minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)),
  };
}

/** The file behind an open fd of a process: its device and inode, or undefined (closed, gone). */
export function fdFile(
  pid: number,
  fd: number,
): { major: number; minor: number; inode: number; fifo: boolean; blockDevice?: { major: number; minor: number } } | undefined {
  try {
    const st = fs.statSync(`/proc/${pid}/fd/${fd}`);
    // major/minor: the filesystem the file is on (what /proc/locks names); a block device node also names the device itself
    return { ...devParts(st.dev), inode: st.ino, fifo: st.isFIFO(), ...(st.isBlockDevice() && { blockDevice: devParts(st.rdev) }) };
  } catch {
    return undefined;
  }
}

/**
 * Holders of locks of `kinds` on the file (major, minor, inode), other than
 * `exceptPid`: the processes a waiter on that file is blocked behind.
 */
export function lockHolders(
  file: { major: number; minor: number; inode: number },
  kinds: readonly string[],
  exceptPid: number,
  text: string | undefined = readText('/proc/locks'),
): FileLock[] {
  return parseLocks(text).filter(
    (l) =>
      !l.waiting &&
      l.pid !== exceptPid &&
      kinds.includes(l.kind) &&
      l.inode === file.inode &&
      l.major === file.major &&
      l.minor === file.minor,
  );
}
